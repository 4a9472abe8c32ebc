"""grid_viz: the render worker, and a real window (under `xvfb-run -a`) whose screenshots are compared with the
headless exporter's pixels; drag and drop of exported files; exports; the command line."""

import os
import shutil
import threading
import time

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

from gui_helpers import own_config_folder, require_display, rgb
from training_helpers import TINY, make_tiny_dataset, run_train
from viz_helpers import save_pickle, tiny_generator
from viz import export as vexport
from viz import dataset as vdataset
from viz import layout, metadata, network, render, video
from viz import state as vstate
from viz.worker import Worker

#----------------------------------------------------------------------------
# The worker (no display needed).

def test_worker_runs_the_latest_job_and_cancels_the_one_in_flight():
    worker = Worker()
    started, closed = threading.Event(), []
    def slow():
        try:
            for k in range(1000):
                started.set()
                time.sleep(0.01)
                yield f'slow {k}', k / 1000
        finally:
            closed.append(True)
    try:
        worker.submit(slow, tag='a')
        assert started.wait(5)
        worker.submit(lambda: iter([('x', 0.5)]), tag='b') # dropped before it starts
        job = worker.submit(lambda: iter([('c1', 0.5), ('c2', 1.0)]), tag='c')
        assert worker.wait(5)
        update = worker.latest
        assert (update.job, update.tag, update.value, update.done, update.progress) == (job, 'c', 'c2', True, 1.0)
        assert closed == [True] # the cancelled generator was closed (its finally ran)
        assert worker.poll() is update and worker.poll() is None # each update once
    finally:
        worker.close()

def test_worker_publishes_the_step_a_cancelled_job_finished_as_stale():
    worker = Worker()
    go_a, go_b, a_running = threading.Event(), threading.Event(), threading.Event()
    def job(name, go, running=None):
        def fn():
            if running is not None:
                running.set()
            go.wait(5)
            yield name, 0.5
            yield name + ' again', 1.0
        return fn
    try:
        a = worker.submit(job('a', go_a, a_running))
        assert a_running.wait(5)
        b = worker.submit(job('b', go_b)) # while a computes its first step
        go_a.set()
        deadline = time.time() + 5
        while (worker.latest is None or worker.latest.job != a) and time.time() < deadline:
            time.sleep(0.01)
        assert (worker.latest.job, worker.latest.value, worker.latest.stale) == (a, 'a', True) # not 'a again'
        go_b.set()
        assert worker.wait(5)
        assert (worker.latest.job, worker.latest.value, worker.latest.stale, worker.latest.done) == (b, 'b again', False, True)
    finally:
        worker.close()

def test_worker_reports_errors_and_keeps_running():
    worker = Worker()
    def failing():
        yield 'partial', 0.5
        raise vstate.StateError('seeds: bad')
    try:
        worker.submit(failing)
        worker.wait(5)
        assert worker.latest.error == 'seeds: bad' and worker.latest.done
        worker.submit(lambda: (1 / 0 for _ in range(1)))
        worker.wait(5)
        assert worker.latest.error == 'ZeroDivisionError: division by zero'
        worker.submit(lambda: iter([(42, 1.0)]))
        worker.wait(5)
        assert worker.latest.value == 42 and not worker.latest.error
    finally:
        worker.close()

#----------------------------------------------------------------------------
# Fixtures: a pickle from a real (very short) training run, a tiny generator whose output visibly follows time, and
# one app window shared by the tests.

@pytest.fixture(scope='module')
def trained_pkl(tmp_path_factory):
    folder = tmp_path_factory.mktemp('train')
    data = make_tiny_dataset(folder / 'seq_32x32.zip', num=16, res=32)
    run_train(['--outdir', str(folder / 'runs'), '--data', data, '--kimg=0.004', '--snap=1'] + TINY)
    (run,) = os.listdir(folder / 'runs')
    (pkl,) = [f for f in os.listdir(folder / 'runs' / run) if f.startswith('network-snapshot-')]
    return str(folder / 'runs' / run / pkl)

@pytest.fixture(scope='module')
def pkl(tmp_path_factory):
    folder = tmp_path_factory.mktemp('net')
    return save_pickle(folder / 'network-snapshot-000042.pkl', tiny_generator(res=32))

@pytest.fixture(scope='module')
def app():
    require_display()
    from viz.apps.grid import GridApp # pylint: disable=import-outside-toplevel
    with own_config_folder(), GridApp(settings=False, size=(1100, 800), device='cpu') as a:
        a.zoom = 1 # one image pixel per screen pixel: screenshots are the image itself
        yield a

@pytest.fixture(scope='module')
def renderer():
    return render.Renderer(device='cpu')

def grid_doc(pkl, **state):
    return vstate.Document(network=network.ref_for(pkl), state=vstate.GridState(**{'W': 3, 'H': 2, 'B': 4, **state}))

def show(app, doc, roots=()):
    app.set_doc(doc, roots)
    assert app.wait(), 'render timed out'
    return app.screenshot_image()

def still(renderer, doc):
    doc, path = vexport.resolve(doc)
    return vexport.render_still(renderer, doc, renderer.network(path))

def same_view(a, b):
    """Two documents show the same pixels: same network content, state and presentation."""
    return (a.tool, a.network.sha256, a.state, a.soft) == (b.tool, b.network.sha256, b.state, b.soft)

#----------------------------------------------------------------------------
# Screenshots against the exporter.

def test_trained_pickle_screenshot_equals_the_exporters_png(app, trained_pkl, tmp_path):
    assert app.load(trained_pkl)
    app.doc = app.doc.with_state(W=3, H=2, B=4)
    assert app.wait()
    shot = app.screenshot_image()
    out = app.export('png', folder=tmp_path)
    assert app.wait_export() == out and os.path.basename(out).startswith('grid_network-snapshot-')
    saved = vstate.from_json(metadata.read_doc(out))
    assert same_view(saved, app.rendered_doc()) and saved.network.sha256 == network.sha256_of(trained_pkl)
    pixels = np.asarray(PIL.Image.open(out))
    assert pixels.shape == (2 * 24, 3 * 32, 4) # the letter-boxed 32 x 32 frames are cropped to out_rect (32 x 24)
    np.testing.assert_array_equal(shot, rgb(pixels))

def test_state_changes_change_the_pixels_as_the_exporter_does(app, pkl, renderer):
    doc = grid_doc(pkl, axis_x='day', axis_y='year')
    day = show(app, doc)
    np.testing.assert_array_equal(day, rgb(still(renderer, doc)))
    assert not np.array_equal(day[:, :32], day[:, 32:64]) # the day axis changes the cells along x
    doc = doc.with_state(axis_x='year') # day axis -> year axis
    year = show(app, doc)
    np.testing.assert_array_equal(year, rgb(still(renderer, doc)))
    assert not np.array_equal(year, day)
    np.testing.assert_array_equal(year[32:, 32:64], day[32:, 32:64]) # the centre column: the same date either way
    doc = doc.with_state(seeds='7')
    seven = show(app, doc)
    np.testing.assert_array_equal(seven, rgb(still(renderer, doc)))
    assert not np.array_equal(seven, year)

def test_progressive_rendering_in_spiral_order(app, pkl):
    app.set_doc(grid_doc(pkl, W=3, H=3, B=1, seeds='3'))
    partial = None
    for _ in range(2000):
        app.step()
        if app.shown is not None and app.shown.doc.state.seeds == '3' and not app.shown_done:
            partial = app.image.copy()
            break
    assert partial is not None, 'no partial result was shown'
    filled = [(partial[r * 32:(r + 1) * 32, c * 32:(c + 1) * 32, 3] == 255).all() for r in range(3) for c in range(3)]
    order = layout.spiral_order(3, 3)
    assert filled[order[0]] and filled == [i in order[:sum(filled)] for i in range(9)] # centre first, then the spiral
    assert 0 < app.progress < 1
    assert app.wait() and app.shown_done and app.progress == 1

def test_a_new_state_cancels_the_render_in_flight(app, pkl):
    app.set_doc(grid_doc(pkl, W=8, H=8, B=1))
    app.step()
    app.step()
    app.set_doc(grid_doc(pkl, W=2, H=1, seeds='5'))
    started = time.perf_counter()
    assert app.wait()
    assert app.shown.doc.state.W == 2 and app.image.shape[:2] == (32, 64)
    assert time.perf_counter() - started < 10 # did not render the 64 cells first

def test_dataset_mode_shows_the_nearest_frames(app, tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    make_tiny_dataset(data / 'seq_32x32.zip', num=16, res=32, pad_v=0)
    pkl = save_pickle(tmp_path / 'with-data.pkl', tiny_generator(res=32), dataset_path='/elsewhere/seq_32x32.zip')
    doc = grid_doc(pkl, axis_x='c', show_dataset=True, gt_tol_hours=24.0 * 730) # every cell finds a frame
    grey = show(app, doc)
    assert (grey == 128).all() and 'seq_32x32.zip not found' in app.dataset_note(app.net)
    app.renderer.datasets.roots.append(str(data)) # as --dataset_root would
    doc = doc.with_state(seeds='1') # a new state renders again
    try:
        shot = show(app, doc)
        assert app.dataset_note(app.net) == 'Data seq_32x32.zip'
    finally:
        app.renderer.datasets.roots.remove(str(data))
    assert not (shot == 128).all()
    np.testing.assert_array_equal(shot, rgb(still(render.Renderer('cpu', datasets=vdataset.DatasetFinder([data])), doc)))

#----------------------------------------------------------------------------
# Time-lapse views: the frame slider and play scrub the samples without rendering again.

def test_time_lapse_frame_slider_and_play(app, pkl, renderer):
    doc = grid_doc(pkl, viz_mode=vstate.VizMode.STACK_X, axis_x='day', B=16)
    show(app, doc)
    job = app._job # pylint: disable=protected-access
    assert app.num_frames == 32
    for soft in (dict(video_i=5), dict(video_i=9, num_strips=4), dict(video_mode=vstate.VideoMode.FULL, video_i=3),
                 dict(video_mode=vstate.VideoMode.SINGLE, video_i=20)):
        app.doc = app.doc.with_soft(**soft)
        np.testing.assert_array_equal(app.screenshot_image(), rgb(still(renderer, app.doc)))
    app.loop_seconds = 0.2
    app.play()
    seen = set()
    for _ in range(40):
        app.step()
        seen.add(app.doc.soft.video_i)
        time.sleep(0.01)
    app.play(False)
    assert len(seen) > 5 and app._job == job and not app.worker.busy # pylint: disable=protected-access

#----------------------------------------------------------------------------
# Drag and drop.

@pytest.mark.parametrize('ext', ['PNG', 'jpg', 'Mp4'])
def test_drop_restores_the_exact_state(app, pkl, renderer, tmp_path, ext):
    state = dict(viz_mode=vstate.VizMode.STACK_X, axis_x='year', seeds='4,9', trunc=0.8, B=16, sliders=(0.3, 0.2, -0.1))
    doc = grid_doc(pkl, **state) if ext != 'PNG' else grid_doc(pkl, seeds='11', axis_y='lin', W=2, crop_ver=(1, 0))
    doc = doc.with_soft(video_i=7, num_strips=3)
    out = vexport.export(renderer, doc, str(tmp_path / f'view.{ext}'))
    app.set_doc(grid_doc(pkl, W=1, H=1)) # something else first
    app.wait()
    app.win.drop([out])
    assert app.wait()
    assert same_view(app.doc, doc) and app.message.startswith('Loaded')
    shot = app.screenshot_image()
    expected = rgb(still(renderer, doc)) # the same state rendered again, and the file's pixels
    np.testing.assert_array_equal(shot, expected)
    file_pixels = video.read_frames(out)[0] if ext == 'Mp4' else np.asarray(PIL.Image.open(out))
    if ext == 'PNG':
        np.testing.assert_array_equal(shot, rgb(file_pixels))
    else: # lossy (JPEG quality 98, H.264 CRF 18, both with half-resolution chroma) on 32 px of fine colour detail
        assert np.abs(shot.astype(int) - file_pixels[..., :3]).mean() < 12

def test_drop_without_metadata_shows_a_message_and_keeps_the_app(app, pkl, tmp_path):
    app.set_doc(grid_doc(pkl, W=1, H=1))
    app.wait()
    before = app.doc
    PIL.Image.new('RGB', (8, 8)).save(tmp_path / 'plain.png')
    (tmp_path / 'notes.txt').write_text('hello')
    (tmp_path / 'broken.MP4').write_bytes(b'not a video')
    (tmp_path / 'bad.json').write_text('{"state": {"W": -3}}')
    for name, message in [('plain.png', 'no embedded state'), ('notes.txt', 'unsupported file type'),
                          ('broken.MP4', 'broken.MP4'), ('bad.json', 'state.W')]:
        app.win.drop([str(tmp_path / name)])
        app.step()
        assert app.message_kind == 'error' and message in app.message, app.message
        assert app.doc == before and not app.win.should_close
    assert app.wait() and app.image is not None

def test_dropped_explorer_export_opens_as_a_row_of_its_seeds(app, pkl, renderer, tmp_path):
    times = (0.4 + 0.25 / 730,) * 3 # one date in every slot: the grid shows the same images
    doc = vstate.Document(tool='explorer', network=network.ref_for(pkl),
        state=vstate.ExplorerState(seed=5, batch=2, trunc=0.9, times=times), soft=vstate.ExplorerSoft())
    out = vexport.export(renderer, doc, str(tmp_path / 'explorer.png'))
    app.win.drop([out])
    assert app.wait()
    assert app.doc.tool == 'grid' and (app.doc.state.seeds, app.doc.state.W, app.doc.state.H) == ('5,6', 2, 1)
    assert 'explorer view' in app.message
    diff = np.abs(app.screenshot_image().astype(int) - rgb(np.asarray(PIL.Image.open(out))))
    assert diff.mean() < 0.2 and diff.max() <= 8 # the same date, up to the float32 rounding of t

def test_dropped_state_finds_a_moved_network_by_name_and_hash(app, pkl, renderer, tmp_path):
    doc = grid_doc(pkl, W=2, H=1, seeds='21')
    exported = vexport.export(renderer, doc, str(tmp_path / 'g.png'))
    moved = tmp_path / 'models' / 'old'
    moved.mkdir(parents=True)
    shutil.copy(pkl, moved / os.path.basename(pkl))
    raw = metadata.read_doc(exported)
    raw['network']['path'] = '/gone/' + os.path.basename(pkl)
    (tmp_path / 'moved.json').write_text(vstate.from_json(raw).dumps())
    app.win.drop([str(tmp_path / 'moved.json')])
    assert app.wait()
    assert app.doc.network.path == str(moved / os.path.basename(pkl)) # found below the dropped file's folder
    np.testing.assert_array_equal(app.screenshot_image(), rgb(np.asarray(PIL.Image.open(exported))))
    raw['network']['sha256'] = 'f' * 64 # same name, other content: not taken
    (tmp_path / 'other.json').write_text(vstate.from_json(raw).dumps())
    app.win.drop([str(tmp_path / 'other.json')])
    app.wait()
    assert app.message_kind == 'error' and 'not found' in app.message and 'other content' in app.message

#----------------------------------------------------------------------------
# Exports from the window.

def test_exports_never_overwrite_and_wait_for_the_render(app, pkl, renderer, tmp_path):
    doc = grid_doc(pkl, W=4, H=4, B=1, seeds='8')
    app.set_doc(doc)
    while app.shown is None or app.shown.doc.state.seeds != '8':
        app.step()
    assert not app.shown_done
    first = app.export('png', folder=tmp_path) # while the view is still rendering
    assert 'waiting for the render' in app.message
    assert app.wait_export() == first
    second = app.export('png', folder=tmp_path)
    assert app.wait_export() == second and second != first and second.endswith('_1.png')
    full = rgb(still(renderer, doc))
    for path in (first, second):
        np.testing.assert_array_equal(rgb(np.asarray(PIL.Image.open(path))), full)
    assert app.export('mp4', folder=tmp_path) is None and 'GRID view is an image' in app.message
    app.set_doc(doc.with_state(viz_mode=vstate.VizMode.STACK_Y, B=16).with_soft(fps=16))
    app.wait()
    clip = app.export('mp4', folder=tmp_path)
    assert app.wait_export() == clip and clip.startswith(str(tmp_path / 'stack_y_'))
    assert video.probe(clip) == dict(frames=32, fps=16.0, width=32, height=32)
    assert same_view(vstate.from_json(metadata.read_doc(clip)), app.rendered_doc())

#----------------------------------------------------------------------------
# Controls and keys.

def test_drawing_the_controls_leaves_a_state_exactly_as_it_is(app, pkl):
    doc = grid_doc(pkl, viz_mode=vstate.VizMode.STACK_Y, W=30, B=40, trunc=0.7, sliders=(0.123456789, 0.3, -0.7),
        t_range=(0.1, 0.9), res_scale=0.3, gt_tol_hours=2.2).with_soft(fps=12.3, cycles=7, num_strips=99)
    app.set_doc(doc) # values beyond the sliders' ranges and floats that float32 would round
    for _ in range(3):
        app.step()
    assert app.doc.state == doc.state and app.doc.soft == doc.soft
    app.worker.cancel()

def test_seed_list_steps_and_filters():
    pytest.importorskip('imgui_bundle', reason='the viewers need the viz extra (imgui-bundle)')
    from viz.widgets import controls # pylint: disable=import-outside-toplevel
    assert controls.step_last_seed('3, 7', 1) == '3,8' and controls.step_last_seed('0', -1) == '0'
    keep = lambda ch: controls._seed_char_filter(type('Data', (), {'event_char': ord(ch)})) == 0 # pylint: disable=protected-access
    assert all(keep(ch) for ch in '0123456789, ') and not any(keep(ch) for ch in 'a-;x.')

def test_print_inputs_logs_every_cell(app, pkl):
    show(app, grid_doc(pkl, W=3, H=2, seeds='6', axis_x='day', axis_y='year'))
    app.log_lines.clear()
    app.print_inputs()
    lines = [l for l in app.log_lines if l[:1].isdigit()]
    assert len(lines) == 6 and lines[0].startswith('0, 0: 6, 0.')
    assert all(l.count(':') >= 3 and l.rstrip().split()[-1].count(':') == 2 for l in lines) # ends with hh:mm:ss

def test_json_editor_has_no_length_limit_shows_errors_and_applies(app):
    from gui_utils import widgets as gw # pylint: disable=import-outside-toplevel
    from viz import widgets # pylint: disable=import-outside-toplevel
    doc = vstate.Document().with_state(seeds=','.join(str(k) for k in range(3000))) # ~15 kB of JSON
    parse = app.parse_json
    edit, applied, reset_rect = [widgets.JsonEdit()], [], []
    def draw(_win):
        with gw.full_window():
            edit[0], value = widgets.json_editor(edit[0], doc.to_json(), parse, height=200)
            reset_rect[:] = [imgui.get_item_rect_min(), imgui.get_item_rect_max()]
            applied.append(value)
    from imgui_bundle import imgui # pylint: disable=import-outside-toplevel
    io = imgui.get_io()
    app.win.step(draw)
    assert not edit[0].edited and len(edit[0].text) > 14000
    for button in (None, True, False): # click into the text, then type
        if button is None:
            io.add_mouse_pos_event(100, 100)
        else:
            io.add_mouse_button_event(0, button)
        app.win.step(draw)
    io.add_input_character(ord('x'))
    app.win.step(draw)
    app.win.step(draw)
    assert len(edit[0].text) == len(edit[0].base) + 1 and edit[0].error.startswith('JSON: not valid JSON')
    good = doc.with_state(seeds='5,6', W=2)
    edit[0] = widgets.JsonEdit(text=good.dumps(), base=edit[0].base, multiline=False)
    app.win.step(draw)
    assert edit[0].edited and edit[0].error == ''
    lo, hi = reset_rect
    io.add_mouse_pos_event(lo.x - 20, (lo.y + hi.y) / 2) # the Apply button, left of Reset
    for button in (True, False):
        app.win.step(draw)
        io.add_mouse_button_event(0, button)
    app.win.step(draw)
    io.add_mouse_pos_event(-1, -1)
    assert [a for a in applied if a is not None] == [good]

def test_window_size_buttons_show_the_image_at_that_zoom(app, pkl):
    show(app, grid_doc(pkl, W=2, H=1))
    size = app.win.size
    try:
        app.fit_window(2)
        app.step()
        app.step()
        x, y, w, h = app.pane_rect
        assert (w, h) == (128, 64)
        np.testing.assert_array_equal(app.screenshot_image(), app.image[..., :3].repeat(2, 0).repeat(2, 1))
    finally:
        app.zoom = 1
        app.win.set_content_size(*size)
        app.step()

def test_escape_asks_and_home_fits(app):
    app.win.feed_key('escape', True)
    app.step()
    app.step()
    assert app.win.close_requested and not app.win.should_close
    app.win.feed_key('escape', True) # answers "no"
    app.step()
    app.step()
    assert not app.win.close_requested
    app.win.feed_key('home', True)
    app.step()
    assert app.zoom is None
    app.zoom = 1

def test_settings_live_in_the_config_folder(pkl, tmp_path, monkeypatch):
    require_display()
    from viz.apps.grid import GridApp # pylint: disable=import-outside-toplevel
    monkeypatch.chdir(tmp_path)
    with own_config_folder() as config:
        with GridApp(grid_doc(pkl, W=1, H=1), size=(640, 480), device='cpu', visible=False) as a:
            a.loop_seconds, a.prefs['loop_seconds'] = 12.0, 12.0
            a.wait()
        assert os.listdir(os.path.join(config, 'tlgan')) == ['grid_viz.json'] and os.listdir(tmp_path) == []
        with GridApp(settings=True, device='cpu', visible=False) as b:
            assert b.loop_seconds == 12.0

#----------------------------------------------------------------------------
# The command line: one clear line for bad input, before any window opens.

def test_cli_refuses_bad_input_with_one_line(pkl, tmp_path):
    pytest.importorskip('imgui_bundle', reason='the viewers need the viz extra (imgui-bundle)')
    import grid_viz # pylint: disable=import-outside-toplevel
    PIL.Image.new('RGB', (8, 8)).save(tmp_path / 'plain.PNG')
    (tmp_path / 'lost.json').write_text(vstate.Document(network=vstate.NetworkRef(name='lost.pkl', sha256='a' * 64)).dumps())
    (tmp_path / 'junk.pkl').write_bytes(b'not a pickle')
    cases = [('missing.png', 'no such file'), (str(tmp_path / 'plain.PNG'), 'no embedded state'),
             ('{"state": {"axis_x": "time"}}', 'axis_x'), ('{"state": ', 'not valid JSON'),
             (str(tmp_path / 'lost.json'), 'Network lost.pkl'), (str(tmp_path / 'junk.pkl'), 'junk.pkl: not a network pickle')]
    for source, message in cases:
        result = CliRunner().invoke(grid_viz.main, [source, '--device=cpu'])
        assert result.exit_code == 1 and message in result.output, result.output
        assert 'Traceback' not in result.output and result.output.count('\n') == 1, result.output

#----------------------------------------------------------------------------
