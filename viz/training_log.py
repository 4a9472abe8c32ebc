"""The training history of a network pickle, for plotting: the loss curves of stats.jsonl and the metric results of
metric-*.jsonl in the run folder that holds the pickle.

Formats (training/training_loop.py and metrics/metric_main.py write them):
  stats.jsonl         one line per tick: {name: {num, mean, std}, ..., timestamp}; x = 'Progress/kimg'.mean
  metric-<name>.jsonl one line per evaluation: {results: {key: value}, metric, snapshot_pkl, timestamp, ...};
                      x = the kimg in the snapshot's name (network-snapshot-000120.pkl, ...-000000.060.pkl)
A line being written while we read (cut off), or any other line that is not a JSON object, is skipped.
"""

import dataclasses
import glob
import json
import math
import os
import re

import numpy as np

LOSSES = ('Loss/G/loss', 'Loss/D/loss', 'Loss/scores/real', 'Loss/scores/fake')
PENALTIES = ('Loss/r1_penalty', 'Loss/pl_penalty')
_SNAPSHOT_KIMG = re.compile(r'network-snapshot-(\d+(?:\.\d+)?)')

@dataclasses.dataclass(frozen=True)
class Series:
    x: np.ndarray           # kimg.
    y: np.ndarray

@dataclasses.dataclass(frozen=True)
class TrainingLog:
    run_dir: str
    stats: dict             # name -> Series of the per-tick means.
    metrics: dict           # result key (e.g. fid50k_full) -> Series.
    skipped: int = 0        # Lines that were not JSON objects.

    @property
    def empty(self):
        return not self.stats and not self.metrics

def read_jsonl(path):
    """(list of the JSON objects of a file's lines, number of lines skipped)."""
    rows, skipped = [], 0
    with open(path, 'rb') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line.decode('utf-8'))
            except (ValueError, UnicodeError):
                skipped += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                skipped += 1
    return rows, skipped

def _number(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None

def _stat_mean(row, name):
    v = row.get(name)
    return _number(v.get('mean')) if isinstance(v, dict) else _number(v)

def stats_series(rows):
    """{name: Series} of every statistic in stats.jsonl rows, against Progress/kimg (the row index if absent)."""
    xs = [_stat_mean(row, 'Progress/kimg') for row in rows]
    xs = [x if x is not None else float(k) for k, x in enumerate(xs)]
    names = sorted({k for row in rows for k, v in row.items() if isinstance(v, dict)})
    out = {}
    for name in names:
        pts = [(x, _stat_mean(row, name)) for x, row in zip(xs, rows)]
        pts = [(x, y) for x, y in pts if y is not None]
        if pts:
            out[name] = Series(*(np.array(v, dtype=np.float64) for v in zip(*pts)))
    return out

def snapshot_kimg(name):
    m = _SNAPSHOT_KIMG.search(os.path.basename(str(name or '')))
    return float(m.group(1)) if m else None

def metric_series(rows):
    """{result key: Series} of metric-*.jsonl rows, against the kimg of each row's snapshot (its index if unknown)."""
    out = {}
    for k, row in enumerate(rows):
        x = snapshot_kimg(row.get('snapshot_pkl'))
        results = row.get('results')
        if not isinstance(results, dict):
            continue
        for key, value in results.items():
            y = _number(value)
            if y is not None:
                out.setdefault(key, []).append((x if x is not None else float(k), y))
    return {key: Series(*(np.array(v, dtype=np.float64) for v in zip(*sorted(pts)))) for key, pts in out.items()}

def read(run_dir):
    """TrainingLog of a run folder (empty series when it holds no logs)."""
    skipped = 0
    stats, metrics = {}, {}
    path = os.path.join(run_dir, 'stats.jsonl')
    if os.path.isfile(path):
        rows, skipped = read_jsonl(path)
        stats = stats_series(rows)
    for path in sorted(glob.glob(os.path.join(glob.escape(run_dir), 'metric-*.jsonl'))):
        rows, n = read_jsonl(path)
        skipped += n
        metrics.update(metric_series(rows))
    return TrainingLog(run_dir=run_dir, stats=stats, metrics=metrics, skipped=skipped)

def signature(run_dir):
    """Changes whenever one of the log files does: (name, size, mtime) of each."""
    paths = [os.path.join(run_dir, 'stats.jsonl')] + sorted(glob.glob(os.path.join(glob.escape(run_dir), 'metric-*.jsonl')))
    out = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        out.append((os.path.basename(p), st.st_size, st.st_mtime_ns))
    return tuple(out)

#----------------------------------------------------------------------------
