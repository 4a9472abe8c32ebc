"""viz layout and rendering order: every grid cell, time-lapse column and video frame holds exactly the request the
original grid tool's rules give, read back from the pixels of a stand-in generator."""

import numpy as np
import pytest

from viz_helpers import NUM_DAYS, decode, expected_w0, replace, standin_network, use_standin
from viz import export as vexport
from viz import layout, render
from viz import state as vstate

F_YEAR, F_DAY = NUM_DAYS / 365.25, float(NUM_DAYS)

#----------------------------------------------------------------------------
# The original's rules, written out independently of viz.layout.

def original_t(sliders):
    lin, year, day = sliders
    t = lin
    t = np.floor(t * F_YEAR) / F_YEAR + np.mod(year / F_YEAR, 1 / F_YEAR)
    return np.floor(t * F_DAY) / F_DAY + np.mod(day / F_DAY, 1 / F_DAY)

def original_axis(axis, k, n, t, t_range):
    """{slot: t} of index k of n along a time axis."""
    if n == 1:
        return {}
    u = t_range[0] + (t_range[1] - t_range[0]) * k / (n - 1)
    off = (u - 0.5) * (n - 1) / n
    return {'day': {'day': t + off / F_DAY}, 'year': {'year': t + off / F_YEAR},
        'year+day': {'year': t + off / F_YEAR, 'day': t + off / F_YEAR}, 'lin': {'lin': u},
        'lin+year': {'lin': u, 'year': u}, 'c': {'lin': u, 'year': u, 'day': u}}.get(axis, {})

def grid_image(gs, soft=None):
    net = standin_network()
    renderer = use_standin(render.Renderer('cpu'), net)
    doc = vstate.Document(state=gs, soft=soft or vstate.GridSoft())
    return vexport.render_still(renderer, doc, net), net

def cell_values(image, r, c, res=16):
    vals = decode(image[r * res:(r + 1) * res, c * res:(c + 1) * res])
    return {k: v[0] for k, v in vals.items()}

#----------------------------------------------------------------------------

@pytest.mark.parametrize('axis_x,axis_y', [('day', 'year'), ('year+day', 'lin'), ('c', 'lin+year'), ('z', 'day')])
def test_grid_cells_follow_the_original_rules(axis_x, axis_y):
    gs = vstate.GridState(seeds='7,3', axis_x=axis_x, axis_y=axis_y, W=5, H=3, B=4, sliders=(0.4, 0.3, 0.25),
        t_range=(0.1, 0.9))
    image, _ = grid_image(gs)
    assert image.shape == (3 * 16, 5 * 16, 4) and np.all(image[..., 3] == 255)
    t = original_t(gs.sliders)
    for r in range(3):
        for c in range(5):
            want = {'lin': t, 'year': t, 'day': t}
            want.update(original_axis(axis_x, c, 5, t, gs.t_range))
            want.update(original_axis(axis_y, r, 3, t, gs.t_range))
            got = cell_values(image, r, c)
            for slot in ('lin', 'year', 'day'):
                assert got[slot] == pytest.approx(want[slot], abs=2e-7), (r, c, slot)
            seed = [7, 3, 4, 5, 6][c] if axis_x == 'z' else 7
            assert got['w0'] == expected_w0(seed)

@pytest.mark.parametrize('mode', vstate.SEED_MODES)
def test_seed_modes_and_crop(mode):
    gs = vstate.GridState(seeds='10', axis_x='day', axis_y='year', W=4, H=3, B=5, rand_seed=mode, crop_hor=(1, 0),
        crop_ver=(0, 1))
    image, _ = grid_image(gs)
    assert image.shape == (2 * 16, 3 * 16, 4) # crop removes whole cells
    full, _ = grid_image(replace(gs, crop_hor=(0, 0), crop_ver=(0, 0)))
    np.testing.assert_array_equal(image, full[:32, 16:]) # and changes no other cell
    for r in range(2):
        for c in range(3):
            col = c + 1
            seed = {'fixed': 10, 'per row': 10 + r, 'per col': 10 + col, 'all': 10 + r * 4 + col}[mode]
            assert cell_values(image, r, c)['w0'] == expected_w0(seed)

def test_w_lerp_blends_two_seeds():
    image, _ = grid_image(vstate.GridState(seeds='2,9', axis_x='w_lerp', axis_y='day', W=3, H=1))
    a, b = expected_w0(2), expected_w0(9)
    for c, alpha in enumerate([0, 0.5, 1]):
        assert cell_values(image, 0, c)['w0'] == pytest.approx(a + (b - a) * alpha, abs=1e-6)
    image, _ = grid_image(vstate.GridState(seeds='2', axis_x='w_lerp', axis_y='day', W=2, H=1))
    assert cell_values(image, 0, 1)['w0'] == expected_w0(1000) # one seed: blend towards seed 1000

def test_truncation_cutoff_keeps_last_layers():
    gs = vstate.GridState(seeds='4', trunc=0.5, trunc_cutoff=0)
    image, _ = grid_image(gs)
    assert cell_values(image, 0, 0)['w0'] == expected_w0(4, 0.5) # stand-in: w = z * psi on truncated layers

def test_spiral_and_coarse_to_fine_orders_visit_each_index_once():
    for W, H in [(1, 1), (5, 3), (8, 8), (7, 2)]:
        order = layout.spiral_order(W, H)
        assert sorted(order) == list(range(W * H))
        r, c = divmod(order[0], W)
        assert abs(c - (W - 1) / 2) <= 0.5 and abs(r - (H - 1) / 2) <= 0.5 # starts at the centre
    for n in [1, 2, 7, 16, 100]:
        order = layout.coarse_to_fine(n)
        assert sorted(order) == list(range(n)) and order[0] == 0
    assert layout.coarse_to_fine(8)[:4] == [0, 4, 2, 6]

def test_progressive_grid_equals_one_shot():
    gs = vstate.GridState(seeds='1', axis_x='day', axis_y='year', W=4, H=3, B=1)
    net = standin_network()
    renderer = use_standin(render.Renderer('cpu'), net)
    steps = [(done, canvas.copy()) for done, _total, canvas in vexport.iter_grid(renderer, vstate.Document(state=gs), net)]
    assert [d for d, _ in steps] == list(range(1, 13))
    assert np.sum(steps[0][1][..., 3] > 0) == 16 * 16 # one cell after the first batch
    np.testing.assert_array_equal(steps[-1][1], grid_image(replace(gs, B=5))[0])

#----------------------------------------------------------------------------
# Time-lapse images and their videos.

def sweep_doc(**soft):
    gs = vstate.GridState(seeds='3', viz_mode=vstate.VizMode.STACK_X, axis_x='day', sliders=(0.5, 0.2, 0.0), B=3)
    return vstate.Document(state=gs, soft=vstate.GridSoft(**soft))

def sample_day(k, n=16):
    t = original_t((0.5, 0.2, 0.0))
    return original_axis('day', k, n, t, (0, 1))['day']

@pytest.mark.parametrize('soft,rule', [
    (dict(video_mode=vstate.VideoMode.STACK, video_i=5), lambda x, i: ((x + i) % 16, x)),
    (dict(video_mode=vstate.VideoMode.STACK, video_i=5, cycles=3), lambda x, i: ((3 * x) % 16, x)),
    (dict(video_mode=vstate.VideoMode.STACK, video_i=2, num_strips=4, cycles=2), lambda x, i: ((2 + 2 * 16 * (x // 4) // 4) % 16, x)),
    (dict(video_mode=vstate.VideoMode.FULL, video_i=3, cycles=2), lambda x, i: ((i * 2) % 16, x)),
    (dict(video_mode=vstate.VideoMode.SINGLE, video_i=6), lambda x, i: (x, i)),
])
def test_time_lapse_columns_follow_the_original_rules(soft, rule):
    doc = sweep_doc(**soft)
    net = standin_network()
    renderer = use_standin(render.Renderer('cpu'), net)
    image = vexport.render_still(renderer, doc, net)
    vals = decode(image)
    for x in range(16):
        sample, spatial = rule(x, doc.soft.video_i)
        assert vals['day'][x] == pytest.approx(sample_day(sample), abs=2e-7), x
        assert vals['x'][x] == spatial

def test_time_lapse_video_frames_cover_the_sweep_once():
    doc = sweep_doc(video_mode=vstate.VideoMode.STACK, video_i=4)
    net = standin_network()
    renderer = use_standin(render.Renderer('cpu'), net)
    n, fps, frames = vexport.video_plan(renderer, doc, net)
    frames = list(frames)
    assert n == 16 == len(frames) and fps == 1.6 # the original's 10-second videos
    for j, frame in enumerate(frames):
        assert decode(frame)['day'][0] == pytest.approx(sample_day((4 + j) % 16), abs=2e-7)

def test_unrendered_samples_show_their_nearest_rendered_neighbour():
    doc = sweep_doc(video_mode=vstate.VideoMode.STACK)
    net = standin_network()
    renderer = use_standin(render.Renderer('cpu'), net)
    _done, n, samples, mask = next(vexport.iter_sweep(renderer, doc, net)) # first batch: samples 0, 8, 4 (B=3)
    assert sorted(np.flatnonzero(mask)) == [0, 4, 8]
    vals = decode(vexport.stack_frame(doc, samples, mask, 0))
    src = [0] * 4 + [4] * 4 + [8] * 8
    np.testing.assert_allclose(vals['day'], [sample_day(s, n) for s in src], atol=2e-7)

#----------------------------------------------------------------------------
# Sequences and per-layer times.

def test_sequence_cells_freeze_what_is_asked():
    net = standin_network()
    tl = net.timeline
    ss = vstate.SequenceState(seed=5, times='even', num_frames=6, t_range=(0.1, 0.6), day_hour=12.0, trend_t=0.25)
    frame_t = layout.sequence_times(ss, None)
    np.testing.assert_allclose(frame_t, np.linspace(0.1, 0.6, 6))
    for t, cell in zip(frame_t, layout.sequence_cells(ss, tl, frame_t)):
        lin, year, day = cell.times
        assert lin == 0.25 and cell.seed == 5
        when = tl.t_to_datetime(day)
        assert (when.hour, when.minute) == (12, 0) and when.date() == tl.t_to_datetime(t).date()
        assert year == day
    ds = layout.sequence_times(vstate.SequenceState(num_frames=3), [0.9, 0.1, 0.5, 0.3, 0.7])
    np.testing.assert_allclose(ds, [0.1, 0.5, 0.9]) # dataset times sorted, subsampled evenly

def test_layer_overrides_reach_only_their_layers():
    net = standin_network()
    renderer = use_standin(render.Renderer('cpu'), net)
    req = render.Request(network='x', seeds=(1,), times=((0.5, 0.5, 0.5),), layer_times=((4, 6, (0.5, 0.5, 0.75)),))
    vals = decode(renderer.render(req).images[0])
    assert vals['day'][0] == 0.5 and vals['day4'][0] == 0.75 # layer 0 untouched, layer 4 overridden

#----------------------------------------------------------------------------
