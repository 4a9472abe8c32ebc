"""Fused bias + activation + gain + clamp.

y = clamp(act(x + b) * gain, -clamp, clamp), with b broadcast along `dim`. On large CUDA tensors (fp32/fp16/bf16)
one Triton kernel does the whole chain in a single pass, forward and backward, with first and second order
gradients; everywhere else (and as the ground truth) the same chain is evaluated with plain PyTorch ops.
"""

import math
from dataclasses import dataclass
import torch
import torch.nn.functional as F
from . import _dispatch

#----------------------------------------------------------------------------

@dataclass(frozen=True)
class ActivationSpec:
    func:           object  # reference implementation func(x, alpha)
    def_alpha:      float   # default `alpha` (only lrelu uses it)
    def_gain:       float   # default `gain`, chosen to roughly preserve the signal's magnitude
    cuda_idx:       int     # activation index of the original CUDA kernel
    ref:            str     # tensor the original kernel's backward read: 'x' (input) or 'y' (output)
    has_2nd_grad:   bool    # nonzero second derivative, i.e. the double backward depends on x

_SQRT2 = math.sqrt(2)

activation_funcs = {
    'linear':   ActivationSpec(lambda x, alpha: x,                          0,   1,      1, 'y', False),
    'relu':     ActivationSpec(lambda x, alpha: F.relu(x),                  0,   _SQRT2, 2, 'y', False),
    'lrelu':    ActivationSpec(lambda x, alpha: F.leaky_relu(x, alpha),     0.2, _SQRT2, 3, 'y', False),
    'tanh':     ActivationSpec(lambda x, alpha: torch.tanh(x),              0,   1,      4, 'y', True),
    'sigmoid':  ActivationSpec(lambda x, alpha: torch.sigmoid(x),           0,   1,      5, 'y', True),
    'elu':      ActivationSpec(lambda x, alpha: F.elu(x),                   0,   1,      6, 'y', True),
    'selu':     ActivationSpec(lambda x, alpha: F.selu(x),                  0,   1,      7, 'y', True),
    'softplus': ActivationSpec(lambda x, alpha: F.softplus(x),              0,   1,      8, 'y', True),
    'swish':    ActivationSpec(lambda x, alpha: torch.sigmoid(x) * x,       0,   _SQRT2, 9, 'x', True),
}

#----------------------------------------------------------------------------

def bias_act(x, b=None, dim=1, act='linear', alpha=None, gain=None, clamp=None, impl='cuda'):
    """Add bias `b` (1-D, length x.shape[dim]) to `x`, apply activation `act`, scale by `gain` (default: the
    activation's def_gain) and clamp to [-clamp, clamp] (None: no clamp). The result has x's dtype; `b` is cast to it.
    impl='cuda' uses the fast kernel when x is on CUDA and the kernel works, impl='ref' always the reference."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f'bias_act: x must be a floating-point tensor, got {type(x).__name__}')
    if act not in activation_funcs:
        raise ValueError(f'bias_act: unknown activation {act!r}; expected one of {sorted(activation_funcs)}')
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f'bias_act: dim={dim} is out of range for a {x.ndim}-D tensor')
    dim = dim % x.ndim
    if b is not None and (not isinstance(b, torch.Tensor) or b.ndim != 1 or b.shape[0] != x.shape[dim]):
        raise ValueError(f'bias_act: b must be a 1-D tensor of length x.shape[{dim}]={x.shape[dim]}, '
                         f'got {tuple(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__}')
    if clamp is not None and clamp < 0:
        raise ValueError(f'bias_act: clamp must be None or >= 0, got {clamp}')
    spec = activation_funcs[act]
    alpha = float(alpha if alpha is not None else spec.def_alpha)
    gain = float(gain if gain is not None else spec.def_gain)
    clamp = float(clamp if clamp is not None else -1)
    if b is not None:
        b = b.to(x.dtype)

    return _dispatch.call('bias_act', impl, x,
        fast=lambda: _bias_act_fast(x, b, dim, act, alpha, gain, clamp),
        ref=lambda: _bias_act_ref(x, b, dim, act, alpha, gain, clamp),
        probe=_probe, probe_key=(x.device, x.dtype, act), min_bytes=FAST_MIN_BYTES)

# Smallest x (in bytes) for which the Triton kernel is used in eager steps. A Triton launch costs more CPU time than
# the reference's few PyTorch launches: in one H100 measurement (PyTorch 2.11, Triton 3.6) the kernel lost at
# 16x512x32x32 (forward) and, forward + backward in fp16, at 16x512x64x64, and won 3-5x at 16x256x128x128 and above;
# benchmarks/bench_ops.py shows both. A step replayed as a CUDA graph pays no launch cost, so there the one kernel
# replaces the reference's three or four at every size: training_step.setup_backends(graphs=True) sets FAST_MIN_BYTES
# to 0 (docs/PERFORMANCE.md).
EAGER_MIN_BYTES = 64 << 20
FAST_MIN_BYTES = EAGER_MIN_BYTES

#----------------------------------------------------------------------------

def _bias_act_ref(x, b, dim, act, alpha, gain, clamp):
    if b is not None:
        x = x + b.reshape([-1 if i == dim else 1 for i in range(x.ndim)])
    x = activation_funcs[act].func(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x

#----------------------------------------------------------------------------
# Fast path: the Triton kernel evaluates the chain (mode 0), its first derivative times an incoming gradient (mode 1)
# or the second-derivative term of the double backward (mode 2). The backward is itself a Function whose backward
# reuses mode 1 (it is linear in the incoming gradient) and mode 2, so R1 and path-length regularisation work.

def _bias_act_fast(x, b, dim, act, alpha, gain, clamp):
    cfg = dict(dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp)
    return _BiasAct.apply(x, b, cfg)

_kernels = None  # the Triton module, imported on first use

def _launch(mode, x, b, g, h, cfg):
    global _kernels # pylint: disable=global-statement
    if _kernels is None:
        from . import _bias_act_triton as _kernels # pylint: disable=import-outside-toplevel,redefined-outer-name
    return _kernels.launch(mode, x, b, g, h, **cfg)

def _bias_grad(dx, b, dim):
    if b is None:
        return None
    return dx.sum([i for i in range(dx.ndim) if i != dim]).to(b.dtype)

def negative_slope(act, alpha):
    """The slope below zero of a piecewise-linear activation, as the scale_bias_act kernels take it."""
    return {'linear': 1.0, 'relu': 0.0, 'lrelu': alpha}[act]

_scale_kernels = None  # scale_bias_act's Triton module, imported on first use

def _bias_act_backward_fused(dy, x, b, cfg):
    """dx and db of a 4-D x (channels at dim 1, piecewise-linear activation) in one pass: scale_bias_act's backward
    kernel without scales, whose fp32 sums over pixels give db, where dx's kernel and a separate reduction would read
    the activations twice."""
    global _scale_kernels # pylint: disable=global-statement
    if _scale_kernels is None:
        from . import _scale_bias_act_triton as _scale_kernels # pylint: disable=import-outside-toplevel,redefined-outer-name
    slope = negative_slope(cfg['act'], cfg['alpha'])
    dx, _, db, _ = _scale_kernels.backward(dy, x, None, None, b, slope, cfg['gain'], cfg['clamp'], need_dx=True,
        need_dn=False)
    return dx, None if b is None else db.to(b.dtype)

class _BiasAct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, b, cfg): # pylint: disable=arguments-differ
        ctx.save_for_backward(x, b)
        ctx.cfg = cfg
        return _launch(0, x, b, None, None, cfg)

    @staticmethod
    def backward(ctx, dy): # pylint: disable=arguments-differ
        x, b = ctx.saved_tensors
        cfg = ctx.cfg
        fused = x.ndim == 4 and cfg['dim'] == 1 and not activation_funcs[cfg['act']].has_2nd_grad
        if fused and not torch.is_grad_enabled(): # a backward not differentiated again (all but R1's): one pass
            dx, db = _bias_act_backward_fused(dy, x, b, cfg)
            return dx, db, None
        dx = _BiasActGrad.apply(dy, x, b, cfg)
        return dx, _bias_grad(dx, b, cfg['dim']), None

class _BiasActGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, dy, x, b, cfg): # pylint: disable=arguments-differ
        ctx.save_for_backward(dy, x, b)
        ctx.cfg = cfg
        return _launch(1, x, b, dy, None, cfg)

    @staticmethod
    def backward(ctx, ddx): # pylint: disable=arguments-differ
        dy, x, b = ctx.saved_tensors
        cfg = ctx.cfg
        d_dy = _BiasActGrad.apply(ddx, x, b, cfg) if ctx.needs_input_grad[0] else None
        d_x = d_b = None
        if activation_funcs[cfg['act']].has_2nd_grad and (ctx.needs_input_grad[1] or ctx.needs_input_grad[2]):
            d_x = _launch(2, x, b, ddx, dy, cfg)
            d_b = _bias_grad(d_x, b, cfg['dim'])
        return d_dy, d_x, d_b, None

#----------------------------------------------------------------------------

def _probe(key):
    """Run the fast path once, forward and both backward orders, without and with a clamp, in both memory layouts
    (the kernel variants), on a tiny tensor and compare with the reference evaluated in fp32 on the same inputs. The
    clamp lies beyond the data, so that the comparison cannot hinge on rounding deciding which side of it a value
    falls."""
    device, dtype, act = key
    gen = torch.Generator(device=device).manual_seed(0)
    x0 = torch.randn([2, 3, 5, 7], device=device, generator=gen).to(dtype)
    b0 = torch.randn([3], device=device, generator=gen).to(dtype)
    w = torch.randn([2, 3, 5, 7], device=device, generator=gen)
    for clamp, layout in ((-1, torch.contiguous_format), (100, torch.contiguous_format), (-1, torch.channels_last)):
        results = []
        for fn, cast in ((_bias_act_fast, dtype), (_bias_act_ref, torch.float32)):
            x = x0.to(cast).contiguous(memory_format=layout).requires_grad_()
            b = b0.to(cast).requires_grad_()
            y = fn(x, b, 1, act, 0.2, 1.5, clamp)
            grads1 = torch.autograd.grad((y * w).sum(), [x, b], retain_graph=True) # fused where it applies
            dx, db = torch.autograd.grad((y * w).sum(), [x, b], create_graph=True)
            loss = (dx * w).sum() + db.sum()
            grads2 = torch.autograd.grad(loss, [x, b], materialize_grads=True) if loss.requires_grad else (x * 0, b * 0)
            results.append([t.float() for t in (y, *grads1, dx, db, *grads2)])
        _dispatch.check_close(*results, f'act={act!r}, dtype={dtype}')

#----------------------------------------------------------------------------
