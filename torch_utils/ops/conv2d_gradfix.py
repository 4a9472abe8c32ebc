"""conv2d / conv_transpose2d that can skip their weight gradient.

The path-length regulariser differentiates the generator's output w.r.t. the latents only; inside
`no_weight_gradients()` the backward of these convolutions then computes no weight gradients, which it would otherwise
waste time on. The backward uses the public `aten.convolution_backward` op with an output mask; that op is itself
differentiable, so double backward (R1, and the weight gradient of the path-length penalty) keeps working.
"""

import contextlib
import numbers
import torch
import torch.nn.functional as F

#----------------------------------------------------------------------------

enabled = False                     # Use the custom op? Off: plain F.conv2d (weight gradients always computed).
weight_gradients_disabled = False   # Set by no_weight_gradients(); read when the backward runs.

@contextlib.contextmanager
def no_weight_gradients(disable=True):
    """Within this context, backward passes through these convolutions return no weight gradients (when `enabled`)."""
    global weight_gradients_disabled # pylint: disable=global-statement
    old = weight_gradients_disabled
    if disable:
        weight_gradients_disabled = True
    try:
        yield
    finally:
        weight_gradients_disabled = old

#----------------------------------------------------------------------------

def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1): # pylint: disable=redefined-builtin
    if enabled and not isinstance(padding, str):
        cfg = (False, _pair(stride), _pair(padding), _pair(dilation), (0, 0), groups)
        return _Conv2d.apply(input, weight, bias, cfg)
    return F.conv2d(input, weight, bias, stride, padding, dilation, groups)

def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    # pylint: disable=redefined-builtin
    if enabled:
        cfg = (True, _pair(stride), _pair(padding), _pair(dilation), _pair(output_padding), groups)
        return _Conv2d.apply(input, weight, bias, cfg)
    return F.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation)

def _pair(v):
    if isinstance(v, numbers.Integral):
        return (int(v), int(v))
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise ValueError(f'expected an int or a pair of ints, got {v!r}')
    return (int(v[0]), int(v[1]))

#----------------------------------------------------------------------------

class _Conv2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, weight, bias, cfg): # pylint: disable=arguments-differ,redefined-builtin
        transposed, stride, padding, dilation, output_padding, groups = cfg
        ctx.save_for_backward(input, weight)
        ctx.cfg = cfg
        ctx.bias_shape = None if bias is None else list(bias.shape)
        if transposed:
            return F.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation)
        return F.conv2d(input, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_output): # pylint: disable=arguments-differ
        input, weight = ctx.saved_tensors # pylint: disable=redefined-builtin
        transposed, stride, padding, dilation, output_padding, groups = ctx.cfg
        # Under autocast the forward ran on cast copies of the saved tensors: cast them the same way.
        input, weight = input.to(grad_output.dtype), weight.to(grad_output.dtype)
        need_input, need_weight, need_bias = ctx.needs_input_grad[:3]
        mask = [need_input, need_weight and not weight_gradients_disabled, need_bias and ctx.bias_shape is not None]
        if not any(mask):
            return None, None, None, None
        grad_input, grad_weight, grad_bias = torch.ops.aten.convolution_backward(grad_output, input, weight,
            ctx.bias_shape, stride, padding, dilation, transposed, output_padding, groups, mask)
        return grad_input, grad_weight, grad_bias, None

#----------------------------------------------------------------------------
