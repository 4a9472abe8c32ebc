"""Triton kernel behind upfirdn2d's fast path; imported lazily, so that importing the ops never needs Triton.

Each program computes a BH x BW tile of one output plane straight from the input: for every filter tap it loads the
input samples that tap sees, with zero-inserted positions and padding masked rather than materialised, and
accumulates in fp32. Up/down factors and the filter size are compile-time constants, so the tap loops unroll.
"""

import torch
import triton
import triton.language as tl

#----------------------------------------------------------------------------

@triton.jit
def _upfirdn2d_kernel(x_ptr, f_ptr, y_ptr, num_channels, in_h, in_w, out_h, out_w,
                      sxn, sxc, sxh, sxw, syn, syc, syh, syw, padx0, pady0, gain, tiles_x,
                      UPX: tl.constexpr, UPY: tl.constexpr, DOWNX: tl.constexpr, DOWNY: tl.constexpr,
                      FH: tl.constexpr, FW: tl.constexpr, FLIP: tl.constexpr, BH: tl.constexpr, BW: tl.constexpr):
    plane = tl.program_id(0)
    tile = tl.program_id(1)
    n = (plane // num_channels).to(tl.int64)
    c = (plane % num_channels).to(tl.int64)
    oy = (tile // tiles_x) * BH + tl.arange(0, BH)[:, None]
    ox = (tile % tiles_x) * BW + tl.arange(0, BW)[None, :]
    x_base = x_ptr + n * sxn + c * sxc
    acc = tl.zeros([BH, BW], dtype=tl.float32)
    for ky in tl.static_range(FH):
        sy = oy * DOWNY + (ky - pady0)  # row in the zero-inserted, padded input
        iy = sy // UPY
        ok_y = (sy >= 0) & (iy < in_h)
        if UPY > 1:
            ok_y = ok_y & (sy % UPY == 0)
        for kx in tl.static_range(FW):
            sx = ox * DOWNX + (kx - padx0)
            ix = sx // UPX
            ok_x = (sx >= 0) & (ix < in_w)
            if UPX > 1:
                ok_x = ok_x & (sx % UPX == 0)
            # Convolution = correlation with the flipped filter; FLIP means the caller asked for correlation.
            if FLIP:
                tap = tl.load(f_ptr + ky * FW + kx)
            else:
                tap = tl.load(f_ptr + (FH - 1 - ky) * FW + (FW - 1 - kx))
            v = tl.load(x_base + iy * sxh + ix * sxw, mask=ok_y & ok_x, other=0.0)
            acc += v.to(tl.float32) * tap
    y_base = y_ptr + n * syn + c * syc
    tl.store(y_base + oy * syh + ox * syw, (acc * gain).to(y_ptr.dtype.element_ty), mask=(oy < out_h) & (ox < out_w))

#----------------------------------------------------------------------------

def launch(x, f, ax, ay, flip_filter, gain):
    """One upfirdn2d pass with a 2-D float32 filter f [FH, FW] (a 1-D filter as [1, FW] or [FH, 1] views)."""
    (upx, downx, padx0, padx1), (upy, downy, pady0, pady1) = ax, ay
    N, C, H, W = x.shape
    fh, fw = f.shape
    out_h = (H * upy + pady0 + pady1 - fh) // downy + 1
    out_w = (W * upx + padx0 + padx1 - fw) // downx + 1
    channels_last = not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    y = torch.empty([N, C, out_h, out_w], dtype=x.dtype, device=x.device,
                    memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    bw = min(64, triton.next_power_of_2(out_w))
    bh = min(max(1024 // bw, 1), triton.next_power_of_2(out_h))
    tiles_x = triton.cdiv(out_w, bw)
    grid = (N * C, tiles_x * triton.cdiv(out_h, bh))
    with torch.cuda.device(x.device):
        _upfirdn2d_kernel[grid](x, f.contiguous(), y, C, H, W, out_h, out_w, *x.stride(), *y.stride(),
            padx0, pady0, float(gain), tiles_x, UPX=upx, UPY=upy, DOWNX=downx, DOWNY=downy, FH=fh, FW=fw,
            FLIP=bool(flip_filter), BH=bh, BW=bw, num_warps=4)
    return y

#----------------------------------------------------------------------------
