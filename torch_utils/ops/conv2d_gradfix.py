"""conv2d / conv_transpose2d that can skip their weight gradient.

The path-length regulariser differentiates the generator's output w.r.t. the latents only; inside
`no_weight_gradients()` the backward of these convolutions then computes no weight gradients, which it would otherwise
waste time on.

The input and weight gradients are autograd functions of their own, whose backward passes are again convolutions and
gradients of the same shapes (a convolution is bilinear in input and weight), so every order of gradient works and
runs on cuDNN's fast kernels. PyTorch's own double backward of a convolution computes the weight term as a
convolution whose kernel is as large as the image, which cuDNN runs on a slow generic kernel (25 ms per call at 256^2
on an H100: 10% of a training step).
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
    """y = conv(input, weight) + bias, cfg = (transposed, stride, padding, dilation, output_padding, groups)."""

    @staticmethod
    def forward(ctx, input, weight, bias, cfg): # pylint: disable=arguments-differ,redefined-builtin
        transposed, stride, padding, dilation, output_padding, groups = cfg
        ctx.save_for_backward(input, weight)
        ctx.cfg = cfg
        ctx.has_bias = bias is not None
        if transposed:
            return F.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation)
        return F.conv2d(input, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_output): # pylint: disable=arguments-differ
        input, weight = ctx.saved_tensors # pylint: disable=redefined-builtin
        # Under autocast the forward ran on cast copies of the saved tensors: cast them the same way.
        input, weight = input.to(grad_output.dtype), weight.to(grad_output.dtype)
        need_input, need_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1] and not weight_gradients_disabled
        grad_input = grad_weight = grad_bias = None
        if torch.is_grad_enabled(): # create_graph: gradients that are differentiable again
            if need_input:
                grad_input = _GradInput.apply(grad_output, weight, input, ctx.cfg)
            if need_weight:
                grad_weight = _GradWeight.apply(grad_output, input, weight, ctx.cfg)
        elif need_input or need_weight: # a plain backward: one call for both
            grad_input, grad_weight, _ = _convolution_backward(grad_output, input, weight, ctx.cfg,
                                                               [need_input, need_weight, False])
        if ctx.needs_input_grad[2] and ctx.has_bias:
            grad_bias = grad_output.sum([0, 2, 3])
        return grad_input, grad_weight, grad_bias, None

def _convolution_backward(grad_output, input, weight, cfg, mask): # pylint: disable=redefined-builtin
    transposed, stride, padding, dilation, output_padding, groups = cfg
    return torch.ops.aten.convolution_backward(grad_output, input, weight, None, stride, padding, dilation, transposed,
                                               output_padding, groups, mask)

class _GradInput(torch.autograd.Function):
    """d<grad_output, conv(x, weight)>/dx; `like` supplies the input's shape and layout only."""

    @staticmethod
    def forward(ctx, grad_output, weight, like, cfg): # pylint: disable=arguments-differ
        ctx.save_for_backward(grad_output, weight)
        ctx.cfg = cfg
        return _convolution_backward(grad_output, like, weight, cfg, [True, False, False])[0]

    @staticmethod
    def backward(ctx, ggi): # pylint: disable=arguments-differ
        grad_output, weight = ctx.saved_tensors
        grad_output, weight = grad_output.to(ggi.dtype), weight.to(ggi.dtype)
        d_grad_output = d_weight = None
        if ctx.needs_input_grad[0]: # <ggi, grad_input> = <conv(ggi, weight), grad_output>
            d_grad_output = _Conv2d.apply(ggi, weight, None, ctx.cfg)
        if ctx.needs_input_grad[1] and not weight_gradients_disabled:
            d_weight = _GradWeight.apply(grad_output, ggi, weight, ctx.cfg)
        return d_grad_output, d_weight, None, None

class _GradWeight(torch.autograd.Function):
    """d<grad_output, conv(input, w)>/dw; `like` supplies the weight's shape and layout only."""

    @staticmethod
    def forward(ctx, grad_output, input, like, cfg): # pylint: disable=arguments-differ,redefined-builtin
        ctx.save_for_backward(grad_output, input)
        ctx.cfg = cfg
        return _convolution_backward(grad_output, input, like, cfg, [False, True, False])[1]

    @staticmethod
    def backward(ctx, ggw): # pylint: disable=arguments-differ
        grad_output, input = ctx.saved_tensors # pylint: disable=redefined-builtin
        grad_output, input = grad_output.to(ggw.dtype), input.to(ggw.dtype)
        d_grad_output = d_input = None
        if ctx.needs_input_grad[0]: # <ggw, grad_weight> = <conv(input, ggw), grad_output>
            d_grad_output = _Conv2d.apply(input, ggw, None, ctx.cfg)
        if ctx.needs_input_grad[1]:
            d_input = _GradInput.apply(grad_output, ggw, input, ctx.cfg)
        return d_grad_output, d_input, None, None

#----------------------------------------------------------------------------
