"""2-D FIR resampling: upsample (zero insertion), pad (negative = crop), FIR filter, downsample.

The reference spells the definition out with explicit zero insertion, padding and a full-resolution depthwise
convolution. On CUDA tensors (fp32/fp16/bf16) a Triton kernel computes each output sample straight from the input
(cuDNN's depthwise convolutions ran 7-14x below memory bandwidth on an H100). upfirdn2d is linear in x, and its
gradient is upfirdn2d again with up/down swapped, the filter flipped and the padding transposed, so the fast path's
backward calls itself and every order of gradient w.r.t. x works. The filter is a constant (no gradient).
"""

import numbers
import torch
import torch.nn.functional as F
from . import _dispatch

#----------------------------------------------------------------------------

def _parse_scaling(scaling):
    """int or [x, y] -> (sx, sy), each an integer >= 1."""
    if isinstance(scaling, numbers.Integral):
        scaling = [scaling, scaling]
    if not isinstance(scaling, (list, tuple)) or len(scaling) != 2 or \
            not all(isinstance(s, numbers.Integral) and s >= 1 for s in scaling):
        raise ValueError(f'up/down factor must be an integer >= 1 or a pair [x, y] of them, got {scaling!r}')
    return int(scaling[0]), int(scaling[1])

def _parse_padding(padding):
    """int, [x, y] or [x0, x1, y0, y1] -> (padx0, padx1, pady0, pady1); negative values crop."""
    if isinstance(padding, numbers.Integral):
        padding = [padding, padding]
    if not isinstance(padding, (list, tuple)) or len(padding) not in (2, 4) or \
            not all(isinstance(p, numbers.Integral) for p in padding):
        raise ValueError(f'padding must be an int, [x, y] or [x0, x1, y0, y1] of ints, got {padding!r}')
    if len(padding) == 2:
        padding = [padding[0], padding[0], padding[1], padding[1]]
    return tuple(int(p) for p in padding)

def _get_filter_size(f):
    """Filter width and height; f=None is the 1x1 identity, a 1-D filter is applied separably along both axes."""
    if f is None:
        return 1, 1
    if not isinstance(f, torch.Tensor) or f.ndim not in (1, 2) or f.numel() == 0:
        raise ValueError(f'filter must be None or a non-empty 1-D or 2-D tensor, got '
                         f'{tuple(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__}')
    return f.shape[-1], f.shape[0]

#----------------------------------------------------------------------------

def setup_filter(f, device=torch.device('cpu'), normalize=True, flip_filter=False, gain=1, separable=None):
    """Turn filter taps (None, scalar, list or array) into a float32 filter tensor for upfirdn2d.
    A 1-D filter stays 1-D (separable) if it has at least 8 taps, else becomes its outer product with itself.
    normalize: divide by the sum, so that the filter has unit DC gain. gain: overall gain (gain**(1/2) per 1-D pass)."""
    if f is None:
        f = 1
    f = torch.as_tensor(f, dtype=torch.float32)
    if f.ndim not in (0, 1, 2) or f.numel() == 0:
        raise ValueError(f'setup_filter: expected a scalar, a 1-D or a 2-D list of taps, got shape {tuple(f.shape)}')
    if f.ndim == 0:
        f = f[None]
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if separable and f.ndim != 1:
        raise ValueError('setup_filter: separable=True needs 1-D taps')
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f.to(device=device)

#----------------------------------------------------------------------------

def upfirdn2d(x, f, up=1, down=1, padding=0, flip_filter=False, gain=1, impl='cuda'):
    """Upsample x [N, C, H, W] by inserting up-1 zeros after each sample, pad by `padding` (int, [x, y] or
    [x0, x1, y0, y1]; negative crops), convolve with FIR filter f (from setup_filter; None = identity), multiply by
    `gain` and keep every down-th sample. flip_filter=True correlates instead of convolving."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f'upfirdn2d: x must be a 4-D floating-point tensor [N, C, H, W], got '
                         f'{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}')
    fw, fh = _get_filter_size(f)
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    upx, upy = _parse_scaling(up)
    downx, downy = _parse_scaling(down)
    padx0, padx1, pady0, pady1 = _parse_padding(padding)
    if x.shape[3] * upx + padx0 + padx1 < fw or x.shape[2] * upy + pady0 + pady1 < fh:
        raise ValueError(f'upfirdn2d: input {tuple(x.shape[2:])} upsampled by {(upy, upx)} and padded by '
                         f'{(pady0, pady1, padx0, padx1)} is smaller than the {fh}x{fw} filter')
    ax = (upx, downx, padx0, padx1)
    ay = (upy, downy, pady0, pady1)
    return _dispatch.call('upfirdn2d', impl, x,
        fast=lambda: _Upfirdn2d.apply(x, f.to(x.device, torch.float32), ax, ay, flip_filter, gain),
        ref=lambda: _upfirdn2d_ref(x, f, ax, ay, flip_filter, gain))

#----------------------------------------------------------------------------

def _depthwise(f, channels):
    return f[None, None].expand(channels, 1, *f.shape)

def _upfirdn2d_ref(x, f, ax, ay, flip_filter, gain):
    (upx, downx, padx0, padx1), (upy, downy, pady0, pady1) = ax, ay
    N, C, H, W = x.shape
    if upx > 1 or upy > 1:
        x = x.reshape(N, C, H, 1, W, 1)
        x = F.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
        x = x.reshape(N, C, H * upy, W * upx)
    if any([padx0, padx1, pady0, pady1]):
        x = F.pad(x, [padx0, padx1, pady0, pady1])

    # conv2d correlates: flip the taps to convolve, unless the caller asked for correlation.
    f = f.to(x.device, x.dtype)
    if gain != 1:
        f = f * (gain ** (f.ndim / 2))  # gain**(1/2) per pass of a separable filter
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 1:
        x = F.conv2d(x, _depthwise(f[None, :], C), groups=C)
        x = F.conv2d(x, _depthwise(f[:, None], C), groups=C)
    else:
        x = F.conv2d(x, _depthwise(f, C), groups=C)
    return x[:, :, ::downy, ::downx]

#----------------------------------------------------------------------------

def _transpose_params(in_shape, out_shape, f, ax, ay, flip_filter):
    """Parameters of the upfirdn2d that computes the input gradient from the output gradient: output samples
    spread back by `down`, the filter flipped, and padding such that the result has exactly the input's size."""
    fw, fh = _get_filter_size(f)
    (upx, downx, padx0, _), (upy, downy, pady0, _) = ax, ay
    gx = (downx, upx, fw - padx0 - 1, in_shape[3] * upx - out_shape[3] * downx + padx0 - upx + 1)
    gy = (downy, upy, fh - pady0 - 1, in_shape[2] * upy - out_shape[2] * downy + pady0 - upy + 1)
    return gx, gy, not flip_filter

_kernels = None  # the Triton module, imported on first use

# Channels-last and contiguous channel-first tensors go to the rows kernel (vertical upsampling by 1, 2 or 4); False
# sends them to the pixel and plane kernels, as before it (benchmarks: --no-rows-kernel).
ROWS_KERNEL = True

def _upfirdn2d_fast(x, f, ax, ay, flip_filter, gain):
    global _kernels # pylint: disable=global-statement
    if _kernels is None:
        from . import _upfirdn2d_triton as _kernels # pylint: disable=import-outside-toplevel,redefined-outer-name
    if f.ndim == 1:  # separable: a horizontal then a vertical pass, gain**(1/2) each
        x = _kernels.launch(x, f[None, :], ax, (1, 1, 0, 0), flip_filter, gain ** 0.5, ROWS_KERNEL)
        return _kernels.launch(x, f[:, None], (1, 1, 0, 0), ay, flip_filter, gain ** 0.5, ROWS_KERNEL)
    return _kernels.launch(x, f, ax, ay, flip_filter, gain, ROWS_KERNEL)

class _Upfirdn2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, f, ax, ay, flip_filter, gain): # pylint: disable=arguments-differ
        y = _upfirdn2d_fast(x, f, ax, ay, flip_filter, gain)
        ctx.save_for_backward(f)
        ctx.params = (x.shape, y.shape, ax, ay, flip_filter, gain)
        return y

    @staticmethod
    def backward(ctx, dy): # pylint: disable=arguments-differ
        f, = ctx.saved_tensors
        in_shape, out_shape, ax, ay, flip_filter, gain = ctx.params
        gx, gy, flip = _transpose_params(in_shape, out_shape, f, ax, ay, flip_filter)
        # Through the dispatcher again: the transposed parameters compile another kernel variant, whose failure must
        # fall back to the (differentiable) reference here too, not break the user's backward pass.
        dx = _dispatch.call('upfirdn2d', 'cuda', dy, fast=lambda: _Upfirdn2d.apply(dy, f, gx, gy, flip, gain),
                            ref=lambda: _upfirdn2d_ref(dy, f, gx, gy, flip, gain))
        return dx, None, None, None, None, None

#----------------------------------------------------------------------------
# Convenience wrappers whose padding keeps the signal centred (output size = input size * up / down).

def filter2d(x, f, padding=0, flip_filter=False, gain=1, impl='cuda'):
    """Filter x with f without changing its size (plus the extra `padding`)."""
    padx0, padx1, pady0, pady1 = _parse_padding(padding)
    fw, fh = _get_filter_size(f)
    p = [padx0 + fw // 2, padx1 + (fw - 1) // 2, pady0 + fh // 2, pady1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=p, flip_filter=flip_filter, gain=gain, impl=impl)

def upsample2d(x, f, up=2, padding=0, flip_filter=False, gain=1, impl='cuda'):
    """Upsample x by `up` with interpolation filter f; gain up**2 keeps the DC level of the zero-inserted signal."""
    upx, upy = _parse_scaling(up)
    padx0, padx1, pady0, pady1 = _parse_padding(padding)
    fw, fh = _get_filter_size(f)
    p = [padx0 + (fw + upx - 1) // 2, padx1 + (fw - upx) // 2, pady0 + (fh + upy - 1) // 2, pady1 + (fh - upy) // 2]
    return upfirdn2d(x, f, up=up, padding=p, flip_filter=flip_filter, gain=gain * upx * upy, impl=impl)

def downsample2d(x, f, down=2, padding=0, flip_filter=False, gain=1, impl='cuda'):
    """Downsample x by `down` with anti-aliasing filter f."""
    downx, downy = _parse_scaling(down)
    padx0, padx1, pady0, pady1 = _parse_padding(padding)
    fw, fh = _get_filter_size(f)
    p = [padx0 + (fw - downx + 1) // 2, padx1 + (fw - downx) // 2, pady0 + (fh - downy + 1) // 2,
         pady1 + (fh - downy) // 2]
    return upfirdn2d(x, f, down=down, padding=p, flip_filter=flip_filter, gain=gain, impl=impl)

#----------------------------------------------------------------------------
