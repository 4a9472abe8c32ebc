"""2-D convolution with optional FIR up/downsampling, in the order that does the least work.

Definition: upsample x by `up` with filter f (zero insertion, gain up**2), pad by `padding` plus what keeps the
signal centred, convolve with w, filter with f and keep every down-th sample. Convolution and the depthwise FIR
filter are linear and shift-invariant, so they commute; each case below picks the cheapest equivalent order.
"""

import torch
from . import conv2d_gradfix
from .upfirdn2d import upfirdn2d, _parse_padding, _get_filter_size

#----------------------------------------------------------------------------

def _conv2d_wrapper(x, w, stride=1, padding=0, groups=1, transpose=False, flip_weight=True):
    """conv2d (correlation, as PyTorch) when flip_weight, true convolution otherwise; or the transposed variant."""
    if not flip_weight and (w.shape[2] > 1 or w.shape[3] > 1):
        w = w.flip([2, 3])
    if transpose:
        return conv2d_gradfix.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return conv2d_gradfix.conv2d(x, w, stride=stride, padding=padding, groups=groups)

#----------------------------------------------------------------------------

def conv2d_resample(x, w, f=None, up=1, down=1, padding=0, groups=1, flip_weight=True, flip_filter=False):
    """x: [N, C_in, H, W]; w: [C_out, C_in // groups, kh, kw]; f: FIR filter from upfirdn2d.setup_filter (None: box
    of size 1); up, down: integer factors; padding: int, [x, y] or [x0, x1, y0, y1] (before the up/down adjustment);
    flip_weight=False convolves with w instead of correlating; flip_filter as in upfirdn2d."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f'conv2d_resample: x must be a 4-D tensor, got {getattr(x, "shape", type(x).__name__)}')
    if not isinstance(w, torch.Tensor) or w.ndim != 4 or w.dtype != x.dtype:
        raise ValueError(f'conv2d_resample: w must be a 4-D tensor of dtype {x.dtype}, got '
                         f'{getattr(w, "shape", type(w).__name__)} {getattr(w, "dtype", "")}')
    if not isinstance(up, int) or not isinstance(down, int) or up < 1 or down < 1:
        raise ValueError(f'conv2d_resample: up and down must be integers >= 1, got up={up!r}, down={down!r}')
    if not isinstance(groups, int) or groups < 1 or w.shape[0] % groups != 0:
        raise ValueError(f'conv2d_resample: groups={groups!r} must be >= 1 and divide C_out={w.shape[0]}')
    c_out, c_in_per_group, kh, kw = w.shape
    fw, fh = _get_filter_size(f)
    px0, px1, py0, py1 = _parse_padding(padding)

    # Padding that keeps the signal centred through the up- and downsampling filters.
    if up > 1:
        px0, px1 = px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2
        py0, py1 = py0 + (fh + up - 1) // 2, py1 + (fh - up) // 2
    if down > 1:
        px0, px1 = px0 + (fw - down + 1) // 2, px1 + (fw - down) // 2
        py0, py1 = py0 + (fh - down + 1) // 2, py1 + (fh - down) // 2
    pad = [px0, px1, py0, py1]

    # 1x1 kernel: the channel mix commutes with the per-channel filter, so resample the smaller tensor.
    if kh == 1 and kw == 1 and down > 1 and up == 1:
        x = upfirdn2d(x, f, down=down, padding=pad, flip_filter=flip_filter)
        return _conv2d_wrapper(x, w, groups=groups, flip_weight=flip_weight)
    if kh == 1 and kw == 1 and up > 1 and down == 1:
        x = _conv2d_wrapper(x, w, groups=groups, flip_weight=flip_weight)
        return upfirdn2d(x, f, up=up, padding=pad, gain=up ** 2, flip_filter=flip_filter)

    # Downsampling: filter first, then a strided convolution computes only the kept samples.
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=pad, flip_filter=flip_filter)
        return _conv2d_wrapper(x, w, stride=down, groups=groups, flip_weight=flip_weight)

    # Upsampling: zero insertion + convolution is a transposed convolution with stride `up`, then filter.
    # The transposed convolution yields the result as if padded by (k-1) before and (k-up) after; the filter pass
    # takes the remaining padding, minus the symmetric crop the transposed convolution can do itself.
    if up > 1:
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, c_out // groups, c_in_per_group, kh, kw).transpose(1, 2)
            w = w.reshape(groups * c_in_per_group, c_out // groups, kh, kw)
        px0, px1, py0, py1 = px0 - (kw - 1), px1 - (kw - up), py0 - (kh - 1), py1 - (kh - up)
        pxt = max(min(-px0, -px1), 0)
        pyt = max(min(-py0, -py1), 0)
        x = _conv2d_wrapper(x, w, stride=up, padding=[pyt, pxt], groups=groups, transpose=True,
                            flip_weight=not flip_weight)
        x = upfirdn2d(x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up ** 2,
                      flip_filter=flip_filter)
        if down > 1:
            x = upfirdn2d(x, f, down=down, flip_filter=flip_filter)
        return x

    # No resampling: symmetric non-negative padding is done by the convolution itself.
    if px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return _conv2d_wrapper(x, w, padding=[py0, px0], groups=groups, flip_weight=flip_weight)
    x = upfirdn2d(x, None, padding=pad)
    return _conv2d_wrapper(x, w, groups=groups, flip_weight=flip_weight)

#----------------------------------------------------------------------------
