"""Headless pieces of the preprocessing UI: manual alignment (ranges, fits, the warps format), the Lock view and the
timeline strip against a synthetic sequence's factors, the saved UI state, and the user transform / pad / kernel
options the UI and the CLI share."""

import dataclasses
import json
import os

import numpy as np
import pytest

from preproc import autoalign, browse, export, geometry, manual_align, ui_state
from preproc.synth import PRESETS, generate_sequence
from training import timeline

SIZE = (64, 48)

#----------------------------------------------------------------------------
# Manual alignment.

def _ranges(ref_points, moved_points, start=5):
    r = manual_align.initial()
    for p in ref_points:
        r = manual_align.add_point(r, 2, p)
    r = manual_align.add_range(r, start)
    for p in moved_points:
        r = manual_align.add_point(r, start + 1, p)
    return r

def _apply(m, pts):
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]

def test_ranges_points_and_keyframes():
    r = manual_align.add_range(manual_align.initial(), 10)
    r = manual_align.add_range(r, 4)
    assert [x.start for x in r] == [0, 4, 10] and manual_align.add_range(r, 4) == r
    assert [manual_align.range_of(r, i) for i in (0, 3, 4, 9, 10, 99)] == [0, 0, 1, 1, 2, 2]
    r = manual_align.add_point(r, 6, (0.5, 0.25))
    r = manual_align.add_point(r, 7, (0.1, 0.1))
    assert r[1].keyframe == 7 and r[1].points == ((0.5, 0.25), (0.1, 0.1))
    assert manual_align.delete_point(r, 8, (0.52, 0.25), radius=0.01) == r # too far
    r = manual_align.delete_point(r, 8, (0.505, 0.25), radius=0.01)
    assert r[1].points == ((0.1, 0.1),)
    assert manual_align.keyframes(r) == [0, 7, 10]
    r0 = manual_align.delete_range(r, 0)
    assert [x.start for x in r0] == [0, 10] and r0[0].points == ((0.1, 0.1),) # the next range extends back to 0
    assert [x.start for x in manual_align.add_ranges(manual_align.initial(), 3, 0, 99)] == [0, 50, 99]
    assert manual_align.clear_points(r, 1)[1].points == ()

@pytest.mark.parametrize('mode', manual_align.MODES)
def test_fits_undo_a_known_transform(mode):
    ref = np.array([[0.2, 0.3], [0.8, 0.25], [0.5, 0.9], [0.3, 0.6]])
    S = np.array(SIZE, dtype=np.float64)
    # The moved frame shows the scene shifted by (3, -2) px, and for the affine fits also rotated / sheared.
    shift = np.array([3.0, -2.0]) / S
    lin = {'translate': np.eye(2), 'affine4': np.array([[0.98, -0.05], [0.05, 0.98]]),
           'affine6': np.array([[1.02, 0.03], [-0.04, 0.97]])}[mode]
    moved = ((ref * S - S / 2) @ lin.T + S / 2) / S + shift
    r = _ranges(ref, moved)
    rows = manual_align.warps(r, target=0, mode=mode, size=SIZE, num_frames=9)
    assert rows.shape == (9, 6) and rows.dtype == np.float64
    assert np.allclose(rows[:5], 0) # the reference range: the identity
    m = geometry.rows_to_matrices(rows[7:8])[0]
    assert np.abs((_apply(m, moved) - ref) * S).max() < 1e-6 # back onto the reference, in pixels
    # Target in the other range: the inverse transform.
    m2 = geometry.rows_to_matrices(manual_align.warps(r, target=6, mode=mode, size=SIZE, num_frames=9)[:1])[0]
    assert np.abs((_apply(m2, ref) - moved) * S).max() < 1e-6

def test_affine4_is_a_similarity_in_pixels_on_a_non_square_frame():
    ref = np.array([[0.2, 0.3], [0.8, 0.25], [0.5, 0.9]])
    m = manual_align.fit(ref, ref[::-1] * 0 + ref + 0.01, 'affine4', SIZE)
    S = np.diag([SIZE[0], SIZE[1]])
    lin = S @ m[:, :2] @ np.linalg.inv(S)
    assert np.isclose(lin[0, 0], lin[1, 1]) and np.isclose(lin[0, 1], -lin[1, 0])

def test_too_few_points_name_the_range_and_write_nothing(tmp_path):
    r = _ranges([(0.2, 0.2), (0.7, 0.7)], [(0.25, 0.2)], start=5)
    with pytest.raises(ValueError, match=r'\[5-end\] \(1 pts\)'):
        manual_align.warps(r, 0, 'affine4', SIZE, 9)
    with pytest.raises(ValueError, match='on a line'):
        manual_align.warps(_ranges([(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)], [(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)]),
                           0, 'affine6', SIZE, 9)
    rows = manual_align.warps(r, 0, 'translate', SIZE, 9)
    path = autoalign.save_warps(str(tmp_path / 'warps_manual.npy'), rows)
    assert np.array_equal(geometry.load_warps(path, 9), rows) # the original's format, read back by --warps
    assert sorted(os.listdir(tmp_path)) == ['warps_manual.npy'] # atomic: no temporary file left
    back = manual_align.to_discovery_order(rows[:3], [2, 0, 3], 5)
    assert np.array_equal(back[[2, 0, 3]], rows[:3]) and not back[[1, 4]].any()

#----------------------------------------------------------------------------
# Lock view and timeline strip, against a synthetic sequence.

@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    folder = tmp_path_factory.mktemp('synth')
    cfg = dataclasses.replace(PRESETS['tiny'], days=12.0, size=(32, 32))
    generate_sequence(str(folder), cfg, workers=1, progress=False)
    with open(folder / 'factors.json', encoding='utf-8') as f:
        frames = json.load(f)['frames']
    return np.array([fr['unix'] for fr in frames]), np.array([fr['hour_utc'] for fr in frames])

def test_lock_picks_the_same_time_of_day_on_the_target_date(synth):
    unix, hours = synth
    rng = np.random.default_rng(0)
    for current, target in rng.integers(0, len(unix), (40, 2)):
        k = browse.lock_index(unix, current, target)
        day_target = np.floor(unix[target] / 86400)
        # The frame is the one nearest to the locked hour on the day around the target...
        wanted = unix[target] + (((hours[current] - hours[target] + 12) % 24) - 12) * 3600
        assert k == np.abs(unix - wanted).argmin()
        # ... so its hour of day is the locked one up to the capture spacing (3 h +- 35 %, half of it at most).
        assert timeline.hours_apart(unix[k], unix[current]) <= 0.5 * 3 * 1.35 + 1e-9 or abs(np.floor(unix[k] / 86400) - day_target) <= 1
    assert browse.lock_index(unix, 7, 7) == 7
    late = np.array([0, 23, 24 + 1, 48 + 23.5]) * 3600.0 # circular: 23:00 locked, target 01:00 -> 23:00 the day before
    assert browse.lock_index(late, 1, 2) == 1 and browse.lock_index(late, 2, 3) == 3

def test_density_and_gaps():
    unix = np.concatenate([np.arange(10) * 3600.0, 40 * 3600 + np.arange(5) * 3600.0])
    counts, gaps = browse.density(unix, bins=10)
    assert counts.sum() == 15 and counts[0] > 0 and counts[-1] > 0 and 0 in counts
    assert gaps == [(9, 10)]
    assert browse.density(unix[:1], 4)[1] == []

def test_previews_decode_small_and_cache(tmp_path):
    from PIL import Image # pylint: disable=import-outside-toplevel
    from preproc import discovery # pylint: disable=import-outside-toplevel
    Image.new('RGB', (400, 300), (10, 20, 30)).save(tmp_path / 'a.jpg')
    frame = discovery.Frame(path=str(tmp_path / 'a.jpg'), name='a.jpg')
    previews = browse.Previews(64, capacity=1)
    img = previews.get(frame)
    assert max(img.shape[:2]) <= 64 and previews.get(frame) is img

#----------------------------------------------------------------------------
# The UI state.

def test_state_round_trip_and_errors_name_the_field(tmp_path):
    ranges = _ranges([(0.2, 0.3)], [(0.25, 0.3)])
    state = ui_state.UIState(export=export.ExportConfig(input='x', resolution=64, rotate=1.5, translate=(0.1, 0)),
                             view=ui_state.View(index=7, lock=True, zoom=2.0, manual=True, ranges=ranges))
    path = ui_state.save(str(tmp_path / 'state.json'), state)
    assert ui_state.load(path) == state
    ui_state.save(path, dataclasses.replace(state, view=ui_state.View()))
    assert ui_state.load(path).view == ui_state.View() and sorted(os.listdir(tmp_path)) == ['state.json']
    for edit, message in [(lambda d: d['export'].update(resolution='x'), 'export.resolution: expected an integer'),
                          (lambda d: d['view'].update(colour=1), 'view.colour: unknown field'),
                          (lambda d: d['view'].update(warp_mode='x'), 'view.warp_mode: expected one of'),
                          (lambda d: d['view']['ranges'][1].update(points=[[1]]), r'view.ranges\[1\].points\[0\]'),
                          (lambda d: d.update(version=9), 'version: expected 1')]:
        doc = state.to_json()
        edit(doc)
        with pytest.raises(ValueError, match=message):
            ui_state.from_json(doc, 'state.json')
    (tmp_path / 'bad.json').write_text('{"version": 1,')
    with pytest.raises(ValueError, match='Cannot read the state file'):
        ui_state.load(str(tmp_path / 'bad.json'))

#----------------------------------------------------------------------------
# User transform, pad, kernel.

def test_user_transform_composes_with_warps():
    assert geometry.user_matrix(SIZE) is None
    m = geometry.user_matrix(SIZE, translate=(0.25, -0.5))
    assert np.allclose(m[:2], [[1, 0, 0.25], [0, 1, -0.5]])
    m = geometry.user_matrix(SIZE, rotate=90)
    centre = np.array([0.5, 0.5, 1])
    assert np.allclose(m @ centre, centre)
    # 90 degrees counter-clockwise on screen: a point right of the centre goes up (y down).
    right = np.array([0.5 + 10 / SIZE[0], 0.5, 1])
    assert np.allclose((m @ right - centre)[:2] * SIZE, [0, -10])
    rows = np.zeros((3, 6))
    rows[:, 4] = 0.1
    both = geometry.rows_to_matrices(geometry.apply_user(geometry.user_matrix(SIZE, zoom=2), rows, 3))
    assert np.allclose(both[:, :, 2], [[-0.3, -0.5]] * 3) # zoom about the centre after the warp's shift

def test_pad_and_kernel_plans():
    plan = geometry.make_plan((64, 48), 32, pad=geometry.parse_pad('0.125,2', 32))
    assert plan.pad == (4, 7) and plan.size == (24, 18) # 24x18 of the 24x28 inside the pad; sides stay even
    assert geometry.make_plan((64, 48), 32, fit='crop', pad=(0, 4)).size == (32, 24)
    with pytest.raises(ValueError, match='Malformed --pad'):
        geometry.parse_pad('0.6,0', 32)
    with pytest.raises(ValueError, match='--kernel'):
        geometry.make_plan((64, 48), 32, kernel='nearest')

def test_default_options_keep_the_recorded_keys():
    """The later options (rotate, zoom, translate, kernel, pad) appear in meta.preproc and the fingerprint only when
    set: earlier exports keep their bytes."""
    legacy = ['input', 'resolution', 'name', 'time_format', 'timezone', 'skip_bad_times', 'check_order', 'video_start',
              'video_interval', 'trim', 'skip', 'warps', 'warp_smoothing', 'crop', 'fit', 'quality']
    options = {k: v for k, v in dataclasses.asdict(export.ExportConfig()).items() if k not in export.RUNTIME_FIELDS}
    assert list(export._recorded(options)) == legacy # pylint: disable=protected-access
    set_ = export._recorded(dict(options, rotate=2.0, translate=(0.0, 0.1), kernel='box')) # pylint: disable=protected-access
    assert set_['rotate'] == 2.0 and set_['translate'] == [0.0, 0.1] and set_['kernel'] == 'box' and 'zoom' not in set_

#----------------------------------------------------------------------------
