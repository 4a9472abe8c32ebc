"""What the metrics share: options, work split over processes, feature statistics of the real dataset (cached on
disk) and of generated images, generator sampling with labels drawn from the dataset, and a generator's time slots
and content rectangle."""

import contextlib
import copy
import hashlib
import json
import os

import numpy as np
import torch
import tqdm

import dnnlib
from metrics import feature_nets
from torch_utils import distributed
from training import timeline
from viz import render

#----------------------------------------------------------------------------

class MetricOptions:
    """Everything a metric needs. `inception` / `vgg16` name the feature networks (see feature_nets) or are Detectors."""

    def __init__(self, G=None, G_kwargs={}, dataset_kwargs={}, num_gpus=1, rank=0, device=None, progress=None,
            cache=True, inception=None, vgg16=None, seed=0):
        if not 0 <= rank < num_gpus:
            raise ValueError(f'rank {rank} is outside 0..num_gpus-1 (num_gpus={num_gpus})')
        if num_gpus > 1 and not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            raise ValueError(f'num_gpus={num_gpus} needs an initialised torch.distributed process group')
        self.G = G
        self.G_kwargs = dnnlib.EasyDict(G_kwargs)
        self.dataset_kwargs = dnnlib.EasyDict(dataset_kwargs)
        self.num_gpus = num_gpus
        self.rank = rank
        self.device = torch.device(device) if device is not None else distributed.device()
        self.progress = progress # None, True (a tqdm bar on rank 0) or a callable(desc, done, total)
        self.cache = cache
        self.detector_specs = dict(inception=inception, vgg16=vgg16)
        self.seed = seed
        self._dataset = None

    def dataset(self):
        """The real data, opened on first use and shared by everything the metric reads (statistics, labels)."""
        if self._dataset is None:
            self._dataset = dnnlib.util.construct_class_by_name(**self.dataset_kwargs)
        return self._dataset

    def detector(self, kind):
        """The feature network `kind`; rank 0 fetches it first so that several ranks never download at once."""
        with rank0_first(self):
            return feature_nets.get_detector(kind, self.detector_specs[kind], self.device)

    def rngs(self, salt):
        """(numpy Generator, CPU torch.Generator) seeded by (seed, rank, salt): reproducible, different per rank."""
        seq = np.random.SeedSequence([self.seed, self.rank, salt])
        return np.random.default_rng(seq), torch.Generator().manual_seed(int(seq.generate_state(1)[0]))

    def bar(self, desc, total):
        return _Progress(self, desc, total)

class _Progress:
    def __init__(self, opts, desc, total):
        self.fn = opts.progress if callable(opts.progress) and opts.rank == 0 else None
        self.desc, self.total, self.done, self.tqdm = desc, total, 0, None
        if opts.progress is True and opts.rank == 0:
            self.tqdm = tqdm.tqdm(total=total, desc=desc, leave=False)

    def update(self, n):
        self.done = min(self.done + n, self.total)
        if self.tqdm is not None:
            self.tqdm.update(n)
        if self.fn is not None:
            self.fn(self.desc, self.done, self.total)

    def close(self):
        if self.tqdm is not None:
            self.tqdm.close()

#----------------------------------------------------------------------------
# Work split over processes. Every helper is a no-op with one process, so no process group is needed then.

def barrier(opts):
    if opts.num_gpus > 1:
        torch.distributed.barrier()

@contextlib.contextmanager
def rank0_first(opts):
    """Rank 0 runs the body first (e.g. a download or a training whose result is cached), then the other ranks,
    which find the cache filled."""
    if opts.rank != 0:
        barrier(opts)
    yield
    if opts.rank == 0:
        barrier(opts)

def gather_rows(x, opts):
    """Concatenate the equally shaped [n, ...] tensors of all ranks in rank order."""
    if opts.num_gpus == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(opts.num_gpus)]
    torch.distributed.all_gather(parts, x.contiguous())
    return torch.cat(parts)

def sum_across(x, opts):
    """Elementwise sum of a tensor over all ranks."""
    if opts.num_gpus == 1:
        return x
    x = x.clone()
    torch.distributed.all_reduce(x)
    return x

def broadcast_value(value, opts):
    """Rank 0's float (NaN-safe) on every rank."""
    if opts.num_gpus == 1:
        return value
    t = torch.tensor(float(value), dtype=torch.float64, device=opts.device)
    torch.distributed.broadcast(t, src=0)
    return float(t.item())

def rank_batches(num_items, batch_size, opts):
    """Yield (this rank's indices, number of valid gathered rows). Each step covers the next items, rank r its r-th
    equal slice (at most batch_size; the last step's slices are padded by repeating the last item), so that
    gathering in rank order yields the items in order."""
    start = 0
    while start < num_items:
        per_rank = min(batch_size, -(-(num_items - start) // opts.num_gpus))
        idx = np.minimum(np.arange(start, start + per_rank * opts.num_gpus), num_items - 1)
        yield idx[opts.rank * per_rank : (opts.rank + 1) * per_rank], min(per_rank * opts.num_gpus, num_items - start)
        start += per_rank * opts.num_gpus

#----------------------------------------------------------------------------
# Feature statistics: all features and/or their running mean and (biased) covariance in float64.

class FeatureStats:
    def __init__(self, capture_all=False, capture_mean_cov=False, max_items=None):
        self.capture_all = capture_all
        self.capture_mean_cov = capture_mean_cov
        self.max_items = max_items
        self.num_items = 0
        self.all = []
        self.sum = None
        self.sum_outer = None

    def is_full(self):
        return self.max_items is not None and self.num_items >= self.max_items

    def append(self, x):
        """Add the rows of a [n, D] tensor (those beyond max_items are dropped)."""
        if self.max_items is not None:
            x = x[:max(self.max_items - self.num_items, 0)]
        self.num_items += x.shape[0]
        if self.capture_all:
            self.all.append(x.to(torch.float32).cpu())
        if self.capture_mean_cov:
            x64 = x.to(torch.float64)
            if self.sum is None:
                self.sum = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
                self.sum_outer = torch.zeros([x.shape[1]] * 2, dtype=torch.float64, device=x.device)
            self.sum += x64.sum(dim=0)
            self.sum_outer += x64.T @ x64

    def get_all(self):
        """float32 [N, D] numpy array of every feature."""
        return torch.cat(self.all).numpy()

    def get_mean_cov(self):
        """float64 (mean [D], biased covariance [D, D]) numpy arrays."""
        mean = self.sum.cpu().numpy() / self.num_items
        cov = self.sum_outer.cpu().numpy() / self.num_items - np.outer(mean, mean)
        return mean, cov

    def save(self, path):
        """Write atomically (temp file in the same folder + rename), so a crash never leaves a broken cache file."""
        arrays = dict(num_items=self.num_items, capture_all=self.capture_all, capture_mean_cov=self.capture_mean_cov,
            max_items=-1 if self.max_items is None else self.max_items)
        if self.capture_all:
            arrays['all'] = self.get_all()
        if self.capture_mean_cov:
            arrays.update(sum=self.sum.cpu().numpy(), sum_outer=self.sum_outer.cpu().numpy())
        dnnlib.util.atomic_write(path, lambda f: np.savez(f, **arrays), overwrite=True)

    @staticmethod
    def load(path):
        with np.load(path, allow_pickle=False) as data:
            max_items = int(data['max_items'])
            stats = FeatureStats(bool(data['capture_all']), bool(data['capture_mean_cov']), None if max_items < 0 else max_items)
            stats.num_items = int(data['num_items'])
            if stats.capture_all:
                stats.all = [torch.from_numpy(data['all'])]
            if stats.capture_mean_cov:
                stats.sum, stats.sum_outer = torch.from_numpy(data['sum']), torch.from_numpy(data['sum_outer'])
        return stats

#----------------------------------------------------------------------------
# Turning images into features.

def detector_call(detector, mode, images):
    """Run a Detector's `mode` ('features' | 'probabilities' | 'lpips') on [N, C, H, W] images (grey -> RGB)."""
    if images.shape[1] == 1:
        images = images.repeat([1, 3, 1, 1])
    return getattr(detector, mode)(images)

def _dataset_cache_file(opts, dataset, detector, args):
    """Cache path keyed by dataset name, detector and an md5 of everything that changes the statistics."""
    path = str(opts.dataset_kwargs.get('path', ''))
    stamp = [os.path.getsize(path), int(os.path.getmtime(path))] if os.path.isfile(path) else None # catches rewritten zips
    key = json.dumps(dict(dataset_kwargs=opts.dataset_kwargs, stamp=stamp, detector=detector.name, args=args), sort_keys=True, default=str)
    md5 = hashlib.md5(key.encode('utf-8')).hexdigest()
    return dnnlib.util.make_cache_dir_path('gan-metrics', f'{dataset.name}-{detector.name}-{md5}.npz')

@torch.no_grad()
def compute_feature_stats_for_dataset(opts, kind, mode='features', max_items=None, batch_size=64, **stats_kwargs):
    """FeatureStats of the real images (all, or max_items evenly spaced ones), cached per dataset and detector."""
    dataset = opts.dataset()
    detector = opts.detector(kind)
    num_items = len(dataset) if max_items is None else min(max_items, len(dataset))
    cache_file = None
    if opts.cache:
        cache_file = _dataset_cache_file(opts, dataset, detector, dict(mode=mode, max_items=max_items, **stats_kwargs))
        hit = os.path.isfile(cache_file) if opts.rank == 0 else False
        if broadcast_value(hit, opts):
            return FeatureStats.load(cache_file)

    stats = FeatureStats(max_items=num_items, **stats_kwargs)
    items = np.arange(num_items) * len(dataset) // num_items # evenly spaced: a time-ordered prefix would be biased
    batches = list(rank_batches(num_items, batch_size, opts))
    workers = 3 if opts.device.type == 'cuda' else 0
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=[items[b].tolist() for b, _ in batches], num_workers=workers,
        pin_memory=opts.device.type == 'cuda')
    bar = opts.bar(f'{dataset.name} {mode}', num_items)
    for (images, _labels), (_idx, valid) in zip(loader, batches):
        feats = detector_call(detector, mode, images.to(opts.device))
        stats.append(gather_rows(feats, opts)[:valid])
        bar.update(valid)
    bar.close()
    if cache_file is not None and opts.rank == 0:
        stats.save(cache_file)
    return stats

#----------------------------------------------------------------------------
# Generated images.

def copy_generator(opts):
    return copy.deepcopy(opts.G).eval().requires_grad_(False).to(opts.device)

def slot_names(G):
    """Names of G's frequency slots ('lin', 'year', 'day') when it takes per-slot Fourier times, else []."""
    if G.c_dim == 0 or G.cond_args.type not in ('fourier', 'f_concat'):
        return []
    return timeline.frequency_names(G.frequencies)

def content_rect(G):
    """(x1, y1, x2, y2) of the image content inside G's letter-box pads (G.synthesis.out_rect; the whole frame
    without one)."""
    return getattr(G.synthesis, 'out_rect', None) or (0, 0, G.img_resolution, G.img_resolution)

def crop_to_rect(G, images):
    """The part of G's images inside content_rect(G)."""
    x1, y1, x2, y2 = content_rect(G)
    return images[:, :, y1:y2, x1:x2]

def dataset_labels(G, dataset):
    """float32 [N, c_dim] labels to draw generator conditions from (empty columns for an unconditional G)."""
    if G.c_dim == 0:
        return np.zeros([len(dataset), 0], dtype=np.float32)
    if dataset.label_dim != G.c_dim:
        raise ValueError(f'The generator takes {G.c_dim}-d labels but dataset "{dataset.name}" has {dataset.label_dim}-d labels '
            '(a conditional generator needs the labelled dataset it was trained on)')
    return dataset.labels

def sample_inputs(G, labels, n, rngs, device):
    """z ~ N(0, I) and c = labels of uniformly random dataset frames (as in training, without dequantisation)."""
    np_rng, torch_gen = rngs
    z = torch.randn([n, G.z_dim], generator=torch_gen).to(device)
    c = torch.from_numpy(labels[np_rng.integers(len(labels), size=n)]).to(device)
    return z, c

@torch.no_grad()
def compute_feature_stats_for_generator(opts, kind, mode='features', max_items=50000, batch_size=64, batch_gen=None, **stats_kwargs):
    """FeatureStats of max_items generated images (random z and noise, dataset labels, the G_kwargs given)."""
    G = copy_generator(opts)
    labels = dataset_labels(G, opts.dataset())
    detector = opts.detector(kind)
    batch_gen = batch_gen or max(1, min(batch_size, 2 ** 23 // (G.img_resolution ** 2)))
    rngs = opts.rngs(1)
    stats = FeatureStats(max_items=max_items, **stats_kwargs)
    bar = opts.bar(f'generated {mode}', max_items)
    while not stats.is_full():
        batch = min(batch_size, -(-(max_items - stats.num_items) // opts.num_gpus)) # no surplus at the end
        images = []
        for start in range(0, batch, batch_gen):
            z, c = sample_inputs(G, labels, min(batch_gen, batch - start), rngs, opts.device)
            images.append(render.to_uint8(G(z=z, c=c, **opts.G_kwargs))) # the viewers' conversion
        feats = detector_call(detector, mode, torch.cat(images))
        before = stats.num_items
        stats.append(gather_rows(feats, opts))
        bar.update(stats.num_items - before)
    bar.close()
    return stats

#----------------------------------------------------------------------------
