"""Tests of the synthetic webcam sequence (preproc/synth): solar geometry, capture times, weather, rendering, CLI."""

import dataclasses
import datetime
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from preproc import synth_sequence
from preproc.synth import PRESETS, factors_at, render, sample_capture_times, scene, solar
from preproc.synth.sequence import frame_name

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = PRESETS['tiny']

def utc(*args):
    return datetime.datetime(*args, tzinfo=datetime.timezone.utc).timestamp()

def scene_factors(**overrides):
    """Factors of one clear summer noon, frame-independent defects switched off; overrides may be arrays."""
    fac = dict(sun_elevation=55.0, sun_azimuth=190.0, season_phase=0.5, trend=0.5, cloud=0.1, fog=0.0, rain=0.0,
               snow=0.0, jitter_x=0.0, jitter_y=0.0, exposure=1.0, occluder=0, occluder_x=0.5, occluder_y=0.5,
               occluder_kind=0, noise_seed=1)
    fac.update(overrides)
    return fac

#----------------------------------------------------------------------------
# Solar geometry.

def test_sun_at_june_solstice_noon():
    day = utc(2021, 6, 21)
    minutes = day + np.arange(24 * 60) * 60.0
    elevation, azimuth = solar.sun_position(minutes, 47.0, 8.5)
    noon = np.argmax(elevation)
    assert abs(elevation[noon] - (90 - 47.0 + 23.44)) < 0.5
    assert abs(azimuth[noon] - 180) < 1
    assert abs(noon / 60 - (12 - 8.5 / 15)) < 0.25 # Local solar noon near 11:26 UTC.
    assert azimuth[noon - 180] < 180 < azimuth[noon + 180] # East in the morning, west in the afternoon.

def test_sun_below_horizon_at_midnight_and_day_length():
    lengths = []
    for month in (6, 12):
        day = utc(2021, month, 21)
        elevation, _ = solar.sun_position(day - 8.5 / 15 * 3600, 47.0, 8.5) # Local solar midnight.
        assert elevation < -15
        minutes = day + np.arange(24 * 60) * 60.0
        lengths.append((solar.sun_position(minutes, 47.0, 8.5)[0] > 0).sum() / 60)
    assert lengths[0] > 15 and lengths[1] < 9

#----------------------------------------------------------------------------
# Capture times and factors.

def test_capture_times_uneven_with_outage():
    unix = sample_capture_times(TINY, np.random.default_rng(0))
    assert 150 < unix.size < 400
    gaps = np.diff(unix)
    assert np.all(gaps > 0) and np.all(unix == np.round(unix))
    assert TINY.date_start <= unix[0] and unix[-1] < TINY.date_end
    assert gaps.std() > 0.1 * np.median(gaps)
    assert gaps.max() > 12 * 3600

def test_factors_deterministic_and_seeded():
    unix = sample_capture_times(TINY, np.random.default_rng(0))
    a, b = factors_at(unix, TINY), factors_at(unix, TINY)
    other = factors_at(unix, dataclasses.replace(TINY, seed=1))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    for key in ('cloud', 'fog', 'rain', 'jitter_x', 'exposure', 'noise_seed'):
        assert not np.allclose(a[key], other[key]), key
    np.testing.assert_array_equal(a['sun_elevation'], other['sun_elevation'])
    subset = factors_at(unix[::7], TINY) # A frame's weather does not depend on the other frames.
    for key in ('cloud', 'fog', 'rain', 'snow', 'occluder', 'noise_seed'):
        np.testing.assert_allclose(subset[key], a[key][::7], atol=1e-12)
    assert a['trend'][0] < 0.01 and a['trend'][-1] > 0.99 and np.all(np.diff(a['trend']) >= 0)

def test_weather_independent_of_time_of_day():
    cfg = PRESETS['demo']
    unix = cfg.date_start + np.arange(0, 730 * 24) * 3600.0 + 1234.0
    fac = factors_at(unix, cfg)
    angle = 2 * np.pi * fac['hour_utc'] / 24
    for key in ('cloud', 'fog', 'rain'):
        x = fac[key]
        assert x.std() > 0.05, key
        for phase in (np.cos(angle), np.sin(angle)):
            assert abs(np.corrcoef(x, phase)[0, 1]) < 0.05, key
    cloud = fac['cloud'] - fac['cloud'].mean()
    lag = lambda h: np.mean(cloud[h:] * cloud[:-h]) / cloud.var()
    assert lag(1) > 0.9 and lag(24 * 30) < 0.3 # Correlated over hours, forgotten after weeks.
    winter, summer = fac['season_phase'] < 0.1, (fac['season_phase'] > 0.45) & (fac['season_phase'] < 0.65)
    assert fac['snow'][winter].mean() > 0.3 and fac['snow'][summer].max() == 0

#----------------------------------------------------------------------------
# Rendering.

def test_render_from_factors_only():
    frames = render(scene_factors(sun_elevation=np.array([50.0, 10.0])), size=(48, 32))
    assert frames.shape == (2, 32, 48, 3) and frames.dtype == np.uint8
    fac = factors_at(sample_capture_times(TINY, np.random.default_rng(0))[:20], TINY)
    batch = render(fac, size=(32, 32))
    single = render({k: v[13:14] for k, v in fac.items()}, size=(32, 32))
    np.testing.assert_array_equal(batch[13], single[0]) # Batching does not change a frame.
    with pytest.raises(KeyError, match='trend'):
        render({k: v for k, v in fac.items() if k != 'trend'}, size=(32, 32))

def test_night_much_darker_than_noon():
    frames = render(scene_factors(sun_elevation=np.array([60.0, -30.0, 20.0, -30.0]), cloud=np.array([0.1, 0.1, 0.9, 0.9]),
                                  sun_azimuth=np.array([180.0, 0.0, 180.0, 0.0])), size=(64, 64)).astype(np.float32)
    mean = frames.mean(axis=(1, 2, 3))
    assert mean[1] < 0.3 * mean[0] and mean[3] < 0.3 * mean[2]

def test_winter_differs_from_summer():
    frames = render(scene_factors(season_phase=np.array([0.5, 0.03]), snow=np.array([0.0, 1.0]), sun_elevation=30.0),
                    size=(64, 64)).astype(np.float32)
    ground = frames[:, 40:] # The meadow fills the lower part of the view.
    greenness = ground[..., 1] - 0.5 * (ground[..., 0] + ground[..., 2])
    saturation = ground.max(axis=-1) - ground.min(axis=-1)
    assert greenness[0].mean() > greenness[1].mean() + 15
    assert saturation[1].mean() < 0.5 * saturation[0].mean() and ground[1].mean() > ground[0].mean()

def test_fog_lowers_contrast():
    frames = render(scene_factors(fog=np.array([0.0, 0.5, 1.0])), size=(64, 64)).astype(np.float32)
    contrast = frames.std(axis=(1, 2, 3))
    assert contrast[2] < 0.5 * contrast[0] and contrast[1] < 0.9 * contrast[0]

def test_building_grows_with_trend():
    trend = np.linspace(0, 1, 11)
    frames = render(scene_factors(trend=trend), size=(64, 64)).astype(np.float32)
    rows, cols = zip(*[face.box for face in scene.layout(64, 64).faces])
    rows = slice(min(r.start for r in rows), max(r.stop for r in rows))
    region = frames[:, rows, min(c.start for c in cols):max(c.stop for c in cols)]
    change = np.abs(region - region[:1]).mean(axis=(1, 2, 3))
    assert np.corrcoef(change, trend)[0, 1] > 0.9
    assert np.all(np.diff(change[:9]) > 0) # Rising floor by floor until the crane leaves (at trend 0.9).
    assert change[-1] > 0.7 * change.max() and change[-1] > 20

def test_night_occluders_are_drops():
    """Birds do not fly at night and a dark blob on a dark scene hides nothing: after dusk every occluder is a drop,
    whose glint shows; by day all three kinds occur."""
    cfg = dataclasses.replace(PRESETS['demo'], occluder_prob=1.0)
    fac = factors_at(cfg.date_start + np.arange(0, 60 * 86400, 1800.0), cfg)
    night = fac['sun_elevation'] < -6
    assert night.any() and np.all(fac['occluder_kind'][night] == 0)
    assert set(fac['occluder_kind'][fac['sun_elevation'] > 0]) == {0, 1, 2}

def test_occluder_and_jitter_change_the_frame():
    frames = render(scene_factors(occluder=np.array([0, 1, 1, 1, 0]), occluder_kind=np.array([0, 0, 1, 2, 0]),
                                  jitter_x=np.array([0.0, 0, 0, 0, 1.5])), size=(64, 64)).astype(np.float32)
    for k in range(1, 5):
        assert np.abs(frames[k] - frames[0]).max() > 30, k

#----------------------------------------------------------------------------
# Sequence folder and CLI.

def test_cli_tiny_sequence(tmp_path):
    out = tmp_path / 'tiny'
    result = subprocess.run([sys.executable, 'preproc/synth_sequence.py', f'--outdir={out}', '--preset=tiny',
                             '--workers=2'], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    doc = json.loads((out / 'factors.json').read_text())
    files = sorted(os.listdir(out / 'frames'))
    assert doc['version'] == 1 and doc['config']['name'] == 'tiny' and doc['outages']
    assert [f['file'] for f in doc['frames']] == [f'frames/{name}' for name in files]
    unix = np.array([f['unix'] for f in doc['frames']])
    assert np.all(np.diff(unix) > 0)
    for frame in doc['frames']:
        name = os.path.basename(frame['file'])
        assert re.fullmatch(r'\d{8}_\d{6}\.jpg', name) and name == frame_name(frame['unix'])
        assert datetime.datetime.strptime(name[:-4], '%Y%m%d_%H%M%S').replace(
            tzinfo=datetime.timezone.utc).timestamp() == frame['unix']
    np.testing.assert_allclose([f['cloud'] for f in doc['frames']], factors_at(unix, TINY)['cloud'])
    assert Image.open(out / doc['frames'][0]['file']).size == (64, 64)

def test_cli_refuses_non_empty_outdir(tmp_path):
    (tmp_path / 'notes.txt').write_text('keep me')
    runner = CliRunner()
    args = [f'--outdir={tmp_path}', '--preset=tiny', '--days=2', '--size=32x32', '--workers=1']
    result = runner.invoke(synth_sequence.main, args)
    assert result.exit_code != 0 and 'not empty' in result.output
    assert not (tmp_path / 'frames').exists()
    result = runner.invoke(synth_sequence.main, args + ['--overwrite', '--interval-min=120'])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / 'factors.json').read_text())
    assert len(os.listdir(tmp_path / 'frames')) == len(doc['frames']) > 10
    assert (tmp_path / 'notes.txt').read_text() == 'keep me'

def test_cli_bad_options(tmp_path):
    runner = CliRunner()
    result = runner.invoke(synth_sequence.main, [f'--outdir={tmp_path / "x"}', '--preset=tiny', '--size=64by64'])
    assert result.exit_code != 0 and 'WxH' in result.output
    result = runner.invoke(synth_sequence.main, [f'--outdir={tmp_path / "x"}', '--preset=tiny', '--size=8x8'])
    assert result.exit_code != 0 and 'size' in result.output

#----------------------------------------------------------------------------
