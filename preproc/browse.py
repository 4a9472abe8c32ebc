"""Browsing a sequence (what the preprocessing UI shows, GUI-free): the Lock view's frame at the same time of day on
another date, the capture density and gaps of the timeline strip, and small decoded previews with an LRU cache.
Indices are those of the time-sorted frames (the slider's); times are unix seconds, UTC (training.timeline)."""

import collections
import threading

import numpy as np

from preproc import discovery
from training import timeline

#----------------------------------------------------------------------------

def lock_index(unix, current, target):
    """The frame nearest to the moment at frame `current`'s time of day that lies closest to frame `target` (the
    time of day is circular: 23:00 locked and a target at 01:00 look at 23:00 of the day before). Frames at other
    times of day are taken only when a gap leaves none nearer."""
    unix = np.asarray(unix, dtype=np.float64)
    day = timeline.SECONDS_PER_DAY
    shift = np.mod(timeline.time_of_day(unix[current]) - timeline.time_of_day(unix[target]) + day / 2, day) - day / 2
    return int(np.abs(unix - (unix[target] + shift)).argmin())

def density(unix, bins, gap_factor=4.0):
    """(counts per bin over [first, last] capture, gaps): the gaps are (first index, next index) pairs of
    consecutive frames more than gap_factor median intervals apart."""
    unix = np.asarray(unix, dtype=np.float64)
    counts, _ = np.histogram(unix, bins=bins, range=(unix[0], max(unix[-1], unix[0] + 1)))
    steps = np.diff(unix)
    if steps.size == 0:
        return counts, []
    limit = gap_factor * np.median(steps)
    return counts, [(int(i), int(i) + 1) for i in np.flatnonzero(steps > limit)]

def gradient_image(rgb):
    """The original's 'Gradient img': 5x the mean absolute gradient (x and y, over the channels) as a grey uint8
    image of the same size; blur and fog show up as dark areas."""
    x = np.asarray(rgb, dtype=np.float32)
    gx = np.abs(np.diff(x, axis=1, append=x[:, -1:]))
    gy = np.abs(np.diff(x, axis=0, append=x[-1:]))
    g = np.clip(5 * (gx + gy).mean(-1) / 2 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, -1)

#----------------------------------------------------------------------------

class Previews:
    """Decoded frames at most `size` px on the long side, with an LRU of `capacity` entries (thread-safe: the worker
    decodes, the UI reads). Decoding uses the JPEG draft mode, so a preview of a large frame decodes a fraction of
    its pixels."""

    def __init__(self, size, capacity=64):
        self.size, self.capacity = int(size), int(capacity)
        self._cache = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, frame):
        """uint8 [h, w, 3]; raises like discovery.load_image for an unreadable frame."""
        with self._lock:
            if frame in self._cache:
                self._cache.move_to_end(frame)
                return self._cache[frame]
        img = discovery.load_image(frame, (self.size, self.size))
        img.thumbnail((self.size, self.size))
        pixels = np.asarray(img)
        with self._lock:
            self._cache[frame] = pixels
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return pixels

#----------------------------------------------------------------------------
