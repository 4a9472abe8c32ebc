"""Tests of training.augment: identity at p = 0, what each op does, colour statistics, double backward, pickling."""

import io
import pickle

import numpy as np
import pytest
import torch

from torch_utils import safe_pickle
from training.augment import AugmentPipe, BGC, SYM2, SYM6, _product, band_filters

ALL = dict(BGC, imgfilter=1, noise=1, cutout=1)

#----------------------------------------------------------------------------

def _smooth(batch=4, res=32, channels=3):
    """Low-frequency test images in [-1, 1], different per channel and not symmetric."""
    y, x = torch.meshgrid(torch.arange(res) + 0.5, torch.arange(res) + 0.5, indexing='ij')
    planes = [torch.sin(2 * np.pi * (1.3 * x / res + 0.1)), torch.cos(2 * np.pi * 0.7 * y / res),
        torch.sin(2 * np.pi * (x + 0.5 * y) / res)]
    return torch.stack(planes[:channels])[None].repeat(batch, 1, 1, 1)

def _run(seed=0, images=None, **kwargs):
    torch.manual_seed(seed)
    return AugmentPipe(**kwargs)(_smooth() if images is None else images)

#----------------------------------------------------------------------------

def test_p0_is_exact_identity():
    pipe = AugmentPipe(**ALL)
    pipe.p.zero_()
    x = torch.randn([3, 3, 32, 32])
    assert torch.equal(pipe(x), x)

@pytest.mark.parametrize('op', sorted(ALL))
def test_each_op_changes_images_keeps_shape(op):
    x = torch.randn([4, 3, 32, 32])
    y = _run(images=x, **{op: 1})
    assert y.shape == x.shape and y.dtype == x.dtype and torch.isfinite(y).all()
    assert not torch.equal(y, x)

def test_untouched_images_are_bit_identical():
    x = torch.randn([64, 3, 32, 32])
    torch.manual_seed(0)
    pipe = AugmentPipe(**ALL)
    pipe.p.fill_(0.05) # most images get no op at all
    same = (pipe(x) == x).flatten(1).all(dim=1)
    assert 20 < same.sum() < 64

@pytest.mark.parametrize('p', [0.0, 0.05, 1.0])
def test_fixed_padding_augments_as_the_measured_padding(p):
    """fixed_padding (CUDA graphs: no read-back of the needed padding) pads more but samples the same points, and
    leaves untouched images bit-identical."""
    x = torch.randn([16, 3, 32, 32])
    pipe = AugmentPipe(**ALL)
    pipe.p.fill_(p)
    torch.manual_seed(1)
    measured = pipe(x)
    torch.manual_seed(1)
    fixed = pipe(x, fixed_padding=True)
    assert (fixed - measured).abs().max() < 2e-4 # float32 sampling coordinates, normalised over a wider pad
    same = (measured == x).flatten(1).all(dim=1)
    assert torch.equal(fixed[same], x[same])

def test_padding_needed_covers_the_corners_up_to_the_reflection_limit():
    """The padding each side needs: the output's extended corners mapped to the input, plus the reach of the
    upsampling filter and of bilinear sampling (3 margins of 3 pixels for sym6), at most W - 1; and whether any image
    is warped."""
    pipe = AugmentPipe()
    eye = torch.eye(3, dtype=torch.float64)
    shift = eye.clone()
    shift[0, 2] = 5 # input x = output x + 5: more padding on the right, less on the left
    zoom_out = torch.diag(torch.tensor([4.0, 4.0, 1.0], dtype=torch.float64))
    need = lambda *G: pipe.padding_needed(torch.stack(G), 32, 48).tolist()
    assert need(eye, eye) == [9, 9, 9, 9, 0]
    assert need(eye, shift) == [9, 9, 14, 9, 1]
    assert need(shift.inverse()) == [14, 9, 4, 9, 1]
    assert need(eye, zoom_out) == [47, 31, 47, 31, 1]

def test_geometry_conventions():
    x = _smooth(batch=8)
    for op, candidates in [('xflip', lambda a: [a, a.flip(2)]), ('rotate90', lambda a: [torch.rot90(a, k, (1, 2)) for k in range(4)])]:
        y = _run(**{op: 1}, images=x)
        for a, b in zip(x, y):
            assert min((b - c).abs().max() for c in candidates(a)) < 0.05, op
    # Integer translation: an exact shift by at most xint_max * 32 = 4 pixels, borders aside.
    y = _run(xint=1, images=x)
    for a, b in zip(x, y):
        err = min((b[:, 4:-4, 4:-4] - a[:, 4 - dy:28 - dy, 4 - dx:28 - dx]).abs().max() for dy in range(-4, 5) for dx in range(-4, 5))
        assert err < 1e-5
    # A rotation by a small angle keeps the centre pixel's neighbourhood close.
    y = _run(rotate=1, rotate_max=0.01, images=x)
    assert (y[:, :, 12:20, 12:20] - x[:, :, 12:20, 12:20]).abs().max() < 0.05

def test_product_keeps_the_order():
    m = torch.randn([2, 7, 3, 3], dtype=torch.float64)
    for k in range(1, 8):
        chain = m[:, 0]
        for i in range(1, k):
            chain = chain @ m[:, i]
        torch.testing.assert_close(_product(m[:, :k]), chain)

def test_geometric_draws():
    """Each geometric op alone (G_inv: output to input pixels, origin at the centre): its distribution at p = 1, and
    about half of the images touched at p = 0.5; ops compose in the order written."""
    B, H, W = 4000, 16, 32
    def draw(p=1.0, **op):
        pipe = AugmentPipe(**op)
        pipe.p.fill_(p)
        return pipe._geometric_inverse(B, H, W, torch.device('cpu'))
    eye = torch.eye(3, dtype=torch.float64)
    linear, shift = (lambda g: g[:, :2, :2]), (lambda g: g[:, :2, 2])
    near = lambda value, target, tol: abs(float(value) - target) < tol

    g = draw(xflip=1)
    flipped = g[:, 0, 0] == -1
    assert near(flipped.float().mean(), 0.5, 0.04) and torch.equal(g[~flipped], eye.expand_as(g[~flipped]))
    g = draw(rotate90=1)
    quarter = torch.round(torch.atan2(g[:, 1, 0], g[:, 0, 0]) / (np.pi / 2)) % 4
    assert torch.allclose(linear(g), torch.round(linear(g)), atol=1e-12) and shift(g).abs().max() == 0
    assert all(near((quarter == k).float().mean(), 0.25, 0.04) for k in range(4))
    g = draw(xint=1) # integer shifts of at most xint_max = 1/8 of each side
    assert torch.equal(linear(g), eye[:2, :2].expand(B, 2, 2)) and torch.equal(shift(g), torch.round(shift(g)))
    assert shift(g).abs().amax(dim=0).tolist() == [4, 2]
    g = draw(scale=1) # isotropic, log2 of the scale N(0, 0.2)
    assert torch.equal(g[:, 0, 0], g[:, 1, 1]) and near(g[:, 0, 0].log2().std(), 0.2, 0.01)
    g = draw(aniso=1) # x and y scaled inversely, log2 N(0, 0.2)
    assert torch.allclose(g[:, 0, 0] * g[:, 1, 1], torch.ones(B, dtype=torch.float64)) and near(g[:, 1, 1].log2().std(), 0.2, 0.01)
    g = draw(rotate=1) # two rotations at p = 1, each uniform over the circle: cos(angle) has mean 0 and variance 1/2
    assert torch.allclose(linear(g) @ linear(g).transpose(1, 2), eye[:2, :2].expand(B, 2, 2)) and torch.all(torch.det(linear(g)) > 0)
    assert near(g[:, 0, 0].mean(), 0, 0.04) and near(g[:, 0, 0].var(), 0.5, 0.04)
    g = draw(xfrac=1) # N(0, 1/8 of each side)
    assert near(shift(g)[:, 0].std(), 0.125 * W, 0.2) and near(shift(g)[:, 1].std(), 0.125 * H, 0.1)

    for op in ('xflip', 'rotate90', 'xint', 'scale', 'rotate', 'aniso', 'xfrac'):
        touched = (draw(p=0.5, **{op: 1}) != eye).flatten(1).any(dim=1).float().mean()
        expected = {'rotate90': 0.5 * 3 / 4, 'xflip': 0.25, 'xint': 0.5 * (1 - 1 / 32)}.get(op, 0.5) # no-op draws
        assert near(touched, expected, 0.04), op

    g = draw(xint=1, scale=1) # the integer shift's inverse on the left (T^-1 S^-1): the shift stays whole
    assert torch.equal(shift(g), torch.round(shift(g))) and (g[:, 0, 0] != 1).all()

@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_warp_matches_the_analytic_transform(dtype):
    """A low-frequency plane wave warped by a rotation and a fractional shift is the wave at the mapped coordinates:
    the output-to-input map (the filters' delay, pixel centres, the padded input's normalisation) has no offset. Half
    a pixel off would be an error of about 0.15 here."""
    res = 32
    wave = lambda xy: torch.sin(2 * np.pi * (1.5 * xy[..., 0] + xy[..., 1]) / res + 0.3)
    c = torch.arange(res, dtype=torch.float64) + 0.5 - res / 2 # pixel centres, origin at the image centre
    xy = torch.stack(torch.meshgrid(c, c, indexing='xy'), dim=-1)
    G_inv = torch.tensor([[[np.cos(0.4), -np.sin(0.4), 1.3], [np.sin(0.4), np.cos(0.4), -0.7], [0, 0, 1]]], dtype=torch.float64)
    expected = wave(xy @ G_inv[0, :2, :2].T + G_inv[0, :2, 2])
    images = wave(xy)[None, None].repeat(1, 3, 1, 1).to(dtype)
    for fixed_padding in (False, True):
        out = AugmentPipe().to(dtype)._resample(images, G_inv, torch.ones([1], dtype=torch.bool), fixed_padding)
        assert (out[0, :, 8:-8, 8:-8] - expected[8:-8, 8:-8]).abs().max() < 0.005 # away from the reflected borders

def test_colour_statistics():
    x = torch.randn([4000, 3, 2, 2])
    luma = lambda images: images.mean(dim=1)
    # Hue rotates about the luma axis and saturation scales away from it: luma is kept exactly.
    for op in ('hue', 'saturation'):
        torch.testing.assert_close(luma(_run(images=x, **{op: 1})), luma(x), atol=1e-5, rtol=0)
    # Brightness: one offset per image, std brightness_std.
    d = _run(images=x, brightness=1) - x
    assert (d - d[:, :1, :1, :1]).abs().max() < 1e-5 and abs(d[:, 0, 0, 0].std() - 0.2) < 0.01
    # Contrast: one factor per image, log2-normal with std contrast_std.
    r = _run(images=x, contrast=1) / x
    assert (r - r[:, :1, :1, :1]).abs().max() < 1e-3 and abs(r[:, 0, 0, 0].log2().std() - 0.5) < 0.03
    # Luma flip negates the luma of about half of the images and keeps the chroma.
    y = _run(images=x, lumaflip=1)
    flipped = (luma(y) + luma(x)).abs().amax(dim=(1, 2)) < 1e-5
    assert abs(flipped.float().mean() - 0.5) < 0.05
    torch.testing.assert_close(y - luma(y)[:, None], x - luma(x)[:, None], atol=1e-5, rtol=0)
    # Without brightness the colour ops are linear: zero-mean images stay zero-mean.
    x0 = x - x.mean(dim=(2, 3), keepdim=True)
    y = _run(images=x0, contrast=1, lumaflip=1, hue=1, saturation=1)
    assert y.mean(dim=(2, 3)).abs().max() < 1e-5 and not torch.allclose(y, x0)

def test_grayscale_and_channel_check():
    x = torch.randn([6, 1, 16, 16])
    y = _run(images=x, **BGC)
    assert y.shape == x.shape and not torch.equal(y, x)
    with pytest.raises(ValueError, match='1 or 3 channels'):
        _run(images=torch.zeros([2, 4, 16, 16]), hue=1)
    with pytest.raises(ValueError, match='float images'):
        AugmentPipe(xflip=1)(torch.zeros([2, 3, 16, 16], dtype=torch.uint8))

def test_noise_and_cutout():
    x = torch.ones([400, 1, 16, 16])
    sigma = (_run(images=x, noise=1) - x).std(dim=(1, 2, 3))
    assert abs(sigma.mean() - 0.1 * np.sqrt(2 / np.pi)) < 0.01 # E|N(0, 1)| * noise_std
    zeroed = (_run(images=x, cutout=1) == 0).float().mean(dim=(1, 2, 3))
    assert zeroed.max() <= 0.25 + 1e-6 and 0.1 < zeroed.mean() < 0.25 # a half-size square, clipped at the borders

def test_wavelet_constants_and_band_filters():
    for h, order in [(SYM6, 6), (SYM2, 2)]:
        h = np.asarray(h)
        n = np.arange(h.size)
        assert abs(h.sum() - np.sqrt(2)) < 1e-12
        np.testing.assert_allclose([h[:h.size - 2 * k] @ h[2 * k:] for k in range(h.size // 2)], np.eye(1, h.size // 2)[0], atol=1e-11)
        np.testing.assert_allclose([((-1.0) ** n * n ** m) @ h for m in range(order)], 0, atol=1e-8) # vanishing moments
    bank = band_filters(SYM2)
    assert bank.shape == (4, 43)
    np.testing.assert_allclose(bank.sum(axis=0), np.eye(43)[21], atol=1e-12) # partition of unity
    np.testing.assert_allclose(bank, bank[:, ::-1], atol=1e-15) # zero phase
    freq = lambda w: bank @ np.cos(w * (np.arange(43) - 21))
    np.testing.assert_allclose(freq(0), [1, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(freq(np.pi), [0, 0, 0, 1], atol=1e-12)
    assert [np.argmax(freq(w)) for w in np.pi * np.array([0.05, 0.2, 0.4, 0.8])] == [0, 1, 2, 3] # octaves

def test_r1_double_backward_cpu():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Softplus(), torch.nn.Conv2d(4, 1, 3))
    pipe = AugmentPipe(**ALL)
    real = torch.randn([2, 3, 32, 32], requires_grad=True)
    logits = net(pipe(real))
    grad, = torch.autograd.grad(logits.sum(), real, create_graph=True)
    penalty = grad.square().sum()
    penalty.backward()
    for conv in (net[0], net[2]):
        assert torch.isfinite(conv.weight.grad).all() and conv.weight.grad.abs().sum() > 0

def test_warp_gradgradcheck():
    # The pipe is linear in the images; fixed randomness makes it a function that gradgradcheck can probe.
    def warp(x):
        torch.manual_seed(1)
        return AugmentPipe(**BGC).double()(x).square()
    x = torch.randn([1, 1, 10, 10], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(warp, (x,), fast_mode=True)

def test_p_buffer_pickles_and_safe_loads():
    pipe = AugmentPipe(xflip=1, rotate=1, hue=1, imgfilter_bands=[1, 0, 1, 1])
    pipe.p.fill_(0.3)
    clone = pickle.loads(pickle.dumps(pipe))
    assert float(clone.p) == pytest.approx(0.3) and clone.init_kwargs.imgfilter_bands == [1, 0, 1, 1]
    x = _smooth()
    torch.manual_seed(4)
    a = pipe(x)
    torch.manual_seed(4)
    assert torch.equal(clone(x), a)
    buf = io.BytesIO()
    pickle.dump(dict(augment_pipe=pipe), buf)
    loaded = safe_pickle.load_network_pkl(io.BytesIO(buf.getvalue()))['augment_pipe']
    assert isinstance(loaded, AugmentPipe) and float(loaded.p) == pytest.approx(0.3)
    assert torch.equal(loaded.Hz_geom, pipe.Hz_geom) and torch.equal(loaded.Hz_fbank, pipe.Hz_fbank)

def test_deterministic_with_seed():
    x = torch.randn([4, 3, 32, 32])
    a, b, c = _run(3, images=x, **ALL), _run(3, images=x, **ALL), _run(4, images=x, **ALL)
    assert torch.equal(a, b) and not torch.equal(a, c)

#----------------------------------------------------------------------------
