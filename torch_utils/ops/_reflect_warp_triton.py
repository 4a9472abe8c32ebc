"""Triton kernel behind reflect_warp's fast path; imported lazily, so that importing the ops never needs Triton.

One program computes BLOCK output samples of one image, for every channel. Along each axis a sample's two bilinear
taps of the upsampled image read, through the even-length filter, TAPS-1 (7 for 12 taps) consecutive samples of the
padded input; those are found in the input itself by reflecting their indices, so neither the padded nor the upsampled
image is ever built. The indices and weights of both axes are computed once and serve every channel.
"""

import triton
import triton.language as tl

from . import _dispatch

#----------------------------------------------------------------------------

@triton.jit
def _axis(g, n_pad, pad_lo, n_in, f_ptr, FN: tl.constexpr, TAPS: tl.constexpr):
    """For grid coordinates g [BLOCK] along one axis (grid_sample's, of the padded input upsampled 2x, n_pad samples
    before upsampling): the input indices [BLOCK, TAPS] that they read and their weights, zero where a read falls
    outside the padded input, a bilinear tap outside the upsampled image, or beyond the filter."""
    n_up = 2 * n_pad
    u = ((g + 1) * n_up - 1) * 0.5 # grid_sample's unnormalisation (align_corners=False)
    u0f = tl.floor(u)
    w1 = u - u0f
    w0 = 1 - w1
    u0 = u0f.to(tl.int32)
    w0 = tl.where((u0 >= 0) & (u0 < n_up), w0, 0.0)
    w1 = tl.where((u0 + 1 >= 0) & (u0 + 1 < n_up), w1, 0.0)
    # Upsampled sample u is 2 * sum_k f[FN-1-k] * padded[(u + k - FN/2) / 2] over the k that make the index whole.
    # With d = u0 - FN/2, e its parity and base = (d + e) / 2, padded sample base + t is read by u0 through tap
    # k = 2t + e and by u0 + 1 through k - 1.
    d = u0 - FN // 2
    e = d & 1
    base = (d + e) // 2 # d + e is even: exact for either rounding of the division
    t = tl.arange(0, TAPS)[None, :]
    k = 2 * t + e[:, None]
    fa = tl.load(f_ptr + (FN - 1 - k), mask=k < FN, other=0.0)
    fb = tl.load(f_ptr + (FN - k), mask=(k >= 1) & (k <= FN), other=0.0)
    p = base[:, None] + t
    w = 2 * (w0[:, None] * fa + w1[:, None] * fb)
    w = tl.where((p >= 0) & (p < n_pad), w, 0.0)
    q = p - pad_lo # reflected into the input: the padding never exceeds n_in - 1, so once suffices
    q = tl.where(q < 0, -q, q)
    q = tl.where(q > n_in - 1, 2 * (n_in - 1) - q, q)
    return tl.minimum(tl.maximum(q, 0), n_in - 1), w

@triton.jit
def _sum_as(a_ptr, b_ptr, mask):
    total = tl.load(a_ptr, mask=mask, other=0.0).to(tl.float32) + tl.load(b_ptr, mask=mask, other=0.0).to(tl.float32)
    return total.to(a_ptr.dtype.element_ty).to(tl.float32)

@triton.jit
def _reflect_warp_kernel(x_ptr, f_ptr, rows_ptr, cols_ptr, y_ptr, num_channels, in_h, in_w, out_h, out_w,
                         pad_left, pad_top, pad_h, pad_w, sxn, sxc, sxh, sxw, syn, syc, syh, syw,
                         FN: tl.constexpr, TAPS: tl.constexpr, BLOCK: tl.constexpr):
    n = tl.program_id(1).to(tl.int64) # the images on the grid's second axis, which allows at most 65535
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = o < out_h * out_w
    oy, ox = o // out_w, o % out_w
    rows, cols = rows_ptr + n * 2 * out_w, cols_ptr + n * 2 * out_h # [N, 2, out_w] and [N, 2, out_h], contiguous
    # The grid as the reference makes it: the two terms' sum rounded once to their dtype.
    gx = _sum_as(rows + ox, cols + oy, live)
    gy = _sum_as(rows + out_w + ox, cols + out_h + oy, live)
    qx, wx = _axis(gx, pad_w, pad_left, in_w, f_ptr, FN, TAPS)
    qy, wy = _axis(gy, pad_h, pad_top, in_h, f_ptr, FN, TAPS)
    offsets = qy[:, :, None] * sxh + qx[:, None, :] * sxw # [BLOCK, TAPS, TAPS]
    weights = wy[:, :, None] * wx[:, None, :]
    reads = live[:, None, None] & (weights != 0)
    x_base, y_base = x_ptr + n * sxn, y_ptr + n * syn
    for c in range(num_channels):
        v = tl.load(x_base + c * sxc + offsets, mask=reads, other=0.0).to(tl.float32)
        acc = tl.sum(tl.sum(v * weights, axis=2), axis=1)
        tl.store(y_base + c * syc + oy * syh + ox * syw, acc.to(y_ptr.dtype.element_ty), mask=live)

#----------------------------------------------------------------------------

BLOCK = 64

def launch(x, f, rows, cols, padding):
    """reflect_warp's forward (see reflect_warp.py) for x [N, C, H, W], f 1-D with an even number of taps,
    rows [N, 2, out_w] and cols [N, 2, out_h] in x's dtype; the result is contiguous."""
    N, C, H, W = x.shape
    pl, pr, pt, pb = padding
    out_h, out_w = cols.shape[2], rows.shape[2]
    y = x.new_empty([N, C, out_h, out_w])
    fn = f.numel()
    grid = (triton.cdiv(out_h * out_w, BLOCK), N)
    with _dispatch.kernel_device(x):
        _reflect_warp_kernel[grid](x, f.contiguous(), rows.contiguous(), cols.contiguous(), y, C, H, W, out_h, out_w,
            pl, pt, H + pt + pb, W + pl + pr, *x.stride(), *y.stride(),
            FN=fn, TAPS=triton.next_power_of_2(fn // 2 + 1), BLOCK=BLOCK, num_warps=4)
    return y

#----------------------------------------------------------------------------
