"""Triton kernel behind bias_act's fast path; imported lazily, so that importing the ops never needs Triton.

One elementwise kernel, in fp32 registers, evaluates for z = x + b and v = act(z) * gain:
  mode 0: clamp(v, -clamp, clamp)
  mode 1: g * act'(z) * gain * [|v| <= clamp]            (backward, g = incoming gradient)
  mode 2: g * h * act''(z) * gain * [|v| <= clamp]       (x-term of the double backward, h = first incoming gradient)
The tensor is read flat, in memory order, BLOCK elements per program; the channel of an element is
(offset // inner) % C, where inner is the number of elements per channel step (1 for channels-last layouts, whose
division Triton drops by specialising on 1).
"""

import torch
import triton
import triton.language as tl

from .. import misc
from . import _dispatch

#----------------------------------------------------------------------------

ACT_IDS = dict(linear=0, relu=1, lrelu=2, tanh=3, sigmoid=4, elu=5, selu=6, softplus=7, swish=8)
_SELU_SCALE = tl.constexpr(1.0507009873554805)    # torch.nn.functional.selu's constants
_SELU_ALPHA = tl.constexpr(1.6732632423543772)
_SOFTPLUS_THRESHOLD = tl.constexpr(20.0)          # torch.nn.functional.softplus turns linear above this

@triton.jit
def _act(z, alpha, ACT: tl.constexpr):
    """Activation and its first two derivatives, (f(z), f'(z), f''(z)); at the kinks (z = 0) each takes the side
    that PyTorch's autograd takes, so that the fast path and the reference agree exactly there."""
    zero = tl.zeros_like(z)
    one = zero + 1.0
    pos = z > 0
    if ACT == 0:
        y, d1, d2 = z, one, zero
    elif ACT == 1:
        y, d1, d2 = tl.where(pos, z, zero), tl.where(pos, one, zero), zero
    elif ACT == 2:
        y, d1, d2 = tl.where(pos, z, z * alpha), tl.where(pos, one, zero + alpha), zero
    elif ACT == 3:
        t = 1.0 - 2.0 / (tl.exp(2.0 * tl.abs(z)) + 1.0)     # overflow-safe; absolute error ~1e-7
        y = tl.where(z < 0, -t, t)
        d1 = 1.0 - y * y
        d2 = -2.0 * y * d1
    elif ACT == 4:
        y = tl.sigmoid(z)
        d1 = y * (1.0 - y)
        d2 = d1 * (1.0 - 2.0 * y)
    elif ACT == 5:
        e = tl.exp(z)
        y, d1, d2 = tl.where(pos, z, e - 1.0), tl.where(pos, one, e), tl.where(z >= 0, zero, e)
    elif ACT == 6:
        e = _SELU_SCALE * _SELU_ALPHA * tl.exp(z)
        y = tl.where(pos, _SELU_SCALE * z, e - _SELU_SCALE * _SELU_ALPHA)
        d1, d2 = tl.where(pos, one * _SELU_SCALE, e), tl.where(z >= 0, zero, e)
    elif ACT == 7:
        s = tl.sigmoid(z)
        big = z > _SOFTPLUS_THRESHOLD
        y = tl.where(big, z, tl.maximum(z, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(z))))
        d1, d2 = tl.where(big, one, s), tl.where(big, zero, s * (1.0 - s))
    else:
        s = tl.sigmoid(z)
        y = z * s
        d1 = s * (1.0 + z * (1.0 - s))
        d2 = s * (1.0 - s) * (2.0 + z * (1.0 - 2.0 * s))
    return y, d1, d2

@triton.jit
def _bias_act_kernel(x_ptr, b_ptr, g_ptr, h_ptr, out_ptr, numel, inner, num_channels, alpha, gain, clamp,
                     ACT: tl.constexpr, MODE: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_CLAMP: tl.constexpr,
                     BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < numel
    z = tl.load(x_ptr + offs, mask=mask, other=0).to(tl.float32)
    if HAS_BIAS:
        z += tl.load(b_ptr + (offs // inner) % num_channels, mask=mask, other=0).to(tl.float32)
    y, d1, d2 = _act(z, alpha, ACT)
    v = y * gain
    if MODE == 0:
        out = v
        if HAS_CLAMP:
            out = tl.minimum(tl.maximum(out, -clamp), clamp)
    else:
        g = tl.load(g_ptr + offs, mask=mask, other=0).to(tl.float32)
        if MODE == 1:
            out = g * d1 * gain
        else:
            out = g * tl.load(h_ptr + offs, mask=mask, other=0).to(tl.float32) * d2 * gain
        if HAS_CLAMP:
            out = tl.where(tl.abs(v) <= clamp, out, 0.0)
    tl.store(out_ptr + offs, out.to(out_ptr.dtype.element_ty), mask=mask)

#----------------------------------------------------------------------------

def _as_dense(x, dim):
    """x itself if its memory is channels-last (4-D, dim 1) or contiguous, else a contiguous copy; plus the number of
    consecutive elements in memory that share a channel."""
    if dim == 1 and misc.is_channels_last(x):
        return x, 1
    x = x.contiguous()
    inner = 1
    for n in x.shape[dim + 1:]:
        inner *= n
    return x, inner

def launch(mode, x, b, g, h, dim, act, alpha, gain, clamp):
    x, inner = _as_dense(x, dim)
    # The kernel indexes x, g and h with the same offsets.
    g = x if g is None else misc.in_layout_of(g.to(x.dtype), x)
    h = x if h is None else misc.in_layout_of(h.to(x.dtype), x)
    out = torch.empty_like(x)
    if x.numel() == 0:
        return out
    block = min(max(triton.next_power_of_2(x.numel()), 128), 2048)
    has_bias = b is not None
    b = b.contiguous() if has_bias else x  # any valid pointer when unused
    with _dispatch.kernel_device(x):
        _bias_act_kernel[(triton.cdiv(x.numel(), block),)](x, b, g, h, out, x.numel(), inner, x.shape[dim], alpha,
            gain, clamp, ACT=ACT_IDS[act], MODE=mode, HAS_BIAS=has_bias, HAS_CLAMP=clamp >= 0, BLOCK=block,
            num_warps=4)
    return out

#----------------------------------------------------------------------------
