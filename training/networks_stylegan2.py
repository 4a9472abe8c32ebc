"""TLGAN networks: a StyleGAN2 generator (skip architecture) whose per-layer styles are scaled by Fourier features of
the capture time, and a resnet discriminator that projects onto a mapping of the same features.

Every class is persistent (network pickles carry this source) and keeps the parameter names and init arguments of
the original TLGAN code, so original pickles rebuild into these classes by name. Only torch, dnnlib and torch_utils
are imported: the embedded source must load where the `training` package is absent.

Mixed precision: the top `num_fp16_res` resolutions run in float16 on CUDA (with conv_clamp), unless an autocast
region is active, which then picks the compute dtype itself. Mapping, styles and demodulation coefficients always
stay in float32. The forward passes have no data-dependent Python control flow, so they can be compiled.
"""

import copy
import math

import torch

import dnnlib
from torch_utils import misc
from torch_utils import persistence
from torch_utils import safe_pickle
from torch_utils.ops import bias_act
from torch_utils.ops import conv2d_resample
from torch_utils.ops import scale_bias_act
from torch_utils.ops import upfirdn2d

#----------------------------------------------------------------------------
# Conditioning arguments (cond_args): the original field names, plus defaults for the fields that older pickles lack.

TREND = -1.0 # Sentinel frequency of the trend slot (as in training.timeline, which this module must not import).
COND_TYPES = ('fourier', 'f_concat', 'concat', 'none')
COND_DEFAULTS = dict(
    f_manual    = [],           # Cycle frequencies in cycles per unit t, without the trend.
    include_lin = True,         # Explicit trend slot: features [1, lin_lr * t] instead of a cos/sin pair.
    lin_lr      = 0.01,         # Scale of the trend feature.
    lr          = 1.0,          # Learning-rate multiplier of c_to_scales.
    noise       = 0.0,          # D time noise: global sigma, in frames.
    noise_f     = [],           # D time noise: per-frequency sigmas, in frames (empty or one per frequency).
    noise_f_int = [],           # D time noise: (scale, freq) pairs, jumps by round(scale * N(0,1)) whole cycles.
    d_time_noise= True,         # Apply the D time noise (False reproduces the released code, which discarded it).
    dequant     = 'gauss',      # Label dequantisation mode (used by the training loop).
    t_delta     = 0.0,          # 1 / number of frames: converts frames to t.
    num_frames  = 0,
    start_ts    = 946684800.0,  # Unix time of t = 0 (2000-01-01, the original's default).
    num_days    = 1,            # Days per unit t.
    cycle_min_res = 0,          # G's layers below this resolution see only the trend slot's features (0: all see all).
)

def cond_frequencies(cond_args):
    """Frequency of each time slot, sorted, so that the trend sentinel comes first; [] for unconditional."""
    if cond_args['type'] == 'none':
        return []
    if cond_args['type'] == 'concat':
        return [TREND] # One global time, fed to the mapping as is.
    return sorted(([TREND] if cond_args['include_lin'] else []) + [float(f) for f in cond_args['f_manual']])

def complete_cond_args(cond_args):
    """A validated copy of `cond_args` with every field present; `dims` is filled in when absent."""
    if not isinstance(cond_args, dict):
        raise TypeError(f'cond_args must be a dict, got {type(cond_args).__name__}')
    ca = dnnlib.EasyDict(copy.deepcopy(COND_DEFAULTS))
    ca.update(copy.deepcopy(dict(cond_args)))
    if ca.get('type') not in COND_TYPES:
        raise ValueError(f'cond_args.type must be one of {COND_TYPES}, got {ca.get("type")!r}')
    ca.f_manual = [float(f) for f in ca.f_manual]
    if any(not f > 0 for f in ca.f_manual):
        raise ValueError(f'cond_args.f_manual must hold positive frequencies, got {ca.f_manual}')
    num_f = len(cond_frequencies(ca))
    dims = dict(fourier=2 * num_f, f_concat=2 * num_f, concat=1, none=0)[ca.type]
    if ca.get('dims') is None:
        ca.dims = dims
    if ca.dims != dims:
        raise ValueError(f'cond_args.dims={ca.dims} does not match type {ca.type!r} with {num_f} frequencies '
            f'(expected {dims})')
    if len(ca.noise_f) not in (0, num_f):
        raise ValueError(f'cond_args.noise_f needs 0 or {num_f} sigmas (one per frequency), got {ca.noise_f}')
    return ca

def _drop_legacy_kwargs(owner, kwargs, legacy):
    """Drop init arguments that older code accepted but that only ever had the value implemented here."""
    kwargs = dict(kwargs)
    for name, implemented in legacy.items():
        if name in kwargs and kwargs.pop(name) != implemented:
            raise ValueError(f'{owner}: only {name}={implemented!r} is supported')
    return kwargs

def _fp32_region(x):
    """Turn autocast off, e.g. for styles and demodulation coefficients, which need float32 under bf16 autocast."""
    return torch.autocast(device_type=x.device.type, enabled=False)

def _block_format(use_fp16, channels_last, force_fp32, device):
    """(dtype, memory_format) of a block: float16 only on CUDA, and not inside autocast, which picks its own dtype."""
    if use_fp16 and not force_fp32 and device.type == 'cuda' and not torch.is_autocast_enabled('cuda'):
        return torch.float16, (torch.channels_last if channels_last else torch.contiguous_format)
    return torch.float32, torch.contiguous_format

def _layout(img_resolution, channel_base, channel_max, num_fp16_res):
    """Resolutions 4..img_resolution, channels at each, and the lowest resolution that runs in fp16."""
    log2 = round(math.log2(img_resolution)) if img_resolution >= 8 else 0
    if img_resolution != 2 ** log2:
        raise ValueError(f'img_resolution must be a power of two >= 8, got {img_resolution}')
    resolutions = [2 ** i for i in range(2, log2 + 1)]
    channels = {res: min(channel_base // res, channel_max) for res in resolutions}
    return resolutions, channels, max(2 ** (log2 + 1 - num_fp16_res), 8)

def _setup_conv(layer, in_channels, out_channels, activation, up, conv_clamp, resample_filter):
    """The attributes (the original's names) and the FIR filter buffer of a convolution layer."""
    layer.in_channels = in_channels
    layer.out_channels = out_channels
    layer.activation = activation
    layer.up = up
    layer.conv_clamp = conv_clamp
    layer.register_buffer('resample_filter', upfirdn2d.setup_filter(resample_filter))
    layer.act_gain = bias_act.activation_funcs[activation].def_gain

def _conv_weight(out_channels, in_channels, kernel_size, channels_last):
    """A N(0, 1) convolution weight, channels-last for the float16 blocks that run in that layout."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    return torch.randn([out_channels, in_channels, kernel_size, kernel_size]).to(memory_format=memory_format)

def _normalize_2nd_moment(x, eps=1e-8):
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()

#----------------------------------------------------------------------------
# Time -> conditioning features.

@persistence.persistent_class
class ConditioningTransform(torch.nn.Module):
    """Times t -> conditioning features; no parameters.

    c: [B,1] (one t), [B,F] (one t per frequency slot), [B,L,1] or [B,L,F] (per style layer; L = num_ws), or
    [B,0] (unconditional). 'fourier'/'f_concat' give [cos_k, sin_k] per slot, interleaved, with the trend slot
    replaced by [1, lin_lr * t]; 'concat' passes t through; 'none' gives no features. broadcast=True repeats a
    per-image result over the num_ws style layers. With add_noise (the discriminator's copy), training mode and
    cond_args.d_time_noise, the times are jittered first, per frequency slot independently.
    """

    def __init__(self, cond_args, num_ws=None, add_noise=False):
        super().__init__()
        self.cond_args = complete_cond_args(cond_args)
        self.num_ws = num_ws
        self.add_noise = add_noise
        self.frequencies = cond_frequencies(self.cond_args)
        self.num_f = len(self.frequencies)
        self.dims = self.cond_args.dims

    def forward(self, c, broadcast=True):
        c = self._check_times(c)
        if self.add_noise and self.training and self.cond_args.d_time_noise:
            c = self._add_time_noise(c)
        if self.cond_args.type in ('fourier', 'f_concat'):
            x = self._fourier_features(c)
        elif self.cond_args.type == 'concat':
            x = c
        else:
            x = c[..., :0]
        if broadcast and x.ndim == 2 and self.num_ws is not None:
            x = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        return x

    @property
    def num_targets(self):
        """Width of targets(): one value for the trend slot, cos and sin for each cycle."""
        return sum(1 if freq == TREND else 2 for freq in self.frequencies)

    @property
    def periods(self):
        """Each slot's period in units of t: the cycle's, or the whole sequence (t from 0 to 1) for the trend."""
        return [1.0 if freq == TREND else 1.0 / freq for freq in self.frequencies]

    def targets(self, c):
        """What D's time head reads from an image of times c, without noise: t for the trend slot (not scaled by
        lin_lr, so that every target spans about [-1, 1]), cos and sin of each cycle's phase. [B, num_targets]."""
        c = self._check_times(c)
        feats = []
        for k, freq in enumerate(self.frequencies):
            t = self._slot(c, k)
            feats += [t] if freq == TREND else self._cycle(t, freq)
        return torch.stack(feats, dim=-1)

    def _check_times(self, c):
        if not isinstance(c, torch.Tensor):
            raise TypeError(f'Times c must be a tensor, got {type(c).__name__}')
        shapes = '[B,1] or [B,F]' + (' or [B,L,1] or [B,L,F]' if self.num_ws is not None else '')
        if c.ndim not in (2, 3) or (c.ndim == 3 and c.shape[1] != self.num_ws) or \
                (self.num_f > 0 and c.shape[-1] not in (1, self.num_f)):
            raise ValueError(f'Times c must have shape {shapes} with F={self.num_f} frequencies'
                f'{f" and L={self.num_ws} layers" if self.num_ws is not None else ""}; got {list(c.shape)}')
        return c.to(torch.float32)

    def _slot(self, c, k):
        return c[..., k if c.shape[-1] > 1 else 0]

    def _add_time_noise(self, c):
        ca = self.cond_args
        if ca.noise > 0:
            c = c + torch.randn_like(c[..., :1]) * (ca.noise * ca.t_delta)
        for scale, freq in ca.noise_f_int:
            c = c + torch.round(torch.randn_like(c[..., :1]) * scale) / freq
        if any(sigma > 0 for sigma in ca.noise_f): # One t per slot from here on: each slot is jittered independently.
            slots = [self._slot(c, k) for k in range(self.num_f)]
            c = torch.stack([t + torch.randn_like(t) * (sigma * ca.t_delta) for t, sigma in zip(slots, ca.noise_f)], -1)
        return c

    def _fourier_features(self, c):
        feats = []
        for k, freq in enumerate(self.frequencies):
            t = self._slot(c, k)
            if freq == TREND: # Constant "DC" feature plus a slowly learned linear trend.
                feats += [torch.ones_like(t), t * self.cond_args.lin_lr]
            else:
                feats += self._cycle(t, freq)
        return torch.stack(feats, dim=-1)

    @staticmethod
    def _cycle(t, freq):
        angle = t * (2 * math.pi * freq)
        return [angle.cos(), angle.sin()]

#----------------------------------------------------------------------------
# Layers with equalised learning rate.

@persistence.persistent_class
class FullyConnectedLayer(torch.nn.Module):
    """y = act(x W^T * lr_multiplier / sqrt(in_features) + b * lr_multiplier); parameters stored divided by lr."""

    def __init__(self, in_features, out_features, bias=True, activation='linear', lr_multiplier=1, bias_init=0):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = torch.nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = torch.nn.Parameter(torch.full([out_features], float(bias_init)) / lr_multiplier) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x):
        w = self.weight.to(x.dtype)
        if self.bias is None:
            x = x.matmul(w.t()) * self.weight_gain
        else:
            x = torch.addmm(self.bias.to(x.dtype), x, w.t(), beta=self.bias_gain, alpha=self.weight_gain)
        if self.activation != 'linear':
            x = bias_act.bias_act(x, act=self.activation)
        return x

    def extra_repr(self):
        return f'in_features={self.in_features}, out_features={self.out_features}, activation={self.activation}'

@persistence.persistent_class
class Conv2dLayer(torch.nn.Module):
    """Convolution with optional FIR up/downsampling, bias, activation and clamp. trainable=False (Freeze-D) stores
    weight and bias as buffers."""

    def __init__(self, in_channels, out_channels, kernel_size, bias=True, activation='linear', up=1, down=1,
                 resample_filter=(1, 3, 3, 1), conv_clamp=None, channels_last=False, trainable=True):
        super().__init__()
        _setup_conv(self, in_channels, out_channels, activation, up, conv_clamp, resample_filter)
        self.down = down
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)

        weight = _conv_weight(out_channels, in_channels, kernel_size, channels_last)
        bias = torch.zeros([out_channels]) if bias else None
        if trainable:
            self.weight = torch.nn.Parameter(weight)
            self.bias = torch.nn.Parameter(bias) if bias is not None else None
        else:
            self.register_buffer('weight', weight)
            self.register_buffer('bias', bias)

    def forward(self, x, gain=1):
        w = self.weight * self.weight_gain
        x = conv2d_resample.conv2d_resample(x=x, w=w.to(x.dtype), f=self.resample_filter, up=self.up, down=self.down,
            padding=self.padding, flip_weight=(self.up == 1))
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act.bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)

    def extra_repr(self):
        return (f'in_channels={self.in_channels}, out_channels={self.out_channels}, activation={self.activation}, '
            f'up={self.up}, down={self.down}')

#----------------------------------------------------------------------------

@persistence.persistent_class
class MappingNetwork(torch.nn.Module):
    """z (and optionally conditioning features c) -> w, in float32. With num_ws and w_avg_beta it keeps the running
    mean w_avg (updated only with update_emas) for truncation and broadcasts w to [B, num_ws, w_dim]."""

    def __init__(self, z_dim, c_dim, w_dim, num_ws, num_layers=8, embed_features=None, layer_features=None,
                 activation='lrelu', lr_multiplier=0.01, w_avg_beta=0.998):
        super().__init__()
        if z_dim == 0 and c_dim == 0:
            raise ValueError('MappingNetwork needs z_dim > 0 or c_dim > 0')
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta

        embed_features = (w_dim if embed_features is None else embed_features) if c_dim > 0 else 0
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            setattr(self, f'fc{idx}', FullyConnectedLayer(features[idx], features[idx + 1], activation=activation,
                lr_multiplier=lr_multiplier))
        self.has_w_avg = num_ws is not None and w_avg_beta is not None
        if self.has_w_avg:
            self.register_buffer('w_avg', torch.zeros([w_dim]))

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False):
        with _fp32_region(z if z is not None else c):
            parts = []
            if self.z_dim > 0:
                misc.assert_shape(z, [None, self.z_dim])
                parts.append(_normalize_2nd_moment(z.to(torch.float32)))
            if self.c_dim > 0:
                misc.assert_shape(c, [None, self.c_dim])
                parts.append(_normalize_2nd_moment(self.embed(c.to(torch.float32))))
            x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
            for idx in range(self.num_layers):
                x = getattr(self, f'fc{idx}')(x)

            if update_emas and self.has_w_avg:
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
            if self.num_ws is not None:
                x = x.unsqueeze(1).repeat(1, self.num_ws, 1)
            if truncation_psi != 1:
                if not self.has_w_avg:
                    raise ValueError('Truncation needs a mapping network with w_avg')
                cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
                x = torch.cat([self.w_avg.lerp(x[:, :cutoff], truncation_psi), x[:, cutoff:]], dim=1)
        return x

    def extra_repr(self):
        return f'z_dim={self.z_dim}, c_dim={self.c_dim}, w_dim={self.w_dim}, num_ws={self.num_ws}'

#----------------------------------------------------------------------------
# Synthesis network.

def modulated_conv2d(x, weight, styles, noise=None, up=1, down=1, padding=0, resample_filter=None, demodulate=True,
                     flip_weight=True, fused_modconv=False, bias_act_args=None):
    """Convolve each sample of x [B,I,H,W] with weight [O,I,kh,kw] scaled per input channel by styles [B,I];
    demodulate normalises each output channel to unit expected magnitude; noise is added after demodulation, then
    bias_act(**bias_act_args) if given.

    fused_modconv=False scales the activations before and after one shared convolution (each scaling, with the noise
    and bias_act after the convolution, one pass of scale_bias_act); True builds per-sample weights and runs one
    grouped convolution. Both compute the same function.
    """
    batch_size = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    misc.assert_shape(x, [batch_size, in_channels, None, None])
    misc.assert_shape(styles, [batch_size, in_channels])

    with _fp32_region(styles):
        if x.dtype == torch.float16 and demodulate: # Keep fp16 activations in range; demodulation undoes both scales.
            weight = weight * (1 / math.sqrt(in_channels * kh * kw) /
                weight.norm(float('inf'), dim=[1, 2, 3], keepdim=True))
            styles = styles / styles.norm(float('inf'), dim=1, keepdim=True)
        dcoefs = None
        if demodulate: # sum over i,k of (w[o,i,k] * s[b,i])^2, without building the per-sample weights.
            dcoefs = (styles.square().matmul(weight.square().sum(dim=[2, 3]).t()) + 1e-8).rsqrt()

    if fused_modconv:
        w = weight.unsqueeze(0) * styles.reshape(batch_size, 1, -1, 1, 1)
        if demodulate:
            w = w * dcoefs.reshape(batch_size, -1, 1, 1, 1)
        x = x.reshape(1, -1, *x.shape[2:])
        w = w.reshape(-1, in_channels, kh, kw)
        x = conv2d_resample.conv2d_resample(x=x, w=w.to(x.dtype), f=resample_filter, up=up, down=down,
            padding=padding, groups=batch_size, flip_weight=flip_weight)
        x = x.reshape(batch_size, -1, *x.shape[2:])
        return _add_noise_bias_act(x, noise, bias_act_args)

    x = scale_bias_act.scale_bias_act(x, styles)
    x = conv2d_resample.conv2d_resample(x=x, w=weight.to(x.dtype), f=resample_filter, up=up, down=down,
        padding=padding, flip_weight=flip_weight)
    if demodulate:
        return scale_bias_act.scale_bias_act(x, dcoefs, noise, **(bias_act_args or {}))
    return _add_noise_bias_act(x, noise, bias_act_args)

def _add_noise_bias_act(x, noise, bias_act_args):
    x = x + noise.to(x.dtype) if noise is not None else x
    return bias_act.bias_act(x, **bias_act_args) if bias_act_args is not None else x

@persistence.persistent_class
class CondStyle(torch.nn.Module):
    """Styles of one layer: w_affine(w), times c_to_scales(c) for 'fourier' conditioning (float32).

    c_to_scales starts as a pass-through of the constant feature (column 0 = 1, the rest ~1e-6), so the initial
    scale is its equalised-lr gain 1/sqrt(dims) whatever the lr multiplier. A layer whose resolution is below
    cond_args.cycle_min_res gets the trend slot's features [1, t] only (the cycles' are zeroed): the coarse layers,
    where z makes the weather, then cannot tie the weather to the date or the hour.
    """

    def __init__(self, channels, w_dim, c_dim, cond_args, resolution=None):
        super().__init__()
        self.use_c = cond_args['type'] == 'fourier'
        self.trend_only = (self.use_c and cond_args.get('include_lin', True) and resolution is not None and
            resolution < cond_args.get('cycle_min_res', 0))
        self.w_affine = FullyConnectedLayer(w_dim, channels, bias_init=1)
        if self.use_c:
            self.c_to_scales = FullyConnectedLayer(c_dim, channels, bias=False, lr_multiplier=cond_args['lr'])
            with torch.no_grad():
                init = torch.randn_like(self.c_to_scales.weight) * 1e-6
                init[:, 0] += 1
                self.c_to_scales.weight.copy_(init / cond_args['lr'])

    @torch.no_grad()
    def decay_time_weights_(self, keep):
        """Scale the time features' weights (every column but the constant's, column 0) by `keep`: a decoupled weight
        decay that stops the weights the loss does not steer from drifting with the optimiser's noise."""
        if self.use_c:
            self.c_to_scales.weight[:, 1:].mul_(keep)

    def forward(self, w, c):
        with _fp32_region(w):
            styles = self.w_affine(w.to(torch.float32))
            if self.use_c:
                c = c.to(torch.float32)
                if self.trend_only: # the trend slot's two features come first
                    c = torch.nn.functional.pad(c[..., :2], [0, c.shape[-1] - 2])
                styles = styles * self.c_to_scales(c)
        return styles

@persistence.persistent_class
class SynthesisLayer(torch.nn.Module):
    """Modulated 3x3 convolution (optionally upsampling 2x) + per-pixel noise + bias + activation + clamp."""

    def __init__(self, in_channels, out_channels, w_dim, resolution, cond_args, up=1, use_noise=True,
                 activation='lrelu', resample_filter=(1, 3, 3, 1), conv_clamp=None, channels_last=False):
        super().__init__()
        _setup_conv(self, in_channels, out_channels, activation, up, conv_clamp, resample_filter)
        self.resolution = resolution
        self.use_noise = use_noise
        self.scaled_styles = CondStyle(in_channels, w_dim, cond_args['dims'], cond_args, resolution)

        self.weight = torch.nn.Parameter(_conv_weight(out_channels, in_channels, 3, channels_last))
        if use_noise:
            self.register_buffer('noise_const', torch.randn([resolution, resolution]))
            self.noise_strength = torch.nn.Parameter(torch.zeros([]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x, w, c, noise_mode='random', fused_modconv=False):
        in_resolution = self.resolution // self.up
        misc.assert_shape(x, [None, self.in_channels, in_resolution, in_resolution])
        styles = self.scaled_styles(w, c)

        noise = None
        if self.use_noise and noise_mode == 'random':
            noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device) * self.noise_strength
        if self.use_noise and noise_mode == 'const':
            noise = self.noise_const * self.noise_strength

        return modulated_conv2d(x=x, weight=self.weight, styles=styles, noise=noise, up=self.up, padding=1,
            resample_filter=self.resample_filter, flip_weight=(self.up == 1), fused_modconv=fused_modconv,
            bias_act_args=dict(b=self.bias, act=self.activation, gain=self.act_gain, clamp=self.conv_clamp))

    def extra_repr(self):
        return (f'in_channels={self.in_channels}, out_channels={self.out_channels}, resolution={self.resolution}, '
            f'up={self.up}, activation={self.activation}')

@persistence.persistent_class
class ToRGBLayer(torch.nn.Module):
    """Modulated 1x1 convolution without demodulation: features -> image channels."""

    def __init__(self, in_channels, out_channels, w_dim, cond_args, conv_clamp=None, channels_last=False, resolution=None):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.conv_clamp = conv_clamp
        self.scaled_styles = CondStyle(in_channels, w_dim, cond_args['dims'], cond_args, resolution)
        self.weight = torch.nn.Parameter(_conv_weight(out_channels, in_channels, 1, channels_last))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x, w, c, fused_modconv=False):
        styles = self.scaled_styles(w, c) * self.weight_gain
        x = modulated_conv2d(x=x, weight=self.weight, styles=styles, demodulate=False, fused_modconv=fused_modconv)
        return bias_act.bias_act(x, self.bias, clamp=self.conv_clamp)

    def extra_repr(self):
        return f'in_channels={self.in_channels}, out_channels={self.out_channels}'

@persistence.persistent_class
class SynthesisBlock(torch.nn.Module):
    """One resolution of the skip generator: [const | conv0 (up 2x)] + conv1 + torgb, added to the upsampled image.
    Consumes num_conv + num_torgb (w, c) pairs; torgb shares its pair with the next block's conv0."""

    def __init__(self, in_channels, out_channels, w_dim, resolution, img_channels, cond_args,
                 resample_filter=(1, 3, 3, 1), conv_clamp=256, use_fp16=False, fp16_channels_last=False,
                 fused_modconv_default=False, **layer_kwargs):
        super().__init__()
        if fused_modconv_default not in (True, False, 'inference_only'):
            raise ValueError(f"fused_modconv_default must be True, False or 'inference_only', "
                f"got {fused_modconv_default!r}")
        self.in_channels = in_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.use_fp16 = use_fp16
        self.channels_last = use_fp16 and fp16_channels_last
        self.fused_modconv_default = fused_modconv_default
        self.register_buffer('resample_filter', upfirdn2d.setup_filter(resample_filter))
        self.num_conv = 0
        self.num_torgb = 0

        common = dict(conv_clamp=conv_clamp, channels_last=self.channels_last)
        if in_channels == 0:
            self.const = torch.nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, cond_args, up=2,
                resample_filter=resample_filter, **common, **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, cond_args, **common, **layer_kwargs)
        self.num_conv += 1
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, cond_args, **common, resolution=resolution)
        self.num_torgb += 1

    def forward(self, x, img, ws, cs, noise_mode='random', force_fp32=False, fused_modconv=None):
        misc.assert_shape(ws, [None, self.num_conv + self.num_torgb, self.w_dim])
        w_iter = iter(ws.unbind(dim=1))
        c_iter = iter(cs.unbind(dim=1))
        dtype, memory_format = _block_format(self.use_fp16, self.channels_last, force_fp32, ws.device)
        if fused_modconv is None:
            fused_modconv = self.fused_modconv_default
        if fused_modconv == 'inference_only':
            fused_modconv = not self.training

        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).repeat(ws.shape[0], 1, 1, 1).contiguous(memory_format=memory_format)
        else:
            x = self.conv0(x.to(dtype=dtype, memory_format=memory_format), next(w_iter), next(c_iter),
                noise_mode=noise_mode, fused_modconv=fused_modconv)
        x = self.conv1(x, next(w_iter), next(c_iter), noise_mode=noise_mode, fused_modconv=fused_modconv)

        y = self.torgb(x, next(w_iter), next(c_iter), fused_modconv=fused_modconv)
        y = y.to(dtype=torch.float32, memory_format=torch.contiguous_format)
        if img is None:
            return x, y
        with _fp32_region(y): # The running image stays float32 under autocast too.
            return x, upfirdn2d.upsample2d(img, self.resample_filter) + y

    def extra_repr(self):
        return f'resolution={self.resolution}, use_fp16={self.use_fp16}'

def _check_out_rect(out_rect, resolution):
    if out_rect is None:
        return (0, 0, resolution, resolution)
    if len(out_rect) != 4:
        raise ValueError(f'out_rect must be (x1, y1, x2, y2), got {out_rect!r}')
    x1, y1, x2, y2 = (int(v) for v in out_rect)
    if not (0 <= x1 < x2 <= resolution and 0 <= y1 < y2 <= resolution):
        raise ValueError(f'out_rect {tuple(out_rect)} must satisfy 0 <= x1 < x2 <= {resolution} and '
            f'0 <= y1 < y2 <= {resolution}')
    return (x1, y1, x2, y2)

@persistence.persistent_class
class SynthesisNetwork(torch.nn.Module):
    """ws [B, num_ws, w_dim] and conditioning features cs [B, num_ws, dims] -> image [B, C, H, W]. Pixels outside
    out_rect = (x1, y1, x2, y2) are exactly -1 (the letter-box border of non-square sequences)."""

    def __init__(self, w_dim, img_resolution, img_channels, cond_args, channel_base=32768, channel_max=512,
                 num_fp16_res=4, out_rect=None, **block_kwargs):
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.cond_args = complete_cond_args(cond_args)
        self.out_rect = _check_out_rect(out_rect, img_resolution)
        self.block_resolutions, channels, fp16_resolution = _layout(img_resolution, channel_base, channel_max,
            num_fp16_res)

        self.num_ws = 0
        for res in self.block_resolutions:
            in_channels = channels[res // 2] if res > 4 else 0
            block = SynthesisBlock(in_channels, channels[res], w_dim, res, img_channels, self.cond_args,
                use_fp16=(res >= fp16_resolution), **block_kwargs)
            self.num_ws += block.num_conv
            setattr(self, f'b{res}', block)
        self.num_ws += block.num_torgb # The last block's torgb has no next conv0 to share with.

    def forward(self, ws, cs=None, noise_mode='random', force_fp32=False, fused_modconv=None, update_emas=False):
        """cs may be None unless the conditioning is 'fourier'. update_emas is accepted for a uniform call
        signature; synthesis keeps no running averages."""
        del update_emas
        misc.assert_shape(ws, [None, self.num_ws, self.w_dim])
        if noise_mode not in ('random', 'const', 'none'):
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        if cs is None:
            if self.cond_args.type == 'fourier':
                raise ValueError("Synthesis with 'fourier' conditioning needs cs (e.g. G.cond_xform(c))")
            cs = ws[:, :, :0]
        misc.assert_shape(cs, [ws.shape[0], self.num_ws, None])

        x = img = None
        idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f'b{res}')
            num = block.num_conv + block.num_torgb
            x, img = block(x, img, ws.narrow(1, idx, num), cs.narrow(1, idx, num), noise_mode=noise_mode,
                force_fp32=force_fp32, fused_modconv=fused_modconv)
            idx += block.num_conv
        return self._mask_border(img)

    def _mask_border(self, img):
        x1, y1, x2, y2 = self.out_rect
        res = self.img_resolution
        if (x1, y1, x2, y2) == (0, 0, res, res):
            return img
        return torch.nn.functional.pad(img[:, :, y1:y2, x1:x2], [x1, res - x2, y1, res - y2], value=-1.0)

    def extra_repr(self):
        return f'w_dim={self.w_dim}, num_ws={self.num_ws}, img_resolution={self.img_resolution}, out_rect={self.out_rect}'

@persistence.persistent_class
class Generator(torch.nn.Module):
    """G(z, c) -> image, -1 black to 1 white (not clamped). c holds times: [B,1], [B,F], [B,L,1] or [B,L,F] (F = num_f, L = num_ws)."""

    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, cond_args, mapping_kwargs={},
                 **synthesis_kwargs):
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.cond_args = complete_cond_args(cond_args)
        synthesis_kwargs = _drop_legacy_kwargs('Generator', synthesis_kwargs, dict(architecture='skip'))
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, self.cond_args, **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.cond_xform = ConditioningTransform(self.cond_args, num_ws=self.num_ws)
        map_c_dim = self.cond_args.dims if self.cond_args.type in ('concat', 'f_concat') else 0
        self.mapping = MappingNetwork(z_dim, map_c_dim, w_dim, self.num_ws, **mapping_kwargs)

    @property
    def frequencies(self):
        """Frequency of each time slot (cycles per unit t), sorted; the trend slot is TREND (-1)."""
        return list(self.cond_xform.frequencies)

    @property
    def num_f(self):
        return self.cond_xform.num_f

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False, **synthesis_kwargs):
        cs = self.cond_xform(c, broadcast=True)
        ws = self.mapping(z, cs[:, 0], truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
            update_emas=update_emas)
        return self.synthesis(ws, cs, update_emas=update_emas, **synthesis_kwargs)

#----------------------------------------------------------------------------
# Discriminator.

@persistence.persistent_class
class DiscriminatorBlock(torch.nn.Module):
    """One resolution of the resnet discriminator: [fromrgb] + conv0 + conv1 (down 2x), plus a 1x1 skip (down 2x).
    Layers numbered below freeze_layers (counted from the top block) are frozen (Freeze-D)."""

    def __init__(self, in_channels, tmp_channels, out_channels, resolution, img_channels, first_layer_idx,
                 activation='lrelu', resample_filter=(1, 3, 3, 1), conv_clamp=None, use_fp16=False,
                 fp16_channels_last=False, freeze_layers=0):
        super().__init__()
        self.in_channels = in_channels
        self.img_channels = img_channels
        self.resolution = resolution
        self.use_fp16 = use_fp16
        self.channels_last = use_fp16 and fp16_channels_last
        self.register_buffer('resample_filter', upfirdn2d.setup_filter(resample_filter))

        self.num_layers = 0
        def trainable():
            self.num_layers += 1
            return first_layer_idx + self.num_layers - 1 >= freeze_layers
        common = dict(activation=activation, conv_clamp=conv_clamp, channels_last=self.channels_last,
            resample_filter=resample_filter)
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, kernel_size=1, trainable=trainable(), **common)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, kernel_size=3, trainable=trainable(), **common)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, kernel_size=3, down=2, trainable=trainable(), **common)
        self.skip = Conv2dLayer(tmp_channels, out_channels, kernel_size=1, bias=False, down=2, trainable=trainable(),
            resample_filter=resample_filter, channels_last=self.channels_last)

    def forward(self, x, force_fp32=False):
        """x: the image for the top block (in_channels == 0), else the previous block's features."""
        dtype, memory_format = _block_format(self.use_fp16, self.channels_last, force_fp32, x.device)
        channels = self.img_channels if self.in_channels == 0 else self.in_channels
        misc.assert_shape(x, [None, channels, self.resolution, self.resolution])
        x = x.to(dtype=dtype, memory_format=memory_format)
        if self.in_channels == 0:
            x = self.fromrgb(x)
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv0(x)
        x = self.conv1(x, gain=math.sqrt(0.5))
        return y + x

    def extra_repr(self):
        return f'resolution={self.resolution}, use_fp16={self.use_fp16}'

@persistence.persistent_class
class MinibatchStdLayer(torch.nn.Module):
    """Appends the mean standard deviation over groups of samples (sample i is in group i mod N/G) as extra
    feature maps, so D can see a lack of variety."""

    def __init__(self, group_size, num_channels=1):
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x):
        N, C, H, W = x.shape
        G = min(self.group_size, N) if self.group_size is not None else N
        F = self.num_channels
        if N % G != 0:
            raise ValueError(f'Minibatch-stddev: batch size {N} is not a multiple of the group size {G}')
        y = x.reshape(G, -1, F, C // F, H, W)   # [group member, group, feature, channel, H, W]
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])  # [group, feature]
        y = y.reshape(-1, F, 1, 1).repeat(G, 1, H, W)
        return torch.cat([x, y], dim=1)

    def extra_repr(self):
        return f'group_size={self.group_size}, num_channels={self.num_channels}'

@persistence.persistent_class
class DiscriminatorEpilogue(torch.nn.Module):
    """4x4 head: minibatch-stddev, conv, fc, out; with cmap, the logit is the projection <out, cmap>/sqrt(cmap_dim).
    time_dims > 0 adds the time head: a linear read-out of the fc features, D's estimate of the image's times."""

    def __init__(self, in_channels, cmap_dim, resolution, mbstd_group_size=4, mbstd_num_channels=1,
                 activation='lrelu', conv_clamp=None, time_dims=0):
        super().__init__()
        self.in_channels = in_channels
        self.cmap_dim = cmap_dim
        self.resolution = resolution
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, kernel_size=3, activation=activation,
            conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation=activation)
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)
        self.time_out = FullyConnectedLayer(in_channels, time_dims) if time_dims else None

    def forward(self, x, cmap):
        """(logits [B,1], time estimate [B,time_dims] or None)."""
        misc.assert_shape(x, [None, self.in_channels, self.resolution, self.resolution])
        x = x.to(dtype=torch.float32, memory_format=torch.contiguous_format)
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        times = self.time_out(x) if self.time_out is not None else None
        x = self.out(x)
        if cmap is not None:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x, times

    def extra_repr(self):
        return f'resolution={self.resolution}, cmap_dim={self.cmap_dim}'

@persistence.persistent_class
class Discriminator(torch.nn.Module):
    """D(img, c) -> logits [B,1]. c: times [B,1] or [B,F]; conditioning projects onto a mapping of the features.
    time_head=True adds a read-out of the image's times (cond_xform.targets), which D(..., return_time=True) returns
    too (train.py --time-head; needs Fourier features). time_twin=True adds a second read-out of the same width, the
    twin that learns the times of G's images (train.py --time-twin); its reading follows the first in the returned
    times [B, 2 * num_targets]."""

    def __init__(self, c_dim, img_resolution, img_channels, cond_args, channel_base=32768, channel_max=512,
                 num_fp16_res=4, conv_clamp=256, cmap_dim=None, block_kwargs={}, mapping_kwargs={},
                 epilogue_kwargs={}, time_head=False, time_twin=False, **legacy_kwargs):
        super().__init__()
        unknown = _drop_legacy_kwargs('Discriminator', legacy_kwargs, dict(architecture='resnet'))
        if unknown:
            raise TypeError(f'Discriminator got unexpected keyword arguments: {", ".join(sorted(unknown))}')
        self.c_dim = c_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.cond_args = complete_cond_args(cond_args)
        resolutions, channels, fp16_resolution = _layout(img_resolution, channel_base, channel_max, num_fp16_res)
        self.block_resolutions = resolutions[:0:-1] # img_resolution down to 8; 4x4 is the epilogue
        dims = self.cond_args.dims
        cmap_dim = 0 if dims == 0 else (channels[4] if cmap_dim is None else cmap_dim)

        layer_idx = 0
        for res in self.block_resolutions:
            in_channels = channels[res] if res < img_resolution else 0
            block = DiscriminatorBlock(in_channels, channels[res], channels[res // 2], res, img_channels,
                first_layer_idx=layer_idx, use_fp16=(res >= fp16_resolution), conv_clamp=conv_clamp, **block_kwargs)
            setattr(self, f'b{res}', block)
            layer_idx += block.num_layers
        if dims > 0:
            self.mapping = MappingNetwork(z_dim=0, c_dim=dims, w_dim=cmap_dim, num_ws=None, w_avg_beta=None,
                **mapping_kwargs)
        self.cond_xform = ConditioningTransform(self.cond_args, add_noise=True)
        if time_head and self.cond_args.type not in ('fourier', 'f_concat'):
            raise ValueError(f'D\'s time head reads Fourier time features; the conditioning is {self.cond_args.type!r}')
        if time_twin and not time_head:
            raise ValueError('The time head\'s twin needs the time head (time_head=True)')
        self.b4 = DiscriminatorEpilogue(channels[4], cmap_dim=cmap_dim, resolution=4, conv_clamp=conv_clamp,
            time_dims=self.cond_xform.num_targets * (2 if time_twin else 1) if time_head else 0, **epilogue_kwargs)

    def forward(self, img, c, update_emas=False, force_fp32=False, return_time=False):
        """Logits, or (logits, time estimate) with return_time. update_emas is accepted for a uniform call signature;
        D keeps no running averages."""
        del update_emas
        x = img
        for res in self.block_resolutions:
            x = getattr(self, f'b{res}')(x, force_fp32=force_fp32)
        cmap = None
        if self.cond_args.dims > 0:
            cmap = self.mapping(None, self.cond_xform(c, broadcast=False))
        logits, times = self.b4(x, cmap)
        if return_time:
            if times is None:
                raise ValueError('This discriminator has no time head (time_head=False)')
            return logits, times
        return logits

    def extra_repr(self):
        return f'c_dim={self.c_dim}, img_resolution={self.img_resolution}, img_channels={self.img_channels}'

#----------------------------------------------------------------------------
# Safe loading (torch_utils.safe_pickle): rebuild pickled G and D, original TLGAN pickles included, as these classes.

def _rebuild_init_kwargs(stub):
    """Init kwargs of a pickled G or D, completed for pickles written by older code."""
    kwargs = dnnlib.EasyDict(stub.init_kwargs)
    if 'cond_args' not in kwargs and not stub.init_args:
        if not isinstance(stub.state.get('cond_args'), dict):
            raise ValueError(f'Pickled "{stub.class_name}" has no cond_args: cannot tell its time conditioning')
        kwargs.cond_args = stub.state['cond_args']
    # The original's setting; the default (non-fused) path computes the same and is faster at inference too.
    if kwargs.get('fused_modconv_default') == 'inference_only':
        del kwargs.fused_modconv_default
    return kwargs

def _rebuild_generator(stub):
    kwargs = _rebuild_init_kwargs(stub)
    if kwargs.get('out_rect') is None: # Written before out_rect was an init argument, or without a border.
        synthesis = stub.state.get('_modules', {}).get('synthesis')
        kwargs.out_rect = getattr(synthesis, 'state', {}).get('out_rect')
    return _rebuild(Generator, stub, kwargs)

def _rebuild_discriminator(stub):
    return _rebuild(Discriminator, stub, _rebuild_init_kwargs(stub))

def _rebuild(cls, stub, kwargs):
    module = cls(*stub.init_args, **kwargs)
    safe_pickle.load_stub_tensors(module, stub)
    return module

safe_pickle.register_safe_class(Generator, rebuild=_rebuild_generator)
safe_pickle.register_safe_class(Discriminator, rebuild=_rebuild_discriminator)

#----------------------------------------------------------------------------
