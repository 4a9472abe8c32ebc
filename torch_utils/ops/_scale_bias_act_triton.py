"""Triton kernels behind scale_bias_act's fast path; imported lazily, so that importing the ops never needs Triton.

For x [B,C,H,W], per-sample channel scales s [B,C] (or none: bias_act's backward), noise n broadcast as [B,1,H,W]
and bias b [C]:
  forward:  z = x * s + n + b,  y = clamp(act(z) * gain, -clamp, clamp),  act(z) = z if z > 0 else alpha * z
  backward: dz = dy * act'(z) * gain * [|act(z) * gain| <= clamp]; dx = dz * s and, summed in fp32 per program and
            then over programs, ds = sum_hw(dz * x), db = sum_{b,hw}(dz), dn = sum_c(dz)
One pass over the activations each way, in fp32 registers. A tile is BP pixels by BC channels of one sample; pixels
are addressed as p * (stride of W), which holds for contiguous and channels-last layouts alike (stride of H = W times
it), so either layout is read in place and Triton's specialisation on unit strides makes the contiguous axis coalesce.
"""

import torch
import triton
import triton.language as tl

from .. import misc
from . import _dispatch

#----------------------------------------------------------------------------

@triton.jit
def _tile(x_ptr, s_ptr, n_ptr, b_ptr, bi, p, c, C, HW, sxb, sxc, sxp, snb, snp, alpha, gain,
          HAS_SCALE: tl.constexpr, HAS_NOISE: tl.constexpr, HAS_BIAS: tl.constexpr):
    """Offsets, mask, x, s (1 without scales) and the pre-activation z of one tile, and act(z) * gain."""
    pm, cm = p < HW, c < C
    mask = pm[:, None] & cm[None, :]
    offs = bi.to(tl.int64) * sxb + p[:, None].to(tl.int64) * sxp + c[None, :].to(tl.int64) * sxc
    x = tl.load(x_ptr + offs, mask=mask, other=0).to(tl.float32)
    if HAS_SCALE:
        s = tl.load(s_ptr + bi * C + c, mask=cm, other=0).to(tl.float32)
        z = x * s[None, :]
    else:
        s = tl.zeros_like(c).to(tl.float32) + 1.0
        z = x
    if HAS_NOISE:
        z += tl.load(n_ptr + bi.to(tl.int64) * snb + p.to(tl.int64) * snp, mask=pm, other=0).to(tl.float32)[:, None]
    if HAS_BIAS:
        z += tl.load(b_ptr + c, mask=cm, other=0).to(tl.float32)[None, :]
    v = tl.where(z > 0, z, z * alpha) * gain
    return offs, mask, x, s, z, v

@triton.jit
def _forward_kernel(x_ptr, s_ptr, n_ptr, b_ptr, y_ptr, C, HW, sxb, sxc, sxp, snb, snp, alpha, gain, clamp,
                    HAS_SCALE: tl.constexpr, HAS_NOISE: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_CLAMP: tl.constexpr,
                    BP: tl.constexpr, BC: tl.constexpr):
    p = tl.program_id(0) * BP + tl.arange(0, BP)
    c = tl.program_id(2) * BC + tl.arange(0, BC)
    offs, mask, _, _, _, v = _tile(x_ptr, s_ptr, n_ptr, b_ptr, tl.program_id(1), p, c, C, HW, sxb, sxc, sxp, snb,
        snp, alpha, gain, HAS_SCALE, HAS_NOISE, HAS_BIAS)
    if HAS_CLAMP:
        v = tl.minimum(tl.maximum(v, -clamp), clamp)
    tl.store(y_ptr + offs, v.to(y_ptr.dtype.element_ty), mask=mask)

@triton.jit
def _backward_kernel(x_ptr, s_ptr, n_ptr, b_ptr, dy_ptr, dx_ptr, ds_ptr, db_ptr, dn_ptr, B, C, HW, span,
                     sxb, sxc, sxp, snb, snp, alpha, gain, clamp,
                     HAS_SCALE: tl.constexpr, HAS_NOISE: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_CLAMP: tl.constexpr,
                     NEED_DX: tl.constexpr, NEED_DN: tl.constexpr, BP: tl.constexpr, BC: tl.constexpr):
    """Program (k, b, j) covers pixels [k * span, (k + 1) * span) of sample b in channel tile j; its sums over pixels
    go to ds_ptr/db_ptr [K,B,C] at k, its sums over channels to dn_ptr [J,B,HW] at j."""
    split, bi, ctile = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    c = ctile * BC + tl.arange(0, BC)
    acc_s = tl.zeros([BC], dtype=tl.float32)
    acc_b = tl.zeros([BC], dtype=tl.float32)
    for start in range(split * span, split * span + span, BP):
        p = start + tl.arange(0, BP)
        offs, mask, x, s, z, v = _tile(x_ptr, s_ptr, n_ptr, b_ptr, bi, p, c, C, HW, sxb, sxc, sxp, snb, snp, alpha,
            gain, HAS_SCALE, HAS_NOISE, HAS_BIAS)
        dz = tl.load(dy_ptr + offs, mask=mask, other=0).to(tl.float32) * tl.where(z > 0, 1.0, alpha) * gain
        if HAS_CLAMP:
            dz = tl.where(tl.abs(v) <= clamp, dz, 0.0)
        if NEED_DX:
            tl.store(dx_ptr + offs, (dz * s[None, :]).to(dx_ptr.dtype.element_ty), mask=mask)
        if HAS_SCALE:
            acc_s += tl.sum(dz * x, axis=0)
        acc_b += tl.sum(dz, axis=0)
        if NEED_DN:
            tl.store(dn_ptr + (ctile * B + bi).to(tl.int64) * HW + p, tl.sum(dz, axis=1), mask=p < HW)
    part = (split * B + bi) * C + c
    if HAS_SCALE:
        tl.store(ds_ptr + part, acc_s, mask=c < C)
    tl.store(db_ptr + part, acc_b, mask=c < C)

#----------------------------------------------------------------------------

def _pixel_strided(t):
    """t itself if its pixels can be addressed as p * t.stride(3) (contiguous, channels-last), else a copy that can."""
    return t if t.stride(2) == t.shape[3] * t.stride(3) or t.shape[2] == 1 else t.contiguous()

def _blocks(channels):
    bc = min(triton.next_power_of_2(channels), 64)
    return max(4096 // bc, 16), bc

def _common(x, s, noise, b, alpha, gain, clamp):
    """Kernel arguments shared by both directions: tensors, sizes, strides, scalars and flags."""
    B, C, H, W = x.shape
    n = x if noise is None else _pixel_strided(noise.reshape([1] * (4 - noise.ndim) + list(noise.shape)).expand(B, 1, H, W))
    args = [x, x if s is None else s.contiguous(), n, x if b is None else b.contiguous()]
    sizes = [C, H * W, x.stride(0), x.stride(1), x.stride(3), n.stride(0), n.stride(3), alpha, gain, clamp]
    flags = dict(HAS_SCALE=s is not None, HAS_NOISE=noise is not None, HAS_BIAS=b is not None, HAS_CLAMP=clamp >= 0)
    return args, sizes, flags

def forward(x, s, noise, b, alpha, gain, clamp):
    x = _pixel_strided(x)
    args, sizes, flags = _common(x, s, noise, b, alpha, gain, clamp)
    y = torch.empty_like(x)
    bp, bc = _blocks(x.shape[1])
    grid = (triton.cdiv(x.shape[2] * x.shape[3], bp), x.shape[0], triton.cdiv(x.shape[1], bc))
    with _dispatch.kernel_device(x):
        _forward_kernel[grid](*args, y, *sizes, **flags, BP=bp, BC=bc, num_warps=4)
    return y

def backward(dy, x, s, noise, b, alpha, gain, clamp, need_dx, need_dn):
    """(dx or None, ds [B,C] fp32 or None (no s), db [C] fp32, dn [B,1,H,W] fp32 or None)."""
    x = _pixel_strided(x)
    dy = misc.in_layout_of(dy, x)
    args, sizes, flags = _common(x, s, noise, b, alpha, gain, clamp)
    B, C, H, W = x.shape
    bp, bc = _blocks(C)
    ctiles, ptiles = triton.cdiv(C, bc), triton.cdiv(H * W, bp)
    # Enough programs to fill the GPU a few times over; each then sums a contiguous span of pixel tiles.
    sms = torch.cuda.get_device_properties(x.device).multi_processor_count if x.is_cuda else 4
    splits = max(1, min(ptiles, triton.cdiv(4 * sms, B * ctiles)))
    span = triton.cdiv(ptiles, splits) * bp
    splits = triton.cdiv(H * W, span)
    dx = torch.empty_like(x) if need_dx else x
    db = torch.empty([splits, B, C], device=x.device, dtype=torch.float32)
    ds = torch.empty_like(db) if s is not None else db # any valid pointer when unused
    dn = torch.empty([ctiles, B, H * W], device=x.device, dtype=torch.float32) if need_dn else db
    with _dispatch.kernel_device(x):
        _backward_kernel[(splits, B, ctiles)](*args, dy, dx, ds, db, dn, B, C, H * W, span, *sizes[2:], **flags,
            NEED_DX=need_dx, NEED_DN=need_dn, BP=bp, BC=bc, num_warps=4)
    return (dx if need_dx else None, ds.sum(0) if s is not None else None, db.sum([0, 1]),
            dn.sum(0).reshape(B, 1, H, W) if need_dn else None)

#----------------------------------------------------------------------------
