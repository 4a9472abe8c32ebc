"""Quality and speed of automatic alignment and bad-frame flags on a synthetic sequence with known defects (the
figures of docs/PREPROCESSING.md):

    python benchmarks/preproc_quality.py --days=90 --size=256 --outdir=out/preproc_quality
"""

import dataclasses
import json
import os
import re
import sys
import time

import click
import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from preproc import autoalign, badframes, discovery # pylint: disable=wrong-import-position
from preproc.synth import PRESETS, generate_sequence, inject # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def contact_sheet(path, frames, result, flags, truth, cell=160):
    """Reference, the most shifted daylight frame, that frame aligned, for five reasons the top-scoring flag that is
    right, and for each occlusion test (dark blob, bird shape, ring, local change) the top-scoring right flag with a
    red circle where it points (truth: {reason: set of indices})."""
    def load(i):
        return Image.open(frames[i].path).convert('RGB').resize((cell, cell))
    moved = int(np.argmax(np.abs(result.warps[:, 4:6]).sum(1) * ~result.interpolated))
    W = Image.open(frames[moved].path).size[0]
    shift = result.warps[moved, 4:6] * cell
    aligned = load(moved).transform((cell, cell), Image.Transform.AFFINE, (1, 0, -shift[0], 0, 1, -shift[1]), Image.Resampling.BICUBIC)
    right = lambda reason: sorted((f for f in flags if f.reason == reason and f.index in truth.get(reason, ())), key=lambda f: -f.score)
    picks = [right(reason)[:1] for reason in ('black', 'overexposed', 'blurred', 'camera_moved', 'fogged')]
    cells = [(load(result.reference), 'reference'), (load(moved), f'shifted {np.hypot(*result.warps[moved, 4:6]) * W:.1f} px'),
             (aligned, 'aligned')] + [(load(f.index), f.reason) for f in sum(picks, [])[:5]]
    for test in ('dark blob', 'bird-shaped darkening', 'drop-shaped ring', 'local change'):
        for f in [f for f in right('occluded') if f.detail.startswith(test)][:1]:
            img = load(f.index)
            x, y = (float(v) * cell for v in re.findall(r'[xy]=([0-9.]+)', f.detail)[:2])
            ImageDraw.Draw(img).ellipse((x - 14, y - 14, x + 14, y + 14), outline='red', width=2)
            cells.append((img, f'occluded: {test}'))
    rows = (len(cells) + 3) // 4
    sheet = Image.new('RGB', (4 * cell, rows * (cell + 16)), 'white')
    draw = ImageDraw.Draw(sheet)
    for k, (img, text) in enumerate(cells):
        x, y = (k % 4) * cell, (k // 4) * (cell + 16)
        sheet.paste(img, (x, y))
        draw.text((x + 4, y + cell + 2), text, fill='black')
    sheet.save(path, optimize=True)

@click.command()
@click.option('--outdir', default='out/preproc_quality', show_default=True)
@click.option('--days', default=90.0, show_default=True)
@click.option('--size', default=256, show_default=True)
@click.option('--jitter', default=2.0, show_default=True, help='Jitter std in px at 256 px width.')
@click.option('--seed', default=1, show_default=True, help='Seed of the synthetic sequence.')
@click.option('--workers', default=2, show_default=True)
@click.option('--sheet', help='Write a contact sheet PNG here.')
def main(outdir, days, size, jitter, seed, workers, sheet):
    cfg = dataclasses.replace(PRESETS['demo'], days=days, size=(size, size), jitter_px=jitter, seed=seed)
    generate_sequence(outdir, cfg, workers=workers, overwrite=True, progress=False)
    with open(os.path.join(outdir, 'factors.json'), encoding='utf-8') as f:
        fac = json.load(f)['frames']
    frames = discovery.discover(os.path.join(outdir, 'frames')).frames
    n = len(frames)
    el, fog = np.array([f['sun_elevation'] for f in fac]), np.array([f['fog'] for f in fac])
    occluder = np.array([f['occluder'] for f in fac]) > 0
    rng = np.random.default_rng(0)
    picks = rng.permutation(np.flatnonzero(~occluder))[:4 * max(n // 50, 2)]
    kinds = {int(i): inject.KINDS[k % 4] for k, i in enumerate(picks)}
    inject.inject([frames[i].path for i in kinds], list(kinds.values()))

    t0 = time.time()
    result = autoalign.estimate(frames, workers=workers)
    t1 = time.time()
    flags = badframes.flag_frames(frames, warps=result.warps, workers=workers)
    t2 = time.time()

    j = np.array([[f['jitter_x'], f['jitter_y']] for f in fac]) * size / 256
    err = np.hypot(*(result.warps[:, 4:6] + (j - j[result.reference]) / size).T) * size
    ok = np.array([i not in kinds for i in range(n)])
    groups = dict(daylight=(el > 5) & (fog < 0.3), night=el < -6, fog=(el > 5) & (fog >= 0.3))
    print(f'{n} frames of {size}x{size}, {days:g} days, jitter {jitter} px at 256 px; reference {result.reference}')
    print('| frames | count | median px | 90th pct px | interpolated |\n|---|---:|---:|---:|---:|')
    for name, m in groups.items():
        m = m & ok
        print(f'| {name} | {m.sum()} | {np.median(err[m]):.2f} | {np.percentile(err[m], 90):.2f} | {result.interpolated[m].mean():.0%} |')
    found = {(f.index, f.reason) for f in flags}
    truth = {k: {i for i, v in kinds.items() if v == k} for k in inject.KINDS}
    truth['occluded'] = set(np.flatnonzero(occluder).tolist())
    truth['fogged'] = set(np.flatnonzero((fog >= 0.5) & (el > 0)).tolist())
    day = set(np.flatnonzero(el > 0).tolist())
    print('\n| reason | true | recall (day) | recall (night) | false flags |\n|---|---:|---:|---:|---:|')
    for reason in badframes.REASONS:
        t = truth.get(reason, set())
        hit = lambda s: f'{np.mean([(i, reason) in found for i in s]):.0%}' if s else '-'
        false = {i for i, r in found if r == reason} - t
        print(f'| {reason} | {len(t)} | {hit(t & day)} | {hit(t - day)} | {len(false)} ({len(false) / n:.1%}) |')
    bad = set().union(*truth.values())
    flagged = {i for i, _ in found}
    target = truth['occluded'] | truth['black']
    print(f'\nOccluders and black frames flagged (for any reason): {len(target & flagged)} of {len(target)} '
          f'({len(target & flagged) / len(target):.0%})')
    print(f'Frames flagged without a known defect: {len(flagged - bad) / n:.1%}')
    print(f'Speed ({workers} workers): alignment {n / (t1 - t0):.0f} frames/s, flags {n / (t2 - t1):.0f} frames/s')
    if sheet:
        contact_sheet(sheet, frames, result, flags, truth)

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter
