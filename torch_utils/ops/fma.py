"""Fused multiply-add, fma(a, b, c) = a * b + c, in one addcmul kernel with a broadcasting-aware backward."""

import torch

#----------------------------------------------------------------------------

def fma(a, b, c):
    return _FusedMultiplyAdd.apply(a, b, c)

class _FusedMultiplyAdd(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, c): # pylint: disable=arguments-differ
        out = torch.addcmul(c, a, b)
        ctx.save_for_backward(a, b)
        ctx.c_shape = c.shape
        return out

    @staticmethod
    def backward(ctx, dout): # pylint: disable=arguments-differ
        # Plain differentiable ops, so double backward works through autograd.
        a, b = ctx.saved_tensors
        da = _unbroadcast(dout * b, a.shape) if ctx.needs_input_grad[0] else None
        db = _unbroadcast(dout * a, b.shape) if ctx.needs_input_grad[1] else None
        dc = _unbroadcast(dout, ctx.c_shape) if ctx.needs_input_grad[2] else None
        return da, db, dc

def _unbroadcast(x, shape):
    """Sum x over the dimensions along which a tensor of `shape` was broadcast to x's shape."""
    extra = x.ndim - len(shape)
    dims = list(range(extra)) + [extra + i for i, n in enumerate(shape) if n == 1 and x.shape[extra + i] != 1]
    if dims:
        x = x.sum(dims, keepdim=True)
    return x.reshape(shape)

#----------------------------------------------------------------------------
