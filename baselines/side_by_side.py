"""Raw frames | Martin-Brualla et al. 2015 smoothing | TLGAN re-render, side by side, at the same capture times:

    python baselines/side_by_side.py --dataset=demo/data/demo_128x128_730hz.zip --network=models/demo_128.pkl \\
        --out=side_by_side.mp4 --frames=400 --skip=10 --still=200

The TLGAN column is the stabilise preset of export.py at every chosen frame's time: one weather (--seed), the time
of day frozen (--day-hour, UTC), season and trend following the frames. The console (and the video's metadata)
gets the flicker of each column: the mean absolute frame-to-frame difference, 0..255. --still writes one frame of
the three columns as OUT-still.png. Outputs are written atomically and never replace existing files.
"""

import json
import os
import sys

import click
import numpy as np

if __package__ in (None, ''): # Run as a script: make the repository importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from baselines import martin_brualla15 as mb15 # pylint: disable=wrong-import-position
from dnnlib import cli # pylint: disable=wrong-import-position
from viz import compose, metadata, network, render, video # pylint: disable=wrong-import-position
from viz import export as vexport # pylint: disable=wrong-import-position
from viz import state as vstate # pylint: disable=wrong-import-position

LABELS = ('raw frames', 'Martin-Brualla et al. 2015', 'TLGAN re-render')

#----------------------------------------------------------------------------

def tlgan_frames(network_pkl, t, size, seed=0, day_hour=12.0, device=None):
    """uint8 [T, H, W, 3] stabilised renders at the dataset times t, centre-cropped to size (H, W) like the raw
    frames (whose letter-box pads the baseline drops)."""
    doc = vstate.Document(tool='sequence', network=network.ref_for(network_pkl),
        state=vstate.SequenceState(seed=seed, day_hour=day_hour), soft=vstate.SequenceSoft())
    renderer = render.Renderer(device=device)
    frames = np.stack([f[..., :3] for f in vexport.iter_sequence(renderer, doc, renderer.network(network_pkl), frame_t=t)])
    h, w = size
    y, x = (frames.shape[1] - h) // 2, (frames.shape[2] - w) // 2
    return frames[:, y:y + h, x:x + w]

def side_by_side(columns, gap=4):
    """[T, H, W, 3] arrays -> [T, H', W', 3] frames: the columns with white gaps and a caption header."""
    t, h, w, _ = columns[0].shape
    white = np.full((t, h, gap, 3), 255, np.uint8)
    row = np.concatenate(sum([[c, white] for c in columns], [])[:-1], axis=2)
    return np.stack([compose.caption(f, col_labels=LABELS, cell_size=(w + gap, h)) for f in row])

#----------------------------------------------------------------------------

@click.command(context_settings=dict(help_option_names=['-h', '--help']))
@click.option('--dataset', 'zip_path', required=True, metavar='ZIP', help='Dataset zip (or folder) of this project')
@click.option('--network', 'network_pkl', required=True, metavar='PKL', type=click.Path(exists=True, dir_okay=False), help='Generator trained on it')
@click.option('--out', required=True, metavar='FILE', help='Output .mp4 (never overwritten)')
@click.option('--start', type=click.IntRange(min=0), default=0, show_default=True, help='First frame (time order)')
@click.option('--frames', 'count', type=click.IntRange(min=2), default=400, show_default=True, help='Number of frames (at most)')
@click.option('--skip', type=click.IntRange(min=1), default=10, show_default=True, help='Take every skip-th frame')
@click.option('--iters', type=click.IntRange(min=0), default=400, show_default=True, help='Baseline: Adam iterations per slice')
@click.option('--alpha', type=click.FloatRange(min=0), default=100.0, show_default=True, help='Baseline: smoothness weight')
@click.option('--seed', type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help='TLGAN: weather seed')
@click.option('--day-hour', type=click.FloatRange(0, 24, max_open=True), default=12.0, show_default=True, help='TLGAN: UTC hour of the frozen time of day')
@click.option('--fps', type=click.FloatRange(0, 1000, min_open=True), default=30.0, show_default=True)
@click.option('--still', type=click.IntRange(min=0), help='Also write frame N as OUT-still.png')
@click.option('--device', metavar='DEV', help='torch device (default: cuda if available, else cpu)')
@cli.user_errors(mb15.DatasetError, vexport.ExportError)
def main(zip_path, network_pkl, out, start, count, skip, iters, alpha, seed, day_hour, fps, still, device):
    """Write the three columns as one H.264 video and print their flicker."""
    still_path = os.path.splitext(out)[0] + '-still.png'
    for path in [out] + ([still_path] if still is not None else []):
        if os.path.exists(path):
            raise cli.UserError(f'{path}: already exists; outputs are never written over')
    raw, t = mb15.load_frames(zip_path, start=start, count=count, skip=skip)
    if still is not None and still >= len(raw):
        raise cli.UserError(f'--still={still}, but there are only {len(raw)} frames')
    click.echo(f'{len(raw)} frames of {raw.shape[2]}x{raw.shape[1]}: smoothing, then rendering')
    base = mb15.smooth(raw, alpha=alpha, iters=iters, device=device or mb15.default_device())
    gan = tlgan_frames(network_pkl, t, raw.shape[1:3], seed=seed, day_hour=day_hour, device=device)
    flicker = {label: round(mb15.flicker(c), 3) for label, c in zip(LABELS, (raw, base, gan))}
    frames = side_by_side([raw, base, gan])
    settings = dict(tool='side_by_side', dataset=os.path.basename(zip_path), network=os.path.basename(network_pkl),
        start=start, frames=len(raw), skip=skip, iters=iters, alpha=alpha, seed=seed, day_hour=day_hour, flicker=flicker)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with video.VideoWriter(out, fps=fps, metadata=json.dumps(settings)) as writer:
        for frame in frames:
            writer.write(video.pad_even(frame))
    if still is not None:
        metadata.save_image(still_path, frames[still], json.dumps(settings))
    click.echo(f'{out}: flicker (mean |frame difference|, 0..255): ' + ', '.join(f'{k} {v:.2f}' for k, v in flicker.items()))

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter
