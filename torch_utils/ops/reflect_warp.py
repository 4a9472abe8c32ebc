"""Bilinear sampling of a reflect-padded, 2x-upsampled image in one pass: the ADA pipeline's geometric warp.

reflect_warp(x, f, rows, cols, padding) is

    grid_sample(upsample2d(pad(x, padding, mode='reflect'), f), grid)  (bilinear, zeros outside, align_corners=False)

with grid[n, i, j] = rows[n, :, j] + cols[n, :, i]: an affine grid, given as one row term and one column term. With the
reflection's full padding (W - 1, H - 1), which CUDA graphs need because they cannot wait to read back a smaller one,
the padded and upsampled image has 36 times the input's area; the fast path never builds it. Each output sample reads
the 7 x 7 input samples that its four bilinear taps of that image see through the 12-tap filter, at reflected indices.
Its input gradient is the reference's backward ops; the gradient of that (R1) is this op again.
"""

import torch
import torch.nn.functional as F

from . import _dispatch, grid_sample_gradfix, upfirdn2d

#----------------------------------------------------------------------------

FAST = True # False sends every call to the reference (benchmarks/bench_augment.py --no-warp-kernel)

def reflect_warp(x, f, rows, cols, padding, impl='cuda'):
    """x [N, C, H, W]; f a 1-D filter of an even number of taps (setup_filter); rows [N, 2, out_w] and cols
    [N, 2, out_h], x and y terms of the grid in x's dtype; padding [left, right, top, bottom], each below the side it
    pads. Returns [N, C, out_h, out_w]. No gradient w.r.t. rows and cols."""
    N, _C, H, W = x.shape
    pl, pr, pt, pb = padding = [int(v) for v in padding]
    if f.ndim != 1 or f.numel() % 2 or f.numel() > 14:
        raise ValueError(f'reflect_warp: f must be 1-D with an even number of taps up to 14, got {tuple(f.shape)}')
    if not 0 <= min(pl, pr) <= max(pl, pr) < W or not 0 <= min(pt, pb) <= max(pt, pb) < H:
        raise ValueError(f'reflect_warp: padding {padding} must be at least 0 and below the image size {(H, W)}')
    if rows.shape[:2] != (N, 2) or cols.shape[:2] != (N, 2) or rows.ndim != 3 or cols.ndim != 3:
        raise ValueError(f'reflect_warp: rows and cols must be [N, 2, size], got {tuple(rows.shape)}, {tuple(cols.shape)}')
    return _dispatch.call('reflect_warp', impl if FAST else 'ref', x,
        fast=lambda: _ReflectWarp.apply(x, f.to(x.device, torch.float32), rows, cols, padding),
        ref=lambda: _reference(x, f, rows, cols, padding), probe=_probe, probe_key=(x.device, x.dtype, f.numel()))

def _grid(rows, cols):
    return (rows[:, :, None, :] + cols[:, :, :, None]).permute(0, 2, 3, 1) # [N, out_h, out_w, 2]

def _reference(x, f, rows, cols, padding):
    pl, pr, pt, pb = padding
    x = F.pad(x, [pl, pr, pt, pb], mode='reflect')
    x = upfirdn2d.upsample2d(x, f, up=2)
    return grid_sample_gradfix.grid_sample(x, _grid(rows, cols))

def _probe(key):
    """Run the fast path once on a tiny image, forward, input gradient and R1's gradient of that, and compare with the
    reference in fp32 (a failure of the backward ops here falls back instead of breaking a training step)."""
    device, dtype, taps = key
    gen = torch.Generator(device=device).manual_seed(0)
    f = torch.rand([taps], device=device, generator=gen) + 0.5
    f = f / f.sum()
    x0 = torch.randn([2, 3, 6, 5], device=device, generator=gen).to(dtype)
    # Grid terms on multiples of 1/64 below 1.3: their sums are exact in every dtype, as the kernel rounds them.
    terms = lambda n: (torch.rand([2, 2, 1], device=device, generator=gen) * torch.linspace(-1.25, 1.25, n,
        device=device) * 64).round() / 64
    rows, cols = terms(14).to(dtype), terms(16).to(dtype)
    w = torch.randn([2, 3, 16, 14], device=device, generator=gen)
    results = []
    for fn, cast in ((_ReflectWarp.apply, dtype), (_reference, torch.float32)):
        x, g = x0.to(cast).requires_grad_(), w.to(cast).requires_grad_()
        y = fn(x, f, rows.to(cast), cols.to(cast), [4, 2, 5, 1])
        dx, = torch.autograd.grad((y * g).sum(), x, create_graph=True)
        dg, = torch.autograd.grad(dx.square().sum(), g)
        results.append([t.float() for t in (y, dx, dg)])
    # bfloat16: the backward ops' own rounding reaches 5 %; indexing errors are of the order of the values.
    _dispatch.check_close(*results, f'dtype={dtype}', tol=0.1 if dtype == torch.bfloat16 else 0.02)

#----------------------------------------------------------------------------

_kernels = None  # the Triton module, imported on first use

def _forward(x, f, rows, cols, padding):
    global _kernels # pylint: disable=global-statement
    if _kernels is None:
        from . import _reflect_warp_triton as _kernels # pylint: disable=import-outside-toplevel,redefined-outer-name
    return _kernels.launch(x, f, rows, cols, padding)

def _transpose(dy, f, rows, cols, padding, in_shape):
    """The input gradient: grid_sample's, then the upsampling's and the padding's backward."""
    N, C, H, W = in_shape
    pl, pr, pt, pb = padding
    padded = [N, C, H + pt + pb, W + pl + pr]
    up = (2, 1, (f.numel() + 1) // 2, f.numel() // 2 - 1) # upsample2d's parameters, for 12 taps (2, 1, 6, 5)
    # Stand-ins of the inputs' shapes (their values are never read): for the upsampled image one whose elements share
    # one address, as grid_sample_gradfix does.
    stand_in = lambda shape: dy.new_zeros([]).expand(shape)
    d_up, _ = torch.ops.aten.grid_sampler_2d_backward(dy, stand_in(padded[:2] + [2 * padded[2], 2 * padded[3]]),
        _grid(rows, cols), 0, 0, False, [True, False])
    tx, ty, flip = upfirdn2d._transpose_params(padded, d_up.shape, f, up, up, False) # pylint: disable=protected-access
    d_pad = upfirdn2d.upfirdn2d(d_up, f, up=[tx[0], ty[0]], down=[tx[1], ty[1]], padding=[tx[2], tx[3], ty[2], ty[3]],
        flip_filter=flip, gain=4)
    return torch.ops.aten.reflection_pad2d_backward(d_pad, dy.new_empty(in_shape), [pl, pr, pt, pb])

class _ReflectWarp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, f, rows, cols, padding): # pylint: disable=arguments-differ
        ctx.save_for_backward(f, rows, cols)
        ctx.params = (padding, x.shape)
        return _forward(x, f, rows, cols, padding)

    @staticmethod
    def backward(ctx, dy): # pylint: disable=arguments-differ
        f, rows, cols = ctx.saved_tensors
        padding, in_shape = ctx.params
        return _ReflectWarpTranspose.apply(dy, f, rows, cols, padding, in_shape), None, None, None, None

class _ReflectWarpTranspose(torch.autograd.Function):
    @staticmethod
    def forward(ctx, dy, f, rows, cols, padding, in_shape): # pylint: disable=arguments-differ
        ctx.save_for_backward(f, rows, cols)
        ctx.padding = padding
        return _transpose(dy, f, rows, cols, padding, in_shape)

    @staticmethod
    def backward(ctx, ddx): # pylint: disable=arguments-differ
        f, rows, cols = ctx.saved_tensors
        # The transpose is linear in dy: its derivative is the forward op, through the dispatcher (its fallback).
        return reflect_warp(ddx, f, rows, cols, ctx.padding), None, None, None, None, None

#----------------------------------------------------------------------------
