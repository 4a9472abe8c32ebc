"""The nearest real frame to a requested time, found the same way in every tool.

Where: the dataset a network was trained on is named by the basename of its pickle's `training_set_kwargs.path`.
Each root (--dataset_root options, then $TLGAN_DATASET_ROOT) is tried in order: a root that is itself a zip or folder
of that name, root/name, then name anywhere below root (a bounded walk).
What: the frame whose label is nearest to the request's time (the per-slot times joined into one date with
stack_to_global_t), kept only within a tolerance in hours; labels may be in any order.
"""

import functools
import os
import threading

import numpy as np
import torch

import dnnlib
from training import dataset as training_dataset
from training import timeline
from viz import render

#----------------------------------------------------------------------------
# Finding a dataset.

def dataset_roots(extra=()):
    return [os.path.abspath(r) for r in list(extra) + dnnlib.util.env_paths('TLGAN_DATASET_ROOT')]

def find_dataset(name, roots):
    """Path of the dataset `name` (a zip or folder name) under the roots, or None."""
    if not name:
        return None
    for root in roots:
        if os.path.basename(os.path.normpath(root)) == name and os.path.exists(root):
            return root
        if os.path.exists(os.path.join(root, name)):
            return os.path.join(root, name)
    for root in roots:
        for path in dnnlib.util.find_below(root, name, folders=True):
            return path
    return None

class DatasetFinder:
    """Finds (once per dataset name and roots: every dataset-mode batch asks) and opens the dataset of each network."""

    def __init__(self, roots=()):
        self.roots = dataset_roots(roots)
        self._paths = {} # (dataset name, roots) -> path found, or None
        self._lock = threading.Lock()

    def lookup(self, net):
        key = (net.dataset_name, tuple(self.roots))
        with self._lock:
            if key not in self._paths:
                self._paths[key] = find_dataset(net.dataset_name, self.roots)
            path = self._paths[key]
            return None if path is None else _open_lookup(os.path.abspath(path))

@functools.lru_cache(maxsize=3)
def _open_lookup(path):
    return FrameLookup(training_dataset.ImageFolderDataset(path, use_labels=True))

#----------------------------------------------------------------------------
# Nearest frames.

class FrameLookup:
    def __init__(self, dataset):
        if not dataset.has_labels:
            raise training_dataset.DatasetError(f'{dataset.name}: the dataset has no time labels')
        self.dataset = dataset
        self.timeline = dataset.timeline
        labels = dataset.labels[:, 0].astype(np.float64)
        self._order = np.argsort(labels, kind='stable') # Dataset index of each sorted label.
        self._sorted = labels[self._order]

    def times(self):
        """Sorted labels (t) of all frames."""
        return self._sorted.copy()

    def nearest(self, t):
        """(dataset index, |dt| in t units) of the frame nearest to each t [N]."""
        t = np.asarray(t, dtype=np.float64)
        pos = np.clip(np.searchsorted(self._sorted, t), 1, len(self._sorted) - 1) if len(self._sorted) > 1 else np.zeros(t.shape, int)
        left = np.maximum(pos - 1, 0)
        pick = np.where(np.abs(self._sorted[left] - t) <= np.abs(self._sorted[pos] - t), left, pos)
        return self._order[pick], np.abs(self._sorted[pick] - t)

    def image(self, idx):
        """uint8 [H, W, C] of a dataset index."""
        return self.dataset[int(idx)][0].transpose(1, 2, 0)

#----------------------------------------------------------------------------
# Dataset requests (render.Request with source='dataset').

def global_times(net, req):
    """One date t per image of a request: its slot times joined with stack_to_global_t."""
    c = render.slot_times(net, req.times)
    if req.dataset_noise:
        c = _jitter(net, c, req.noise_seed)
    return timeline.stack_to_global_t(c, net.G.frequencies)

def _jitter(net, c, seed):
    """The discriminator's training-time time noise of the generator's cond_args, seeded."""
    xform = type(net.G.cond_xform)(net.G.cond_args, add_noise=True).train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return xform._add_time_noise(torch.from_numpy(c).float()).double().numpy() # pylint: disable=protected-access

def render_frames(lookup, net, req, size):
    """uint8 [B, h, w, 4]: the nearest frames, transparent beyond the tolerance, grey without a dataset."""
    w, h = size
    out = np.zeros([len(req), h, w, 4], dtype=np.uint8)
    if lookup is None:
        out[:] = (128, 128, 128, 255)
        return out
    idx, dt = lookup.nearest(global_times(net, req))
    tol = req.gt_tol_hours / 24 / lookup.timeline.num_days
    for k in np.flatnonzero(dt <= tol):
        out[k] = _fit(lookup.image(idx[k]), net.out_rect, net.G.img_resolution, size, req.antialias)
    return out

def _fit(image, out_rect, resolution, size, antialias):
    """A dataset frame cropped like the generator's output (out_rect, scaled to the frame) and resampled to size."""
    s = image.shape[0] / resolution
    x1, y1, x2, y2 = (int(round(v * s)) for v in out_rect)
    x = torch.from_numpy(np.ascontiguousarray(image[y1:y2, x1:x2])).permute(2, 0, 1)[None].to(torch.float32)
    x = render.resample(x / 127.5 - 1, size, antialias)
    return render.to_rgba8(x)[0].numpy()

#----------------------------------------------------------------------------
