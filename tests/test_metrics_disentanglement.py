"""Tests of the ground-truth disentanglement metric on the tiny synthetic scene: slot <-> calendar mapping, the solar
hour, and the calibration (the renderer as a generator scores near the probe's own error; generators that ignore c
or z, or that memorise the sequence's weather, score clearly worse)."""

import copy
import importlib
import os
import sys

import click
import numpy as np
import pytest
import torch

import dnnlib
from metrics import disentanglement
from metrics import factor_probe
from metrics import metric_utils
from preproc.synth import presets
from preproc.synth import solar
from training import networks_stylegan2
from metric_helpers import smooth_images, write_zip

CFG = presets.PRESETS['tiny'] # 40 days at 64x64: slots lin and day, no year
NUM_DAYS = 40
PROBE = dict(num_train=768, num_val=256, steps=300)

@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    """A dataset zip whose meta names the scene config, and a cache dir shared by the module (one probe)."""
    root = tmp_path_factory.mktemp('synth')
    meta = dict(num_days=NUM_DAYS, date_start=CFG.date_start, synth=CFG.as_dict())
    return dnnlib.EasyDict(kwargs=write_zip(root / 'tiny.zip', smooth_images(4, 0, res=64), meta=meta), cache=root / 'cache')

@pytest.fixture(autouse=True)
def shared_cache(synth, monkeypatch):
    monkeypatch.setenv('DNNLIB_CACHE_DIR', str(synth.cache))

def evaluate(G, synth, num_samples=64):
    opts = metric_utils.MetricOptions(G=G, dataset_kwargs=synth.kwargs, device='cpu')
    return disentanglement.compute_disentanglement(opts, num_samples, probe_res=32, probe_kwargs=PROBE)

def scene_G(mode):
    return disentanglement.SceneGenerator(CFG, NUM_DAYS, CFG.date_start, 64, mode=mode)

def _import_benchmark(name):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks'))
    return importlib.import_module(name)

def _random_time_generator(cycle_min_res=0):
    """A tiny 64x64 generator of the tiny sequence (slots lin and day) whose styles do depend on the times."""
    torch.manual_seed(0)
    cond_args = dict(type='fourier', f_manual=[float(NUM_DAYS)], include_lin=True, start_ts=CFG.date_start,
        num_days=NUM_DAYS, cycle_min_res=cycle_min_res)
    G = networks_stylegan2.Generator(z_dim=8, c_dim=1, w_dim=8, img_resolution=64, img_channels=3, cond_args=cond_args,
        mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16).eval()
    with torch.no_grad(): # make time matter: at init the styles pass only the constant feature through
        for name, param in G.named_parameters():
            if name.endswith('c_to_scales.weight'):
                param.normal_()
    return G

#----------------------------------------------------------------------------

def test_solar_hour_matches_the_clock():
    u = CFG.date_start + np.arange(0, 86400, 3600.0) + 200 * 86400
    elevation, azimuth = solar.sun_position(u, CFG.lat, CFG.lon)
    hour = factor_probe.solar_hour(elevation, azimuth, CFG.lat)
    clock = np.mod(u / 3600 + CFG.lon / 15, 24) - 12 # mean solar time from noon; the equation of time is < 17 minutes
    assert np.all(factor_probe.circular_error(hour, clock, 24) < 17 / 60)

def test_slots_round_trip():
    G = scene_G('ideal')
    names, tl = disentanglement.slot_layout(G)
    assert names == ['lin', 'day']
    rng = np.random.default_rng(0)
    u_lin = tl.t_to_unix(rng.random(10))
    u_sun = factor_probe.daylight_time(CFG, u_lin, rng)
    t = tl.unix_to_slots(u_sun, u_lin, names)
    back_sun, back_lin = tl.slots_to_unix(t.astype(np.float64), names)
    assert np.allclose(back_lin, u_lin, atol=60) and np.allclose(back_sun, u_sun, atol=60)
    assert np.all(solar.sun_position(u_sun, CFG.lat, CFG.lon)[0] > factor_probe.MIN_ELEVATION)

def test_needs_a_synthetic_dataset(tmp_path):
    kwargs = write_zip(tmp_path / 'plain.zip', smooth_images(4, 0))
    opts = metric_utils.MetricOptions(G=scene_G('ideal'), dataset_kwargs=kwargs, device='cpu')
    with pytest.raises(ValueError, match='not a known synthetic sequence'):
        disentanglement.compute_disentanglement(opts, 8, probe_res=32, probe_kwargs=PROBE)

def test_calibration(synth):
    ideal, ignore_c, ignore_z, memorize = (evaluate(scene_G(mode), synth) for mode in ('ideal', 'ignore_c', 'ignore_z', 'memorize'))
    assert list(ideal) == disentanglement.result_keys(['lin', 'day'])
    # The renderer itself: control errors at the probe's own error, weather moved by z.
    assert ideal['err_hour'] < 1.5 * ideal['probe_err_hour'] + 0.25 and ideal['err_trend'] < 1.5 * ideal['probe_err_trend'] + 0.02
    assert ideal['move_day_hour'] > 0.6 and ideal['move_lin_trend'] > 0.6 and ideal['z_weather'] > 0.4
    # Ignoring c: no control; ignoring z: no weather from z; memorising: time moves the weather (leakage).
    assert ignore_c['err_hour'] > max(2 * ideal['err_hour'], ideal['err_hour'] + 1) and ignore_c['err_trend'] > 3 * ideal['err_trend']
    assert ignore_z['z_weather'] == 0 and ideal['z_weather'] > 0.4
    assert memorize['leakage'] > 1.6 * ideal['leakage'] and memorize['z_weather'] == 0

def test_network_generator(synth):
    """A (random) TLGAN generator of the tiny sequence's timeline goes through the metric."""
    torch.manual_seed(0)
    cond_args = dict(type='fourier', f_manual=[float(NUM_DAYS)], include_lin=True, start_ts=CFG.date_start, num_days=NUM_DAYS)
    G = networks_stylegan2.Generator(z_dim=8, c_dim=1, w_dim=8, img_resolution=64, img_channels=3, cond_args=cond_args,
        mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16)
    r = evaluate(G, synth, num_samples=8)
    assert list(r) == disentanglement.result_keys(['lin', 'day']) and all(np.isfinite(v) for v in r.values())

def test_scene_generator_images():
    G = disentanglement.SceneGenerator(CFG, NUM_DAYS, CFG.date_start, 64, out_rect=(0, 8, 64, 56))
    with torch.no_grad():
        images = G(torch.zeros([2, 3]), torch.full([2, 1], 0.3))
    assert images.shape == (2, 3, 64, 64) and images.min() >= -1 and images.max() <= 1
    assert (images[:, :, :8] == -1).all() and (images[:, :, 56:] == -1).all() and images[:, :, 8:56].std() > 0.05

#----------------------------------------------------------------------------

def test_weather_by_date_tells_memorised_weather_from_weather_of_z(synth):
    """benchmarks/weather_by_date.py: the renderer's weather comes from z alone, so at a fixed latent it stays put over
    the dates; a generator that memorises the sequence's weather follows the real weather of each date, with every
    latent alike (sd_common). With the trend slot held, the renderer's building stays put over the dates."""
    weather_by_date = _import_benchmark('weather_by_date')
    def rows(mode, trend=None):
        opts = metric_utils.MetricOptions(G=scene_G(mode), dataset_kwargs=synth.kwargs, device='cpu')
        return weather_by_date.weather_by_date(opts, latents=4, step=1, trend=trend, probe_res=32, probe_kwargs=PROBE)
    (ideal, monthly), (memorised, _) = rows('ideal'), rows('memorize')
    assert memorised['cloud']['corr_real'][0] > 0.7
    assert ideal['cloud']['sd_dates'] < memorised['cloud']['sd_dates'] / 2
    assert memorised['cloud']['sd_latents'] < 0.2 < ideal['cloud']['sd_latents'] # the memorised weather ignores z
    assert ideal['cloud']['sd_common'] < memorised['cloud']['sd_common'] / 2 # every latent's weather follows the date
    held, held_monthly = rows('ideal', trend=0.5) # the building no longer follows the dates
    assert held['trend']['sd_dates'] < ideal['trend']['sd_dates'] / 4 and ideal['trend']['corr_real'][0] > 0.9
    trend_by_month = [[row['trend'] for row in m.values()] for m in (monthly, held_monthly)]
    assert len(monthly) == 2 and np.ptp(trend_by_month[1]) < np.ptp(trend_by_month[0]) / 4 # the 40 days span two months

def test_hour_spread_of_the_renderer_and_of_a_generator_that_ignores_time(synth):
    """benchmarks/hour_spread.py: circular statistics on the 24-hour circle; the renderer draws each label's hour for
    every latent (small bias and spread), a generator that ignores c draws noon whatever the label (large bias)."""
    hour_spread = _import_benchmark('hour_spread')
    mean, sd = hour_spread.circular_stats(np.array([[23.0, 1.0], [5.0, 5.0]]))
    assert np.allclose(mean, [0, 5], atol=1e-9) and sd[1] < 1e-5 and 0.9 < sd[0] < 1.1
    def stats(mode):
        opts = metric_utils.MetricOptions(G=scene_G(mode), dataset_kwargs=synth.kwargs, device='cpu')
        return hour_spread.hour_spread(opts, latents=4, times=12, probe_res=32, probe_kwargs=PROBE)
    (bias, spread, truth), (bias_c, _, _) = stats('ideal'), stats('ignore_c')
    assert np.median(np.abs(bias)) < 1 and np.median(spread) < 1
    assert np.median(np.abs(bias_c)) > 1.5 and np.corrcoef(bias_c, truth)[0, 1] < -0.8 # noon everywhere: bias = -truth

def test_leak_by_layer_sees_where_the_cycles_reach(synth):
    """benchmarks/leak_by_layer.py on a random generator of the tiny sequence whose layers below 16x16 ignore the
    cycles (cycle_min_res=16): a day change confined to the ws that feed only those layers moves nothing, while the
    same change in every layer, and z or the trend in those same ws, do move the probed factors."""
    leak_by_layer = _import_benchmark('leak_by_layer')
    G = _random_time_generator(cycle_min_res=16)
    groups = leak_by_layer.parse_groups('0-2,3-9', G)
    assert list(groups) == ['all', 'ws 0-2 (4-8)', 'ws 3-9 (8-64)'] and leak_by_layer.ws_resolutions(G)[3] == {8, 16}
    assert leak_by_layer.parse_groups('all', G) == {'all': list(range(G.num_ws))}
    opts = metric_utils.MetricOptions(G=G, dataset_kwargs=synth.kwargs, device='cpu')
    moves = leak_by_layer.leak_by_layer(opts, groups, 32, probe_res=32, probe_kwargs=PROBE)
    assert list(moves) == ['z', 'day', 'lin']
    total = lambda inp, group: sum(moves[inp][group].values())
    assert total('day', 'ws 0-2 (4-8)') == 0
    assert min(total('day', 'all'), total('day', 'ws 3-9 (8-64)'), total('z', 'ws 0-2 (4-8)'), total('lin', 'ws 0-2 (4-8)')) > 0.05

def test_leak_by_layer_mute_takes_a_slot_out_of_chosen_layers(synth):
    """benchmarks/leak_by_layer.py --mute: the day muted in every layer moves nothing while the trend still does; the
    trend muted in the layers up to 8x8 loses its t weights there and keeps its constant and every other weight; a
    slot the generator lacks, and a band without layers, are refused."""
    leak_by_layer = _import_benchmark('leak_by_layer')
    G = _random_time_generator()
    muted = copy.deepcopy(G)
    with torch.no_grad():
        leak_by_layer.mute_slot(muted, 'day', 4, 64)
    opts = metric_utils.MetricOptions(G=muted, dataset_kwargs=synth.kwargs, device='cpu')
    moves = leak_by_layer.leak_by_layer(opts, leak_by_layer.parse_groups('all', G), 32, probe_res=32, probe_kwargs=PROBE)
    assert sum(moves['day']['all'].values()) == 0 and sum(moves['lin']['all'].values()) > 0.05
    muted = copy.deepcopy(G)
    with torch.no_grad():
        leak_by_layer.mute_slot(muted, 'lin', 4, 8)
    for (name, before), after in zip(G.named_parameters(), muted.parameters()):
        if name.startswith(('synthesis.b4.', 'synthesis.b8.')) and name.endswith('c_to_scales.weight'):
            assert (after[:, 1] == 0).all() and torch.equal(after[:, [0, 2, 3]], before[:, [0, 2, 3]])
        else:
            assert torch.equal(after, before), name
    with pytest.raises(click.BadParameter, match='not a time slot'):
        leak_by_layer.mute_slot(muted, 'year', 4, 64)
    with pytest.raises(click.BadParameter, match='no style layer'):
        leak_by_layer.mute_slot(muted, 'day', 128, 256)

def test_degraded_scene_blurs_and_adds_noise_tied_to_the_latents():
    """benchmarks/disent_floor.py --blur/--noise: the blurred renders lose fine detail; the noise is the same for the
    same latents at another time (so it moves no reading by itself) and differs for other latents."""
    disent_floor = _import_benchmark('disent_floor')
    scene = lambda **kw: disent_floor.DegradedScene(CFG, NUM_DAYS, CFG.date_start, 64, **kw)
    gen = torch.Generator().manual_seed(0)
    z, c = torch.randn([2, 3], generator=gen), torch.full([2, 1], 0.5)
    with torch.no_grad():
        sharp, blurred = scene()(z, c), scene(blur=2)(z, c)
        detail = lambda img: (img[..., 1:] - img[..., :-1]).abs().mean()
        assert detail(blurred) < 0.6 * detail(sharp) and (blurred.mean() - sharp.mean()).abs() < 0.02
        noisy = scene(noise=0.1)
        first, later, other = noisy(z, c) - sharp, noisy(z, c + 0.01) - scene()(z, c + 0.01), noisy(-z, c) - scene()(-z, c)
        assert torch.allclose(first, later, atol=1e-5) and 0.09 < first.std() < 0.11 and not torch.allclose(first, other, atol=1e-2)
