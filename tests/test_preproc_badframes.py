"""Bad-frame flags on a synthetic sequence with injected black, overexposed, blurred and moved frames (and the synth's
own nights, fog and occluders), the bad_frames.json report and the CLI's --align / --flag-bad-frames steps."""

import dataclasses
import json
import os
import re
import shutil
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from preproc import autoalign, badframes, discovery, process_sequence
from preproc.synth import PRESETS, factors as synth_factors, generate_sequence, inject, renderer
from preproc.synth.sequence import frame_name

@pytest.fixture(scope='module')
def sequence(tmp_path_factory):
    """Tiny preset at 128 px; 4 frames of each injected kind, half of them at night: (folder, frames, factors, kinds)."""
    out = tmp_path_factory.mktemp('synth')
    generate_sequence(str(out), dataclasses.replace(PRESETS['tiny'], size=(128, 128), seed=2), workers=1, progress=False)
    with open(out / 'factors.json', encoding='utf-8') as f:
        factors = json.load(f)['frames']
    frames = discovery.discover(str(out / 'frames')).frames
    elevation = np.array([f['sun_elevation'] for f in factors])
    clean = np.array([f['occluder'] == 0 for f in factors])
    rng = np.random.default_rng(0)
    day = rng.permutation(np.flatnonzero(clean & (elevation > 10)))
    night = rng.permutation(np.flatnonzero(clean & (elevation < -10)))
    kinds = {int(i): 'black' for i in list(day[:2]) + list(night[:2])}
    kinds.update({int(i): 'overexposed' for i in list(day[2:4]) + list(night[2:4])})
    kinds.update({int(i): 'camera_moved' for i in day[4:8]})
    inject.inject([frames[i].path for i in kinds], list(kinds.values()))
    return out, frames, factors, kinds

#----------------------------------------------------------------------------

def test_flags_find_injected_frames_and_spare_nights(sequence):
    _, frames, factors, kinds = sequence
    warps = autoalign.estimate(frames, workers=0).warps
    flags = badframes.flag_frames(frames, warps=warps, workers=0)
    assert flags == sorted(flags, key=lambda f: (f.index, badframes.REASONS.index(f.reason)))
    assert len({(f.index, f.reason) for f in flags}) == len(flags)
    found = {(f.index, f.reason) for f in flags}
    recall = np.mean([(i, kind) in found for i, kind in kinds.items()])
    assert recall >= 0.9, sorted(set(kinds.items()) - found)
    defects = set(kinds) | {i for i, f in enumerate(factors) if f['occluder'] or f['fog'] > 0.3}
    false = {f.index for f in flags} - defects
    assert len(false) <= 0.05 * len(frames), [(f.index, f.reason) for f in flags if f.index in false]
    nights = [i for i, f in enumerate(factors) if f['sun_elevation'] < -6 and i not in kinds]
    assert not [f for f in flags if f.reason == 'black' and f.index in nights] # Night is not a black frame.
    black = next(f for f in flags if f.reason == 'black')
    assert 'mean brightness' in black.detail and 'peers' in black.detail

def test_flags_find_visible_occluders(tmp_path):
    """The synth's own occluders (drops, birds, blobs), where they are visible: re-rendered without the occluder, the
    frame differs by > 0.1 on >= 4 pixels. At 256 px: the local tests are tuned there. This sequence is harder than
    the benchmark's (30 days: the tower grows a floor every few days, so the peers differ everywhere); 10 of its 14
    are found (the benchmark's five 90-day sequences: 88 to 100 %, docs/PREPROCESSING.md). This guards what is reached,
    with few occluded flags on clean frames."""
    cfg = dataclasses.replace(PRESETS['tiny'], size=(256, 256), days=30.0, seed=3, occluder_prob=0.08)
    generate_sequence(str(tmp_path), cfg, workers=1, progress=False)
    with open(tmp_path / 'factors.json', encoding='utf-8') as f:
        factors = json.load(f)['frames']
    frames = discovery.discover(str(tmp_path / 'frames')).frames
    occluded = [i for i, f in enumerate(factors) if f['occluder']]
    fac = {k: np.array([factors[i][k] for i in occluded]) for k in synth_factors.RENDER_KEYS}
    drawn = renderer.render(fac, (256, 256)).astype(np.float32)
    fac['occluder'] = np.zeros(len(occluded), dtype=np.int64)
    diff = np.abs(drawn - renderer.render(fac, (256, 256))).max(-1) / 255
    visible = [i for k, i in enumerate(occluded) if (diff[k] > 0.1).sum() >= 4]
    assert len(visible) >= 0.9 * len(occluded) # The synth draws no invisible occluders (no birds at night).
    flags = badframes.flag_frames(frames, warps=autoalign.estimate(frames, workers=0).warps, workers=0)
    found = {f.index for f in flags if f.reason == 'occluded'}
    assert len(found & set(visible)) >= 0.65 * len(visible), (visible, sorted(found))
    assert len(found - set(occluded)) <= 0.05 * len(frames), sorted(found - set(occluded))

def _gray_frames(tmp_path, images, start=1622505600, step=86400):
    """Frames (discovery.Frame) of uint8 greyscale images written as PNGs a day apart at the same time of day."""
    folder = tmp_path / 'frames'
    folder.mkdir()
    for k, img in enumerate(images):
        Image.fromarray(img).save((folder / frame_name(start + k * step)).with_suffix('.png'))
    return discovery.discover(str(folder)).frames

def test_dark_blob_is_flagged_where_it_is(tmp_path):
    """A soft dark blob on a textured daylight scene whose exposure and contrast vary from day to day: darker than
    every peer by more than twice, so flagged at its place; the other days are not."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:128, 0:128] / 128
    scene = 0.45 + 0.25 * np.sin(9 * xx + 4 * yy) * np.cos(7 * yy) + 0.1 * (yy < 0.4)
    days = [np.clip(scene * rng.uniform(0.8, 1.2) + rng.normal(0, 0.02, scene.shape), 0, 1) for _ in range(16)]
    days[9] = days[9] * (1 - 0.85 * np.exp(-((xx - 0.3)**2 + (yy - 0.6)**2) / (2 * 0.12**2)))
    frames = _gray_frames(tmp_path, [(255 * d).astype(np.uint8) for d in days])
    flags = [f for f in badframes.flag_frames(frames, workers=0) if f.reason == 'occluded']
    assert [f.index for f in flags] == [9], [(f.index, f.detail) for f in flags]
    x, y = (float(v) for v in re.findall(r'[xy]=([0-9.]+)', flags[0].detail))
    assert 'dark blob' in flags[0].detail and abs(x - 0.3) < 0.1 and abs(y - 0.6) < 0.1, flags[0].detail

def test_ring_response_finds_a_drop_rim_not_an_edge():
    """A dark ring of a drop's radius scores at its centre; a dark half-plane and a dark disc, as dark, score about 0;
    a dark bar, which a ring can touch along a chord, scores 0.4 of it."""
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32)
    d = np.hypot(yy - 128, xx - 128)
    ring = -4 * np.clip(1 - np.abs(d - 20) / 3, 0, 1)
    others = [-4.0 * (xx > 128), -4.0 * (np.abs(xx - 128) < 3), -4.0 * (d < 20)]
    response = badframes._ring_response(ring).astype(np.float32)
    y, x = np.unravel_index(np.argmax(response), response.shape)
    assert abs(2 * y - 128) <= 3 and abs(2 * x - 128) <= 3 and response.max() > 1
    for z in others:
        assert badframes._ring_response(z).astype(np.float32).max() < 0.45 * response.max()

def test_occlusion_peers_look_alike():
    """Of the frames at the same time of day, the occlusion tests' peers are those that look like the frame (a rainy
    day's are rainy days), whatever their exposure and an occluder on part of the frame."""
    rng = np.random.default_rng(1)
    sunny, rainy = rng.uniform(0.2, 0.8, (64, 64)), rng.uniform(0.2, 0.8, (64, 64))
    thumbs = [(sunny if k % 2 else rainy) * rng.uniform(0.7, 1.3) for k in range(30)]
    thumbs[7] = thumbs[7].copy()
    thumbs[7][:20, :20] = 0.01 # An occluder.
    times = 1622505600 + 86400.0 * np.arange(30)
    peers = badframes.find_peers(times, np.ones(30, dtype=bool), badframes.log_thumbs(thumbs))
    assert all(len(p) == badframes.PEERS and np.all(p % 2 == i % 2) for i, p in enumerate(peers))
    assert set(badframes.find_peers(times, np.ones(30, dtype=bool))[10]) == {6, 7, 8, 9, 11, 12, 13, 14} # By date.

def test_small_frames_are_enlarged_for_the_local_tests(tmp_path):
    """The local tests' kernels and thresholds were chosen at LOCAL_SIZE: smaller frames are enlarged to it, smoothly
    (bicubic, not blocky), larger ones shrunk; the other tests never enlarge."""
    from preproc import analysis # pylint: disable=import-outside-toplevel
    assert analysis.work_size((128, 96), badframes.LOCAL_SIZE, enlarge=True) == (256, 192)
    assert analysis.work_size((1024, 768), badframes.LOCAL_SIZE, enlarge=True) == (256, 192)
    assert analysis.work_size((128, 96), 256) == (128, 96)
    ramp = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))
    frames = _gray_frames(tmp_path, [ramp])
    big = analysis.load_small(frames[0], (256, 256))
    assert big.shape == (256, 256) and np.abs(np.diff(big[128])).max() < 3 / 255 # Steps of about 1/255, not of 4/255.

def test_wrong_warps_shape_is_refused(sequence):
    _, frames, _, _ = sequence
    with pytest.raises(ValueError, match=r'\(3, 6\)'):
        badframes.flag_frames(frames[:10], warps=np.zeros((3, 6)), workers=0)

def test_skip_text():
    flags = [badframes.Flag(i, r, 1.0, '') for i, r in [(1, 'black'), (2, 'black'), (2, 'occluded'), (3, 'fogged'),
                                                        (5, 'black'), (7, 'occluded'), (8, 'black')]]
    assert badframes.skip_text(flags) == '1-3,5,7-8'
    assert badframes.skip_text(flags, reasons=['black']) == '1-2,5,8'
    assert badframes.skip_text([]) == ''

#----------------------------------------------------------------------------
# The report.

def test_report_round_trip(sequence, tmp_path):
    _, frames, _, _ = sequence
    flags = [badframes.Flag(3, 'black', 0.9, 'mean brightness 0.001 (peers 0.4)'), badframes.Flag(7, 'occluded', 8.0, 'blob')]
    path = str(tmp_path / 'bad_frames.json')
    badframes.write_report(path, frames, flags, input_path='in')
    with open(path, encoding='utf-8') as f:
        doc = json.load(f)
    assert doc['version'] == 1 and doc['input'] == 'in' and doc['num_frames'] == len(frames)
    entry = doc['flags'][0]
    assert entry['file'] == frames[3].name and entry['time'].endswith('Z') and entry['reason'] == 'black'
    assert badframes.read_report(path) == flags

@pytest.mark.parametrize('content', ['{"version": 1, "num_frames": 3, "flags": [', '[]', '{"version": 2, "num_frames": 3, "flags": []}',
                                     '{"version": 1, "num_frames": 3, "flags": [{"index": 5, "reason": "black", "score": 1, "detail": ""}]}',
                                     '{"version": 1, "num_frames": 3, "flags": [{"index": 0, "reason": "ugly", "score": 1, "detail": ""}]}',
                                     '{"version": 1, "num_frames": 3, "flags": [{"index": 0}]}'])
def test_bad_reports_name_the_file(tmp_path, content):
    path = tmp_path / 'bad_frames.json'
    path.write_text(content, encoding='utf-8')
    with pytest.raises(ValueError, match='bad_frames.json'):
        badframes.read_report(str(path))

#----------------------------------------------------------------------------
# The CLI.

def test_cli_align_and_flag(sequence, tmp_path):
    folder, frames, _, _ = sequence
    src = tmp_path / 'frames'
    shutil.copytree(folder / 'frames', src)
    for name in sorted(os.listdir(src))[40:]:
        os.remove(src / name)
    out = tmp_path / 'out'
    args = [str(src), f'--export={out}', '--resolution=32', '--workers=0', '--align=auto', '--flag-bad-frames']
    runner = CliRunner()
    result = runner.invoke(process_sequence.main, args + ['--analyse-only'])
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == ['bad_frames.json', 'warps_auto.npy']
    assert np.load(out / 'warps_auto.npy').shape == (40, 6)
    result = runner.invoke(process_sequence.main, args + ['--skip-flagged'])
    assert result.exit_code == 1 and 'warps_auto.npy exists' in result.output and '--overwrite' in result.output
    result = runner.invoke(process_sequence.main, args + ['--skip-flagged', '--overwrite'])
    assert result.exit_code == 0, result.output
    skipped = badframes.skip_text(badframes.read_report(str(out / 'bad_frames.json')))
    zips = [n for n in os.listdir(out) if n.endswith('.zip')]
    with zipfile.ZipFile(out / zips[0]) as zf:
        meta = json.loads(zf.read('dataset.json'))['meta']
    assert meta['preproc']['skip'] == (skipped or None) and meta['preproc']['warps'] == str(out / 'warps_auto.npy')
    for extra, message in [(['--warps', str(out / 'warps_auto.npy')], 'not both'), (['--skip-flagged'], 'needs --flag-bad-frames')]:
        bad = [a for a in args if a != '--flag-bad-frames'] + extra
        result = runner.invoke(process_sequence.main, bad)
        assert result.exit_code == 2 and message in result.output

#----------------------------------------------------------------------------
