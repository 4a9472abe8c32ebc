"""Triton kernel behind upfirdn2d's fast path; imported lazily, so that importing the ops never needs Triton.

The kernels compute output samples straight from the input: for every filter tap they load the input samples that tap
sees, with zero-inserted positions and padding masked rather than materialised, and accumulate in fp32. Up/down factors
and the filter size are compile-time constants, so the tap loops unroll. Three kernels:
- rows: 4 output rows of BW pixels x BC channels per program, loads contiguous along the channels, each input row a tap
  needs loaded once and added to every output row it feeds, so that a 4x4 filter loads 7 rows per 4 output rows (4 when
  upsampling by 2). It takes every channels-last tensor, and a contiguous channel-first one as N * C one-channel images
  (one channel is both layouts), when the vertical upsampling is by 1, 2 or 4.
- pixel: BP output pixels x BC channels per program, every tap loaded for every pixel (16 loads for a 4x4 filter), for
  the other channels-last cases; its tap loads, not the memory, bounded it (filter2d ran at about half the memory's
  bandwidth on an H100).
- plane: a BH x BW tile of one output plane per program, for the other channel-first cases (strided views, other
  vertical factors). It ran at a tenth of the rows kernel's speed on an H100 (2.18 ms against 0.24 for a 2x upsampling
  of 16x128x128x128 in fp32), and took about 13 ms of a 164 ms step at 256^2 in the ADA pipeline's 3-channel
  resampling before that went to the rows kernel.
"""

import torch
import triton
import triton.language as tl

from .. import misc
from . import _dispatch

#----------------------------------------------------------------------------

@triton.jit
def _source(o, k, pad0, n_in, UP: tl.constexpr, DOWN: tl.constexpr):
    """Input index that output position o reads through filter tap k along one axis, and whether that is a real
    sample (not padding, not an inserted zero)."""
    s = o * DOWN + (k - pad0) # position in the zero-inserted, padded input
    i = s // UP
    ok = (s >= 0) & (i < n_in)
    if UP > 1:
        ok = ok & (s % UP == 0)
    return i, ok

@triton.jit
def _tap(f_ptr, ky, kx, FH: tl.constexpr, FW: tl.constexpr, FLIP: tl.constexpr):
    """Convolution = correlation with the flipped filter; FLIP means the caller asked for correlation."""
    if FLIP:
        index = ky * FW + kx
    else:
        index = (FH - 1 - ky) * FW + (FW - 1 - kx)
    return tl.load(f_ptr + index)

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
        iy, ok_y = _source(oy, ky, pady0, in_h, UPY, DOWNY)
        for kx in tl.static_range(FW):
            ix, ok_x = _source(ox, kx, padx0, in_w, UPX, DOWNX)
            v = tl.load(x_base + iy * sxh + ix * sxw, mask=ok_y & ok_x, other=0.0)
            acc += v.to(tl.float32) * _tap(f_ptr, ky, kx, FH, FW, FLIP)
    y_base = y_ptr + n * syn + c * syc
    tl.store(y_base + oy * syh + ox * syw, (acc * gain).to(y_ptr.dtype.element_ty), mask=(oy < out_h) & (ox < out_w))

@triton.jit
def _upfirdn2d_pixel_kernel(x_ptr, f_ptr, y_ptr, num_channels, in_h, in_w, out_h, out_w,
                            sxn, sxc, sxh, sxw, syn, syc, syh, syw, padx0, pady0, gain,
                            UPX: tl.constexpr, UPY: tl.constexpr, DOWNX: tl.constexpr, DOWNY: tl.constexpr,
                            FH: tl.constexpr, FW: tl.constexpr, FLIP: tl.constexpr, BP: tl.constexpr, BC: tl.constexpr):
    pix = tl.program_id(0) * BP + tl.arange(0, BP) # output pixels of one image, row-major
    n = tl.program_id(1).to(tl.int64)
    c = tl.program_id(2) * BC + tl.arange(0, BC)
    oy = pix // out_w
    ox = pix % out_w
    ok_p = pix < out_h * out_w
    ok_c = (c < num_channels)[None, :]
    x_base = x_ptr + n * sxn + (c * sxc)[None, :]
    acc = tl.zeros([BP, BC], dtype=tl.float32)
    for ky in tl.static_range(FH):
        iy, ok_y = _source(oy, ky, pady0, in_h, UPY, DOWNY)
        for kx in tl.static_range(FW):
            ix, ok_x = _source(ox, kx, padx0, in_w, UPX, DOWNX)
            ok = ok_p & ok_y & ok_x
            v = tl.load(x_base + (iy * sxh + ix * sxw)[:, None], mask=ok[:, None] & ok_c, other=0.0)
            acc += v.to(tl.float32) * _tap(f_ptr, ky, kx, FH, FW, FLIP)
    y_off = n * syn + (oy * syh + ox * syw)[:, None] + (c * syc)[None, :]
    tl.store(y_ptr + y_off, (acc * gain).to(y_ptr.dtype.element_ty), mask=ok_p[:, None] & ok_c)

@triton.jit
def _add_tap(acc, v, f_ptr, KY: tl.constexpr, kx, FH: tl.constexpr, FW: tl.constexpr, FLIP: tl.constexpr):
    """acc + v * f[KY, kx] if the input row of v is one that tap row KY of this output row reads (decided at compile
    time), else acc."""
    if KY >= 0:
        if KY < FH:
            acc += v * _tap(f_ptr, KY, kx, FH, FW, FLIP)
    return acc

@triton.jit
def _upfirdn2d_rows_kernel(x_ptr, f_ptr, y_ptr, num_channels, in_h, in_w, out_h, out_w,
                           sxn, sxc, sxh, sxw, syn, syc, syh, syw, padx0, pady0, gain, tiles_x,
                           UPX: tl.constexpr, UPY: tl.constexpr, DOWNX: tl.constexpr, DOWNY: tl.constexpr,
                           PARITY: tl.constexpr, FH: tl.constexpr, FW: tl.constexpr, FLIP: tl.constexpr,
                           BW: tl.constexpr, BC: tl.constexpr):
    """Output row oy0 + j (j < 4) reads, through tap row ky, position s = (oy0 + j) * DOWNY + ky - pady0 of the
    zero-inserted padded input: a real sample, input row s / UPY, only where UPY divides s. With oy0 * DOWNY a multiple
    of UPY (UPY = 1, 2 or 4) and PARITY = pady0 mod UPY, the real ones are ky = UPY * t + PARITY - j * DOWNY, all reading
    input row (oy0 * DOWNY - pady0 + PARITY) / UPY + t: each such row t is loaded once per tap column and added to the
    accumulator of every output row it feeds, with taps known at compile time."""
    oy0 = (tl.program_id(0) // tiles_x) * 4
    ox = (tl.program_id(0) % tiles_x) * BW + tl.arange(0, BW)
    n = tl.program_id(1).to(tl.int64)
    c = tl.program_id(2) * BC + tl.arange(0, BC)
    ok_c = (c < num_channels)[None, :]
    x_base = x_ptr + n * sxn + (c * sxc)[None, :]
    acc0 = tl.zeros([BW, BC], dtype=tl.float32)
    acc1 = tl.zeros([BW, BC], dtype=tl.float32)
    acc2 = tl.zeros([BW, BC], dtype=tl.float32)
    acc3 = tl.zeros([BW, BC], dtype=tl.float32)
    for t in tl.static_range((FH + 3 * DOWNY - PARITY + UPY - 1) // UPY):
        iy = (oy0 * DOWNY - pady0 + PARITY) // UPY + t # an exact division
        iy_v = iy + tl.zeros_like(ox) # iy as a vector: Triton's interpreter mishandles scalar masks
        ok_y = (iy_v >= 0) & (iy_v < in_h)
        for kx in tl.static_range(FW):
            ix, ok_x = _source(ox, kx, padx0, in_w, UPX, DOWNX)
            ok = ok_x & ok_y
            v = tl.load(x_base + (iy.to(tl.int64) * sxh + ix * sxw)[:, None], mask=ok[:, None] & ok_c,
                        other=0.0).to(tl.float32)
            acc0 = _add_tap(acc0, v, f_ptr, UPY * t + PARITY, kx, FH, FW, FLIP)
            acc1 = _add_tap(acc1, v, f_ptr, UPY * t + PARITY - DOWNY, kx, FH, FW, FLIP)
            acc2 = _add_tap(acc2, v, f_ptr, UPY * t + PARITY - 2 * DOWNY, kx, FH, FW, FLIP)
            acc3 = _add_tap(acc3, v, f_ptr, UPY * t + PARITY - 3 * DOWNY, kx, FH, FW, FLIP)
    y_row = y_ptr + n * syn + (ox * syw)[:, None] + (c * syc)[None, :]
    _store_row(y_row, oy0, acc0 * gain, ox, out_w, out_h, syh, ok_c)
    _store_row(y_row, oy0 + 1, acc1 * gain, ox, out_w, out_h, syh, ok_c)
    _store_row(y_row, oy0 + 2, acc2 * gain, ox, out_w, out_h, syh, ok_c)
    _store_row(y_row, oy0 + 3, acc3 * gain, ox, out_w, out_h, syh, ok_c)

@triton.jit
def _store_row(y_row, oy, value, ox, out_w, out_h, syh, ok_c):
    ok = (ox < out_w) & (oy + tl.zeros_like(ox) < out_h) # the row as a vector: the interpreter mishandles scalar masks
    tl.store(y_row + oy.to(tl.int64) * syh, value.to(y_row.dtype.element_ty), mask=ok[:, None] & ok_c)

#----------------------------------------------------------------------------

def launch(x, f, ax, ay, flip_filter, gain, rows=True):
    """One upfirdn2d pass with a 2-D float32 filter f [FH, FW] (a 1-D filter as [1, FW] or [FH, 1] views); rows=False
    sends channels-last tensors to the pixel kernel and channel-first ones to the plane kernel."""
    (upx, downx, padx0, padx1), (upy, downy, pady0, pady1) = ax, ay
    N, C, H, W = x.shape
    fh, fw = f.shape
    out_h = (H * upy + pady0 + pady1 - fh) // downy + 1
    out_w = (W * upx + padx0 + padx1 - fw) // downx + 1
    if rows and upy in (1, 2, 4) and C > 1 and x.is_contiguous() and N * C < 65536: # (the grid's y limit)
        # Channel-first planes are N * C one-channel images, whose rows the rows kernel reads contiguously.
        return launch(x.view(N * C, 1, H, W), f, ax, ay, flip_filter, gain, rows).view(N, C, out_h, out_w)
    channels_last = misc.is_channels_last(x)
    y = torch.empty([N, C, out_h, out_w], dtype=x.dtype, device=x.device,
                    memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    args = (x, f.contiguous(), y, C, H, W, out_h, out_w, *x.stride(), *y.stride(), padx0, pady0, float(gain))
    consts = dict(UPX=upx, UPY=upy, DOWNX=downx, DOWNY=downy, FH=fh, FW=fw, FLIP=bool(flip_filter), num_warps=4)
    bc = min(64, triton.next_power_of_2(C)) # channels per program of the channels-last kernels
    with _dispatch.kernel_device(x):
        if (channels_last or C == 1) and upy in (1, 2, 4) and rows:
            bw = max(1024 // bc, 16)
            tiles_x = triton.cdiv(out_w, bw)
            grid = (tiles_x * triton.cdiv(out_h, 4), N, triton.cdiv(C, bc))
            _upfirdn2d_rows_kernel[grid](*args, tiles_x, PARITY=pady0 % upy, BW=bw, BC=bc, **consts)
        elif channels_last:
            bp = max(2048 // bc, 32)
            grid = (triton.cdiv(out_h * out_w, bp), N, triton.cdiv(C, bc))
            _upfirdn2d_pixel_kernel[grid](*args, BP=bp, BC=bc, **consts)
        else:
            bw = min(64, triton.next_power_of_2(out_w))
            bh = min(max(1024 // bw, 1), triton.next_power_of_2(out_h))
            tiles_x = triton.cdiv(out_w, bw)
            grid = (N * C, tiles_x * triton.cdiv(out_h, bh))
            _upfirdn2d_kernel[grid](*args, tiles_x, BH=bh, BW=bw, **consts)
    return y

#----------------------------------------------------------------------------
