"""The Martin-Brualla et al. 2015 smoothing baseline: it removes flicker but keeps the brightness, and its CLI writes
a video of the right size, never overwrites and fails in one line. CPU, a few seconds."""

import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import PIL.Image
from click.testing import CliRunner

from baselines import martin_brualla15 as mb
from viz import video

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T, RES = 40, 16

def make_flicker_dataset(path, seed=0):
    """T frames RES x RES: a slow brightness trend plus strong per-frame (global) and per-pixel flicker; the zip
    stores them in shuffled name order against their time labels, so load_frames must sort by t."""
    rng = np.random.RandomState(seed)
    t = np.linspace(0, 1, T)
    trend = 80 + 80 * t                                                 # 80 -> 160 over the sequence
    frames = trend[:, None, None, None] + rng.randn(T, 1, 1, 1) * 25 + rng.randn(T, RES, RES, 3) * 15
    frames = np.clip(np.round(frames), 0, 255).astype(np.uint8)
    names = rng.permutation(T)
    entries = []
    with zipfile.ZipFile(path, 'w') as z:
        for i in range(T):
            buf = io.BytesIO()
            PIL.Image.fromarray(frames[i]).save(buf, format='PNG')
            name = f'img{names[i]:03d}.png'
            z.writestr(name, buf.getvalue())
            entries.append([name, [float(t[i])]])
        z.writestr('dataset.json', json.dumps(dict(labels=entries, meta=dict(num_days=1, date_start=1.6e9))))
    return str(path), frames

def test_load_frames_time_order_skip_and_crop(tmp_path):
    zip_path, frames = make_flicker_dataset(tmp_path / 'seq.zip')
    got, t = mb.load_frames(zip_path, start=2, count=5, skip=3, crop=(2, -1, 10, 12))
    assert got.shape == (5, 12, 8, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, frames[2:17:3, :12, 2:10])
    np.testing.assert_allclose(t, np.linspace(0, 1, T)[2:17:3], atol=1e-6)
    all_frames, _ = mb.load_frames(zip_path, start=0, count=1000, skip=1) # --frames is a maximum
    assert len(all_frames) == T

def test_smoothing_removes_flicker_and_keeps_brightness(tmp_path):
    _zip, frames = make_flicker_dataset(tmp_path / 'seq.zip')
    out = mb.smooth(frames, iters=150, slice_size=7, device='cpu') # default alpha 100; 7: slices of uneven width
    assert out.shape == frames.shape and out.dtype == np.uint8
    raw_f, out_f = mb.flicker(frames), mb.flicker(out)
    assert out_f < raw_f / 20, (raw_f, out_f)                   # raw ~33 levels, smoothed ~0.2; a no-op fails here
    assert abs(out.mean() - frames.mean()) < 1.0, (out.mean(), frames.mean()) # brightness kept (within 1 level)
    # alpha 100 smooths over ~30 frames, nearly the whole 40-frame clip; a weaker alpha keeps the slow trend (the
    # rise from the first to the last quarter within 20%) while still removing most of the flicker.
    out = mb.smooth(frames, alpha=1, iters=150, slice_size=16, device='cpu')
    q = T // 4
    rise_in = frames[-q:].mean() - frames[:q].mean()
    rise_out = out[-q:].astype(float).mean() - out[:q].mean()
    assert abs(rise_out - rise_in) < 0.2 * rise_in, (rise_in, rise_out)
    assert mb.flicker(out) < raw_f / 10
    assert abs(out.mean() - frames.mean()) < 1.0

def test_cli_writes_video_refuses_overwrite_and_saves_npy(tmp_path):
    zip_path, _frames = make_flicker_dataset(tmp_path / 'seq.zip')
    out = tmp_path / 'mb.mp4'
    args = ['--dataset', zip_path, '--out', str(out), '--frames', '30', '--skip', '1', '--iters', '5',
        '--crop', '0', '0', '15', '-1', '--save-npy', '--device', 'cpu']
    res = CliRunner().invoke(mb.main, args)
    assert res.exit_code == 0, res.output
    info = video.probe(out)
    assert (info['frames'], info['width'], info['height']) == (30, 16, 16) # 15 columns padded to even
    assert np.load(tmp_path / 'mb.npy').shape == (30, 16, 15, 3)
    assert np.load(tmp_path / 'mb-timestamps.npy').shape == (30,)
    before = out.stat().st_mtime_ns
    res = CliRunner().invoke(mb.main, args)
    assert res.exit_code == 1 and 'already exists' in res.output
    assert out.stat().st_mtime_ns == before

def test_cli_one_line_errors(tmp_path):
    zip_path, _frames = make_flicker_dataset(tmp_path / 'seq.zip')
    bad = tmp_path / 'bad.zip'
    bad.write_bytes(b'PK\x03\x04 not really a zip')
    cases = [
        (['--dataset', str(bad)], 'Cannot open'),
        (['--dataset', str(tmp_path / 'missing.zip')], 'not found'),
        (['--dataset', zip_path, '--crop', '0', '0', '40', '8'], '--crop'),
        (['--dataset', zip_path, '--frames', '1'], '--frames'),
        (['--dataset', zip_path, '--start', '39'], 'at least 2'),
    ]
    for args, needle in cases:
        res = CliRunner().invoke(mb.main, args + ['--out', str(tmp_path / 'x.mp4'), '--iters', '1'])
        assert res.exit_code == 1, (args, res.output)
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith('Error:') and needle in lines[0], (args, res.output)
    assert not (tmp_path / 'x.mp4').exists()
    # As a script (the documented command): one line on stderr, no traceback.
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'baselines', 'martin_brualla15.py'), '--dataset', str(bad),
        '--out', str(tmp_path / 'y.mp4')], capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1 and 'Traceback' not in proc.stderr, proc.stderr
