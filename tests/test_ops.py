"""CPU tests of torch_utils.ops: reference semantics, first and second order gradients, fast-path fallback."""

import itertools
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck, gradgradcheck

from torch_utils.ops import (_dispatch, bias_act, conv2d_gradfix, conv2d_resample, fma, grid_sample_gradfix,
    reflect_warp, scale_bias_act, upfirdn2d)

#----------------------------------------------------------------------------

def _randn(*shape, requires_grad=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, dtype=torch.float64, generator=gen).requires_grad_(requires_grad)

@pytest.fixture
def conv_gradfix_on(monkeypatch):
    monkeypatch.setattr(conv2d_gradfix, 'enabled', True)

@pytest.fixture
def fresh_dispatch(monkeypatch):
    """Pretend CPU float64 tensors suit the fast paths, with no fast path disabled or probed yet."""
    monkeypatch.setattr(_dispatch, 'FAST_DTYPES', _dispatch.FAST_DTYPES + (torch.float64,))
    monkeypatch.setattr(_dispatch, '_disabled', dict())
    monkeypatch.setattr(_dispatch, '_probed', set())
    monkeypatch.setattr(_dispatch, 'on_fast_device', lambda x: True)

#----------------------------------------------------------------------------
# bias_act

def test_bias_act_semantics():
    x, b = _randn(2, 3, 4, 5, requires_grad=False), _randn(3, requires_grad=False, seed=1)
    z = x + b[None, :, None, None]
    y = bias_act.bias_act(x, b, act='lrelu', clamp=0.7)
    expected = (torch.where(z > 0, z, 0.2 * z) * np.sqrt(2)).clamp(-0.7, 0.7)
    torch.testing.assert_close(y, expected)
    y = bias_act.bias_act(x.transpose(1, 3), b, dim=3, act='swish', gain=0.5)
    torch.testing.assert_close(y, (torch.sigmoid(z) * z * 0.5).transpose(1, 3))
    assert bias_act.bias_act(x.float(), b, act='relu').dtype == torch.float32  # b cast to x's dtype
    assert bias_act.activation_funcs['lrelu'].def_gain == pytest.approx(np.sqrt(2))
    assert bias_act.activation_funcs['lrelu'].def_alpha == 0.2
    assert bias_act.activation_funcs['linear'].def_gain == 1
    assert [a for a, s in bias_act.activation_funcs.items() if s.has_2nd_grad] == \
        ['tanh', 'sigmoid', 'elu', 'selu', 'softplus', 'swish']

@pytest.mark.parametrize('act', list(bias_act.activation_funcs))
def test_bias_act_gradients(act):
    x, b = _randn(2, 3, 3, 2), _randn(3, seed=1)
    fn = lambda x, b: bias_act.bias_act(x, b, act=act, gain=1.3, clamp=1.5)
    assert gradcheck(fn, (x, b))
    assert gradgradcheck(fn, (x, b))

def test_bias_act_bad_input():
    x = torch.zeros(2, 3, 4)
    with pytest.raises(ValueError, match='unknown activation'):
        bias_act.bias_act(x, act='gelu')
    with pytest.raises(ValueError, match='length'):
        bias_act.bias_act(x, torch.zeros(4))
    with pytest.raises(ValueError, match='clamp'):
        bias_act.bias_act(x, clamp=-1)
    with pytest.raises(ValueError, match='impl'):
        bias_act.bias_act(x, impl='triton')

#----------------------------------------------------------------------------
# upfirdn2d

def _naive_upfirdn2d(x, f, up, down, padding, flip_filter, gain):
    """Independent definition: explicit zero insertion, zero padding / cropping, loop over the filter taps."""
    x, f = x.detach().numpy(), f.double().numpy()
    if f.ndim == 1:
        f = np.outer(f, f)
    (upx, upy), (downx, downy) = [(s, s) if isinstance(s, int) else s for s in (up, down)]
    px0, px1, py0, py1 = upfirdn2d._parse_padding(padding)
    N, C, H, W = x.shape
    z = np.zeros([N, C, H * upy, W * upx])
    z[:, :, ::upy, ::upx] = x
    z = np.pad(z, [(0, 0), (0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0))])
    z = z[:, :, max(-py0, 0) : z.shape[2] - max(-py1, 0), max(-px0, 0) : z.shape[3] - max(-px1, 0)]
    fh, fw = f.shape
    if not flip_filter:
        f = f[::-1, ::-1]  # convolution = correlation with the flipped filter
    out = np.zeros([N, C, z.shape[2] - fh + 1, z.shape[3] - fw + 1])
    for i, j in itertools.product(range(fh), range(fw)):
        out += f[i, j] * z[:, :, i : i + out.shape[2], j : j + out.shape[3]]
    return torch.from_numpy(out[:, :, ::downy, ::downx] * gain)

_UPFIRDN_CASES = [
    # (filter, up, down, padding, flip_filter, gain)
    ([1, 3, 3, 1],                  1, 1, 0,               False, 1),
    ([1, 3, 3, 1],                  2, 1, [2, 1],          False, 4),
    ([1, 3, 3, 1],                  1, 2, [1, 1, 2, 0],    True,  1),
    ([1, 2, 3, 4, 5, 6, 7, 8],      2, 1, [3, 4, 4, 3],    False, 2),     # separable
    ([1, 2, 3, 4, 5, 6, 7, 8],      1, 2, [-1, 5, 2, 2],   True,  1),     # separable, crop
    ([[1, 2], [3, 4], [5, 6]],      [2, 3], [1, 2], [0, 1, 2, -1], False, 0.5),
    ([1, 3, 3, 1],                  3, 2, [-2, 3, 1, -1],  True,  9),
    (None,                          2, 1, 0,               False, 1),     # identity filter
]

@pytest.mark.parametrize('taps, up, down, padding, flip, gain', _UPFIRDN_CASES)
def test_upfirdn2d_matches_naive(taps, up, down, padding, flip, gain):
    x = _randn(2, 3, 7, 6, requires_grad=False)
    f = upfirdn2d.setup_filter(taps, normalize=False) if taps is not None else None
    y = upfirdn2d.upfirdn2d(x, f, up=up, down=down, padding=padding, flip_filter=flip, gain=gain)
    expected = _naive_upfirdn2d(x, f if f is not None else torch.ones([1, 1]), up, down, padding, flip, gain)
    torch.testing.assert_close(y, expected)

@pytest.mark.parametrize('taps, up, down, padding, flip, gain', _UPFIRDN_CASES[1:6:2])
def test_upfirdn2d_gradients(taps, up, down, padding, flip, gain):
    x = _randn(1, 1, 4, 3)
    fn = lambda x: upfirdn2d.upfirdn2d(x, upfirdn2d.setup_filter(taps), up, down, padding, flip, gain)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))

@pytest.mark.parametrize('taps, up, down, padding, flip, gain', _UPFIRDN_CASES)
def test_upfirdn2d_fast_path_autograd(fresh_dispatch, monkeypatch, taps, up, down, padding, flip, gain):
    """The fast path's autograd Function, with the kernel swapped for the reference: its backward (upfirdn2d with
    transposed parameters, calling itself) must match autograd through the reference, to second order."""
    calls = []
    def kernel(*args):
        calls.append(args)
        return upfirdn2d._upfirdn2d_ref(*args)
    monkeypatch.setattr(upfirdn2d, '_upfirdn2d_fast', kernel)
    x = _randn(1, 1, 5, 4)
    f = upfirdn2d.setup_filter(taps, normalize=False) if taps is not None else None
    fn = lambda x, impl: upfirdn2d.upfirdn2d(x, f, up=up, down=down, padding=padding, flip_filter=flip, gain=gain,
                                              impl=impl)
    y = fn(x, 'cuda')
    assert len(calls) == 1
    torch.testing.assert_close(y, fn(x, 'ref'))
    results = []
    for impl in ['cuda', 'ref']:
        dy = _randn(*y.shape, seed=1)
        gx, = torch.autograd.grad(fn(x, impl), [x], dy, create_graph=True)
        ggy, = torch.autograd.grad(gx, [dy], x.detach())  # second order: through the backward's backward
        results.append((gx, ggy))
    torch.testing.assert_close(results[0], results[1])
    assert gradgradcheck(lambda x: fn(x, 'cuda'), (x,))

def test_resample_wrappers_keep_size_and_dc():
    f = upfirdn2d.setup_filter([1, 3, 3, 1])
    x = torch.ones(1, 2, 8, 8, dtype=torch.float64)
    up = upfirdn2d.upsample2d(x, f)
    down = upfirdn2d.downsample2d(x, f)
    same = upfirdn2d.filter2d(x, f)
    assert up.shape == (1, 2, 16, 16) and down.shape == (1, 2, 4, 4) and same.shape == x.shape
    for y in (up, down, same):  # constant signal stays constant away from the zero-padded border
        torch.testing.assert_close(y[:, :, 2:-2, 2:-2], torch.ones_like(y[:, :, 2:-2, 2:-2]))
    assert upfirdn2d.upsample2d(x, f, up=[2, 1]).shape == (1, 2, 8, 16)

def test_upfirdn2d_bad_input():
    x = torch.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match='4-D'):
        upfirdn2d.upfirdn2d(x[0], None)
    with pytest.raises(ValueError, match='padding'):
        upfirdn2d.upfirdn2d(x, None, padding=[1, 2, 3])
    with pytest.raises(ValueError, match='up/down'):
        upfirdn2d.upfirdn2d(x, None, up=0)
    with pytest.raises(ValueError, match='smaller than'):
        upfirdn2d.upfirdn2d(x, upfirdn2d.setup_filter([1, 3, 3, 1]), padding=-2)

def test_setup_filter():
    f = upfirdn2d.setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4) and f.dtype == torch.float32
    torch.testing.assert_close(f.sum(), torch.tensor(1.0))
    torch.testing.assert_close(f, torch.outer(torch.tensor([1., 3, 3, 1]), torch.tensor([1., 3, 3, 1])) / 64)
    f8 = upfirdn2d.setup_filter(list(range(1, 9)))
    assert f8.shape == (8,)
    torch.testing.assert_close(f8.sum(), torch.tensor(1.0))
    assert upfirdn2d.setup_filter([1, 2], separable=True).shape == (2,)
    assert upfirdn2d.setup_filter(list(range(1, 9)), separable=False).shape == (8, 8)
    assert upfirdn2d.setup_filter(None).shape == (1, 1)
    torch.testing.assert_close(upfirdn2d.setup_filter([1, 3, 3, 1], gain=4).sum(), torch.tensor(4.0))
    torch.testing.assert_close(upfirdn2d.setup_filter(list(range(1, 9)), gain=4).sum(), torch.tensor(2.0))
    torch.testing.assert_close(upfirdn2d.setup_filter([1, 2, 3], flip_filter=True), upfirdn2d.setup_filter([3, 2, 1]))
    assert upfirdn2d.setup_filter([1, 1], normalize=False).sum() == 4
    with pytest.raises(ValueError, match='separable'):
        upfirdn2d.setup_filter([[1, 2], [3, 4]], separable=True)
    assert upfirdn2d._get_filter_size(torch.zeros(3, 5)) == (5, 3)
    assert upfirdn2d._parse_padding([1, 2]) == (1, 1, 2, 2)

#----------------------------------------------------------------------------
# conv2d_resample

def _explicit_conv2d_resample(x, w, f, up, down, padding, groups, flip_weight, flip_filter):
    """up -> filter -> conv -> filter -> down, spelled out with the naive upfirdn2d and the centring pads."""
    fw, fh = upfirdn2d._get_filter_size(f)
    p = np.array(upfirdn2d._parse_padding(padding))
    if up > 1:
        p += [(fw + up - 1) // 2, (fw - up) // 2, (fh + up - 1) // 2, (fh - up) // 2]
    if down > 1:
        p += [(fw - down + 1) // 2, (fw - down) // 2, (fh - down + 1) // 2, (fh - down) // 2]
    x = _naive_upfirdn2d(x, f if up > 1 else torch.ones([1, 1]), up, 1, p.tolist(), flip_filter, up ** 2)
    x = F.conv2d(x, w if flip_weight else w.flip([2, 3]), groups=groups)
    return _naive_upfirdn2d(x, f, 1, down, 0, flip_filter, 1) if down > 1 else x

@pytest.mark.parametrize('k, up, down, padding, groups, flip_weight', [
    (3, 1, 1, 1, 1, True), (3, 1, 1, [0, 1, 2, 0], 2, False), (1, 1, 2, 0, 1, True), (1, 2, 1, 0, 2, True),
    (3, 1, 2, 1, 1, False), (3, 2, 1, 1, 1, True), (3, 2, 1, [1, 0, 2, 1], 2, False), (4, 2, 2, 1, 1, True),
])
@pytest.mark.parametrize('flip_filter', [False, True])
def test_conv2d_resample_matches_explicit(k, up, down, padding, groups, flip_weight, flip_filter):
    x, w = _randn(2, 4, 6, 5, requires_grad=False), _randn(6, 4 // groups, k, k, requires_grad=False, seed=1)
    f = upfirdn2d.setup_filter([1, 2, 3, 1])
    y = conv2d_resample.conv2d_resample(x, w, f, up=up, down=down, padding=padding, groups=groups,
                                        flip_weight=flip_weight, flip_filter=flip_filter)
    expected = _explicit_conv2d_resample(x, w, f, up, down, padding, groups, flip_weight, flip_filter)
    torch.testing.assert_close(y, expected)

@pytest.mark.parametrize('gradfix', [False, True])
@pytest.mark.parametrize('k, up, down', [(3, 2, 1), (3, 1, 2), (1, 1, 2)])
def test_conv2d_resample_gradients(monkeypatch, gradfix, k, up, down):
    monkeypatch.setattr(conv2d_gradfix, 'enabled', gradfix)
    x, w = _randn(1, 2, 4, 4), _randn(2, 2, k, k, seed=1)
    f = upfirdn2d.setup_filter([1, 3, 3, 1])
    fn = lambda x, w: conv2d_resample.conv2d_resample(x, w, f, up=up, down=down, padding=k // 2)
    assert gradcheck(fn, (x, w))
    assert gradgradcheck(fn, (x, w))

#----------------------------------------------------------------------------
# conv2d_gradfix

_CONV_CASES = [
    (conv2d_gradfix.conv2d, F.conv2d, dict(stride=2, padding=1, dilation=1, groups=1)),
    (conv2d_gradfix.conv2d, F.conv2d, dict(stride=1, padding=[2, 0], dilation=2, groups=2)),
    (conv2d_gradfix.conv_transpose2d, F.conv_transpose2d, dict(stride=2, padding=1, output_padding=1, groups=2)),
]

@pytest.mark.parametrize('fn, native, kwargs', _CONV_CASES)
def test_conv2d_gradfix_gradients(conv_gradfix_on, fn, native, kwargs):
    x, w, b = _randn(1, 4, 5, 5), _randn(4, 4 // kwargs['groups'], 3, 3, seed=1), _randn(4, seed=2)
    torch.testing.assert_close(fn(x, w, b, **kwargs), native(x, w, b, **kwargs))
    f = lambda x, w, b: fn(x, w, b, **kwargs)
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))

def test_no_weight_gradients(conv_gradfix_on):
    x, w, b = _randn(2, 3, 5, 5), _randn(4, 3, 3, 3, seed=1), _randn(4, seed=2)
    gx_native, gb_native = torch.autograd.grad(F.conv2d(x, w, b, padding=1).square().sum(), [x, b])
    with conv2d_gradfix.no_weight_gradients():
        assert conv2d_gradfix.weight_gradients_disabled
        conv2d_gradfix.conv2d(x, w, b, padding=1).square().sum().backward()
        with conv2d_gradfix.no_weight_gradients(disable=False):
            assert conv2d_gradfix.weight_gradients_disabled  # disable=False leaves the state alone
    assert not conv2d_gradfix.weight_gradients_disabled
    assert w.grad is None
    torch.testing.assert_close(x.grad, gx_native)
    torch.testing.assert_close(b.grad, gb_native)

def test_no_weight_gradients_path_length_style(conv_gradfix_on):
    """The input gradient taken inside the context stays differentiable w.r.t. the weights."""
    x, w = _randn(1, 2, 4, 4), _randn(2, 2, 3, 3, seed=1)
    noise = _randn(1, 2, 4, 4, requires_grad=False, seed=2)
    with conv2d_gradfix.no_weight_gradients():
        gx, = torch.autograd.grad((conv2d_gradfix.conv2d(x, w, padding=1) * noise).sum(), [x], create_graph=True)
    # Differentiable through our own gradient op, not PyTorch's double backward (image-sized kernels, slow on GPUs).
    assert type(gx.grad_fn).__name__ == '_GradInputBackward'
    gw, = torch.autograd.grad(gx.square().sum(), [w])
    gx_ref, = torch.autograd.grad((F.conv2d(x, w, padding=1) * noise).sum(), [x], create_graph=True)
    gw_ref, = torch.autograd.grad(gx_ref.square().sum(), [w])
    torch.testing.assert_close(gw, gw_ref)

def test_gradfix_ops_under_autocast(conv_gradfix_on):
    """Inside autocast the forwards run on cast copies of the inputs; the backwards must cope."""
    x, w = torch.randn(1, 2, 5, 5, requires_grad=True), torch.randn(3, 2, 3, 3, requires_grad=True)
    grid = torch.rand(1, 4, 4, 2) * 2 - 1
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y = conv2d_gradfix.conv2d(x, w, padding=1)
        z = grid_sample_gradfix.grid_sample(y, grid)
    gx, gw = torch.autograd.grad(z.float().square().sum(), [x, w], create_graph=True)
    assert gx.dtype == torch.float32 and gw.dtype == torch.float32
    torch.autograd.grad(gx.square().sum(), [w])

#----------------------------------------------------------------------------
# fma, grid_sample_gradfix

@pytest.mark.parametrize('shapes', [([2, 3], [2, 3], [2, 3]), ([3, 1, 4], [2, 1], [4]), ([1], [2, 3], [2, 1])])
def test_fma_gradients(shapes):
    a, b, c = [_randn(*s, seed=i) for i, s in enumerate(shapes)]
    torch.testing.assert_close(fma.fma(a, b, c), a * b + c)
    assert gradcheck(fma.fma, (a, b, c))
    assert gradgradcheck(fma.fma, (a, b, c))

def test_grid_sample_gradients():
    x = _randn(2, 3, 5, 6)
    grid = (torch.rand(2, 4, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2.4 - 1.2)
    expected = F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
    torch.testing.assert_close(grid_sample_gradfix.grid_sample(x, grid), expected)
    assert gradcheck(grid_sample_gradfix.grid_sample, (x, grid.requires_grad_()))  # first order, grid too
    assert gradgradcheck(grid_sample_gradfix.grid_sample, (x, grid.detach()))     # second order, input only

def test_grid_sample_keeps_its_input_only_for_a_grid_gradient():
    x = _randn(1, 2, 40, 40).requires_grad_()
    grid = torch.rand(1, 3, 3, 2, dtype=torch.float64) * 2 - 1
    for grid_grad in [False, True]:
        saved = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
            grid_sample_gradfix.grid_sample(x, grid.clone().requires_grad_(grid_grad))
        assert (x.numel() in saved) == grid_grad, saved

def test_grid_sample_r1_style_double_backward():
    """R1 through the augment pipe: the input gradient must be differentiable w.r.t. what follows the sampling."""
    x = _randn(1, 2, 4, 4)
    theta = _randn(1, 2, 3, 5, seed=3)  # stands in for the discriminator
    grid = F.affine_grid(torch.tensor([[[0.9, 0.2, 0.1], [-0.2, 0.8, 0.0]]], dtype=torch.float64), [1, 2, 3, 5],
                         align_corners=False)
    gx, = torch.autograd.grad((grid_sample_gradfix.grid_sample(x, grid) * theta).sum(), [x], create_graph=True)
    gtheta, = torch.autograd.grad(gx.square().sum(), [theta])
    # gx = A^T theta for the sampling matrix A, so d|gx|^2/dtheta = 2 A gx.
    torch.testing.assert_close(gtheta, 2 * F.grid_sample(gx.detach(), grid, align_corners=False))

#----------------------------------------------------------------------------
# scale_bias_act

def test_scale_bias_act_reference_is_the_layers_former_ops():
    """The reference runs exactly the ops the synthesis layers ran before the op existed (the CPU results and every
    trained model's numbers stay as they were): the modulation x * s, the epilogue fma then bias_act."""
    x, s, noise, b = _randn(2, 3, 5, 4), _randn(2, 3, seed=1), _randn(2, 1, 5, 4, seed=2), _randn(3, seed=3)
    assert torch.equal(scale_bias_act.scale_bias_act(x, s), x * s.reshape(2, 3, 1, 1))
    y = scale_bias_act.scale_bias_act(x, s, noise, b, act='lrelu', gain=1.4, clamp=2)
    assert torch.equal(y, bias_act.bias_act(fma.fma(x, s.reshape(2, 3, 1, 1), noise), b, act='lrelu', gain=1.4, clamp=2))
    assert torch.equal(scale_bias_act.scale_bias_act(x, s, b=b, act='lrelu'),
                       bias_act.bias_act(x * s.reshape(2, 3, 1, 1), b, act='lrelu'))

def test_scale_bias_act_fast_path_only_where_its_kernel_applies(fresh_dispatch, monkeypatch):
    """Noise that varies per channel, and activations with a second derivative, take the reference."""
    calls = []
    monkeypatch.setattr(scale_bias_act._ScaleBiasAct, 'apply', lambda x, s, noise, b, cfg: calls.append(noise))
    monkeypatch.setattr(scale_bias_act, 'FAST_MIN_BYTES', 0)
    monkeypatch.setattr(scale_bias_act, '_probe', lambda key: None)
    x, s = _randn(2, 3, 5, 4), _randn(2, 3, seed=1)
    scale_bias_act.scale_bias_act(x, s, _randn(2, 3, 5, 4, seed=2))
    scale_bias_act.scale_bias_act(x, s, act='tanh')
    assert not calls
    for noise in [None, _randn(5, 4, seed=2), _randn(2, 1, 5, 4, seed=2)]:
        scale_bias_act.scale_bias_act(x, s, noise, act='lrelu')
    assert len(calls) == 3 and not _dispatch._disabled

def test_scale_bias_act_bad_input():
    with pytest.raises(ValueError, match=r'x must be \[B,C,H,W\] and s \[B,C\]'):
        scale_bias_act.scale_bias_act(torch.randn(2, 3, 4, 4), torch.randn(3, 2))
    with pytest.raises(ValueError, match='x must be'):
        scale_bias_act.scale_bias_act(torch.randn(2, 3), torch.randn(2, 3))
    with pytest.raises(ValueError, match=r'b must be \[C\] = \[3\], got \(4,\)'):
        scale_bias_act.scale_bias_act(torch.randn(2, 3, 4, 4), torch.randn(2, 3), b=torch.randn(4))

#----------------------------------------------------------------------------
# Fast-path dispatch and fallback

def test_fallback_when_triton_missing(fresh_dispatch, monkeypatch):
    monkeypatch.setitem(sys.modules, 'triton', None)  # makes `import triton` raise ImportError
    monkeypatch.delitem(sys.modules, 'torch_utils.ops._bias_act_triton', raising=False)
    monkeypatch.setattr(bias_act, '_kernels', None)
    monkeypatch.setattr(bias_act, 'FAST_MIN_BYTES', 0)
    x, b = torch.randn(2, 3, 4, 4), torch.randn(3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        y1 = bias_act.bias_act(x, b, act='lrelu', clamp=0.5)
        y2 = bias_act.bias_act(x, b, act='tanh')
    assert len(caught) == 1 and 'bias_act' in str(caught[0].message)
    torch.testing.assert_close(y1, bias_act.bias_act(x, b, act='lrelu', clamp=0.5, impl='ref'))
    torch.testing.assert_close(y2, bias_act.bias_act(x, b, act='tanh', impl='ref'))

def test_fallback_when_fast_path_raises(fresh_dispatch, monkeypatch):
    def broken(*args):
        raise RuntimeError('simulated kernel failure')
    monkeypatch.setattr(upfirdn2d, '_upfirdn2d_fast', broken)
    x, f = torch.randn(1, 2, 6, 6), upfirdn2d.setup_filter([1, 3, 3, 1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        y = [upfirdn2d.upsample2d(x, f) for _ in range(3)]
    assert len(caught) == 1 and 'upfirdn2d' in str(caught[0].message) and 'simulated' in str(caught[0].message)
    torch.testing.assert_close(y[0], upfirdn2d.upsample2d(x, f, impl='ref'))
    assert 'upfirdn2d' in _dispatch._disabled and 'bias_act' not in _dispatch._disabled
    assert _dispatch.fallbacks() == ('WARNING: fast paths fell back to the reference: '
        'upfirdn2d (RuntimeError: simulated kernel failure)')

def test_no_fallback_reported_when_every_fast_path_works(fresh_dispatch):
    assert _dispatch.fallbacks() == ''

@pytest.mark.parametrize('mode', [torch.no_grad, torch.inference_mode])
def test_probe_runs_under_no_grad(fresh_dispatch, monkeypatch, mode):
    # The first fast call of a configuration is checked forward and backward; called under no_grad (as the metrics
    # run G), that check must still differentiate instead of failing and turning the fast path off.
    monkeypatch.setattr(bias_act, '_bias_act_fast', bias_act._bias_act_ref) # a fast path that works
    monkeypatch.setattr(bias_act, 'FAST_MIN_BYTES', 0)
    x, b = torch.randn(2, 3, 4, 4), torch.randn(3)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        with mode():
            y = bias_act.bias_act(x, b, act='lrelu')
    assert not _dispatch._disabled and _dispatch._probed
    torch.testing.assert_close(y, bias_act.bias_act(x, b, act='lrelu', impl='ref'))

def test_probe_of_a_fast_path_that_calls_itself(fresh_dispatch, monkeypatch):
    # reflect_warp's double backward (R1) calls the op again, through the dispatcher, from inside the first call's
    # probe: that inner call must take the fast path under check, not probe again (on a GPU this recursed until
    # Python's limit and then fell back). The kernels are replaced by the references, so that the dispatch, the
    # autograd Functions and the probe run here as on a GPU.
    monkeypatch.setattr(reflect_warp, '_forward', lambda *args: reflect_warp._reference(*args).detach())
    monkeypatch.setattr(upfirdn2d, '_upfirdn2d_fast', upfirdn2d._upfirdn2d_ref) # used by the backward
    probes, probe = [], reflect_warp._probe
    def probe_once(key): # a re-entered probe fails at once (and turns the fast path off) instead of recursing on
        assert not probes, 'probe re-entered'
        probes.append(key)
        probe(key)
    monkeypatch.setattr(reflect_warp, '_probe', probe_once)
    f = upfirdn2d.setup_filter([1, 3, 3, 1], separable=True).double()
    x, g = _randn(2, 3, 5, 6), _randn(2, 3, 8, 7, seed=1)
    rows, cols = torch.rand(2, 2, 7, dtype=torch.float64) - 0.5, torch.rand(2, 2, 8, dtype=torch.float64) - 0.5
    results = []
    for impl in ('cuda', 'ref'):
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            y = reflect_warp.reflect_warp(x, f, rows, cols, [3, 2, 4, 1], impl=impl)
            dx, = torch.autograd.grad((y * g).sum(), x, create_graph=True)
            results.append([y, dx, *torch.autograd.grad(dx.square().sum(), g)])
    assert not _dispatch._disabled and len(probes) == 1
    for fast, ref in zip(*results):
        torch.testing.assert_close(fast, ref)

def test_probe_out_of_memory_is_raised_and_probed_again(fresh_dispatch, monkeypatch):
    # Running out of memory says nothing about the fast path: the error reaches the caller, nothing is disabled, and the
    # next call checks the configuration again instead of taking its fast path unchecked.
    monkeypatch.setattr(bias_act, '_bias_act_fast', bias_act._bias_act_ref)
    monkeypatch.setattr(bias_act, 'FAST_MIN_BYTES', 0)
    probes, probe = [], bias_act._probe
    def probe_oom_once(key):
        probes.append(key)
        if len(probes) == 1:
            raise torch.cuda.OutOfMemoryError('simulated')
        probe(key)
    monkeypatch.setattr(bias_act, '_probe', probe_oom_once)
    x, b = torch.randn(2, 3, 4, 4), torch.randn(3)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        bias_act.bias_act(x, b, act='lrelu')
    torch.testing.assert_close(bias_act.bias_act(x, b, act='lrelu'), bias_act.bias_act(x, b, act='lrelu', impl='ref'))
    assert len(probes) == 2 and not _dispatch._disabled

def test_ops_with_the_same_probe_key_are_each_checked(fresh_dispatch):
    # Probe keys are chosen per op, e.g. (device, dtype): one op's check must not count as another's.
    probes = []
    for name in ('first op', 'second op'):
        x = torch.ones(3)
        _dispatch.call(name, 'cuda', x, fast=lambda: x, ref=lambda: x, probe=lambda key, name=name: probes.append(name),
            probe_key=(x.device, x.dtype))
    assert probes == ['first op', 'second op']

def test_import_is_cheap():
    code = ('import sys, torch_utils.ops.bias_act, torch_utils.ops.upfirdn2d, torch_utils.ops.conv2d_resample, '
            'torch_utils.ops.conv2d_gradfix, torch_utils.ops.fma, torch_utils.ops.grid_sample_gradfix, '
            'torch_utils.ops.scale_bias_act, torch_utils.ops.reflect_warp; '
            'assert "triton" not in sys.modules, "triton imported"')
    subprocess.run([sys.executable, '-c', code], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))

#----------------------------------------------------------------------------
