"""Automatic alignment on a synthetic sequence with known camera jitter (day, night and fog frames), and the warps file."""

import dataclasses
import json
import os

import numpy as np
import pytest

from preproc import autoalign, discovery, geometry
from preproc.synth import PRESETS, generate_sequence

SIZE = 128

@pytest.fixture(scope='module')
def sequence(tmp_path_factory):
    """The tiny preset at 128 px with strong jitter (2 px std at 128 px): (frames, factors)."""
    out = tmp_path_factory.mktemp('synth')
    cfg = dataclasses.replace(PRESETS['tiny'], size=(SIZE, SIZE), jitter_px=4.0, seed=1)
    generate_sequence(str(out), cfg, workers=1, progress=False)
    with open(out / 'factors.json', encoding='utf-8') as f:
        factors = json.load(f)['frames']
    return discovery.discover(str(out / 'frames')).frames, factors

def residual_px(result, factors):
    """Per frame: distance between the estimated and the true translation, in pixels of the 128 px frame. The synth
    moves the content by jitter * SIZE / 256 px; relative to the reference, the warp must undo the difference."""
    j = np.array([[f['jitter_x'], f['jitter_y']] for f in factors]) * SIZE / 256
    true = -(j - j[result.reference]) / SIZE
    return np.hypot(*(result.warps[:, 4:6] - true).T) * SIZE

#----------------------------------------------------------------------------

def test_daylight_frames_align_to_a_third_of_a_pixel(sequence):
    frames, factors = sequence
    result = autoalign.estimate(frames, workers=0)
    err = residual_px(result, factors)
    elevation = np.array([f['sun_elevation'] for f in factors])
    fog = np.array([f['fog'] for f in factors])
    day = (elevation > 5) & (fog < 0.3)
    assert result.warps.shape == (len(frames), 6) and result.warps.dtype == np.float64
    assert np.all(result.warps[:, :4] == 0) # Translation only.
    assert factors[result.reference]['sun_elevation'] > 5 # A daylight reference.
    assert np.median(err[day]) <= 0.3
    assert np.median(err[~result.interpolated]) <= 0.5 # What is trusted is right, night or day.
    assert np.all((result.confidence >= 0) & (result.confidence <= 1))
    assert np.array_equal(result.interpolated, result.confidence < autoalign.MIN_CONFIDENCE)
    assert result.interpolated[elevation < -6].mean() > 0.5 # Most night frames are not trusted ...
    assert not result.interpolated[day].mean() > 0.25      # ... most daylight frames are.

def test_given_reference_progress_and_cancel(sequence):
    frames, _ = sequence
    frames = frames[:40]
    calls = []
    result = autoalign.estimate(frames, reference=5, workers=0, progress=lambda done, total: calls.append((done, total)))
    assert result.reference == 5 and np.all(result.warps[5] == 0) and result.confidence[5] == 1
    assert calls[-1] == (40, 40) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    with pytest.raises(autoalign.Cancelled):
        autoalign.estimate(frames, workers=0, cancel=lambda: True)
    with pytest.raises(ValueError, match='outside'):
        autoalign.estimate(frames, reference=40)

def test_low_confidence_rows_are_interpolated():
    values = np.array([[0.0], [9.0], [2.0], [9.0], [9.0]])
    good = np.array([True, False, True, False, False])
    assert np.allclose(autoalign.fill_from_neighbours(values, good)[:, 0], [0, 1, 2, 2, 2])
    assert np.all(autoalign.fill_from_neighbours(values, np.zeros(5, bool)) == 0)

#----------------------------------------------------------------------------
# The warps file.

def test_save_warps_writes_the_original_format_atomically(tmp_path):
    rows = np.random.default_rng(0).normal(0, 0.01, (7, 6))
    path = str(tmp_path / 'warps_auto.npy')
    assert autoalign.save_warps(path, rows.astype(np.float32)) == path
    loaded = geometry.load_warps(path, 7)
    assert loaded.dtype == np.float64 and np.allclose(loaded, rows.astype(np.float32))
    assert os.listdir(tmp_path) == ['warps_auto.npy'] # No temporary file left.
    with pytest.raises(FileExistsError):
        autoalign.save_warps(path, rows, overwrite=False)

@pytest.mark.parametrize('bad', [np.zeros((5, 5)), np.zeros((0, 6)), np.zeros(6), np.zeros((3, 6), dtype=np.int64),
                                 np.full((2, 6), np.nan)])
def test_save_warps_refuses_wrong_arrays(tmp_path, bad):
    with pytest.raises(ValueError):
        autoalign.save_warps(str(tmp_path / 'w.npy'), bad)
    assert not os.listdir(tmp_path)

#----------------------------------------------------------------------------
