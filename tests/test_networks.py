"""Tests of training.networks_stylegan2 on tiny CPU networks: conditioning shapes and features, CondStyle init,
out_rect, D time noise, w_avg and truncation, double backward, parameter counts, state-dict names, pickles."""

import io
import math
import pickle

import pytest
import torch

from torch_utils import safe_pickle
from torch_utils.ops import conv2d_gradfix
from torch_utils.ops import upfirdn2d
from training import networks_stylegan2 as N

RES = 32
FREQS = [6.09, 2225.0] # Valley: year and day cycles per unit t.
TINY = dict(channel_base=512, channel_max=32)

def _cond_args(**kw):
    return dict(dict(type='fourier', f_manual=list(FREQS), include_lin=True, lin_lr=0.01, t_delta=1e-3), **kw)

def _G(cond_args=None, **kw):
    torch.manual_seed(0)
    return N.Generator(z_dim=16, c_dim=1, w_dim=16, img_resolution=RES, img_channels=3,
        cond_args=cond_args or _cond_args(), mapping_kwargs=dict(num_layers=2), **TINY, **kw)

def _D(cond_args=None, **kw):
    torch.manual_seed(1)
    return N.Discriminator(c_dim=1, img_resolution=RES, img_channels=3, cond_args=cond_args or _cond_args(),
        epilogue_kwargs=dict(mbstd_group_size=2), **TINY, **kw)

def _zc(batch=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn([batch, 16], generator=gen), torch.rand([batch, 1], generator=gen)

@pytest.fixture(scope='module')
def G():
    """Eval-mode G whose styles depend on time (at init c_to_scales passes only the constant feature through)."""
    G = _G().eval()
    with torch.no_grad():
        for name, param in G.named_parameters():
            if name.endswith('c_to_scales.weight'):
                param.normal_()
    return G

@pytest.fixture(scope='module')
def D():
    return _D()

#----------------------------------------------------------------------------
# Shapes and the four time layouts.

def test_output_shapes_and_range(G, D):
    z, c = _zc()
    img = G(z, c)
    assert img.shape == (4, 3, RES, RES) and img.dtype == torch.float32
    assert torch.isfinite(img).all() and img.abs().max() < 10
    assert G.num_ws == 2 * int(math.log2(RES)) - 2 == G.synthesis.num_ws
    logits = D(img, c)
    assert logits.shape == (4, 1) and torch.isfinite(logits).all()

def test_time_layouts_agree(G):
    z, c = _zc()
    F, L = G.num_f, G.num_ws
    assert F == 3 and G.frequencies == [-1.0] + FREQS
    ref = G(z, c, noise_mode='const')
    for layout in [c.expand(-1, F), c[:, None, :].expand(-1, L, -1), c[:, None, :].expand(-1, L, F)]:
        assert torch.allclose(G(z, layout, noise_mode='const'), ref, atol=1e-5)
    other = G(z, torch.cat([c, c + 0.1, c], dim=1), noise_mode='const') # another year phase
    assert not torch.allclose(other, ref, atol=1e-3)

def test_per_layer_times_act_per_layer(G):
    z, c = _zc()
    cl = c[:, None, :].repeat(1, G.num_ws, 1)
    cl[:, -1] += 0.3 # only the last torgb sees another time
    assert not torch.allclose(G(z, cl, noise_mode='const'), G(z, c, noise_mode='const'), atol=1e-6)

def test_cycle_min_res_keeps_the_cycles_out_of_the_coarse_layers(G):
    """cycle_min_res=16: the 4x4 and 8x8 layers (ws 0-2 only feed those) ignore the year and day slots but follow the
    trend slot; from 16x16 up the cycles act as before. With the default 0 every layer follows every slot."""
    coarse = _G(_cond_args(cycle_min_res=16)).eval()
    coarse.load_state_dict(G.state_dict())
    z, c = _zc()
    c3 = c[:, None, :].repeat(1, G.num_ws, G.num_f)
    def moved(net, layers, slots):
        other = c3.clone()
        other[:, torch.tensor(layers)[:, None], torch.tensor(slots)] += 0.3
        return (net(z, other, noise_mode='const') - net(z, c3, noise_mode='const')).abs().max()
    assert moved(coarse, [0, 1, 2], [1, 2]) == 0
    assert moved(coarse, [0, 1, 2], [0]) > 1e-3 and moved(coarse, [4], [1, 2]) > 1e-3
    assert moved(G, [0, 1, 2], [1, 2]) > 1e-3
    assert torch.equal(coarse(z, c, noise_mode='const'), coarse(z, c3, noise_mode='const'))

@pytest.mark.parametrize('shape', [[4], [4, 2], [4, 5, 1], [4, 8, 7]])
def test_bad_time_shapes_raise(G, shape):
    z, _ = _zc()
    with pytest.raises(ValueError, match='Times c must have shape'):
        G(z, torch.zeros(shape))

def test_fourier_features_by_hand():
    xform = N.ConditioningTransform(_cond_args(), num_ws=5)
    t = 0.3
    expect = [1.0, 0.01 * t]
    for f in FREQS:
        expect += [math.cos(2 * math.pi * f * t), math.sin(2 * math.pi * f * t)]
    feats = xform(torch.tensor([[t]]), broadcast=False)
    assert feats.shape == (1, 6)
    assert torch.allclose(feats[0], torch.tensor(expect), atol=1e-3)
    assert xform(torch.tensor([[t]])).shape == (1, 5, 6) # broadcast over layers
    implicit = N.ConditioningTransform(_cond_args(include_lin=False, f_manual=[2225.0, 1e-3]))
    assert implicit.frequencies == [1e-3, 2225.0] and implicit.dims == 4 # sorted, no trend slot

def test_cond_args_validation():
    assert N.complete_cond_args(dict(type='fourier', f_manual=[5.0])).dims == 4
    assert N.complete_cond_args(dict(type='concat')).dims == 1
    assert N.complete_cond_args(dict(type='none')).d_time_noise is True
    with pytest.raises(ValueError, match='dims'):
        N.complete_cond_args(dict(type='fourier', f_manual=[5.0], dims=6))
    with pytest.raises(ValueError, match='type'):
        N.complete_cond_args(dict(type='fft'))
    with pytest.raises(ValueError, match='noise_f'):
        N.complete_cond_args(dict(type='fourier', f_manual=[5.0], noise_f=[1, 2, 3]))

#----------------------------------------------------------------------------
# CondStyle, out_rect, modulated convolution.

@pytest.mark.parametrize('lr', [1.0, 4.0])
def test_cond_style_initial_scale(lr):
    style = N.CondStyle(8, 16, 6, N.complete_cond_args(_cond_args(lr=lr)))
    feats = N.ConditioningTransform(_cond_args())(torch.rand([10, 1]), broadcast=False)
    scales = style.c_to_scales(feats)
    assert torch.allclose(scales, torch.full_like(scales, 1 / math.sqrt(6)), atol=1e-4)
    w = torch.randn([10, 16])
    assert torch.allclose(style(w, feats), style.w_affine(w) * scales)

def test_out_rect_border_is_exactly_minus_one():
    G = _G(out_rect=(3, 5, 30, 27)).eval()
    img = G(*_zc())
    inside = torch.zeros_like(img, dtype=torch.bool)
    inside[:, :, 5:27, 3:30] = True
    assert (img[~inside] == -1).all()
    assert (img[inside] != -1).float().mean() > 0.99
    with pytest.raises(ValueError, match='out_rect'):
        _G(out_rect=(0, 0, 40, 32))

def test_fused_and_unfused_modconv_agree(G):
    z, c = _zc()
    a = G(z, c, noise_mode='const', fused_modconv=False)
    b = G(z, c, noise_mode='const', fused_modconv=True)
    assert torch.allclose(a, b, atol=1e-4)

@pytest.mark.parametrize('fused', [False, True])
def test_modulated_conv2d_fp16_matches_fp32(fused):
    """fp16 inputs take the pre-normalised path (weights and large styles scaled down; demodulation undoes it)."""
    gen = torch.Generator().manual_seed(0)
    x, weight = torch.randn([2, 8, 8, 8], generator=gen), torch.randn([4, 8, 3, 3], generator=gen)
    styles = torch.randn([2, 8], generator=gen) * 1e4 # overflows fp16 unless pre-normalised (non-fused)
    kw = dict(padding=1, up=2, resample_filter=upfirdn2d.setup_filter([1, 3, 3, 1]), flip_weight=False,
        fused_modconv=fused)
    ref = N.modulated_conv2d(x, weight, styles, **kw)
    half = N.modulated_conv2d(x.half(), weight, styles, **kw)
    assert half.dtype == torch.float16 and ref.shape == (2, 4, 16, 16)
    assert torch.allclose(half.float(), ref, atol=0.01)

def test_noise_modes(G):
    z, c = _zc()
    with torch.no_grad():
        for layer in [G.synthesis.b32.conv1, G.synthesis.b16.conv0]:
            layer.noise_strength.fill_(0.5)
        try:
            const = G(z, c, noise_mode='const')
            assert torch.equal(const, G(z, c, noise_mode='const'))
            assert not torch.allclose(G(z, c, noise_mode='random'), const)
            assert not torch.allclose(G(z, c, noise_mode='none'), const)
        finally:
            for layer in [G.synthesis.b32.conv1, G.synthesis.b16.conv0]:
                layer.noise_strength.zero_()
    with pytest.raises(ValueError, match='noise_mode'):
        G(z, c, noise_mode='fixed')

#----------------------------------------------------------------------------
# Discriminator time noise.

def _noisy_times(xform, c):
    """Per-slot times read back from Fourier features of f_manual=[0.5] (period 2, so the phase is the time)."""
    feats = xform(c, broadcast=False)
    return torch.stack([feats[:, 1] / 0.01, torch.atan2(feats[:, 3], feats[:, 2]) / math.pi], dim=1)

@pytest.mark.parametrize('d_time_noise', [True, False])
def test_d_time_noise_switch(d_time_noise):
    D = _D(_cond_args(noise_f=[50, 20, 0], d_time_noise=d_time_noise))
    z, c = _zc()
    img = torch.randn([4, 3, RES, RES])
    D.train()
    changed = not torch.equal(D.cond_xform(c, broadcast=False), D.cond_xform(c, broadcast=False))
    assert changed == d_time_noise
    assert torch.equal(D(img, c), D(img, c)) != d_time_noise
    D.eval()
    assert torch.equal(D(img, c), D(img, c))

def test_d_time_noise_per_frequency_is_independent():
    t = torch.full([4000, 1], 0.25)
    xform = N.ConditioningTransform(_cond_args(f_manual=[0.5], t_delta=0.01, noise_f=[1, 1]), add_noise=True)
    noise = _noisy_times(xform, t) - 0.25
    assert torch.allclose(noise.std(0), torch.tensor([0.01, 0.01]), rtol=0.1)
    assert abs(torch.corrcoef(noise.T)[0, 1]) < 0.1
    # The global sigma moves all slots together: the check above can tell the difference.
    xform = N.ConditioningTransform(_cond_args(f_manual=[0.5], t_delta=0.01, noise=1), add_noise=True)
    noise = _noisy_times(xform, t) - 0.25
    assert torch.corrcoef(noise.T)[0, 1] > 0.99
    assert torch.equal(xform.eval()(t, broadcast=False), N.ConditioningTransform(_cond_args(f_manual=[0.5]))(t))

#----------------------------------------------------------------------------
# Mapping: w_avg and truncation.

def test_w_avg_updates_only_with_update_emas():
    G = _G()
    z, c = _zc()
    G(z, c)
    assert (G.mapping.w_avg == 0).all()
    G(z, c, update_emas=True)
    w = G.mapping(z, None)[:, 0]
    assert torch.allclose(G.mapping.w_avg, w.mean(0) * (1 - 0.998), atol=1e-6)

def test_truncation():
    G = _G()
    z, c = _zc()
    with torch.no_grad():
        G.mapping.w_avg.normal_()
    ws = G.mapping(z, None)
    assert torch.allclose(G.mapping(z, None, truncation_psi=0), G.mapping.w_avg.expand_as(ws))
    half = G.mapping(z, None, truncation_psi=0.5, truncation_cutoff=3)
    assert torch.allclose(half[:, :3], (ws[:, :3] + G.mapping.w_avg) / 2, atol=1e-6)
    assert torch.equal(half[:, 3:], ws[:, 3:])
    assert not torch.allclose(G(z, c, truncation_psi=0.5, noise_mode='const'), G(z, c, noise_mode='const'))

#----------------------------------------------------------------------------
# Gradients the losses need.

def test_r1_double_backward_through_d(D):
    img = torch.randn([4, 3, RES, RES], requires_grad=True)
    _, c = _zc()
    grad, = torch.autograd.grad(D(img, c).sum(), img, create_graph=True)
    grad.square().sum().backward()
    assert D.b32.fromrgb.weight.grad is not None and torch.isfinite(D.b32.fromrgb.weight.grad).all()
    assert D.mapping.fc7.weight.grad is not None

def test_path_length_gradient_without_weight_gradients():
    G = _G().train()
    z, c = _zc()
    cs = G.cond_xform(c)
    ws = G.mapping(z, cs[:, 0])
    img = G.synthesis(ws, cs)
    with conv2d_gradfix.no_weight_gradients():
        grad, = torch.autograd.grad((img * torch.randn_like(img)).sum(), ws, create_graph=True)
    assert grad.shape == ws.shape and torch.isfinite(grad).all()
    grad.square().sum().backward()
    assert G.mapping.fc0.weight.grad is not None

#----------------------------------------------------------------------------
# Architecture: sizes, names, conditioning types, Freeze-D.

def test_parameter_counts_at_256():
    """The original's counts (verified on its code): G 28.5 M, D 31.2 M at 256x256 with dims 6."""
    kw = dict(img_resolution=256, img_channels=3, cond_args=_cond_args())
    G = N.Generator(z_dim=512, c_dim=1, w_dim=512, mapping_kwargs=dict(num_layers=2), **kw)
    assert sum(p.numel() for p in G.parameters()) == 28_510_626
    assert G.num_ws == 14
    del G
    D = N.Discriminator(c_dim=1, **kw)
    assert sum(p.numel() for p in D.parameters()) == 31_231_104
    assert D.b4.conv.weight.shape == (512, 513, 3, 3) and D.b4.fc.weight.shape == (512, 8192)

def test_state_dict_names(G, D):
    g_names = set(G.state_dict())
    for name in ['mapping.fc0.weight', 'mapping.fc1.bias', 'mapping.w_avg', 'synthesis.b4.const',
            'synthesis.b4.conv1.weight', 'synthesis.b8.conv0.weight', 'synthesis.b8.conv0.bias',
            'synthesis.b8.conv0.noise_const', 'synthesis.b8.conv0.noise_strength', 'synthesis.b8.conv0.resample_filter',
            'synthesis.b8.conv0.scaled_styles.w_affine.weight', 'synthesis.b8.conv0.scaled_styles.w_affine.bias',
            'synthesis.b8.conv0.scaled_styles.c_to_scales.weight', 'synthesis.b8.torgb.weight',
            'synthesis.b8.torgb.bias', 'synthesis.b8.torgb.scaled_styles.c_to_scales.weight',
            'synthesis.b8.resample_filter']:
        assert name in g_names, name
    assert 'mapping.fc2.weight' not in g_names and not any('affine.' in n and 'w_affine' not in n for n in g_names)
    assert G.synthesis.b8.conv0.scaled_styles.c_to_scales.weight.shape == (32, 6)
    d_names = set(D.state_dict())
    for name in ['b32.fromrgb.weight', 'b32.fromrgb.bias', 'b32.conv0.weight', 'b32.conv1.bias', 'b32.skip.weight',
            'b32.resample_filter', 'b8.conv1.weight', 'mapping.embed.weight', 'mapping.embed.bias', 'mapping.fc0.weight',
            'mapping.fc7.bias', 'b4.conv.weight', 'b4.fc.weight', 'b4.out.weight', 'b4.out.bias']:
        assert name in d_names, name
    assert D.mapping.embed.weight.shape == (32, 6) and 'mapping.w_avg' not in d_names
    assert 'b32.skip.bias' not in d_names and 'b16.fromrgb.weight' not in d_names

@pytest.mark.parametrize('kind', ['f_concat', 'concat', 'none'])
def test_other_conditioning_types(kind):
    cond_args = _cond_args(type=kind, f_manual=list(FREQS) if kind == 'f_concat' else [])
    G, D = _G(cond_args).eval(), _D(cond_args)
    z, c = _zc()
    c = c[:, :0] if kind == 'none' else c
    img = G(z, c, noise_mode='const')
    assert img.shape == (4, 3, RES, RES) and D(img, c).shape == (4, 1)
    names = set(G.state_dict())
    assert not any('c_to_scales' in n for n in names)
    assert G.mapping.c_dim == dict(f_concat=6, concat=1, none=0)[kind]
    assert ('mapping.embed.weight' in names) == (kind != 'none')
    assert hasattr(D, 'mapping') == (kind != 'none') and D.b4.out.out_features == (1 if kind == 'none' else 32)
    if kind != 'none':
        assert not torch.allclose(G(z, -c, noise_mode="const"), img, atol=1e-4) # sign: concat embeds t linearly

def test_freeze_d():
    D = _D(block_kwargs=dict(freeze_layers=5))
    trainable = {n for n, _ in D.named_parameters()}
    frozen = {n for n, _ in D.named_buffers()}
    assert {'b32.fromrgb.weight', 'b32.conv0.weight', 'b32.conv1.weight', 'b32.skip.weight', 'b16.conv0.weight'} <= frozen
    assert {'b16.conv1.weight', 'b16.skip.weight', 'b8.conv0.weight', 'b4.conv.weight', 'mapping.fc0.weight'} <= trainable
    assert set(D.state_dict()) == set(_D().state_dict())

def test_unknown_and_legacy_kwargs():
    assert _G(architecture='skip').num_ws == 8
    with pytest.raises(ValueError, match='architecture'):
        _G(architecture='resnet')
    with pytest.raises(TypeError, match='bogus'):
        _G(bogus=1)
    with pytest.raises(TypeError, match='bogus'):
        _D(bogus=1)
    assert _D(architecture='resnet').img_resolution == RES
    with pytest.raises(ValueError, match='power of two'):
        N.Generator(16, 1, 16, 48, 3, _cond_args())

@pytest.mark.slow
def test_traces_into_single_graphs():
    """No graph breaks under torch.compile (the eager backend checks tracing only, without code generation)."""
    G, D = _G().train(), _D(_cond_args(noise_f=[20, 4, 0])).train()
    z, c = _zc()
    img = torch.compile(G, backend='eager', fullgraph=True)(z, c, update_emas=True)
    assert torch.isfinite(torch.compile(D, backend='eager', fullgraph=True)(img, c)).all()
    G.eval()
    img = torch.compile(G, backend='eager', fullgraph=True)(z, c[:, None].expand(-1, G.num_ws, 3), noise_mode='const',
        truncation_psi=0.7, truncation_cutoff=4)
    assert img.shape == (4, 3, RES, RES)

#----------------------------------------------------------------------------
# Pickles.

def test_pickle_round_trips(G, D):
    z, c = _zc()
    img = torch.randn([4, 3, RES, RES])
    ref_g, ref_d = G(z, c, noise_mode='const'), D.eval()(img, c)
    data = pickle.dumps(dict(G=G, D=D, G_ema=G, augment_pipe=None, training_set_kwargs=dict(path='x.zip')))
    plain = pickle.loads(data)
    safe = safe_pickle.load_network_pkl(io.BytesIO(data), allow_source_exec=False)
    for nets in [plain, safe]:
        assert torch.equal(nets['G_ema'](z, c, noise_mode='const'), ref_g)
        assert torch.equal(nets['D'](img, c), ref_d)
        assert nets['G'].synthesis.out_rect == (0, 0, RES, RES) and nets['G'].cond_args == G.cond_args
    assert type(safe.G) is N.Generator and safe.G.frequencies == G.frequencies

def test_safe_load_of_original_style_pickle():
    """Pickles of the original code: cond_args without the new fields, no out_rect init argument (the synthesis
    attribute holds it, or nothing), fused_modconv_default='inference_only'."""
    old_args = {k: v for k, v in _cond_args().items() if k != 't_delta'}
    G = _G(out_rect=(0, 4, 32, 28)).eval()
    G._init_kwargs = dict(G._init_kwargs, cond_args=old_args, fused_modconv_default='inference_only')
    del G._init_kwargs['out_rect']
    z, c = _zc()
    ref = G(z, c, noise_mode='const')
    safe = safe_pickle.load_network_pkl(io.BytesIO(pickle.dumps(dict(G_ema=G))))
    assert safe.G_ema.synthesis.out_rect == (0, 4, 32, 28)
    assert safe.G_ema.cond_args.d_time_noise is True and safe.G_ema.cond_args.t_delta == 0
    assert safe.G_ema.synthesis.b8.fused_modconv_default is False
    assert torch.allclose(safe.G_ema(z, c, noise_mode='const'), ref, atol=1e-5)
    del G.synthesis.out_rect
    assert safe_pickle.load_network_pkl(io.BytesIO(pickle.dumps(dict(G_ema=G)))).G_ema.synthesis.out_rect == (0, 0, 32, 32)

#----------------------------------------------------------------------------
