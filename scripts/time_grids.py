"""Render grids that show whether a trained generator follows the requested time, one factor at a time.

Each grid has one fixed latent z per row; across the columns only one time slot changes, through [B,F] inputs:
  day_grid.png    the time of day (every 3 h, UTC) on a fixed date,
  season_grid.png the date within the year (the 1st of each month, at local solar noon) at a fixed trend,
  trend_grid.png  the trend from the start to the end of the sequence, at a fixed summer noon.
A grid whose file exists is written as day_grid-r1.png (-r2, ...): earlier grids are kept.

  python scripts/time_grids.py --network=network-snapshot-000100.pkl --outdir=grids [--rows=4] [--seed=0]
"""

import datetime
import os
import sys

import click
import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import dnnlib
from dnnlib import cli
from torch_utils import safe_pickle
from training import timeline

#----------------------------------------------------------------------------

def _slot_times(G, overrides, t_base):
    """[N, F] per-frequency times: every slot at t_base, except the overridden slots ({'lin'|'year'|'day': t})."""
    names = timeline.frequency_names(G.frequencies)
    stack = np.full([len(overrides), len(names)], t_base, dtype=np.float64)
    for col, override in enumerate(overrides):
        for name, t in override.items():
            if name in names:
                stack[col, names.index(name)] = t
    return stack

def grid_columns(G, lon):
    """{grid name: (column labels, [C, F] slot times)} for the three grids."""
    tl = timeline.Timeline.from_cond_args(G.cond_args)
    hours = list(range(0, 24, 3))
    mid_date = timeline.midnight(tl.t_to_unix(0.5))
    day = [{'day': tl.unix_to_t(mid_date + h * timeline.SECONDS_PER_HOUR)} for h in hours]
    months = timeline.month_starts(tl.date_start, 12)
    season = [{'year': t, 'day': t} for t in tl.unix_to_t(timeline.solar_noon(months, lon))]
    first = tl.t_to_datetime(0.0)
    july = timeline.to_unix(datetime.datetime(first.year + (first.month > 7), 7, 1))
    summer_noon = tl.unix_to_t(timeline.solar_noon(july, lon))
    trends = np.linspace(0, 1, 8)
    trend = [{'lin': t, 'year': summer_noon, 'day': summer_noon} for t in trends]
    return {
        'day_grid': ([f'{h:02d}:00 UTC' for h in hours], _slot_times(G, day, 0.5)),
        'season_grid': ([timeline.unix_to_datetime(m).strftime('%b') for m in months], _slot_times(G, season, 0.5)),
        'trend_grid': ([f'trend {t:.2f}' for t in trends], _slot_times(G, trend, 0.5)),
    }

@torch.no_grad()
def render_grid(G, slot_times, rows, seed, device):
    """uint8 [rows, C, H, W, 3]: one z per row (seeds seed..seed+rows-1, as the viewers draw them)."""
    z = torch.from_numpy(np.stack([np.random.RandomState(seed + r).standard_normal(G.z_dim) for r in range(rows)]))
    c = torch.from_numpy(slot_times).float().to(device)
    images = []
    for r in range(rows):
        zr = z[r:r + 1].float().to(device).repeat(len(c), 1)
        img = G(zr, c, noise_mode='const')
        images.append((img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy())
    return np.stack(images)

def _wrap(draw, label, width):
    """The label with a line break wherever the next word would not fit into `width` pixels."""
    lines = []
    for word in label.split():
        if lines and draw.textlength(f'{lines[-1]} {word}') <= width:
            lines[-1] += f' {word}'
        else:
            lines.append(word)
    return '\n'.join(lines)

def save_labelled_grid(images, labels, path):
    """Write the grid as a PNG at `path`, or at path-r1, ... if that exists; returns the path written. Labels wrap to
    their column's width and are clipped to it, so that neighbours never overlap."""
    rows, cols, h, w, _ = images.shape
    draw = ImageDraw.Draw(Image.new('RGB', (1, 1)))
    texts = [_wrap(draw, label, w - 4) for label in labels]
    header = max(draw.multiline_textbbox((0, 0), text)[3] for text in texts) + 4
    canvas = Image.new('RGB', (cols * w, rows * h + header), 'white')
    for c, text in enumerate(texts):
        cell = Image.new('RGB', (w, header), 'white')
        ImageDraw.Draw(cell).multiline_text((2, 1), text, fill='black')
        canvas.paste(cell, (c * w, 0))
        for r in range(rows):
            canvas.paste(Image.fromarray(images[r, c]), (c * w, header + r * h))
    return dnnlib.util.atomic_write(path, lambda f: canvas.save(f, format='PNG'))

#----------------------------------------------------------------------------

@click.command()
@click.option('--network', 'network_pkl', help='Network pickle', metavar='PATH', required=True)
@click.option('--outdir', help='Where to write the grids', metavar='DIR', required=True)
@click.option('--rows', help='Latents (rows) per grid', type=click.IntRange(min=1), default=4, show_default=True)
@click.option('--seed', help='Seed of the first row', type=click.IntRange(min=0), default=0, show_default=True)
@click.option('--lon', help='Camera longitude in degrees east, for local solar noon', type=float, default=8.5, show_default=True)
@cli.user_errors()
def main(network_pkl, outdir, rows, seed, lon):
    """Day-phase, season and trend grids of a time-conditioned generator."""
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    cli.check_folder(outdir, '--outdir')
    G = safe_pickle.load_network_pkl(network_pkl, device=device).get('G_ema')
    if G is None:
        raise cli.UserError(f'{network_pkl} holds no G_ema: give a network snapshot (network-snapshot-*.pkl)')
    G.eval()
    if G.cond_args.type not in ('fourier', 'f_concat'):
        raise click.UsageError(f'{network_pkl}: per-frequency grids need a fourier/f_concat generator, not {G.cond_args.type!r}')
    os.makedirs(outdir, exist_ok=True)
    names = timeline.frequency_names(G.frequencies)
    for name, (labels, slot_times) in grid_columns(G, lon).items():
        if name == 'season_grid' and 'year' not in names:
            print(f'No season grid: the sequence is shorter than a year, so the generator has no year slot ({names})')
            continue
        path = os.path.join(outdir, f'{name}.png')
        written = save_labelled_grid(render_grid(G, slot_times, rows, seed, device), labels, path)
        print(written + (f'  ({name}.png exists and was kept)' if written != path else ''))

if __name__ == '__main__':
    main()

#----------------------------------------------------------------------------
