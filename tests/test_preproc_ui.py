"""The preprocessing UI in a real window (under `xvfb-run -a`) on a synthetic sequence with camera jitter and a known
shift of the later frames: opening, the frame slider and Lock against the sequence's factors, screenshots against
the headless render, a manual 3-point alignment clicked through the app's mouse and key handlers, a cancelled and
resumed UI export against the CLI's, the saved state, and bad inputs."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gui_helpers import own_config_folder, require_display
from preproc import discovery, export, geometry, ui_state
from preproc.synth import PRESETS, generate_sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIFT = (5, -3)     # Pixels the scene moves by from frame FIRST_SHIFTED on (a camera knocked aside).
FIRST_SHIFTED = 30
BLACK = 45          # A black frame, for the bad-frame flags.
RES = 64

#----------------------------------------------------------------------------

@pytest.fixture(scope='module')
def sequence(tmp_path_factory):
    """A synthetic 8-day 64x64 sequence (jitter included) whose frames from FIRST_SHIFTED on are shifted by SHIFT."""
    folder = tmp_path_factory.mktemp('seq')
    cfg = dataclasses.replace(PRESETS['tiny'], days=8.0, size=(RES, RES), occluder_prob=0.0)
    generate_sequence(str(folder), cfg, workers=1, progress=False)
    with open(folder / 'factors.json', encoding='utf-8') as f:
        frames = json.load(f)['frames']
    for fr in frames[FIRST_SHIFTED:]:
        path = folder / 'frames' / os.path.basename(fr['file'])
        img = Image.open(path).convert('RGB')
        img.transform(img.size, Image.Transform.AFFINE, (1, 0, -SHIFT[0], 0, 1, -SHIFT[1]),
                      resample=Image.Resampling.NEAREST).save(path, quality=95)
    Image.new('RGB', (RES, RES)).save(folder / 'frames' / os.path.basename(frames[BLACK]['file'])) # a dead frame
    return folder, frames

@pytest.fixture(scope='module')
def app(sequence):
    require_display()
    from viz.apps.preproc import PreprocApp # pylint: disable=import-outside-toplevel
    folder, _ = sequence
    state = ui_state.UIState(export=export.ExportConfig(input=str(folder / 'frames'), export=str(folder / 'out'),
                                                        resolution=RES, workers=0))
    with own_config_folder(), PreprocApp(state, settings=False, size=(1280, 800)) as a:
        assert a.wait(60), 'the sequence did not open'
        yield a

def show(app, index, **view):
    app.edit_view(index=index, **view)
    assert app.wait(60)
    return app.screenshot_image()

def click(app, x, y, button=0):
    """A click at window position (x, y) through imgui's input events."""
    from imgui_bundle import imgui # pylint: disable=import-outside-toplevel
    io = imgui.get_io()
    io.add_mouse_pos_event(x, y)
    app.step()
    io.add_mouse_button_event(button, True)
    app.step()
    io.add_mouse_button_event(button, False)
    app.step()

def press(app, key):
    app.win.feed_key(key, True)
    app.step()
    app.win.feed_key(key, False)
    app.step()

#----------------------------------------------------------------------------

def test_opens_and_the_slider_and_lock_pick_frames_by_their_factors(app, sequence):
    _, frames = sequence
    names = [os.path.basename(fr['file']) for fr in frames]
    unix = np.array([fr['unix'] for fr in frames])
    hours = np.array([fr['hour_utc'] for fr in frames])
    assert app.num_frames == len(frames) and app.opened.timed.frames[0].name == names[0]
    for index in (0, 17, len(frames) - 1): # the slider's indices are the time-sorted frames
        app.go(index)
        assert app.view.index == index and app.opened.timed.frames[index].name == names[index]
    press(app, 'down') # Down steps one frame, Up back
    assert app.view.index == len(frames) - 1
    press(app, 'up')
    assert app.view.index == len(frames) - 2
    app.edit_view(index=12, lock=True)
    for target in (3, 25, 40, 52):
        current = app.view.index
        app.go(target) # the slider's handler: a new date at the locked time of day
        wanted = unix[target] + (((hours[current] - hours[target] + 12) % 24) - 12) * 3600
        assert app.view.index == np.abs(unix - wanted).argmin()
        assert min(abs(hours[app.view.index] - hours[current]) % 24, 24 - abs(hours[app.view.index] - hours[current]) % 24) <= 3
    app.edit_view(lock=False)

def test_screenshots_equal_the_headless_render(app, sequence):
    folder, _ = sequence
    app.zoom = 1 # one image pixel per screen pixel: the screenshot is the image
    try:
        for index, changes in [(20, {}), (35, dict(rotate=4.0, zoom=1.1, translate=(0.02, -0.01), crop='0.1,0,0,0.05', kernel='bicubic'))]:
            app.edit(**changes)
            shot = show(app, index, show_date=False)
            cfg = dataclasses.replace(app.export_config())
            with discovery.open_input(cfg.input, exclude=[cfg.export]) as source:
                job = export.plan_export(cfg, source)
            frame, warp = job.timed.frames[index], None if job.warps is None else job.warps[index]
            expected = geometry.render(discovery.load_image(frame, geometry.decode_size(job.plan, warp)), job.plan, warp)
            np.testing.assert_array_equal(shot, np.asarray(expected))
        shot = show(app, 35, gradient=True)
        assert shot.shape == (RES, RES, 3) and (shot[..., 0] == shot[..., 1]).all() # the grey gradient image
    finally:
        app.edit(rotate=0.0, zoom=1.0, translate=(0.0, 0.0), crop=None, kernel='lanczos3')
        app.edit_view(gradient=False, show_date=True)
        app.zoom = None

def test_manual_three_point_alignment_undoes_the_known_shift(app, sequence):
    folder, _ = sequence
    app.zoom = 8 # 8 screen pixels per image pixel
    landmarks = np.array([[12.0, 14.0], [50.0, 20.0], [30.0, 52.0]]) # pixels of the unshifted frames
    def click_at(px):
        x, y, w, h = app.image_rect
        click(app, x + px[0] * w / RES, y + px[1] * h / RES)
    show(app, 6, manual=True, warp_mode='affine6')
    for p in landmarks: # the reference range [0, ...], keyframe 6
        click_at(p)
    click_at([40.0, 40.0]) # a stray point, removed with a right click
    click_at([40.2, 40.1])
    x, y, w, h = app.image_rect
    click(app, x + 40.1 * w / RES, y + 40.0 * h / RES, button=1)
    assert len(app.view.ranges[0].points) == 4
    click(app, x + 40.1 * w / RES, y + 40.0 * h / RES, button=1)
    assert len(app.view.ranges[0].points) == 3 and app.view.ranges[0].keyframe == 6
    show(app, FIRST_SHIFTED)
    press(app, 'space') # a new range from the camera move on
    assert [r.start for r in app.view.ranges] == [0, FIRST_SHIFTED]
    show(app, FIRST_SHIFTED + 4)
    for p in landmarks + SHIFT:
        click_at(p)
    assert app.view.ranges[1].keyframe == FIRST_SHIFTED + 4 and len(app.view.ranges[1].points) == 3
    press(app, 'left') # Left / Right jump between the ranges' keyframes
    assert app.view.index == 6
    press(app, 'right')
    assert app.view.index == FIRST_SHIFTED + 4
    path = app.export_warps()
    assert path == str(folder / 'out' / 'warps_manual.npy') and app.cfg.warps == path and not app.view.manual
    rows = np.load(path)
    assert rows.shape == (app.num_frames, 6) and rows.dtype == np.float64
    assert not rows[:FIRST_SHIFTED].any() # the reference range: identity
    m = geometry.rows_to_matrices(rows[FIRST_SHIFTED:])
    grid = np.stack(np.meshgrid(np.linspace(0, RES, 9), np.linspace(0, RES, 9)), -1).reshape(-1, 2)
    moved = (grid + SHIFT) / RES
    back = (moved @ m[:, :, :2].transpose(0, 2, 1) + m[:, None, :, 2]) * RES
    assert np.abs(back - grid).max() < 0.5 # every shifted frame lands on the reference within half a pixel
    app.zoom = None

def test_ui_export_cancelled_and_resumed_equals_the_cli_export(app, sequence, tmp_path):
    folder, _ = sequence
    warps = folder / 'out' / 'warps_manual.npy'
    if not warps.exists():
        pytest.skip('needs the warps of the manual alignment test')
    app.edit(warps=str(warps), crop='fit', trim='2:50', skip='5,10-12', rotate=1.5, pad='0,0.0625', kernel='bicubic',
             warp_smoothing=3, export=str(tmp_path / 'ui'), name='synth')
    assert app.wait(60)
    app.start_export()
    app.cancel_export() # stops after the first chunk, keeping the partial export
    assert app.wait_export() is None and 'cancelled' in app.message
    assert any(f.endswith('.partial') for f in os.listdir(tmp_path / 'ui'))
    app.edit(resume=True)
    app.start_export()
    ui_zip = app.wait_export()
    assert ui_zip is not None and os.path.basename(ui_zip) == 'synth_64x64_8hz.zip' and not app.cfg.resume
    cmd = [sys.executable, 'preproc/process_sequence.py', str(folder / 'frames'), f'--export={tmp_path / "cli"}',
           '--resolution=64', '--name=synth', f'--warps={warps}', '--crop=fit', '--trim=2:50', '--skip=5,10-12',
           '--rotate=1.5', '--pad=0,0.0625', '--kernel=bicubic', '--warp-smoothing=3', '--workers=2']
    cli_zip = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    with open(ui_zip, 'rb') as a, open(cli_zip, 'rb') as b:
        assert a.read() == b.read()
    app.start_export() # the dataset exists: refused, nothing overwritten
    assert app.wait_export() is None and 'already exists' in app.message
    app.edit(warps=None, crop=None, trim=None, skip=None, rotate=0.0, pad=None, kernel='lanczos3', warp_smoothing=1,
             export=str(folder / 'out'), name=None, overwrite=False)

def test_state_saves_restores_and_bad_inputs_keep_the_app_alive(app, sequence, tmp_path):
    folder, _ = sequence
    app.edit(rotate=2.5, trim='3:40')
    app.edit_view(index=9, lock=True, gradient=True, manual=True)
    path = app.save_state(str(tmp_path / 'state.json'))
    saved = ui_state.load(path)
    assert saved.export == app.cfg and saved.view == dataclasses.replace(app.view, zoom=app.zoom)
    app.edit(rotate=0.0, trim=None)
    app.edit_view(index=0, lock=False, gradient=False, manual=False)
    app.win.drop([path]) # drag and drop of a state file restores it
    assert app.wait(60) and app.cfg.rotate == 2.5 and app.view.index == 9 and app.view.lock and app.shown is not None
    bad = tmp_path / 'bad.json'
    doc = json.loads(open(path, encoding='utf-8').read())
    doc['view']['index'] = 'nine'
    bad.write_text(json.dumps(doc))
    assert not app.load(str(bad)) and 'view.index: expected an integer' in app.message and app.message_kind == 'error'
    assert app.view.index == 9 # nothing lost
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'notes.txt').write_text('no frames here')
    assert app.load(str(tmp_path / 'empty'))
    app.wait(30)
    assert app.message_kind == 'error' and 'No images' in app.message and app.opened is None
    app.step() # still alive
    assert app.load(path) and app.wait(60) and app.num_frames > 0 and app.shown is not None

def test_wheel_zooms_about_the_mouse_and_middle_drag_pans(app):
    from imgui_bundle import imgui # pylint: disable=import-outside-toplevel
    show(app, 20)
    app.zoom = 14 # larger than the pane: it scrolls
    app.step()
    app.step()
    io = imgui.get_io()
    x, y, w, h = app.image_rect
    io.add_mouse_pos_event(x + w / 2, y + h / 2)
    app.step()
    io.add_mouse_wheel_event(0, 2) # two notches up: zoom in by 1 / 0.85^2
    app.step()
    assert app.zoom == pytest.approx(14 / 0.85**2)
    for _ in range(3):
        app.step()
    io.add_mouse_button_event(2, True)
    app.step()
    io.add_mouse_pos_event(x + w / 2 - 40, y + h / 2 - 30)
    app.step()
    io.add_mouse_button_event(2, False)
    app.step()
    app.step()
    assert app.view.pan[0] > 0 and app.view.pan[1] > 0 # in image pixels: what a saved state restores
    io.add_mouse_pos_event(-1, -1)
    app.zoom = None
    app.step()

def wait_analysis(app, timeout=120):
    import time # pylint: disable=import-outside-toplevel
    deadline = time.perf_counter() + timeout
    while app.analyst.busy and time.perf_counter() < deadline:
        app.step()
        time.sleep(0.02)
    app.step()

def test_auto_align_and_bad_frame_flags(app, sequence):
    folder, _ = sequence
    app.auto_align()
    wait_analysis(app)
    path = str(folder / 'out' / 'warps_auto.npy')
    assert app.cfg.warps == path and 'warps_auto.npy' in app.message, app.message
    rows = np.load(path)
    assert rows.shape == (app.num_frames, 6)
    from viz.apps.preproc import warp_files # pylint: disable=import-outside-toplevel
    assert path in warp_files(str(folder / 'out')) # offered in the Warps list
    app.flag_bad_frames()
    wait_analysis(app)
    assert (BLACK, 'black') in [(f.index, f.reason) for f in app.flags], app.message
    assert (folder / 'out' / 'bad_frames.json').exists()
    app.skip_flagged()
    assert str(BLACK) in app.cfg.skip.split(',') or any(
        int(a) <= BLACK <= int(b) for a, _, b in (t.partition('-') for t in app.cfg.skip.split(',')) if b)
    app.edit(warps=None, skip=None)
    app.flags = []

def test_cli_ui_refuses_a_bad_state_with_one_message(tmp_path):
    pytest.importorskip('imgui_bundle')
    from click.testing import CliRunner # pylint: disable=import-outside-toplevel
    from preproc import process_sequence # pylint: disable=import-outside-toplevel
    bad = tmp_path / 'state.json'
    bad.write_text(json.dumps({'version': 1, 'export': {'resolution': 'big'}}))
    result = CliRunner().invoke(process_sequence.main, ['--ui', f'--state={bad}'])
    assert result.exit_code == 1 and 'export.resolution: expected an integer' in result.output
    assert 'Traceback' not in result.output

#----------------------------------------------------------------------------
