"""export.py: presets, re-export from an exported file, never overwriting, kills, network search and the dataset
lookup, with a tiny real generator on the CPU."""

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

from viz_helpers import NUM_DAYS, ROOT, START, save_pickle, tiny_generator
import export
from viz import dataset as vdataset
from viz import metadata, network, video
from viz import state as vstate

#----------------------------------------------------------------------------

@pytest.fixture(scope='module')
def pkl(tmp_path_factory):
    folder = tmp_path_factory.mktemp('net')
    return save_pickle(folder / 'network-snapshot-000001.pkl', tiny_generator(), dataset_path='/elsewhere/seq_32x32.zip')

def run(args, ok=True):
    result = CliRunner().invoke(export.main, [str(a) for a in args], catch_exceptions=False)
    assert (result.exit_code == 0) == ok, result.output
    return result

def pixels(path):
    if str(path).lower().endswith('.mp4'):
        return video.read_frames(path)
    return np.asarray(PIL.Image.open(path))

#----------------------------------------------------------------------------

def test_grid_preset_and_bit_identical_re_export(pkl, tmp_path):
    run(['--network', pkl, '--preset=grid', '--out', tmp_path / 'grid.PNG', '--set', 'W=3', '--set', 'H=2'])
    image = pixels(tmp_path / 'grid.PNG')
    assert image.shape == (2 * 32, 3 * 32, 4)
    doc = vstate.from_json(metadata.read_doc(tmp_path / 'grid.PNG'))
    assert doc.network.name == 'network-snapshot-000001.pkl' and doc.network.sha256 == network.sha256_of(pkl)
    assert (doc.state.W, doc.state.H, doc.state.axis_x) == (3, 2, 'day')
    run([tmp_path / 'grid.PNG', '--out', tmp_path / 'again.png'])
    assert (tmp_path / 'grid.PNG').read_bytes() == (tmp_path / 'again.png').read_bytes()
    run([tmp_path / 'grid.PNG', '--out', tmp_path / 'again.jpg'])
    run([tmp_path / 'again.jpg', '--out', tmp_path / 'again2.JPEG'])
    np.testing.assert_array_equal(pixels(tmp_path / 'again.jpg'), pixels(tmp_path / 'again2.JPEG'))

def test_stabilise_video_and_re_export(pkl, tmp_path):
    out = tmp_path / 'stable.mp4'
    result = run(['--network', pkl, '--preset=stabilise', '--out', out, '--frames=12', '--fps=24', '--day-hour=12',
        '--set', 'res_scale=1.5'])
    assert 'evenly spaced' in result.output # no dataset: evenly spaced times
    assert video.probe(out) == dict(frames=12, fps=24.0, width=48, height=48)
    doc = vstate.from_json(metadata.read_doc(out))
    assert doc.tool == 'sequence' and doc.state.times == 'even' and doc.state.day_hour == 12
    run([out, '--out', tmp_path / 'again.mp4'])
    np.testing.assert_array_equal(video.read_frames(out), video.read_frames(tmp_path / 'again.mp4'))
    run([out, '--out', tmp_path / 'still.png', '--set', 'video_i=3']) # a still of frame 3
    assert pixels(tmp_path / 'still.png').shape == (48, 48, 4)

def test_strip_and_sweep_presets(pkl, tmp_path):
    run(['--network', pkl, '--preset=strip', '--out', tmp_path / 'strip.jpg', '--set', 'num_strips=4'])
    assert pixels(tmp_path / 'strip.jpg').shape == (32, 32, 3)
    run(['--network', pkl, '--preset=sweep', '--out', tmp_path / 'sweep.mp4', '--fps=8'])
    assert video.probe(tmp_path / 'sweep.mp4') == dict(frames=32, fps=8.0, width=32, height=32)

def test_batch_of_states(pkl, tmp_path):
    doc = vstate.Document(network=network.ref_for(pkl), state=vstate.GridState(W=2, H=1))
    (tmp_path / 'a.json').write_text(doc.dumps())
    (tmp_path / 'b.json').write_text(doc.with_state(seeds='5').dumps())
    run([tmp_path / 'a.json', tmp_path / 'b.json', '--outdir', tmp_path / 'out', '--format=png'])
    a, b = pixels(tmp_path / 'out' / 'a.png'), pixels(tmp_path / 'out' / 'b.png')
    assert a.shape == b.shape == (32, 64, 4) and not np.array_equal(a, b)

#----------------------------------------------------------------------------
# Refusals: one clear line, nothing overwritten.

def test_never_overwrites(pkl, tmp_path):
    (tmp_path / 'x.png').write_bytes(b'mine')
    result = run(['--network', pkl, '--preset=grid', '--out', tmp_path / 'x.png'], ok=False)
    assert 'exists' in result.output and (tmp_path / 'x.png').read_bytes() == b'mine'
    result = run(['--network', pkl, '--preset=grid', '--out', tmp_path / 'x.png' / 'y.png'], ok=False)
    assert 'is a file, not a folder' in result.output and (tmp_path / 'x.png').read_bytes() == b'mine'

@pytest.mark.parametrize('content,message', [
    (None, 'no embedded state'), (b'{"state": {"W": -3}}', 'state.W'), (b'[1, 2]', 'not a state object'),
    (b'{"state": {"axis_x": "time"}}', 'axis_x'),
])
def test_bad_inputs_give_one_line(tmp_path, content, message):
    path = tmp_path / ('plain.png' if content is None else 'bad.json')
    if content is None:
        PIL.Image.new('RGB', (8, 8)).save(path)
    else:
        path.write_bytes(content)
    result = run([path, '--out', tmp_path / 'o.png'], ok=False)
    assert message in result.output and 'Traceback' not in result.output
    assert not (tmp_path / 'o.png').exists()

def test_grid_view_as_video_is_refused(pkl, tmp_path):
    result = run(['--network', pkl, '--preset=grid', '--out', tmp_path / 'g.mp4'], ok=False)
    assert 'GRID view is an image' in result.output and not (tmp_path / 'g.mp4').exists()

def test_kill_mid_export_leaves_no_partial_file(pkl, tmp_path):
    out = tmp_path / 'long.mp4'
    cmd = [sys.executable, os.path.join(ROOT, 'export.py'), '--network', pkl, '--preset=stabilise', '--out', str(out),
        '--frames=100000', '--set', 'B=1']
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith('.tmp-') for p in tmp_path.iterdir()):
        time.sleep(0.1)
    time.sleep(1.0) # frames are flowing into the temp file
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert not out.exists()
    run(['--network', pkl, '--preset=stabilise', '--out', out, '--frames=2']) # the next export cleans up
    assert out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith('.tmp-')]

#----------------------------------------------------------------------------
# Finding the network and the dataset.

def test_network_found_by_name_and_hash_after_moving(pkl, tmp_path):
    run(['--network', pkl, '--preset=grid', '--out', tmp_path / 'g.png', '--set', 'W=1', '--set', 'H=1'])
    moved = tmp_path / 'runs' / 'deep'
    moved.mkdir(parents=True)
    (moved / os.path.basename(pkl)).write_bytes(open(pkl, 'rb').read())
    doc = metadata.read_doc(tmp_path / 'g.png')
    doc['network']['path'] = '/gone/' + os.path.basename(pkl)
    (tmp_path / 's.json').write_text(json.dumps(doc))
    run([tmp_path / 's.json', '--out', tmp_path / 'g2.png']) # found below the state's folder
    assert pixels(tmp_path / 'g2.png').shape == pixels(tmp_path / 'g.png').shape
    doc['network']['sha256'] = 'f' * 64 # same name, other content: refused
    (tmp_path / 's2.json').write_text(json.dumps(doc))
    result = run([tmp_path / 's2.json', '--out', tmp_path / 'g3.png'], ok=False)
    assert 'not found' in result.output and 'other content' in result.output

def make_dataset(path, times):
    with zipfile.ZipFile(path, 'w') as z:
        entries = []
        for i, t in enumerate(times):
            buf = io.BytesIO()
            PIL.Image.fromarray(np.full((32, 32, 3), i * 10, np.uint8)).save(buf, format='PNG')
            z.writestr(f'img{i:03d}.png', buf.getvalue())
            entries.append([f'img{i:03d}.png', [float(t)]])
        z.writestr('dataset.json', json.dumps(dict(labels=entries, meta=dict(num_days=NUM_DAYS, date_start=START))))
    return path

def test_dataset_lookup_nearest_with_tolerance_and_unsorted_labels(tmp_path):
    times = [0.5, 0.1, 0.9, 0.3] # unsorted on purpose
    root = tmp_path / 'data'
    root.mkdir()
    (root / 'sub').mkdir()
    make_dataset(root / 'sub' / 'seq_32x32.zip', times)
    assert vdataset.find_dataset('seq_32x32.zip', [str(root)]) == str(root / 'sub' / 'seq_32x32.zip')
    lookup = vdataset.FrameLookup(vdataset.training_dataset.ImageFolderDataset(str(root / 'sub' / 'seq_32x32.zip')))
    idx, dt = lookup.nearest([0.12, 0.49, 0.95, 0.0])
    assert [int(times[i] * 10) for i in idx] == [1, 5, 9, 1]
    assert lookup.image(idx[1])[0, 0, 0] == 0 # frame 'img000' (t = 0.5) is the one with value 0
    np.testing.assert_allclose(dt, [0.02, 0.01, 0.05, 0.1], atol=1e-6)

def test_stabilise_renders_every_dataset_timestamp_and_dataset_mode(pkl, tmp_path):
    make_dataset(tmp_path / 'seq_32x32.zip', [0.5, 0.1, 0.9, 0.3, 0.7])
    out = tmp_path / 's.mp4'
    run(['--network', pkl, '--preset=stabilise', '--out', out, '--dataset_root', tmp_path])
    assert video.probe(out)['frames'] == 5
    # Grid cells in dataset mode: the frame nearest to each cell's date within the tolerance, else transparent.
    doc = vstate.Document(network=network.ref_for(pkl), state=vstate.GridState(axis_x='c', W=3, H=1,
        show_dataset=True, gt_tol_hours=24.0 * NUM_DAYS * 0.03, t_range=(0.1, 0.55)))
    (tmp_path / 'd.json').write_text(doc.dumps())
    run([tmp_path / 'd.json', '--out', tmp_path / 'd.png', '--dataset_root', tmp_path])
    image = pixels(tmp_path / 'd.png')
    cells = [image[0, 32 * k + 5] for k in range(3)] # t = 0.1 (frame 1: value 10), 0.325 (0.3: 30), 0.55 (none)
    assert list(cells[0]) == [10, 10, 10, 255] and list(cells[1]) == [30, 30, 30, 255] and cells[2][3] == 0

#----------------------------------------------------------------------------
