"""Shared by the viewer tests (run under `xvfb-run -a`): skipping without a display, a config folder of the test's
own, the viewers' pixels, imgui mouse clicks. Also a measurement of grid_viz's start-up and frame rate on the CPU,
and the screenshots of the docs:

  xvfb-run -a -s "-screen 0 1280x1024x24" python tests/gui_helpers.py --res=64
  xvfb-run -a -s "-screen 0 1280x1024x24" python tests/gui_helpers.py --screenshot=docs/images/grid_viz.png
  xvfb-run -a -s "-screen 0 1280x1024x24" python tests/gui_helpers.py --preproc-screenshot=docs/images/preproc_ui.png
  xvfb-run -a -s "-screen 0 1280x1024x24" python tests/gui_helpers.py --explorer-screenshot=docs/images/visualize.png
"""

import contextlib
import os
import sys
import tempfile
import time
import warnings

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

#----------------------------------------------------------------------------

def require_display():
    """Skip the calling test (or module fixture) when there is no display for a window."""
    pytest.importorskip('imgui_bundle', reason='the viewers need the viz extra (imgui-bundle)')
    import gui_utils # noqa: F401 # pylint: disable=import-outside-toplevel,unused-import # imgui_bundle before glfw
    import glfw # pylint: disable=import-outside-toplevel
    with warnings.catch_warnings():
        warnings.simplefilter('ignore') # glfw warns about the missing display before returning False
        ok = glfw.init()
    if not ok:
        pytest.skip('no display: glfw.init() failed (run the GUI tests under `xvfb-run -a`)')

@contextlib.contextmanager
def own_config_folder():
    """XDG_CONFIG_HOME set to a fresh temporary folder: settings written by an app land there."""
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as mp:
        mp.setenv('XDG_CONFIG_HOME', folder)
        yield folder

def rgb(image):
    """RGB of an RGBA image (the screenshot has no alpha); opaque images only."""
    image = np.asarray(image)
    assert image.shape[2] == 3 or (image[..., 3] == 255).all(), 'transparent pixels: composite first'
    return image[..., :3]

def click(app, x, y):
    """A left click at window position (x, y) through imgui's input events (three frames)."""
    from imgui_bundle import imgui # pylint: disable=import-outside-toplevel
    io = imgui.get_io()
    io.add_mouse_pos_event(x, y)
    app.step()
    io.add_mouse_button_event(0, True)
    app.step()
    io.add_mouse_button_event(0, False)
    app.step()
    io.add_mouse_pos_event(-1, -1)

#----------------------------------------------------------------------------
# Start-up and frame rate of the grid viewer on the CPU, with a fresh generator of the default capacity.

def measure(pkl, frames=100):
    """In this process: seconds from process start to the first complete frame of a 1 x 1 grid; the UI frame rate
    unpaced and while a slider moves every frame (paced to 60 fps as the app's loop); renders shown per second while
    dragging; one complete render per state change; and a 5 x 5 grid."""
    import psutil # pylint: disable=import-outside-toplevel
    started = psutil.Process().create_time()
    from viz.apps.grid import GridApp # pylint: disable=import-outside-toplevel
    from viz import network # pylint: disable=import-outside-toplevel
    from viz import state as vstate # pylint: disable=import-outside-toplevel
    doc = vstate.Document(network=network.ref_for(pkl), state=vstate.GridState(W=1, H=1, B=1))
    with GridApp(doc, settings=False, size=(1024, 768), device='cpu') as app:
        app.wait()
        out = dict(first_frame_s=round(time.time() - started, 2))
        t0 = time.perf_counter()
        for _ in range(frames):
            app.step()
        out['ui_fps_unpaced'] = round(frames / (time.perf_counter() - t0), 1)
        shown, t0 = set(), time.perf_counter() # drag the Day slider: a new state every frame
        for k in range(frames):
            app.doc = app.doc.with_state(sliders=(0.5, 0.0, (k % 50) / 50 - 0.5))
            app.step()
            shown.add(app.shown.doc.state.sliders)
            time.sleep(max(t0 + (k + 1) / 60 - time.perf_counter(), 0))
        seconds = time.perf_counter() - t0
        out['ui_fps_while_dragging'] = round(frames / seconds, 1)
        out['images_shown_per_s_while_dragging'] = round((len(shown) - 1) / seconds, 1)
        t0, n = time.perf_counter(), 20
        for k in range(n): # one complete render per state change
            app.doc = app.doc.with_state(sliders=(0.5, 0.0, k / n - 0.5))
            app.wait()
        out['complete_renders_per_s_1x1'] = round(n / (time.perf_counter() - t0), 1)
        app.doc = app.doc.with_state(W=5, H=5, B=5)
        t0 = time.perf_counter()
        app.wait()
        out['grid_5x5_s'] = round(time.perf_counter() - t0, 2)
    return out

def save_steady_frame(app, out, frames=40):
    """Save the window as a PNG after `frames` frames at 60 fps, so that the status bar shows a steady frame rate."""
    from PIL import Image # pylint: disable=import-outside-toplevel
    for _ in range(frames):
        t0 = time.perf_counter()
        app.step()
        time.sleep(max(1 / 60 - (time.perf_counter() - t0), 0))
    Image.fromarray(app.step(capture=True)).save(out)

def docs_screenshot(out):
    """docs/images/grid_viz.png: dataset mode (the training frame nearest to each cell's time) on a synthetic
    two-year sequence at 64 px, day across and season down, after an export."""
    import subprocess # pylint: disable=import-outside-toplevel
    from viz_helpers import save_pickle, tiny_generator # pylint: disable=import-outside-toplevel
    from viz.apps.grid import GridApp # pylint: disable=import-outside-toplevel
    from viz import network # pylint: disable=import-outside-toplevel
    from viz import state as vstate # pylint: disable=import-outside-toplevel
    with tempfile.TemporaryDirectory() as folder:
        for script, args in [('synth_sequence.py', ['--outdir', f'{folder}/seq', '--days=730', '--interval-min=360',
                '--size=64x64']), ('process_sequence.py', [f'{folder}/seq/frames', '--export', f'{folder}/data',
                '--resolution=64', '--name=synth64'])]:
            subprocess.run([sys.executable, os.path.join(ROOT, 'preproc', script)] + args, check=True, capture_output=True)
        (zip_name,) = os.listdir(f'{folder}/data')
        pkl = save_pickle(f'{folder}/network-snapshot-demo.pkl', tiny_generator(res=64), dataset_path=zip_name)
        doc = vstate.Document(network=network.ref_for(pkl), state=vstate.GridState(W=8, H=6, B=8, axis_x='day',
            axis_y='year', sliders=(0.75, 0.0, 0.5), show_dataset=True, gt_tol_hours=6.0))
        with GridApp(doc, settings=False, size=(1280, 800), device='cpu', dataset_roots=[f'{folder}/data']) as app:
            app.wait()
            app.export('png', folder=f'{folder}/exports')
            app.wait_export()
            save_steady_frame(app, out)

def explorer_screenshot(out):
    """docs/images/visualize.png: the shipped demo model with its training curves (models/stats.jsonl), four latents
    on 1 July 2022 at 13:00 UTC, the fine layers 6-11 at 20:30: they bring in the colours of dusk."""
    import datetime # pylint: disable=import-outside-toplevel
    from viz.apps.explorer import ExplorerApp # pylint: disable=import-outside-toplevel
    from viz import network # pylint: disable=import-outside-toplevel
    from viz import state as vstate # pylint: disable=import-outside-toplevel
    pkl = os.path.join(ROOT, 'models', 'demo_128.pkl')
    tl = network.load_network(pkl, 'cpu').timeline
    t = lambda hour, minute: tl.datetime_to_t(datetime.datetime(2022, 7, 1, hour, minute, tzinfo=datetime.timezone.utc))
    state = vstate.ExplorerState(seed=0, batch=4, t=t(13, 0), times=(t(13, 0),) * 3, overrides=((6, 12, (t(13, 0), t(13, 0), t(20, 30))),))
    doc = vstate.Document(tool='explorer', network=network.ref_for(pkl), state=state, soft=vstate.ExplorerSoft())
    with own_config_folder(), ExplorerApp(doc, settings=False, size=(1280, 860), device='cpu') as app:
        app.open_sections.update({'Training curves': True})
        app.wait()
        save_steady_frame(app, out) # the curves loaded by then

def preproc_screenshot(out):
    """docs/images/preproc_ui.png: the preprocessing UI on a 10-day synthetic sequence at 128 px in Manual mode, three
    points clicked on a daylight keyframe of the second of two ranges."""
    import dataclasses # pylint: disable=import-outside-toplevel
    from PIL import Image # pylint: disable=import-outside-toplevel
    from imgui_bundle import imgui # pylint: disable=import-outside-toplevel
    from preproc import export, manual_align, ui_state # pylint: disable=import-outside-toplevel
    from preproc.synth import PRESETS, generate_sequence # pylint: disable=import-outside-toplevel
    from viz.apps.preproc import PreprocApp # pylint: disable=import-outside-toplevel
    with tempfile.TemporaryDirectory() as folder, own_config_folder():
        generate_sequence(folder, dataclasses.replace(PRESETS['tiny'], days=10.0, size=(128, 128)), workers=2, progress=False)
        cfg = export.ExportConfig(input=f'{folder}/frames', export=f'{folder}/out', resolution=128, skip='7,19-21')
        ranges = manual_align.add_range(manual_align.initial(), 40)
        for p in ((0.2, 0.35), (0.62, 0.3), (0.45, 0.8)):
            ranges = manual_align.add_point(manual_align.add_point(ranges, 13, p), 44, (p[0] + 0.01, p[1]))
        view = ui_state.View(index=44, manual=True, target=13, ranges=ranges, zoom=4.0)
        with PreprocApp(ui_state.UIState(export=cfg, view=view), settings=False, size=(1280, 800)) as app:
            app.wait()
            x, y, w, h = app.image_rect
            imgui.get_io().add_mouse_pos_event(x + w * 0.3, y + h + 30) # hover the timeline strip
            for _ in range(5):
                app.step()
            imgui.get_io().add_mouse_pos_event(-1, -1)
            app.step()
            Image.fromarray(app.step(capture=True)).save(out)

def main():
    import argparse # pylint: disable=import-outside-toplevel
    import json # pylint: disable=import-outside-toplevel
    import subprocess # pylint: disable=import-outside-toplevel
    parser = argparse.ArgumentParser(description='Start-up time and frame rate of grid_viz on the CPU')
    parser.add_argument('--res', type=int, default=64, help='Resolution of the fresh generator')
    parser.add_argument('--network', help='(internal) measure with this pickle in this process')
    parser.add_argument('--screenshot', metavar='PNG', help='Instead: make the screenshot of docs/GRID_VIZ.md')
    parser.add_argument('--preproc-screenshot', metavar='PNG', help='Instead: make the screenshot of docs/PREPROCESSING.md')
    parser.add_argument('--explorer-screenshot', metavar='PNG', help='Instead: make the screenshot of docs/VISUALIZE.md')
    args = parser.parse_args()
    if args.explorer_screenshot:
        explorer_screenshot(args.explorer_screenshot)
        return
    if args.preproc_screenshot:
        preproc_screenshot(args.preproc_screenshot)
        return
    if args.screenshot:
        docs_screenshot(args.screenshot)
        return
    if args.network:
        print(json.dumps(measure(args.network)))
        return
    from benchmarks.bench_render import fresh_network # pylint: disable=import-outside-toplevel
    with tempfile.TemporaryDirectory() as folder:
        pkl = fresh_network(args.res, 16384, 256, folder) # train.py's capacity at <= 128 px
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), '--network', pkl], capture_output=True,
            text=True, check=True) # a fresh process: start-up includes the imports
        print(json.dumps(dict(res=args.res, **json.loads(proc.stdout.strip().splitlines()[-1]))))

if __name__ == '__main__':
    main()

#----------------------------------------------------------------------------
