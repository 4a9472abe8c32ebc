"""Headless preprocessing of a time-lapse frame collection into a TLGAN training dataset zip (and a validator).

Examples:
  python preproc/process_sequence.py ~/frames/valley --export=~/datasets --resolution=512
  python preproc/process_sequence.py cam.zip --export=out --time-format='IMG_%Y%m%d-%H%M%S' --timezone=Europe/Zurich
  python preproc/process_sequence.py lapse.mp4 --export=out --video-start=2021-06-01T06:00 --video-interval=10min
  python preproc/process_sequence.py out/synth/frames --export=out --align=auto --flag-bad-frames --skip-flagged
  python preproc/process_sequence.py --validate out/valley_512x512_1200hz.zip
  python preproc/process_sequence.py ~/frames/valley --ui                   # the interactive tool (needs a display)
  python preproc/process_sequence.py --ui --state=valley_state.json        # ... restoring a saved state
"""

import dataclasses
import os
import sys

import click

if __package__ in (None, ''): # Run as a script: make the repository importable (also for the worker processes).
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dnnlib import cli # pylint: disable=wrong-import-position
from preproc import autoprep, export, geometry, validate # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def _pair(text, option):
    if text is None:
        return (0.0, 0.0)
    try:
        x, y = (float(v) for v in text.split(','))
    except ValueError:
        raise click.BadParameter(f'expected X,Y such as 0.1,-0.05, got {text!r}', param_hint=option) from None
    return x, y

@click.command(context_settings=dict(help_option_names=['-h', '--help'], max_content_width=120))
@click.argument('input_path', metavar='[INPUT]', required=False, type=click.Path(exists=True))
@click.option('--export', 'outdir', metavar='DIR', help='Output folder (created); the zip is written into it.')
@click.option('--resolution', metavar='R', type=int, default=256, show_default=True, help='Output side, a power of two >= 32.')
@click.option('--name', help='Dataset name (default: input folder, zip or video stem).')
@click.option('--time-format', metavar='PATTERN', help="Extra strptime pattern for file stems; a leading/trailing '*' allows text before/after it.")
@click.option('--timezone', default='UTC', show_default=True, help='Zone of naive times: IANA name (Europe/Helsinki) or offset (+02:00).')
@click.option('--skip-bad-times', is_flag=True, help='Drop frames with unparsable, out-of-order or duplicate times instead of stopping.')
@click.option('--no-order-check', is_flag=True, help='Do not flag EXIF times that go backwards in file name order.')
@click.option('--video-start', metavar='ISO', help='Video input: capture time of the first frame, e.g. 2021-06-01T06:00.')
@click.option('--video-interval', metavar='SPAN', help="Video input: capture time between frames, e.g. '10min' (default: frame pts).")
@click.option('--trim', metavar='START:END', help='Inclusive index range into the time-sorted frames, e.g. 100:2500 or 100:.')
@click.option('--skip', metavar='LIST', help='Indices into the time-sorted frames to leave out, e.g. 10,25,100-200.')
@click.option('--warps', metavar='FILE', type=click.Path(exists=True, dir_okay=False), help='Alignment .npy of shape (N, 6).')
@click.option('--warp-smoothing', metavar='W', type=click.IntRange(min=1), default=1, show_default=True, help='Box window of the warp smoothing.')
@click.option('--crop', metavar='L,T,R,B', help="Margins to cut: fractions (0.1) or pixels (64) of the reference frame, or 'fit' (needs --warps).")
@click.option('--fit', type=click.Choice(geometry.FIT_MODES), default='pad', show_default=True, help='pad: letterbox; crop: centre square; stretch.')
@click.option('--pad', metavar='X,Y', help='Black margin per side of the output: fractions of R (0.1) or pixels (16).')
@click.option('--rotate', metavar='DEG', type=float, default=0.0, show_default=True, help='Rotate counter-clockwise about the frame centre.')
@click.option('--zoom', type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True, help='Scale about the frame centre.')
@click.option('--translate', metavar='X,Y', callback=lambda ctx, param, v: _pair(v, '--translate'), help='Shift the content by fractions of the frame (before rotate and zoom).')
@click.option('--kernel', type=click.Choice(list(geometry.KERNELS)), default='lanczos3', show_default=True, help='Resize kernel.')
@click.option('--quality', type=click.IntRange(1, 100), help='JPEG quality (default 95 if R >= 512 else 98).')
@click.option('--workers', type=click.IntRange(min=0), help='Worker processes (default: all cores; 0/1: in-process).')
@click.option('--overwrite', is_flag=True, help='Replace an existing output or interrupted export.')
@click.option('--resume', is_flag=True, help='Continue an interrupted export with the same inputs and options.')
@click.option('--align', type=click.Choice(['auto']), help='auto: estimate warps into DIR/warps_auto.npy and export with them.')
@click.option('--flag-bad-frames', is_flag=True, help='Flag black, overexposed, blurred, fogged, occluded, moved frames into DIR/bad_frames.json.')
@click.option('--skip-flagged', is_flag=True, help='Add the flagged frames to --skip (needs --flag-bad-frames).')
@click.option('--analyse-only', is_flag=True, help='Stop after --align / --flag-bad-frames: write their files, no dataset.')
@click.option('--validate', 'validate_path', metavar='ZIP', type=click.Path(exists=True), help='Only check a dataset zip or folder.')
@click.option('--ui', is_flag=True, help='Open the interactive preprocessing tool with these settings.')
@click.option('--state', 'state_path', metavar='FILE', type=click.Path(dir_okay=False), help='--ui: restore a saved state (INPUT replaces its input); Save state writes here.')
@cli.user_errors(ValueError)
def main(input_path, outdir, validate_path, no_order_check, align, flag_bad_frames, skip_flagged, analyse_only, ui,
         state_path, **opts):
    """Turn the frames of INPUT (folder, zip or video) into DIR/NAME_RxR_Dhz.zip for training."""
    if validate_path is not None:
        if not validate.validate_dataset(validate_path)['ok']:
            sys.exit(1)
        return
    if ui:
        cfg = export.ExportConfig(input=input_path and os.path.abspath(input_path), export=outdir,
                                  check_order=not no_order_check, **opts)
        open_ui(cfg, state_path)
        return
    if input_path is None or outdir is None:
        raise click.UsageError('Give an INPUT and --export=DIR (or --validate ZIP, or --ui)')
    cli.check_folder(outdir, '--export')
    if align and opts['warps']:
        raise click.UsageError('Give either --align=auto or --warps FILE, not both')
    if skip_flagged and not flag_bad_frames:
        raise click.UsageError('--skip-flagged needs --flag-bad-frames')
    if analyse_only and not (align or flag_bad_frames):
        raise click.UsageError('--analyse-only needs --align=auto or --flag-bad-frames')
    cfg = export.ExportConfig(input=input_path, export=outdir, check_order=not no_order_check, **opts)
    cfg = autoprep.prepare(cfg, align=bool(align), flag=flag_bad_frames, skip_flagged=skip_flagged)
    if not analyse_only:
        click.echo(export.export_dataset(cfg))

def open_ui(cfg, state_path=None):
    """The preprocessing UI on cfg, or on the state saved in state_path (an existing file; cfg.input replaces its
    input when given)."""
    try:
        from viz.apps.preproc import PreprocApp # pylint: disable=import-outside-toplevel # imgui / OpenGL only here
        from preproc import ui_state # pylint: disable=import-outside-toplevel
    except ImportError as e:
        raise click.ClickException(f'{e}: the UI needs the viz extra (pip install -e .[viz]: imgui-bundle, PyOpenGL, glfw)') from None
    state = ui_state.UIState(export=cfg)
    if state_path is not None and os.path.exists(state_path):
        state = ui_state.load(state_path)
        if cfg.input is not None:
            state = dataclasses.replace(state, export=dataclasses.replace(state.export, input=cfg.input))
    PreprocApp.main(state, state_path=state_path and os.path.abspath(state_path))

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
