"""What automatic alignment (autoalign.py) and bad-frame detection (badframes.py) share: frames decoded small, and a
map over frames in chunks, in worker processes or in this one, with progress and cancellation.

Frames of another size than the reference size (geometry.reference_size) are stretched onto it, as the export does,
so that normalised coordinates mean the same in every frame.
"""

import contextlib
import os

import numpy as np
from PIL import Image

import dnnlib
from preproc import discovery

CHUNK = 16 # Frames per task: large enough to hide the pool's overhead, small enough for a smooth progress bar.

class Cancelled(Exception):
    """The caller's cancel() returned True: the analysis stopped, nothing was returned or written."""

#----------------------------------------------------------------------------

def work_size(ref_size, size, enlarge=False):
    """(w, h) to analyse at: the reference size shrunk so that its longer side is at most `size` (enlarged to it too
    with `enlarge`: for tests whose kernels and thresholds were tuned at that size)."""
    scale = size / max(ref_size) if enlarge else min(1.0, size / max(ref_size))
    return max(round(ref_size[0] * scale), 8), max(round(ref_size[1] * scale), 8)

def load_small(frame, wh, mode='L'):
    """float32 [h, w] (mode 'L', luma) or [h, w, 3] (mode 'RGB') in [0, 1], box-filtered down to wh (bicubic where wh is
    larger); None when the frame cannot be decoded (the export skips those frames too)."""
    try:
        img = discovery.load_image(frame, min_size=wh)
    except Exception: # pylint: disable=broad-except
        return None
    resample = Image.Resampling.BOX if wh[0] <= img.width and wh[1] <= img.height else Image.Resampling.BICUBIC
    return np.asarray(img.convert(mode).resize(wh, resample), dtype=np.float32) / 255

#----------------------------------------------------------------------------

def map_frames(fn, frames, args=(), workers=None, progress=None, cancel=None):
    """[fn(chunk, *args) for consecutive chunks of frames], concatenated: one result per frame, in order.

    workers: processes (default: all cores; <= 1 runs here). progress(done, total) is called after each chunk;
    cancel() is polled after each chunk and raises Cancelled when it returns True. fn must be a module-level function
    (the workers are spawned and import it).
    """
    workers = os.cpu_count() if workers is None else workers
    chunks = [frames[i:i + CHUNK] for i in range(0, len(frames), CHUNK)]
    out = []
    with contextlib.closing(dnnlib.util.ordered_map(fn, [(chunk, *args) for chunk in chunks], workers)) as results:
        for result in results:
            out.extend(result)
            if progress is not None:
                progress(len(out), len(frames))
            if cancel is not None and cancel():
                raise Cancelled(f'Cancelled after {len(out)} of {len(frames)} frames')
    return out

#----------------------------------------------------------------------------
