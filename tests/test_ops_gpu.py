"""GPU tests of torch_utils.ops: fast paths vs. the reference in fp32/fp16/bf16, forward, first and double backward."""

import pytest
import torch

from torch_utils.ops import (_dispatch, bias_act, conv2d_gradfix, conv2d_resample, fma, grid_sample_gradfix,
    reflect_warp, scale_bias_act, upfirdn2d)
from training.augment import SYM6

pytestmark = pytest.mark.gpu

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
DTYPE_IDS = ['fp32', 'fp16', 'bf16'] # so that `-k fp16` picks one precision
TOL = {torch.float32: 2e-5, torch.float16: 1e-2, torch.bfloat16: 6e-2, torch.float64: 1e-10}

#----------------------------------------------------------------------------

def _randn(*shape, seed=0, device='cuda'):
    """The same numbers on every device (drawn on the CPU), so that a CUDA result can be checked against a CPU one."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(device)

def _value_and_grads(fn, inputs, memory_format=torch.contiguous_format, order=2):
    """fn's output, its first-order gradients and (order 2) the gradients of a function of those, as float64 CPU
    tensors. Fixed random weights turn outputs and gradients into scalar losses."""
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    if leaves[0].ndim == 4:
        leaves[0] = leaves[0].detach().to(memory_format=memory_format).requires_grad_()
    y = fn(*leaves)
    g = torch.autograd.grad((y * _randn(*y.shape, seed=11, device=y.device)).sum(), leaves, create_graph=order > 1)
    if order == 1:
        return [t.detach().double().cpu() for t in [y, *g]]
    loss2 = sum((gi.float() * _randn(*gi.shape, seed=12 + i, device=gi.device)).sum() for i, gi in enumerate(g))
    gg = torch.autograd.grad(loss2, leaves, materialize_grads=True) if loss2.requires_grad else \
        [torch.zeros_like(t) for t in leaves]
    return [t.detach().double().cpu() for t in [y, *g, *gg]]

def _check(fast_fn, ref_fn, inputs, dtype, ref_device='cuda', memory_format=torch.contiguous_format, order=2):
    """Compare the fast path in `dtype` with the reference in float64 on the same (rounded) inputs."""
    inputs = [t.to(dtype) for t in inputs]
    fast = _value_and_grads(fast_fn, inputs, memory_format, order)
    ref = _value_and_grads(ref_fn, [t.to(ref_device, torch.float64) for t in inputs], order=order)
    for i, (a, e) in enumerate(zip(fast, ref)):
        scale = e.abs().max().item() + 1e-3
        err = (a - e).abs().max().item()
        assert err <= TOL[dtype] * scale * 4, f'output {i}: max error {err:.3g} vs scale {scale:.3g} ({dtype})'

@pytest.fixture(autouse=True)
def _no_fallback(monkeypatch):
    """Use the kernels at any size; a test fails if any fast path fell back to the reference during it."""
    monkeypatch.setattr(bias_act, 'FAST_MIN_BYTES', 0)
    monkeypatch.setattr(scale_bias_act, 'FAST_MIN_BYTES', 0)
    yield
    assert not _dispatch._disabled, f'fast path disabled: {_dispatch._disabled}'

#----------------------------------------------------------------------------

@pytest.mark.parametrize('dtype', DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize('act', list(bias_act.activation_funcs))
def test_bias_act(act, dtype):
    x, b = _randn(3, 16, 9, 7) * 2, _randn(16, seed=1)
    for kwargs, fmt in [(dict(), torch.contiguous_format), (dict(clamp=1.3, gain=0.7), torch.channels_last)]:
        _check(lambda x, b: bias_act.bias_act(x, b, act=act, **kwargs),
               lambda x, b: bias_act.bias_act(x, b, act=act, impl='ref', **kwargs), [x, b], dtype, memory_format=fmt)

@pytest.mark.parametrize('dtype', DTYPES, ids=DTYPE_IDS)
def test_scale_bias_act(dtype):
    """The modulation (scale only) and the epilogue (with per-sample or shared noise, bias, lrelu and clamp), in both
    layouts; 70 channels make two channel tiles, 40x48 pixels several programs per sample in the backward. The first
    order runs the kernels (fp32 registers), checked with lrelu and a clamp inside the data. A backward that is itself
    differentiated runs the reference's ops in `dtype`, whose rounding of x * s before the noise and bias are added
    flips the sign of values near lrelu's kink (and the side of a clamp) against float64: that order is checked with a
    linear activation and the clamp beyond the data."""
    x, s, b = _randn(3, 70, 40, 48) * 2, _randn(3, 70, seed=1), _randn(70, seed=2)
    for noise, fmt in [(_randn(3, 1, 40, 48, seed=3), torch.contiguous_format), (_randn(40, 48, seed=3), torch.channels_last)]:
        for act, clamp, order in [('lrelu', 2.5, 1), ('linear', 100, 2)]:
            fn = lambda impl: lambda x, s, n, b: scale_bias_act.scale_bias_act(x, s, n, b, act=act, gain=1.4,
                clamp=clamp, impl=impl)
            _check(fn('cuda'), fn('ref'), [x, s, noise, b], dtype, memory_format=fmt, order=order)
        _check(lambda x, s: scale_bias_act.scale_bias_act(x, s), lambda x, s: scale_bias_act.scale_bias_act(x, s, impl='ref'),
               [x, s], dtype, memory_format=fmt, order=1)

@pytest.mark.parametrize('dtype', DTYPES, ids=DTYPE_IDS)
def test_bias_act_layouts(dtype):
    for shape, dim in [([8, 300], 1), ([5, 6, 7], 2), ([4, 6, 1, 1], 1), ([2, 3, 4, 5], 0)]:
        fn = lambda impl: lambda x, b: bias_act.bias_act(x, b, dim=dim, act='lrelu', clamp=0.8, impl=impl)
        _check(fn('cuda'), fn('ref'), [_randn(*shape), _randn(shape[dim], seed=1)], dtype)
    x = _randn(4, 5, 6)[:, ::2]  # non-contiguous, no bias
    _check(lambda x: bias_act.bias_act(x, act='swish'), lambda x: bias_act.bias_act(x, act='swish', impl='ref'),
           [x], dtype)

#----------------------------------------------------------------------------

_UPFIRDN_CASES = [
    ([1, 3, 3, 1], 1, 1, [2, 1]), ([1, 3, 3, 1], 2, 1, [2, 1]), ([1, 3, 3, 1], 1, 2, [1, 1]),
    (list(range(1, 9)), 2, 1, [4, 3, 4, 3]), ([1, 3, 3, 1], [2, 1], [1, 2], [0, 1, 2, -1]),
]

@pytest.mark.parametrize('dtype', DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize('taps, up, down, padding', _UPFIRDN_CASES)
def test_upfirdn2d(monkeypatch, taps, up, down, padding, dtype):
    f = upfirdn2d.setup_filter(taps, device='cuda')
    fn = lambda impl: lambda x: upfirdn2d.upfirdn2d(x, f, up=up, down=down, padding=padding, gain=1.5, impl=impl)
    _check(fn('cuda'), fn('ref'), [_randn(2, 5, 12, 10)], dtype)
    for rows in (True, False): # channels-last: the rows kernel where it applies, and the pixel kernel
        monkeypatch.setattr(upfirdn2d, 'ROWS_KERNEL', rows)
        _check(fn('cuda'), fn('ref'), [_randn(2, 70, 13, 10)], dtype, memory_format=torch.channels_last) # > 64 channels

@pytest.mark.parametrize('dtype', DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize('k, up, down', [(3, 1, 1), (3, 2, 1), (3, 1, 2), (1, 1, 2), (1, 2, 1)])
def test_conv2d_resample(monkeypatch, k, up, down, dtype):
    monkeypatch.setattr(conv2d_gradfix, 'enabled', True)
    f = upfirdn2d.setup_filter([1, 3, 3, 1], device='cuda')
    fn = lambda x, w: conv2d_resample.conv2d_resample(x, w, f.to(x.device), up=up, down=down, padding=k // 2)
    _check(fn, fn, [_randn(2, 8, 8, 8), _randn(6, 8, k, k, seed=1) * 0.3], dtype, ref_device='cpu')

#----------------------------------------------------------------------------

@pytest.mark.parametrize('dtype', DTYPES, ids=DTYPE_IDS)
def test_conv2d_gradfix(monkeypatch, dtype):
    monkeypatch.setattr(conv2d_gradfix, 'enabled', True)
    x, w, b = _randn(2, 8, 7, 7), _randn(8, 4, 3, 3, seed=1) * 0.3, _randn(8, seed=2)
    for fn in [lambda x, w, b: conv2d_gradfix.conv2d(x, w, b, stride=2, padding=1, groups=2),
               lambda x, w, b: conv2d_gradfix.conv_transpose2d(x, w, b, stride=2, padding=1, groups=2)]:
        _check(fn, fn, [x, w, b], dtype, ref_device='cpu')
    x, w = x.to(dtype).requires_grad_(), w.to(dtype).requires_grad_()
    with conv2d_gradfix.no_weight_gradients():
        conv2d_gradfix.conv2d(x, w, padding=1, groups=2).sum().backward()
    assert w.grad is None and x.grad is not None

@pytest.mark.parametrize('dtype', DTYPES, ids=DTYPE_IDS)
def test_fma(dtype):
    _check(fma.fma, fma.fma, [_randn(4, 1, 6), _randn(3, 1, seed=1), _randn(6, seed=2)], dtype, ref_device='cpu')

@pytest.mark.parametrize('dtype', DTYPES, ids=DTYPE_IDS)
def test_grid_sample(dtype):
    grid = (torch.rand(2, 6, 5, 2, generator=torch.Generator().manual_seed(1)).cuda() * 2.4 - 1.2)
    fn = lambda x: grid_sample_gradfix.grid_sample(x, grid.to(x.device, x.dtype))
    _check(fn, fn, [_randn(2, 3, 8, 8)], dtype, ref_device='cpu')

def test_reflect_warp():
    # float32 only: in lower precisions the grid's own rounding moves the samples. The reflection's full padding and a
    # measured one; the grid reaches beyond the padding. The R1 path is checked in tests/test_augment_gpu.py.
    f = upfirdn2d.setup_filter(SYM6, device='cuda')
    rows = _randn(2, 2, 1, seed=1) * 0.3 + _randn(2, 2, 1, seed=2) * 1.5 * torch.linspace(-1, 1, 108, device='cuda')
    cols = _randn(2, 2, 1, seed=3) * 1.5 * torch.linspace(-1, 1, 92, device='cuda')
    for pads in ([47, 47, 39, 39], [3, 10, 0, 5]):
        fn = lambda x, impl: reflect_warp.reflect_warp(x, f.to(x.dtype), rows.to(x.dtype), cols.to(x.dtype), pads, impl)
        _check(lambda x: fn(x, 'cuda'), lambda x: fn(x, 'ref'), [_randn(2, 3, 40, 48)], torch.float32)

#----------------------------------------------------------------------------

def test_upfirdn2d_backward_falls_back(monkeypatch):
    # The backward runs the kernel with transposed parameters (another compiled variant); if that fails, the gradient
    # must come from the reference with one warning, not break the training step.
    monkeypatch.setattr(_dispatch, '_disabled', {})
    f = upfirdn2d.setup_filter([1, 3, 3, 1], device='cuda')
    x = _randn(2, 4, 16, 16).requires_grad_()
    y = upfirdn2d.upsample2d(x, f, impl='cuda')
    assert 'upfirdn2d' not in _dispatch._disabled # the forward took the fast path
    upfirdn2d._upfirdn2d_fast(x.detach(), f, (1, 1, 0, 0), (1, 1, 0, 0), False, 1) # make sure the kernels are loaded
    def broken(*args, **kwargs):
        raise RuntimeError('simulated kernel failure')
    monkeypatch.setattr(upfirdn2d._kernels, 'launch', broken)
    with pytest.warns(RuntimeWarning, match='upfirdn2d'):
        (dx,) = torch.autograd.grad(y.square().sum(), [x])
    x_ref = x.detach().requires_grad_()
    (dx_ref,) = torch.autograd.grad(upfirdn2d.upsample2d(x_ref, f, impl='ref').square().sum(), [x_ref])
    torch.testing.assert_close(dx, dx_ref, rtol=1e-5, atol=1e-5)
    _dispatch._disabled.clear() # this fallback was intended; the autouse check looks for unintended ones
