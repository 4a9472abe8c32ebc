"""Bilinear grid_sample whose double backward works (R1 through the augmentation pipeline).

PyTorch implements no derivative for its grid_sample backward op. The sample is linear in the input, so the input
gradient is linear in the output gradient, and its derivative w.r.t. that output gradient is grid_sample again.
Second-order terms w.r.t. the grid are not provided (the augment pipe's grid never requires grad); first-order grid
gradients are.
"""

import torch
import torch.nn.functional as F

#----------------------------------------------------------------------------

enabled = True  # Use the custom op? Off: plain F.grid_sample (no double backward).

def grid_sample(input, grid): # pylint: disable=redefined-builtin
    """F.grid_sample(input, grid, mode='bilinear', padding_mode='zeros', align_corners=False)."""
    if enabled:
        return _GridSample.apply(input, grid)
    return F.grid_sample(input, grid, mode='bilinear', padding_mode='zeros', align_corners=False)

#----------------------------------------------------------------------------

class _GridSample(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, grid): # pylint: disable=arguments-differ,redefined-builtin
        # The input gradient depends on the grid alone; the input's values are kept only for a grid gradient. (The
        # augment pipe samples an image 36 times the size of its output: kept, it would dominate the pipe's memory.)
        ctx.save_for_backward(input if ctx.needs_input_grad[1] else None, grid)
        ctx.input_shape = input.shape
        return F.grid_sample(input, grid, mode='bilinear', padding_mode='zeros', align_corners=False)

    @staticmethod
    def backward(ctx, grad_output): # pylint: disable=arguments-differ
        input, grid = ctx.saved_tensors # pylint: disable=redefined-builtin
        if input is None: # a stand-in of the input's shape whose elements all share one address
            input = grad_output.new_zeros([]).expand(ctx.input_shape)
        # Under autocast the forward ran on cast copies of the saved tensors: cast them the same way.
        input, grid = input.to(grad_output.dtype), grid.to(grad_output.dtype)
        return _GridSampleBackward.apply(grad_output, input, grid, ctx.needs_input_grad[:2])

class _GridSampleBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grad_output, input, grid, mask): # pylint: disable=arguments-differ,redefined-builtin
        # interpolation_mode=0 (bilinear), padding_mode=0 (zeros), align_corners=False.
        grad_input, grad_grid = torch.ops.aten.grid_sampler_2d_backward(grad_output, input, grid, 0, 0, False,
            list(mask))
        ctx.save_for_backward(grid)
        return grad_input, grad_grid

    @staticmethod
    def backward(ctx, dd_input, dd_grid): # pylint: disable=arguments-differ
        grid, = ctx.saved_tensors
        dd_output = _GridSample.apply(dd_input, grid) if ctx.needs_input_grad[0] and dd_input is not None else None
        return dd_output, None, None, None

#----------------------------------------------------------------------------
