"""The Triton kernels of bias_act, scale_bias_act, upfirdn2d and reflect_warp, run by Triton's interpreter on the CPU
(TRITON_INTERPRET=1) against the pure-PyTorch references: their indexing, masking and layouts are checked on machines
without a GPU. The GPU runs (tests/test_ops_gpu.py) check the compiled kernels and the precisions. Skipped where Triton
is not installed."""

import os
import subprocess
import sys

import pytest

pytest.importorskip('triton')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each check runs in a fresh process: the interpreter must be chosen before Triton is first imported.
CHECK = r'''
import itertools, sys
import torch
from torch_utils.ops import _bias_act_triton, _dispatch, _reflect_warp_triton, _upfirdn2d_triton, bias_act, reflect_warp, scale_bias_act, upfirdn2d
from training.augment import SYM6
torch.manual_seed(0)
worst = 0.0

def exact(t, step=1 / 64):
    """t rounded to multiples of step: sums of products of such inputs are exact in fp32 as in float64, so that the
    kernels and the float64 reference take the same side of lrelu's kink (and, with the gain and clamp used here, stay
    1e-4 or more away from the clamp)."""
    return torch.round(t / step) * step

def compare(fast, ref, what):
    global worst
    assert fast.shape == ref.shape, (what, fast.shape, ref.shape)
    err = (fast.double() - ref).abs().max().item()
    worst = max(worst, err)
    assert err < 1e-4, (what, err)

# The three kernels (rows: channels-last, 70 channels = two channel tiles, and channel-first as one-channel images;
# pixel: channels-last; plane: channel-first), each resampling case (vertical upsampling by 2 and 4 with even, odd and
# negative top padding; by 3, which only the pixel and plane kernels take); 9 input rows leave the rows kernel's last
# group of 4 output rows partly outside the image.
for (taps, up, down, pad, flip), (channels, layout, rows) in itertools.product(
        [([1, 3, 3, 1], 1, 1, [2, 1, 2, 1], False), ([1, 3, 3, 1], 2, 1, [2, 1, 2, 1], True),
         ([1, 3, 3, 1], 1, 2, [1, 1, 1, 1], False), ([1, 3, 3, 1], [2, 1], [1, 2], [0, 1, 2, -1], True),
         ([[1, 2, 3], [4, 5, 6]], 1, [1, 2], [1, 2, -1, 3], False), ([1, 3, 3, 1], 2, 1, [1, 2, 1, 2], False),
         ([[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 1, 1], [2, 2, 2]], [1, 4], 1, [0, 0, 3, 1], True),
         ([1, 3, 3, 1], 2, 2, [1, 2, -1, 2], False), ([1, 3, 3, 1], [1, 3], 1, [0, 0, 2, 1], False)],
        [(3, torch.contiguous_format, True), (3, torch.contiguous_format, False), (70, torch.channels_last, True),
         (70, torch.channels_last, False)]):
    f = upfirdn2d.setup_filter(taps)
    (upx, upy), (downx, downy) = upfirdn2d._parse_scaling(up), upfirdn2d._parse_scaling(down)
    ax, ay = (upx, downx, pad[0], pad[1]), (upy, downy, pad[2], pad[3])
    x = torch.randn(2, channels, 9, 7).contiguous(memory_format=layout)
    y = _upfirdn2d_triton.launch(x, f, ax, ay, flip, 1.5, rows)
    assert y.is_contiguous(memory_format=layout) or channels == 1
    compare(y, upfirdn2d._upfirdn2d_ref(x.double(), f.double(), ax, ay, flip, 1.5), ('upfirdn2d', taps, up, down, layout))

for (shape, dim, layout), act in itertools.product(
        [([3, 16, 5, 4], 1, torch.contiguous_format), ([3, 70, 5, 4], 1, torch.channels_last), ([8, 300], 1, None),
         ([5, 6, 7], 2, None), ([2, 3, 4, 5], 0, None)],
        ['lrelu', 'tanh']):
    x = torch.randn(shape) * 2
    x = x.contiguous(memory_format=layout) if layout is not None else x
    b, g, h = torch.randn(shape[dim]), torch.randn_like(x), torch.randn_like(x)
    alpha = bias_act.activation_funcs[act].def_alpha
    xr = x.double().requires_grad_()
    ref = bias_act.bias_act(xr, b.double(), dim=dim, act=act, gain=1.4, clamp=0.9, impl='ref')
    (ref_dx,) = torch.autograd.grad(ref, xr, g.double(), create_graph=True)
    if ref_dx.requires_grad:
        (ref_ddx,) = torch.autograd.grad(ref_dx, xr, h.double(), materialize_grads=True)
    else: # piecewise-linear activations: no second derivative
        ref_ddx = torch.zeros_like(xr)
    compare(_bias_act_triton.launch(0, x, b, None, None, dim, act, alpha, 1.4, 0.9), ref, ('bias_act', shape, act))
    compare(_bias_act_triton.launch(1, x, b, g, None, dim, act, alpha, 1.4, 0.9), ref_dx, ('bias_act grad', shape, act))
    # Mode 2 is the x-term of the double backward: g * h * act''(z) * gain, h the gradient w.r.t. the first grad.
    compare(_bias_act_triton.launch(2, x, b, h, g, dim, act, alpha, 1.4, 0.9), ref_ddx, ('bias_act grad2', shape, act))

# bias_act's backward of a 4-D tensor with a piecewise-linear activation: dx and db from one kernel (scale_bias_act's,
# without scales), in both layouts, with and without bias; 64x80 pixels span several programs.
for (C, H, W, layout), act, bias in itertools.product(
        [(70, 9, 7, torch.channels_last), (8, 64, 80, torch.contiguous_format)], ['lrelu', 'relu', 'linear'], [True, False]):
    x0, b0 = exact(torch.randn(3, C, H, W) * 2).contiguous(memory_format=layout), exact(torch.randn(C)) if bias else None
    dy = torch.randn(3, C, H, W)
    cfg = dict(dim=1, act=act, alpha=0.2, gain=1.4, clamp=0.9)
    results = []
    for fn, dtype in ((bias_act._bias_act_fast, torch.float32), (bias_act._bias_act_ref, torch.float64)):
        inputs = [t.to(dtype).requires_grad_() if t is not None else None for t in (x0, b0)]
        y = fn(inputs[0], inputs[1], **cfg)
        results.append([y, *torch.autograd.grad(y, [t for t in inputs if t is not None], dy.to(dtype))])
    assert results[0][1].stride() == x0.stride()
    for fast, ref in zip(*results):
        scale = ref.abs().max().item() + 1
        compare(fast / scale, ref / scale, ('bias_act fused backward', C, layout, act, bias))

# scale_bias_act's autograd Function (its kernels) against its reference: both layouts (70 channels = two channel
# tiles), per-sample, shared and no noise, with and without bias and clamp; 64x80 pixels span several programs.
for (C, H, W, layout), noise, (act, clamp, bias) in itertools.product(
        [(16, 9, 7, torch.contiguous_format), (70, 9, 7, torch.channels_last), (8, 64, 80, torch.contiguous_format)],
        ['sample', 'shared', None], [('lrelu', 0.9, True), ('linear', None, False)]):
    x0 = exact(torch.randn(3, C, H, W) * 2).contiguous(memory_format=layout)
    n0 = dict(sample=exact(torch.randn(3, 1, H, W)), shared=exact(torch.randn(H, W)), none=None)[noise or 'none']
    s0, b0, dy = exact(torch.randn(3, C), 1 / 8), exact(torch.randn(C)) if bias else None, torch.randn(3, C, H, W)
    cfg = scale_bias_act._config(b0, act, None, 1.4, clamp, 'ref')
    results = []
    for fn, dtype in ((scale_bias_act._ScaleBiasAct.apply, torch.float32), (scale_bias_act._reference, torch.float64)):
        inputs = [t.to(dtype).requires_grad_() if t is not None else None for t in (x0, s0, n0, b0)]
        y = fn(*inputs, cfg)
        results.append([y, *torch.autograd.grad(y, [t for t in inputs if t is not None], dy.to(dtype))])
    assert results[0][0].stride() == x0.stride()
    for fast, ref in zip(*results): # relative: ds sums up to 5120 fp32 products
        scale = ref.abs().max().item() + 1
        compare(fast / scale, ref / scale, ('scale_bias_act', C, layout, noise, act))

# A backward that is itself differentiated (path-length regularisation) goes through the reference's ops.
results, inputs = [], (torch.randn(2, 4, 5, 5), torch.randn(2, 4), torch.randn(4))
for fn in (scale_bias_act._ScaleBiasAct.apply, scale_bias_act._reference):
    x, s, b = (t.double().requires_grad_() for t in inputs)
    cfg = scale_bias_act._config(b, 'lrelu', None, 1.4, None, 'ref')
    grads = torch.autograd.grad(fn(x, s, None, b, cfg).square().sum(), [x, s, b], create_graph=True)
    results.append(torch.autograd.grad(sum(g.square().sum() for g in grads), [x, s, b]))
for fast, ref in zip(*results):
    compare(fast / (ref.abs().max().item() + 1), ref / (ref.abs().max().item() + 1), 'scale_bias_act double backward')

# reflect_warp's kernel against the reference's padded, upsampled and sampled image (float64): the reflection's full
# padding and smaller ones (also uneven), grids that zoom out beyond the padding, one and three channels, channels-last;
# 8x12 and 9x9 images leave the last program of outputs partly outside.
f = upfirdn2d.setup_filter(SYM6)
def affine_terms(N, out_h, out_w, zoom):
    rows = torch.randn(N, 2, 1) * 0.3 + torch.randn(N, 2, 1) * zoom * torch.linspace(-1, 1, out_w)
    return rows.double(), (torch.randn(N, 2, 1) * zoom * torch.linspace(-1, 1, out_h)).double()
for (C, H, W, layout), pads, zoom in itertools.product([(3, 15, 10, torch.contiguous_format), (1, 8, 12, None),
        (3, 9, 9, torch.channels_last)], ['full', 'uneven', 'none'], [0.7, 3]):
    pads = dict(full=[W - 1, W - 1, H - 1, H - 1], uneven=[2, W - 1, 0, 3], none=[0, 0, 0, 0])[pads]
    x = torch.randn(2, C, H, W).double()
    rows, cols = affine_terms(2, 2 * H + 12, 2 * W + 12, zoom)
    fast_x = x.float().contiguous(memory_format=layout) if layout else x.float()
    compare(_reflect_warp_triton.launch(fast_x, f, rows.float(), cols.float(), pads),
        reflect_warp._reference(x, f.double(), rows, cols, pads), ('reflect_warp', C, H, W, pads, zoom))

# The op through its dispatcher, as on a GPU (CPU tensors taken for GPU ones): the self-check first, then the kernel
# forward, the input gradient (the reference's backward ops) and, for R1, the gradient of the squared input gradient
# w.r.t. the output gradient (the kernel again, dispatched from inside the first call's self-check), against the
# reference's autograd in float64; no fallback. (upfirdn2d's kernels, checked above, would only cost minutes here.)
_dispatch.on_fast_device = lambda x: True
upfirdn2d._upfirdn2d_fast = upfirdn2d._upfirdn2d_ref
x0, (rows, cols) = torch.randn(2, 3, 12, 10), affine_terms(2, 36, 32, 1.2)
g0, pads = torch.randn(2, 3, 36, 32), [9, 9, 11, 11]
results = []
for fn, dtype in ((reflect_warp.reflect_warp, torch.float32), (reflect_warp._reference, torch.float64)):
    x, g = x0.to(dtype).requires_grad_(), g0.to(dtype).requires_grad_()
    y = fn(x, f.to(dtype), rows.to(dtype), cols.to(dtype), pads)
    dx, = torch.autograd.grad((y * g).sum(), x, create_graph=True)
    dg, = torch.autograd.grad(dx.square().sum(), g)
    results.append([y, dx, dg])
for fast, ref, what in zip(*results, ['forward', 'input gradient', 'R1 gradient']):
    scale = ref.abs().max().item() + 1
    compare(fast / scale, ref / scale, ('reflect_warp autograd', what))
assert not _dispatch._disabled, _dispatch._disabled
for dtype in (torch.float32, torch.float16, torch.bfloat16): # the dispatcher's self-check passes
    reflect_warp._probe((torch.device('cpu'), dtype, 12))
print('worst error', worst)
'''

def test_kernels_match_the_references_under_the_interpreter():
    path = os.pathsep.join([REPO] + ([os.environ['PYTHONPATH']] if os.environ.get('PYTHONPATH') else []))
    env = dict(os.environ, TRITON_INTERPRET='1', PYTHONPATH=path, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', CHECK], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert 'worst error' in proc.stdout
