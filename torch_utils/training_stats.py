"""Training statistics: report scalars or tensors from anywhere, read their mean/std per interval with a Collector.

report() only adds moments (count, sum, sum of squares) to per-device accumulators; no synchronisation happens until
Collector.update(), which sums the accumulated moments over all processes with torch.distributed (NCCL or gloo) when
a process group with several ranks exists. Every rank must report the same set of names (report0 handles values
only rank 0 knows). A Tap keeps one name's moments on the device instead, for use there without a synchronisation.
"""

import re
import weakref

import numpy as np
import torch

import dnnlib

#----------------------------------------------------------------------------

_rank = None         # set by init_multiprocessing(); else read from torch.distributed
_sync_device = None  # device for the all-reduce; None: CUDA for NCCL groups, else CPU
_counters = dict()   # name -> {device: float64 tensor [count, sum, sum of squares]} not yet synced
_cumulative = dict() # name -> float64 CPU tensor of the moments synced so far, summed over ranks
_taps = dict()       # name -> WeakSet of Taps: device-side sums that report() also adds to

#----------------------------------------------------------------------------

def _distributed():
    dist = torch.distributed
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1

def init_multiprocessing(rank, sync_device):
    """Tell the module its rank and the device to all-reduce on (e.g. torch.device('cuda', rank); None = automatic)."""
    global _rank, _sync_device
    _rank = rank
    _sync_device = torch.device(sync_device) if sync_device is not None else None

def _get_rank():
    if _rank is not None:
        return _rank
    return torch.distributed.get_rank() if _distributed() else 0

#----------------------------------------------------------------------------

def report(name, value):
    """Accumulate the elements of `value` (number, sequence or tensor; may be empty) under `name`; return `value`."""
    counters = _counters.setdefault(name, dict())
    elems = torch.as_tensor(value).detach().flatten()
    if elems.numel() == 0:
        return value
    elems = elems.to(torch.float64)
    moments = torch.stack([torch.ones_like(elems).sum(), elems.sum(), elems.square().sum()])
    if moments.device not in counters:
        counters[moments.device] = torch.zeros_like(moments)
    counters[moments.device].add_(moments)
    for tap in _taps.get(name, ()):
        tap.moments.add_(moments.to(tap.moments.device))
    return value

def report0(name, value):
    """Like report(), but only rank 0's value counts (the name still registers on every rank)."""
    report(name, value if _get_rank() == 0 else [])
    return value

#----------------------------------------------------------------------------

def _reduce_device():
    if _sync_device is not None:
        return _sync_device
    nccl = _distributed() and torch.distributed.get_backend() == 'nccl'
    return torch.device('cuda', torch.cuda.current_device()) if nccl else torch.device('cpu')

def _sync(names):
    """Move the pending moments of `names` into _cumulative (summed over ranks); return [(name, cumulative)]."""
    if not names:
        return []
    device = _reduce_device()
    deltas = torch.zeros(len(names), 3, dtype=torch.float64, device=device)
    for idx, name in enumerate(names):
        for counter in _counters[name].values():
            deltas[idx].add_(counter.to(device))
            counter.zero_()
    if _distributed():
        torch.distributed.all_reduce(deltas)
    deltas = deltas.cpu()
    for idx, name in enumerate(names):
        _cumulative.setdefault(name, torch.zeros(3, dtype=torch.float64)).add_(deltas[idx])
    return [(name, _cumulative[name]) for name in names]

#----------------------------------------------------------------------------

class Tap:
    """The moments [count, sum, sum of squares] of one name reported since the last reset(), kept on `device`. Unlike
    a Collector it never waits for the device, so a value on the GPU can follow a statistic every few steps without
    stopping it (ADA's p); Collectors see the same reports. Reports made while a CUDA graph is captured add to the tap's
    memory at every replay: keep the tap alive as long as such graphs (train.py's tuner and graphs live together)."""

    def __init__(self, name, device):
        self.moments = torch.zeros(3, dtype=torch.float64, device=device)
        _taps.setdefault(name, weakref.WeakSet()).add(self)

    def total(self):
        """The moments summed over all processes, as a tensor on the tap's device (collective when distributed)."""
        if not _distributed():
            return self.moments.clone()
        moments = self.moments.to(_reduce_device(), copy=True)
        torch.distributed.all_reduce(moments)
        return moments.to(self.moments.device)

    def reset(self):
        self.moments.zero_() # in place: CUDA graphs captured with the tap keep adding to the same memory

#----------------------------------------------------------------------------

class Collector:
    """Reads the statistics reported since its previous update(): num/mean/std per name.

    regex selects the names to collect; with keep_previous, a name that got no new values keeps its last figures.
    """

    def __init__(self, regex='.*', keep_previous=True):
        self._regex = re.compile(regex)
        self._keep_previous = keep_previous
        self._seen = dict()    # name -> cumulative moments at the previous update
        self._moments = dict() # name -> moments of the last interval with data
        self.update()
        self._moments.clear()

    def names(self):
        """Reported names matching the regex, sorted (the same order on every rank)."""
        return sorted(name for name in _counters if self._regex.fullmatch(name))

    def update(self):
        """Sync all processes (collective: every rank must call it) and start a new interval."""
        if not self._keep_previous:
            self._moments.clear()
        for name, cumulative in _sync(self.names()):
            delta = cumulative - self._seen.get(name, torch.zeros_like(cumulative))
            self._seen[name] = cumulative.clone()
            if delta[0] != 0:
                self._moments[name] = delta

    def num(self, name):
        moments = self._moments.get(name)
        return 0 if moments is None else int(moments[0])

    def mean(self, name):
        moments = self._moments.get(name)
        return float('nan') if moments is None else float(moments[1] / moments[0])

    def std(self, name):
        moments = self._moments.get(name)
        if moments is None or not np.isfinite(float(moments[1])):
            return float('nan')
        if int(moments[0]) == 1:
            return 0.0
        mean = float(moments[1] / moments[0])
        return float(np.sqrt(max(float(moments[2] / moments[0]) - mean ** 2, 0)))

    def as_dict(self):
        """{name: EasyDict(num, mean, std)} for every name with data, e.g. for one line of stats.jsonl."""
        return {name: dnnlib.EasyDict(num=self.num(name), mean=self.mean(name), std=self.std(name))
            for name in sorted(self._moments)}

    def __getitem__(self, name):
        return self.mean(name)

#----------------------------------------------------------------------------
