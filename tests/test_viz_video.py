"""viz.video: H.264 MP4 writing through ffmpeg (exact size and fps, atomic, never overwriting) and reading back."""

import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from viz import video

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#----------------------------------------------------------------------------

def _flat_frames(colours, w=32, h=16):
    return [np.full((h, w, 3), c, np.uint8) for c in colours]

def _write(path, frames, fps=24, **kwargs):
    kwargs.setdefault('preset', 'ultrafast')
    with video.VideoWriter(path, fps, **kwargs) as writer:
        for frame in frames:
            writer.write(frame)
    return writer

def _leftovers(folder):
    return sorted(name for name in os.listdir(folder) if name.startswith('.tmp-'))

#----------------------------------------------------------------------------

@pytest.mark.parametrize('fps', [24, 102.4, 30000 / 1001])
def test_probe_reads_frames_fps_and_size(tmp_path, fps):
    path = tmp_path / 'v.mp4'
    _write(path, _flat_frames([(i * 40, 0, 0) for i in range(5)], w=34, h=18), fps=fps) # not multiples of 16
    info = video.probe(path)
    assert info['frames'] == 5
    assert info['fps'] == pytest.approx(fps, rel=1e-9)
    assert (info['width'], info['height']) == (34, 18) # no rescaling to macro-block multiples

def test_flat_colours_round_trip(tmp_path):
    colours = [(200, 30, 60), (10, 250, 128), (128, 128, 128), (0, 0, 0), (255, 255, 255)]
    for crf, tol in [(0, 4), (18, 6)]:
        path = tmp_path / f'crf{crf}.mp4'
        _write(path, _flat_frames(colours), crf=crf)
        frames = video.read_frames(path)
        assert frames.shape == (5, 16, 32, 3) and frames.dtype == np.uint8
        err = np.abs(frames.astype(int) - np.array(colours)[:, None, None, :]).max()
        assert err <= tol, f'crf {crf}: max error {err}'

def test_rgba_frames_drop_alpha(tmp_path):
    frame = np.zeros((16, 32, 4), np.uint8)
    frame[..., :3], frame[..., 3] = (90, 160, 220), 0 # alpha 0: dropped, not composited
    _write(tmp_path / 'a.mp4', [frame, frame])
    assert np.abs(video.read_frames(tmp_path / 'a.mp4').astype(int) - (90, 160, 220)).max() <= 6

def test_metadata_tags_round_trip_with_escapes(tmp_path):
    text = '{"a":"Zürich ☀ 東京"}; = # \\ x\nsecond line\\'
    _write(tmp_path / 'm.mp4', _flat_frames([(0, 0, 0)]), metadata=text)
    tags = video.read_metadata(tmp_path / 'm.mp4')
    assert tags['comment'] == text and tags['description'] == text

def test_unescape_ffmetadata():
    listing = ';FFMETADATA1\nTitle=a\\=b\\;c\\#d\\\\e\\\nf\n#note=1\nempty=\n[STREAM]\nx=1\n'
    assert video._unescape_ffmetadata(listing) == {'title': 'a=b;c#d\\e\nf', 'empty': ''}

#----------------------------------------------------------------------------

def test_pad_even():
    even = np.ones((4, 6, 3), np.uint8)
    assert video.pad_even(even) is even
    odd = np.full((5, 7, 4), 9, np.uint8)
    padded = video.pad_even(odd)
    assert padded.shape == (6, 8, 4) and padded.dtype == np.uint8
    assert (padded[:5, :7] == 9).all() and (padded[5] == 0).all() and (padded[:, 7] == 0).all()

@pytest.mark.parametrize('shape', [(15, 32, 3), (16, 33, 3)])
def test_odd_size_is_refused(tmp_path, shape):
    with pytest.raises(ValueError, match='even'):
        _write(tmp_path / 'odd.mp4', [np.zeros(shape, np.uint8)])
    assert os.listdir(tmp_path) == []

@pytest.mark.parametrize('frame', [np.zeros((16, 32), np.uint8), np.zeros((16, 32, 3), np.float32)])
def test_bad_frames_are_refused(tmp_path, frame):
    with pytest.raises(ValueError, match='uint8'):
        _write(tmp_path / 'bad.mp4', [frame])
    assert os.listdir(tmp_path) == []

def test_frame_size_change_is_refused(tmp_path):
    with pytest.raises(ValueError, match='one size'):
        _write(tmp_path / 's.mp4', [np.zeros((16, 32, 3), np.uint8), np.zeros((16, 34, 3), np.uint8)])
    assert os.listdir(tmp_path) == []

@pytest.mark.parametrize('fps', [0, -1, float('nan'), float('inf'), '24', True])
def test_bad_fps_is_refused(tmp_path, fps):
    with pytest.raises(ValueError, match='fps'):
        video.VideoWriter(tmp_path / 'f.mp4', fps)
    assert os.listdir(tmp_path) == []

def test_no_frames_makes_no_file(tmp_path):
    with pytest.raises(ValueError, match='no frames'):
        _write(tmp_path / 'empty.mp4', [])
    assert os.listdir(tmp_path) == []

def test_exception_inside_with_leaves_nothing(tmp_path):
    with pytest.raises(KeyError):
        with video.VideoWriter(tmp_path / 'x.mp4', 24, preset='ultrafast') as writer:
            writer.write(np.zeros((16, 32, 3), np.uint8))
            assert len(_leftovers(tmp_path)) == 1 # the temp file is beside the target
            raise KeyError('boom')
    assert os.listdir(tmp_path) == []
    assert writer._proc.poll() is not None # ffmpeg was stopped

def test_ffmpeg_failure_is_runtime_error(tmp_path):
    with pytest.raises(RuntimeError, match='ffmpeg') as info:
        _write(tmp_path / 'x.mp4', _flat_frames([(0, 0, 0)] * 3), preset='no-such-preset')
    assert 'no-such-preset' in str(info.value) # the end of ffmpeg's stderr is in the message
    assert os.listdir(tmp_path) == []

def test_existing_file_is_never_overwritten(tmp_path):
    path = tmp_path / 'v.mp4'
    path.write_bytes(b'keep me')
    with pytest.raises(FileExistsError):
        video.VideoWriter(path, 24)
    assert path.read_bytes() == b'keep me' and _leftovers(tmp_path) == []

def test_name_taken_while_writing(tmp_path):
    path = tmp_path / 'v.mp4'
    with pytest.raises(FileExistsError):
        with video.VideoWriter(path, 24, preset='ultrafast') as writer:
            writer.write(np.zeros((16, 32, 3), np.uint8))
            path.write_bytes(b'someone else')
    assert path.read_bytes() == b'someone else' and _leftovers(tmp_path) == []

def test_unreadable_files(tmp_path):
    (tmp_path / 'g.mp4').write_bytes(b'not a video at all')
    for fn in (video.probe, video.read_frames, video.read_metadata):
        with pytest.raises(RuntimeError, match='g.mp4'):
            fn(tmp_path / 'g.mp4')
    with pytest.raises(RuntimeError, match='missing.mp4'):
        video.probe(tmp_path / 'missing.mp4')

#----------------------------------------------------------------------------
# A SIGKILL mid-write: nothing at the final name, and ffmpeg does not linger.

_CHILD = textwrap.dedent('''
    import sys, time
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    from viz.video import VideoWriter
    with VideoWriter(sys.argv[2], 24, preset='ultrafast') as writer:
        for i in range(100000):
            writer.write(np.full((16, 32, 3), i % 256, np.uint8))
            if i == 3:
                print(writer._proc.pid, flush=True)
            time.sleep(0.01)
''')

def _alive(pid):
    """False once `pid` has exited (a zombie counts as exited: its reaper is not ours)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False

@pytest.mark.skipif(not hasattr(signal, 'SIGKILL'), reason='needs SIGKILL')
def test_sigkill_leaves_no_file(tmp_path):
    path = tmp_path / 'killed.mp4'
    child = subprocess.Popen([sys.executable, '-c', _CHILD, REPO, str(path)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 30)
        if not ready:
            child.kill()
        line = child.stdout.readline()
        assert line.strip().isdigit(), f'child did not start writing: {child.stderr.read().decode()}'
        ffmpeg_pid = int(line)
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    deadline = time.monotonic() + 10
    while _alive(ffmpeg_pid) and time.monotonic() < deadline: # its stdin hit EOF: it finishes and exits
        time.sleep(0.02)
    assert not _alive(ffmpeg_pid)
    assert not path.exists()
    assert all(name.startswith('.tmp-') for name in os.listdir(tmp_path)) # at most the orphaned temp file

#----------------------------------------------------------------------------
