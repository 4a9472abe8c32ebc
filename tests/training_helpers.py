"""Shared by the training tests (test_training, test_resume, test_train_ddp): a tiny dataset, the tiny training
options, and running train.py in fresh processes."""

import io
import json
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import PIL.Image
import psutil
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

NUM_DAYS = 730
TINY = ['--batch=4', '--cbase=256', '--cmax=32', '--map-depth=2', '--metrics=none', '--workers=0', '--tick=0.02']

def make_tiny_dataset(path, num=24, res=32, labels=True, pad_v=4, seed=0):
    """A dataset zip of `num` RGB res x res PNGs whose brightness follows the day cycle, with letter-box pads."""
    rng = np.random.RandomState(seed)
    times = np.sort(rng.uniform(0, 1, num))
    times[0] = 0
    entries = []
    with zipfile.ZipFile(path, 'w') as z:
        for i, t in enumerate(times):
            level = 128 * (0.5 + 0.5 * np.cos(2 * np.pi * NUM_DAYS * t))
            img = np.clip(rng.rand(res, res, 3) * 64 + level, 0, 255).astype(np.uint8)
            img[:pad_v] = 0
            img[res - pad_v:] = 0
            buf = io.BytesIO()
            PIL.Image.fromarray(img).save(buf, format='PNG')
            name = f'00000/img{i:08d}.png'
            z.writestr(name, buf.getvalue())
            entries.append([name, [float(t)]])
        meta = dict(num_days=NUM_DAYS, date_start=1600000000.0, pad_horizontal=0, pad_vertical=pad_v)
        z.writestr('dataset.json', json.dumps(dict(labels=entries if labels else None, meta=meta)))
    return str(path)

def train_env():
    """Environment of training subprocesses: one thread each, as OpenMP spinning on a busy 2-core machine can make
    tiny models many times slower."""
    return dict(os.environ, OMP_NUM_THREADS='1')

def run_train(args, timeout=240, launcher=None):
    """Run train.py in a fresh process; fails the test (with the output) unless it succeeds."""
    cmd = [sys.executable] + (launcher or []) + [os.path.join(ROOT, 'train.py')] + args
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=train_env())
    assert proc.returncode == 0, f'{" ".join(cmd)}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}'
    return proc

def start_train(args, log_path, **popen_kwargs):
    """Start train.py in the background, its output going to log_path."""
    with open(log_path, 'w', encoding='utf-8') as log:
        return subprocess.Popen([sys.executable, os.path.join(ROOT, 'train.py')] + args, cwd=ROOT, env=train_env(),
            stdout=log, stderr=subprocess.STDOUT, **popen_kwargs)

def wait_for(condition, proc, log_path, timeout=180):
    """Poll condition() while the run started by start_train goes on; on failure end it and all its processes."""
    start = time.time()
    while not condition():
        if proc.poll() is not None or time.time() - start > timeout:
            for child in psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []:
                child.kill()
            proc.kill()
            pytest.fail(f'training ended (rc {proc.poll()}) or timed out:\n' + open(log_path, encoding='utf-8').read()[-3000:])
        time.sleep(0.1)

def run_dirs(outdir):
    return sorted(os.path.join(outdir, d) for d in os.listdir(outdir))

def read_stats(run_dir):
    with open(os.path.join(run_dir, 'stats.jsonl'), encoding='utf-8') as f:
        return [json.loads(line) for line in f if line.strip()]

def rank_checksums(run_dir):
    """The per-rank weight checksums the loop prints at the end (last such line of log.txt)."""
    with open(os.path.join(run_dir, 'log.txt'), encoding='utf-8') as f:
        lines = [line for line in f if line.startswith('Rank checksums: ')]
    assert lines, 'log.txt has no "Rank checksums" line'
    return json.loads(lines[-1][len('Rank checksums: '):])

#----------------------------------------------------------------------------
