"""The preprocessing UI against the command line (run under `xvfb-run -a`):

  export   frames/s of one dataset export through the CLI's path (preproc.export.export_dataset, what
           process_sequence.py runs) and through the UI's (PreprocApp: Export frames, the export worker, progress
           polled by the UI loop at the app's pace), on the same frames and settings; checks that the zips are identical.
  open     seconds from the start of the UI until the first frame of a folder of N tiny JPEGs is on screen.

  xvfb-run -a -s "-screen 0 1280x1024x24" python benchmarks/bench_preproc_export.py export --frames=400 --size=512
  xvfb-run -a -s "-screen 0 1280x1024x24" python benchmarks/bench_preproc_export.py open --frames=10000
"""

import dataclasses
import datetime
import json
import os
import sys
import tempfile
import time

import click
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.bench_export import write_frames # pylint: disable=wrong-import-position
from preproc import export, ui_state # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def ui_export(cfg):
    """Seconds of an export started from the UI, the UI loop running meanwhile at the app's pace (App.run)."""
    from viz.apps.preproc import PreprocApp # pylint: disable=import-outside-toplevel
    with PreprocApp(ui_state.UIState(export=cfg), settings=False, size=(1280, 800)) as app:
        assert app.wait(120), 'the sequence did not open'
        t0 = time.perf_counter()
        app.start_export()
        while app.exporting:
            t1 = time.perf_counter()
            app.step()
            time.sleep(max(1 / app.frame_rate() - (time.perf_counter() - t1), 0))
        seconds = time.perf_counter() - t0
        if 'Wrote' not in app.message:
            raise RuntimeError(app.message)
    return seconds

@click.group()
def main():
    pass

@main.command('export')
@click.option('--frames', default=400, show_default=True)
@click.option('--size', default=512, show_default=True, help='Side of the input frames.')
@click.option('--resolution', default=256, show_default=True)
@click.option('--workers', default=2, show_default=True)
@click.option('--rotate', default=0.0, show_default=True, help='User rotation (degrees): the warped render path.')
@click.option('--repeats', default=3, show_default=True, help='Alternating CLI / UI runs; the median is reported.')
def bench_export(frames, size, resolution, workers, rotate, repeats):
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(f'{tmp}/frames')
        write_frames(f'{tmp}/frames', frames, size)
        base = export.ExportConfig(input=f'{tmp}/frames', resolution=resolution, workers=workers, progress=False,
                                   rotate=rotate, crop='0.05,0.05,0.05,0.05')
        out = dict(cli=[], ui=[])
        for k in range(repeats): # alternating: warm caches count the same for both
            for path in ('cli', 'ui'):
                cfg = dataclasses.replace(base, export=f'{tmp}/{path}{k}')
                if path == 'cli':
                    t0 = time.perf_counter()
                    export.export_dataset(cfg)
                    seconds = time.perf_counter() - t0
                else:
                    seconds = ui_export(cfg)
                out[path].append(frames / seconds)
        zips = [os.path.join(f'{tmp}/{p}0', *os.listdir(f'{tmp}/{p}0')) for p in ('cli', 'ui')]
        with open(zips[0], 'rb') as a, open(zips[1], 'rb') as b:
            same = a.read() == b.read()
    print(json.dumps(dict(frames=frames, size=size, resolution=resolution, workers=workers, rotate=rotate,
                          identical_zips=same, **{f'{p}_fps': [round(v, 1) for v in out[p]] for p in out},
                          **{f'{p}_fps_median': round(float(np.median(out[p])), 1) for p in out})))

@main.command('open')
@click.option('--frames', default=10000, show_default=True)
def bench_open(frames):
    t_start = time.perf_counter()
    from viz.apps.preproc import PreprocApp # pylint: disable=import-outside-toplevel
    t_import = time.perf_counter() - t_start
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        t0 = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
        for i in range(frames):
            name = (t0 + datetime.timedelta(minutes=10 * i)).strftime('%Y%m%d_%H%M%S.jpg')
            Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(f'{tmp}/{name}', quality=90)
        cfg = export.ExportConfig(input=tmp, export=f'{tmp}/out', resolution=32)
        t0 = time.perf_counter()
        with PreprocApp(ui_state.UIState(export=cfg), settings=False, size=(1280, 800)) as app:
            while app.shown is None and time.perf_counter() - t0 < 120:
                app.step()
            first = time.perf_counter() - t0
            n = app.num_frames
    print(json.dumps(dict(frames=n, import_s=round(t_import, 2), first_frame_s=round(first, 2))))

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
