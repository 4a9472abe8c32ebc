"""Render grids that show whether a trained generator follows the requested time, one factor at a time.

Each grid has one fixed latent z per row; across the columns only one time slot changes, through [B,F] inputs:
  day_grid.png    the time of day (every 3 h, UTC) on a fixed date,
  season_grid.png the date within the year (the 1st of each month, at local solar noon) at a fixed trend,
  trend_grid.png  the trend from the start to the end of the sequence, at a fixed summer noon.
The day and season grids hold the trend at --trend (default 0.5, the middle of the sequence).
A grid whose file exists is written as day_grid-r1.png (-r2, ...): earlier grids are kept.

  python scripts/time_grids.py --network=network-snapshot-000100.pkl --outdir=grids [--rows=4] [--seed=0] [--trend=0.5]
"""

import datetime
import os
import sys

import click
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import dnnlib
from dnnlib import cli
from training import timeline
from viz import compose, network, render

#----------------------------------------------------------------------------

def _slot_times(overrides, t_base):
    """[N, 3] (lin, year, day) times: every slot at t_base, except the overridden slots ({'lin'|'year'|'day': t});
    the renderer keeps the slots the generator has."""
    stack = np.full([len(overrides), len(render.SLOTS)], t_base, dtype=np.float64)
    for col, override in enumerate(overrides):
        for name, t in override.items():
            stack[col, render.SLOTS.index(name)] = t
    return stack

def grid_columns(G, lon, trend=0.5):
    """{grid name: (column labels, [C, 3] (lin, year, day) times)} for the three grids; the day and season grids at
    the trend slot's t = trend."""
    tl = timeline.Timeline.from_cond_args(G.cond_args)
    hours = list(range(0, 24, 3))
    mid_date = timeline.midnight(tl.t_to_unix(0.5))
    day = [{'lin': trend, 'day': tl.unix_to_t(mid_date + h * timeline.SECONDS_PER_HOUR)} for h in hours]
    months = timeline.month_starts(tl.date_start, 12)
    season = [{'lin': trend, 'year': t, 'day': t} for t in tl.unix_to_t(timeline.solar_noon(months, lon))]
    first = tl.t_to_datetime(0.0)
    july = timeline.to_unix(datetime.datetime(first.year + (first.month > 7), 7, 1))
    summer_noon = tl.unix_to_t(timeline.solar_noon(july, lon))
    trends = np.linspace(0, 1, 8)
    trend = [{'lin': t, 'year': summer_noon, 'day': summer_noon} for t in trends]
    return {
        'day_grid': ([f'{h:02d}:00 UTC' for h in hours], _slot_times(day, 0.5)),
        'season_grid': ([timeline.unix_to_datetime(m).strftime('%b') for m in months], _slot_times(season, 0.5)),
        'trend_grid': ([f'trend {t:.2f}' for t in trends], _slot_times(trend, 0.5)),
    }

def render_grid(renderer, net, times, rows, seed):
    """uint8 RGBA [rows, C, h, w, 4] through the viewers' renderer: row r shows seed + r at every column's times."""
    return np.stack([renderer.render(render.Request(network=net.path, seeds=(seed + r,) * len(times),
        times=tuple(map(tuple, times)))).images for r in range(rows)])

def save_labelled_grid(images, labels, path):
    """Write the grid with its column labels (viz.compose) as a PNG at `path`, or at path-r1, ... if that exists;
    returns the path written."""
    rows, cols, h, w, _ = images.shape
    grid = compose.caption(compose.tile(images.reshape(rows * cols, h, w, -1), cols, rows)[..., :3], labels, cell_size=(w, h))
    return dnnlib.util.atomic_write(path, lambda f: Image.fromarray(grid).save(f, format='PNG'))

#----------------------------------------------------------------------------

@click.command()
@click.option('--network', 'network_pkl', help='Network pickle', metavar='PATH', required=True)
@click.option('--outdir', help='Where to write the grids', metavar='DIR', required=True)
@click.option('--rows', help='Latents (rows) per grid', type=click.IntRange(min=1), default=4, show_default=True)
@click.option('--seed', help='Seed of the first row', type=click.IntRange(min=0), default=0, show_default=True)
@click.option('--lon', help='Camera longitude in degrees east, for local solar noon', type=float, default=8.5, show_default=True)
@click.option('--trend', help='Trend slot t of the day and season grids', type=click.FloatRange(0, 1), default=0.5, show_default=True)
@cli.user_errors(network.NetworkError)
def main(network_pkl, outdir, rows, seed, lon, trend):
    """Day-phase, season and trend grids of a time-conditioned generator."""
    cli.check_folder(outdir, '--outdir')
    renderer = render.Renderer()
    net = renderer.network(network_pkl)
    G = net.G
    if G.cond_args.type not in ('fourier', 'f_concat'):
        raise click.UsageError(f'{network_pkl}: per-frequency grids need a fourier/f_concat generator, not {G.cond_args.type!r}')
    os.makedirs(outdir, exist_ok=True)
    names = timeline.frequency_names(G.frequencies)
    for name, (labels, slot_times) in grid_columns(G, lon, trend).items():
        if name == 'season_grid' and 'year' not in names:
            print(f'No season grid: the sequence is shorter than a year, so the generator has no year slot ({names})')
            continue
        path = os.path.join(outdir, f'{name}.png')
        written = save_labelled_grid(render_grid(renderer, net, slot_times, rows, seed), labels, path)
        print(written + (f'  ({name}.png exists and was kept)' if written != path else ''))

if __name__ == '__main__':
    main()

#----------------------------------------------------------------------------
