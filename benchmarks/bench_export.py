"""Throughput of the headless dataset export: writes N synthetic JPEG frames (smooth random scenes with noise, not
constant) and exports them to an R x R dataset zip with the given number of worker processes; prints frames/s.

  python benchmarks/bench_export.py --frames=200 --size=1024 --resolution=256
"""

import datetime
import os
import sys
import tempfile
import time

import click
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from preproc import export # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def write_frames(folder, count, size, seed=0):
    """Photo-like frames: a random low-resolution field upsampled bicubically plus pixel noise."""
    rng = np.random.default_rng(seed)
    t0 = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    for i in range(count):
        base = Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).resize((size, size), Image.Resampling.BICUBIC)
        noisy = np.asarray(base, dtype=np.int16) + rng.integers(-12, 13, (size, size, 3), dtype=np.int16)
        name = (t0 + datetime.timedelta(minutes=10 * i)).strftime('%Y%m%d_%H%M%S.jpg')
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(os.path.join(folder, name), quality=90)

@click.command()
@click.option('--frames', type=int, default=200, show_default=True, help='Number of input frames.')
@click.option('--size', type=int, default=1024, show_default=True, help='Input frame side.')
@click.option('--resolution', type=int, default=256, show_default=True, help='Output side R.')
@click.option('--workers', type=int, default=None, help='Worker processes (default: all cores).')
def main(frames, size, resolution, workers):
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, 'frames')
        os.makedirs(folder)
        t = time.perf_counter()
        write_frames(folder, frames, size)
        print(f'Wrote {frames} frames of {size}x{size} in {time.perf_counter() - t:.1f} s')
        cfg = export.ExportConfig(input=folder, export=os.path.join(tmp, 'out'), resolution=resolution,
                                  workers=workers, progress=False)
        t = time.perf_counter()
        path = export.export_dataset(cfg)
        elapsed = time.perf_counter() - t
        print(f'{frames} frames {size}x{size} -> {resolution}x{resolution} with {workers or os.cpu_count()} workers: '
              f'{elapsed:.2f} s, {frames / elapsed:.1f} frames/s, {os.path.getsize(path) / 2**20:.1f} MiB')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
