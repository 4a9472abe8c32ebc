"""End-to-end tests of the headless preprocessing: folder / zip / video inputs -> the original TLGAN dataset zip,
bad inputs with their documented outcome, atomic and resumable export, the CLI and the validator."""

import datetime
import json
import math
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from preproc import discovery, export, geometry, process_sequence, validate

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T0 = datetime.datetime(2021, 3, 1, 6, 0, tzinfo=datetime.timezone.utc).timestamp()

def write_frames(folder, unix_times, size=(48, 32), seed=0):
    """Random-content JPEGs named %Y%m%d_%H%M%S.jpg; returns the names."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = []
    for u in unix_times:
        name = datetime.datetime.fromtimestamp(u, datetime.timezone.utc).strftime('%Y%m%d_%H%M%S') + '.jpg'
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(os.path.join(folder, name))
        names.append(name)
    return names

def run_export(input_path, outdir, **kwargs):
    cfg = dict(input=str(input_path), export=str(outdir), resolution=32, workers=0, progress=False)
    return export.export_dataset(dict(cfg, **kwargs))

def read_dataset(path):
    with zipfile.ZipFile(path) as zf:
        return zf.infolist(), json.loads(zf.read('dataset.json'))

def frame_times(hours):
    return [T0 + h * 3600 for h in hours]

#----------------------------------------------------------------------------
# The format.

def test_folder_export_matches_the_original_format(tmp_path):
    unix = frame_times([0, 5, 30, 49.5, 61])
    write_frames(tmp_path / 'valley', unix)
    path = run_export(tmp_path / 'valley', tmp_path / 'out')
    num_days = math.ceil(61 / 24)
    assert path == str(tmp_path / 'out' / f'valley_32x32_{num_days}hz.zip')
    infos, dataset = read_dataset(path)
    members = [f'00000/img{k:08d}.jpg' for k in range(5)]
    assert [i.filename for i in infos] == members + ['dataset.json']
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
    assert [m for m, _ in dataset['labels']] == members
    t = np.array([v for _, (v,) in dataset['labels']])
    assert np.all(np.diff(t) > 0) and t[0] == 0
    assert np.allclose(t, (np.array(unix) - unix[0]) / (num_days * 86400))
    meta = dataset['meta']
    assert dataset['skipped'] == 0 and meta['num_days'] == num_days and meta['date_start'] == unix[0]
    assert (meta['pad_horizontal'], meta['pad_vertical']) == (0, 5) and meta['img_shape'] == [3, 32, 32]
    assert meta['preproc']['resolution'] == 32 and meta['frames'][0] == '20210301_060000.jpg'
    for key in ('undecodable', 'user_skipped', 'bad_times', 'ignored_files'):
        assert key in meta
    with zipfile.ZipFile(path) as zf:
        img = np.asarray(Image.open(zf.open(members[0])))
    assert img.shape == (32, 32, 3) and img[:4].mean() < 4 and img[-4:].mean() < 4 and img[8:24].std() > 20
    assert validate.validate_dataset(path, verbose=False)['ok']
    from training.dataset import ImageFolderDataset # pylint: disable=import-outside-toplevel
    ds = ImageFolderDataset(path, resolution=32)
    assert len(ds) == 5 and np.allclose(ds.labels[:, 0], t) and tuple(ds.pad) == (0, 5)
    assert ds.timeline.num_days == num_days and ds[4][0].shape == (3, 32, 32)

def test_zip_input_trim_skip_and_mixed_sizes(tmp_path):
    folder = tmp_path / 'frames'
    names = write_frames(folder, frame_times([0, 1, 2, 30, 31, 100]))
    Image.new('RGB', (24, 16), (255, 0, 0)).save(folder / names[1])                # Smaller frame: resized.
    rotated = Image.new('RGB', (32, 48))
    rotated.paste((255, 255, 255), (0, 0, 32, 12))                                   # Stored top quarter white...
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated.save(folder / names[2], exif=exif)                                       # ...shown as the right quarter.
    with zipfile.ZipFile(tmp_path / 'cam.zip', 'w') as zf:
        for name in names:
            zf.write(folder / name, f'2021/{name}')
    path = run_export(tmp_path / 'cam.zip', tmp_path / 'out', trim='1:4', skip='3')
    infos, dataset = read_dataset(path)
    assert os.path.basename(path) == 'cam_32x32_2hz.zip' # num_days over the trim range: 30 h -> 2 days.
    assert dataset['meta']['frames'] == [f'cam.zip/2021/{n}' for n in (names[1], names[2], names[4])]
    assert dataset['meta']['user_skipped'] == [f'cam.zip/2021/{names[3]}']
    assert dataset['meta']['date_start'] == frame_times([1])[0]
    with zipfile.ZipFile(path) as zf:
        red = np.asarray(Image.open(zf.open(infos[0].filename)), dtype=int)
        turned = np.asarray(Image.open(zf.open(infos[1].filename)), dtype=int)
    assert red[16, :, 0].min() > 240 and red[16, :, 1].max() < 15
    assert turned[16, 26:].min() > 240 and turned[16, :20].max() < 15
    assert validate.validate_dataset(path, verbose=False)['ok']

def test_warps_and_fit_crop(tmp_path):
    write_frames(tmp_path / 'seq', frame_times([0, 1, 2]), size=(32, 32))
    rows = np.zeros((3, 6))
    rows[1, 4] = 0.25 # Frame 1 moved right by a quarter: the common area is the right three quarters.
    np.save(tmp_path / 'warps.npy', rows)
    path = run_export(tmp_path / 'seq', tmp_path / 'out', warps=str(tmp_path / 'warps.npy'), crop='fit')
    meta = read_dataset(path)[1]['meta']
    assert meta['preproc']['crop_box'] == [0.25, 0, 1, 1] and meta['pad_horizontal'] == 4
    np.save(tmp_path / 'short.npy', rows[:2])
    with pytest.raises(ValueError, match=r'shape \(2, 6\)'):
        run_export(tmp_path / 'seq', tmp_path / 'out2', warps=str(tmp_path / 'short.npy'))

def test_warps_rows_follow_discovery_order(tmp_path):
    # Folder a/ holds the later frames and is discovered first, so discovery order differs from time order; the
    # rows of an original warps file belong to the frames in discovery order, one per input frame.
    write_frames(tmp_path / 'seq' / 'a', frame_times([2, 3]), size=(32, 32))
    write_frames(tmp_path / 'seq' / 'b', frame_times([0, 1]), size=(32, 32), seed=1)
    rows = np.zeros((4, 6))
    rows[:, 4] = [0.2, 0.3, 0.0, 0.1] # tx = a tenth of each frame's capture hour
    np.save(tmp_path / 'warps.npy', rows)
    cfg = export.ExportConfig(input=str(tmp_path / 'seq'), export=str(tmp_path / 'out'), resolution=32,
                              warps=str(tmp_path / 'warps.npy'))
    with discovery.open_input(cfg.input) as source:
        job = export.plan_export(cfg, source)
    assert [w[4] for _, w in job.items] == [0.0, 0.1, 0.2, 0.3]

#----------------------------------------------------------------------------
# Bad inputs.

def test_undecodable_frames_are_skipped_and_reported(tmp_path, capsys):
    folder = tmp_path / 'seq'
    names = write_frames(folder, frame_times(range(8)))
    good = (folder / names[1]).read_bytes()
    (folder / names[1]).write_bytes(good[:2] + bytes(64) + good[66:]) # Corrupt JPEG markers.
    (folder / names[2]).write_bytes(good[:len(good) // 2])            # Truncated.
    (folder / names[3]).write_bytes(b'')                              # Zero bytes.
    (folder / names[4]).write_text('not an image\n')                  # Text named .jpg.
    path = run_export(folder, tmp_path / 'out')
    _, dataset = read_dataset(path)
    assert dataset['skipped'] == 4 and dataset['meta']['undecodable'] == names[1:5]
    assert dataset['meta']['frames'] == [names[0]] + names[5:] and len(dataset['labels']) == 4
    assert dataset['labels'][1][1][0] == pytest.approx(5 / 24) # Skipped frames keep their place in time.
    out = capsys.readouterr().out
    assert 'Skipped 4 undecodable frames' in out and names[1] in out and 'truncated' in out

def test_bad_times_stop_the_run_or_are_dropped(tmp_path):
    folder = tmp_path / 'seq'
    names = write_frames(folder, frame_times([0, 1, 2]))
    Image.new('RGB', (48, 32)).save(folder / 'snapshot.jpg')
    (folder / '2021-03-01-07-00-00.jpg').write_bytes((folder / names[1]).read_bytes()) # Duplicate of names[1].
    with pytest.raises(ValueError, match=r'(?s)1 unparsable.*snapshot\.jpg.*1 duplicate'):
        run_export(folder, tmp_path / 'out')
    assert not os.path.exists(tmp_path / 'out' / 'seq_32x32_1hz.zip')
    path = run_export(folder, tmp_path / 'out', skip_bad_times=True)
    meta = read_dataset(path)[1]['meta']
    assert meta['bad_times'] == dict(unparsable=['snapshot.jpg'], out_of_order=[], duplicate=[names[1]])
    assert meta['frames'] == [names[0], '2021-03-01-07-00-00.jpg', names[2]]

def test_existing_output_is_refused(tmp_path):
    write_frames(tmp_path / 'seq', frame_times([0, 1]))
    path = run_export(tmp_path / 'seq', tmp_path / 'out')
    stamp = os.stat(path).st_mtime_ns
    with pytest.raises(FileExistsError, match='--overwrite'):
        run_export(tmp_path / 'seq', tmp_path / 'out')
    assert os.stat(path).st_mtime_ns == stamp
    assert run_export(tmp_path / 'seq', tmp_path / 'out', overwrite=True, quality=50) == path
    assert read_dataset(path)[1]['meta']['preproc']['quality'] == 50

@pytest.mark.parametrize('args, message', [
    (['--skip=1,x'], 'Malformed --skip'),
    (['--resolution=300'], 'power of two'),
    (['--trim=5:1'], '--trim'),
    (['--crop=0.5,0,0.5,0'], 'removes the whole'),
    (['--timezone=Nowhere/City'], 'Unknown time zone'),
    (['--video-start=2021-01-01'], 'only to video'),
])
def test_cli_reports_bad_options(tmp_path, args, message):
    write_frames(tmp_path / 'seq', frame_times([0, 1, 2]))
    result = CliRunner().invoke(process_sequence.main, [str(tmp_path / 'seq'), f'--export={tmp_path / "out"}', '--workers=0'] + args)
    assert result.exit_code != 0 and message in result.output
    assert not os.path.exists(tmp_path / 'out') or not any(n.endswith('.zip') for n in os.listdir(tmp_path / 'out'))

def test_high_bit_depth_and_palette_frames_keep_their_values(tmp_path):
    folder = tmp_path / 'seq'
    folder.mkdir()
    names = [datetime.datetime.fromtimestamp(u, datetime.timezone.utc).strftime('%Y%m%d_%H%M%S') for u in frame_times([0, 1, 2, 3])]
    ramp = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16) # 16-bit greyscale: PIL's own convert clips it
    Image.fromarray(ramp).save(folder / f'{names[0]}.png')
    Image.fromarray(ramp).save(folder / f'{names[1]}.tif')
    palette = Image.fromarray((ramp >> 8).astype(np.uint8)).convert('P', palette=Image.Palette.ADAPTIVE, colors=16)
    palette.save(folder / f'{names[2]}.png')
    Image.fromarray((ramp // 65535.0).astype(np.float32)).save(folder / f'{names[3]}.tif') # float: refused, with the reason
    path = run_export(folder, tmp_path / 'out', fit='stretch')
    _, dataset = read_dataset(path)
    assert dataset['meta']['undecodable'] == [f'{names[3]}.tif']
    expected = ramp / 257.0
    with zipfile.ZipFile(path) as zf:
        exported = [np.asarray(Image.open(zf.open(f'00000/img{k:08d}.jpg')), dtype=float) for k in range(3)]
    for image in exported[:2]:
        assert image.shape == (32, 32, 3) and np.abs(image.mean(axis=2) - expected).mean() < 3
    assert np.abs(exported[2].mean(axis=2) - np.asarray(palette.convert('L'))).mean() < 3

def test_reference_is_the_most_common_size(tmp_path, capsys, monkeypatch, recwarn):
    folder = tmp_path / 'seq'
    names = write_frames(folder, frame_times(range(5)), size=(48, 32))
    Image.new('RGB', (160, 160), (255, 255, 255)).save(folder / names[2]) # one odd frame, larger than PIL's bomb limit
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 20000)
    path = run_export(folder, tmp_path / 'out')
    meta = read_dataset(path)[1]['meta']
    assert meta['preproc']['reference_size'] == [48, 32] and meta['pad_vertical'] == 5 and not meta['undecodable']
    out = capsys.readouterr().out
    assert 'Warning: 1 of 5 sampled frames are not 48x32' in out and f'{names[2]} (160x160)' in out
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]

def test_ctrl_c_says_how_to_continue(tmp_path):
    names = write_frames(tmp_path / 'seq', frame_times(range(12)))
    # A background job of a non-interactive shell starts with SIGINT ignored, and the child would inherit that: give it
    # the handler a terminal's Ctrl-C meets.
    script = ('import os, signal, sys; sys.path.insert(0, os.getcwd())\n'
              'signal.signal(signal.SIGINT, signal.default_int_handler)\n'
              'from preproc import export, process_sequence\n'
              'render, calls = export.render_chunk, []\n'
              'def render_then_ctrl_c(*args):\n'
              '    calls.append(1)\n'
              '    if len(calls) == 2: os.kill(os.getpid(), signal.SIGINT)\n'
              '    return render(*args)\n'
              'export.render_chunk = render_then_ctrl_c\n'
              'process_sequence.main(sys.argv[1:])\n')
    args = [str(tmp_path / 'seq'), f'--export={tmp_path / "out"}', '--resolution=32', '--workers=0']
    proc = subprocess.run([sys.executable, '-c', script] + args, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130 and 'Traceback' not in proc.stderr, proc.stderr
    assert 'members are kept' in proc.stderr and 'run the same command with --resume to continue' in proc.stderr
    path = run_export(tmp_path / 'seq', tmp_path / 'out', resume=True)
    assert read_dataset(path)[1]['meta']['frames'] == names

#----------------------------------------------------------------------------
# Atomic, resumable export.

def test_crash_leaves_no_final_zip_and_resume_completes(tmp_path, monkeypatch):
    folder = tmp_path / 'seq'
    names = write_frames(folder, frame_times(range(12)))
    (folder / names[2]).write_text('broken')
    reference = run_export(folder, tmp_path / 'ref')
    calls = []
    render = geometry.render
    def crashing_render(*args, **kwargs):
        calls.append(1)
        if len(calls) == 8:
            raise RuntimeError('simulated crash')
        return render(*args, **kwargs)
    monkeypatch.setattr(geometry, 'render', crashing_render)
    with pytest.raises(RuntimeError, match='simulated crash'):
        run_export(folder, tmp_path / 'out')
    out = tmp_path / 'out'
    assert sorted(os.listdir(out)) == ['.seq_32x32_1hz.zip.partial', '.seq_32x32_1hz.zip.progress.json']
    with pytest.raises(FileExistsError, match='--resume'):
        run_export(folder, out)
    with pytest.raises(ValueError, match='other inputs or options'):
        run_export(folder, out, resume=True, quality=90)
    edited = folder / names[3] # a frame replaced between the crash and the resume
    original_bytes, original_times = edited.read_bytes(), (edited.stat().st_atime_ns, edited.stat().st_mtime_ns)
    edited.write_bytes(original_bytes + b'\0')
    with pytest.raises(ValueError, match='other inputs or options'):
        run_export(folder, out, resume=True)
    edited.write_bytes(original_bytes)
    os.utime(edited, ns=original_times)
    partial = out / '.seq_32x32_1hz.zip.partial'
    with zipfile.ZipFile(partial) as zf: # The checkpoint vouches for 5 members; simulate a kill inside the 5th.
        assert len(zf.infolist()) == 5
        cut = zf.infolist()[4].header_offset + 40
    with open(partial, 'r+b') as f:
        f.truncate(cut)
    calls.clear()
    path = run_export(folder, out, resume=True)
    assert len(calls) == 7 # Only the frames from the damaged member on were rendered again.
    assert sorted(os.listdir(out)) == ['seq_32x32_1hz.zip']
    with open(path, 'rb') as a, open(reference, 'rb') as b:
        assert a.read() == b.read()

def test_script_with_workers_equals_in_process_export(tmp_path):
    write_frames(tmp_path / 'seq', frame_times(range(0, 40, 3)), size=(64, 40))
    serial = run_export(tmp_path / 'seq', tmp_path / 'a')
    cmd = [sys.executable, 'preproc/process_sequence.py', str(tmp_path / 'seq'), f'--export={tmp_path / "b"}',
           '--resolution=32', '--workers=2']
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
    parallel = proc.stdout.strip().splitlines()[-1]
    assert parallel == str(tmp_path / 'b' / 'seq_32x32_2hz.zip')
    with open(serial, 'rb') as a, open(parallel, 'rb') as b:
        assert a.read() == b.read()
    proc = subprocess.run([sys.executable, '-m', 'preproc.process_sequence', '--validate', parallel], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and 'OK' in proc.stdout

#----------------------------------------------------------------------------
# Video, synthetic sequence, validator.

def test_video_input(tmp_path):
    imageio_ffmpeg = pytest.importorskip('imageio_ffmpeg') # a dependency; absent only on bare GPU machines
    video = tmp_path / 'lapse.mp4'
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i',
                    'testsrc=size=48x32:rate=5', '-frames:v', '6', '-pix_fmt', 'yuv420p', str(video)], check=True)
    with pytest.raises(ValueError, match='--video-start'):
        run_export(video, tmp_path / 'out')
    path = run_export(video, tmp_path / 'out', video_start='2021-06-01T06:00:00', video_interval='10min', timezone='+02:00')
    assert os.path.basename(path) == 'lapse_32x32_1hz.zip'
    _, dataset = read_dataset(path)
    start = datetime.datetime(2021, 6, 1, 4, tzinfo=datetime.timezone.utc).timestamp()
    assert dataset['meta']['date_start'] == start and dataset['meta']['frames'][1] == 'lapse.mp4#1'
    assert np.allclose([v for _, (v,) in dataset['labels']], np.arange(6) * 600 / 86400)
    assert sorted(os.listdir(tmp_path / 'out')) == ['lapse_32x32_1hz.zip'] # Extracted frames removed.
    pts = read_dataset(run_export(video, tmp_path / 'pts', video_start='2021-06-01T06:00:00'))[1]
    assert np.allclose([v for _, (v,) in pts['labels']], np.arange(6) * 0.2 / 86400)

def test_synthetic_sequence_labels_match_capture_times(tmp_path):
    script = os.path.join(REPO, 'preproc', 'synth_sequence.py')
    if os.path.exists(script):
        subprocess.run([sys.executable, script, f'--outdir={tmp_path / "synth"}', '--preset=tiny', '--workers=1'],
                       cwd=REPO, check=True, capture_output=True)
        with open(tmp_path / 'synth' / 'factors.json', encoding='utf-8') as f:
            doc = json.load(f)
        frames, config = doc['frames'], doc['config']
        files = [os.path.basename(fr['file']) for fr in frames]
        unix = np.array([fr['unix'] for fr in frames], dtype=np.float64)
    else: # Until the generator exists: uneven captures with a gap.
        unix, config = np.array(frame_times([0, 0.25, 0.75, 1, 26, 26.5, 50.1])), None
        files = write_frames(tmp_path / 'synth' / 'frames', unix)
    _, dataset = read_dataset(run_export(tmp_path / 'synth' / 'frames', tmp_path / 'out', name='synth'))
    meta = dataset['meta']
    t = np.array([v for _, (v,) in dataset['labels']])
    assert meta['frames'] == files and meta['num_days'] == math.ceil((unix[-1] - unix[0]) / 86400)
    assert np.allclose(meta['date_start'] + t * meta['num_days'] * 86400, unix, rtol=0, atol=1e-3)
    assert meta.get('synth') == config # The scene config travels with the dataset, for ground-truth metrics.

def test_validator_finds_format_errors(tmp_path):
    path = tmp_path / 'bad_32x32_1hz.zip'
    with zipfile.ZipFile(path, 'w') as zf:
        for k, size in enumerate([(32, 32), (32, 32), (24, 32)]):
            with zf.open(f'00000/img{k:08d}.jpg', 'w') as f:
                Image.new('RGB', size).save(f, format='JPEG')
        labels = [['00000/img00000000.jpg', [0.5]], ['00000/img00000001.jpg', [0.25]]]
        zf.writestr('dataset.json', json.dumps(dict(labels=labels, meta=dict(num_days=1.5, pad_vertical=3))))
    report = validate.validate_dataset(str(path), verbose=False)
    text = '\n'.join(report['errors'])
    assert not report['ok']
    for problem in ['not strictly increasing', 'no label', 'differ in size', 'num_days']:
        assert problem in text
    assert 'date_start' in '\n'.join(report['warnings']) # Optional in the original format: a warning only.

def test_validator_accepts_minimal_original_meta(tmp_path):
    # The original trainer needs only labels and num_days; pads, date_start and img_shape are optional.
    path = tmp_path / 'old_32x32_2hz.zip'
    with zipfile.ZipFile(path, 'w') as zf:
        for k in range(2):
            with zf.open(f'00000/img{k:08d}.jpg', 'w') as f:
                Image.new('RGB', (32, 32)).save(f, format='JPEG')
        labels = [[f'00000/img{k:08d}.jpg', [0.25 * k]] for k in range(2)]
        zf.writestr('dataset.json', json.dumps(dict(labels=labels, meta=dict(num_days=2))))
    report = validate.validate_dataset(str(path), verbose=False)
    assert report['ok'], report['errors']
    meta_bad = dict(num_days=2, pad_vertical=16, img_shape=[3, 64, 64])
    with zipfile.ZipFile(path, 'a') as zf, pytest.warns(UserWarning, match='Duplicate name'): # The last copy counts.
        zf.writestr('dataset.json', json.dumps(dict(labels=labels, meta=meta_bad)))
    text = '\n'.join(validate.validate_dataset(str(path), verbose=False)['errors'])
    assert 'pad_vertical' in text and 'img_shape' in text
    result = CliRunner().invoke(process_sequence.main, ['--validate', str(path)])
    assert result.exit_code == 1 and 'INVALID' in result.output

#----------------------------------------------------------------------------
