"""Generate a synthetic webcam time-lapse with known factors (see preproc/synth):

    python preproc/synth_sequence.py --outdir=out/synth_demo                  # ~2 years, ~4000 frames at 256x256
    python preproc/synth_sequence.py --outdir=out/tiny --preset=tiny --seed=3
"""

import os
import sys

if __package__ in (None, ''): # Run as a file: make the repository root importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dataclasses

import click

from dnnlib import cli
from preproc.synth import PRESETS, generate_sequence

#----------------------------------------------------------------------------

def parse_size(text):
    """'WxH' or 'N' (square) -> (W, H)."""
    parts = text.lower().split('x')
    try:
        size = tuple(int(p) for p in parts) * (2 if len(parts) == 1 else 1)
    except ValueError:
        size = ()
    if len(size) != 2:
        raise click.BadParameter(f'expected WxH such as 256x256, got {text!r}', param_hint='--size')
    return size

@click.command()
@click.option('--outdir', required=True, type=click.Path(file_okay=False), help='Output folder (new or empty).')
@click.option('--preset', default='demo', show_default=True, type=click.Choice(sorted(PRESETS)), help='Base configuration.')
@click.option('--days', type=click.FloatRange(min=0, min_open=True), help='Span of the sequence in days.')
@click.option('--interval-min', type=click.FloatRange(min=0, min_open=True), help='Mean capture interval in minutes.')
@click.option('--size', help='Frame size WxH, e.g. 256x256.')
@click.option('--seed', type=int, help='Seed of weather, capture times and defects.')
@click.option('--workers', default=min(os.cpu_count() or 1, 8), show_default=True, type=click.IntRange(min=1),
              help='Rendering processes.')
@click.option('--overwrite', is_flag=True, help='Allow writing into a non-empty folder (replaces a previous sequence).')
@cli.user_errors()
def main(outdir, preset, days, interval_min, size, seed, workers, overwrite):
    """Render a synthetic outdoor webcam sequence: OUTDIR/frames/YYYYMMDD_HHMMSS.jpg and OUTDIR/factors.json."""
    overrides = dict(days=days, interval_min=interval_min, size=size and parse_size(size), seed=seed)
    try:
        cfg = dataclasses.replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})
        fac = generate_sequence(outdir, cfg, workers=workers, overwrite=overwrite)
    except (ValueError, FileExistsError) as e:
        raise click.UsageError(str(e)) from e
    click.echo(f'Wrote {len(fac["unix"])} frames and factors.json to {outdir}')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main()
