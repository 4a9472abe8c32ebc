"""H.264 MP4 writing and reading through the ffmpeg binary of imageio-ffmpeg, run as a subprocess.

The ffmpeg build is GPL, so it is only ever run as a separate program, never linked into this process. Videos are
written to a `.tmp-` file beside the target and moved to the final name only once ffmpeg has finished cleanly: a
crash, an exception or a kill never leaves a partial file under the final name, and an existing file is never
replaced. Frames are passed as raw RGB bytes at their exact size: no scaling to macro-block multiples (the habit of
imageio's writer), so odd sizes are refused and callers pad with `pad_even`.
"""

import collections
import fractions
import math
import os
import re
import secrets
import subprocess
import tempfile

import numpy as np

import dnnlib.util

#----------------------------------------------------------------------------

def ffmpeg_exe():
    """Path of the ffmpeg binary shipped with imageio-ffmpeg (imported late: only video code needs it)."""
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()

def _input_args(path):
    """ffmpeg input options for a local file: `file:` so a name with a colon is no protocol, and no other protocol
    may be opened (a crafted playlist could otherwise make ffmpeg fetch URLs)."""
    return ['-protocol_whitelist', 'file', '-i', 'file:' + os.path.abspath(path)]

def _tail(text, lines=15):
    """The last lines of ffmpeg's stderr, without the '[in#0 @ 0x55d5c5d00180] ' prefixes."""
    text = re.sub(r'^\[[^\]\n]* @ 0x[0-9a-f]+\] ', '', text.strip(), flags=re.M)
    return '\n'.join(text.splitlines()[-lines:])

def _run(args, what):
    """Run ffmpeg with `args`; stdout bytes, or RuntimeError with the end of its stderr."""
    cmd = [ffmpeg_exe(), '-hide_banner', '-nostdin', '-loglevel', 'error'] + args
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True) # both pipes drained together
    if proc.returncode != 0:
        err = _tail(proc.stderr.decode('utf-8', 'replace')) or f'exit status {proc.returncode}'
        raise RuntimeError(f'{what}: ffmpeg failed:\n{err}')
    return proc.stdout

#----------------------------------------------------------------------------
# Frames.

def pad_even(image):
    """`image` (H x W x C) padded with black at the bottom and right to even height and width; unchanged if even."""
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    pad = [(0, h % 2), (0, w % 2)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, pad)

def _check_frame(frame):
    """The RGB part of a uint8 H x W x 3|4 frame as contiguous bytes; ValueError for anything else."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise ValueError(f'Video frames must be uint8 H x W x 3 or 4 arrays, got {frame.dtype} {frame.shape}')
    h, w = frame.shape[:2]
    if h % 2 or w % 2 or h == 0 or w == 0:
        raise ValueError(f'H.264 (yuv420p) needs an even, non-zero width and height, got {w}x{h}; '
                         f'pad the frames with viz.video.pad_even()')
    return np.ascontiguousarray(frame[:, :, :3]) # alpha is dropped, as the original's writer did

def _fps_arg(fps):
    """`fps` as an exact rational string for ffmpeg: 102.4 -> '512/5', 30000/1001 survives a float round trip."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, fractions.Fraction)) or not math.isfinite(fps) \
            or fps <= 0:
        raise ValueError(f'fps must be a positive finite number, got {fps!r}')
    rate = fractions.Fraction(fps).limit_denominator(1_000_000)
    return f'{rate.numerator}/{rate.denominator}'

#----------------------------------------------------------------------------
# Temp files beside the target.

def new_temp_file(path):
    """Create an empty, uniquely named `.tmp-<pid>-...-<name>` file in the folder of `path` and return its path.
    Opened with O_EXCL and mode 0o666, so the usual umask sets its permissions (mkstemp would make it private).
    Temp files of this name left by killed processes are removed first."""
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    _remove_orphans(folder, name)
    while True:
        tmp = os.path.join(folder, f'.tmp-{os.getpid()}-{secrets.token_hex(6)}-{name}')
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue

def _remove_orphans(folder, name):
    """Remove `.tmp-<pid>-<token>-<name>` files whose writing process no longer runs (a SIGKILLed export: ffmpeg then
    finishes a short but playable temp file)."""
    for entry in os.listdir(folder):
        parts = entry.split('-', 3)
        if len(parts) == 4 and parts[0] == '.tmp' and parts[1].isdigit() and parts[3] == name and not _alive(int(parts[1])):
            _remove_quietly(os.path.join(folder, entry))

def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError: # someone else's process
        return True
    return True

def _remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass

def _fsync_file(path):
    with open(path, 'rb+') as f:
        os.fsync(f.fileno())

#----------------------------------------------------------------------------
# Writing.

# RGB -> limited-range BT.709 4:2:0, tagged as such, so that players do not guess the matrix (untagged video is
# read as BT.601 or BT.709 depending on its size). The scale filter keeps the size: it only converts colours.
_TO_YUV = ('scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,'
           'setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709')

class VideoWriter:
    """Context manager that encodes uint8 RGB(A) frames into an H.264 MP4 at `path`.

        with VideoWriter('out.mp4', fps=102.4, metadata=json_text) as video:
            for frame in frames:
                video.write(frame)

    libx264, yuv420p (BT.709, tagged), `crf` and `preset` as given, `+faststart`, exact (rational) fps. `metadata`
    goes into the `comment` and `description` tags (the MP4 `©cmt` and `desc` atoms; the original toolkit used
    `desc`). ffmpeg is started by the first frame, which fixes the size. The file appears under `path` only when
    the block ends without an exception and ffmpeg succeeds; otherwise ffmpeg is killed and its temp file removed.
    If this process dies, ffmpeg sees the end of its input and exits, leaving at most a `.tmp-` file behind.
    """

    def __init__(self, path, fps, *, crf=18, preset='medium', metadata=None):
        self.path = os.fspath(path)
        if os.path.exists(self.path):
            raise FileExistsError(f'{self.path}: already exists; a video is never written over an existing file')
        self.fps = _fps_arg(fps)
        if metadata is not None and not isinstance(metadata, str):
            raise TypeError(f'metadata must be a str (e.g. viz.metadata.dumps(doc)), got {type(metadata).__name__}')
        self.crf, self.preset, self.metadata = crf, preset, metadata
        self.frames_written = 0
        self.size = None
        self._proc = None
        self._log = None
        self._tmp = new_temp_file(self.path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, _exc, _tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    def _start(self, w, h):
        cmd = [ffmpeg_exe(), '-hide_banner', '-nostats', '-loglevel', 'error', '-y',
            '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-video_size', f'{w}x{h}', '-framerate', self.fps, '-i', 'pipe:0',
            '-an', '-vf', _TO_YUV, '-c:v', 'libx264', '-preset', str(self.preset), '-crf', str(self.crf),
            '-movflags', '+faststart']
        if self.metadata is not None:
            cmd += ['-metadata', f'comment={self.metadata}', '-metadata', f'description={self.metadata}']
        cmd += ['-f', 'mp4', 'file:' + self._tmp]
        self._log = tempfile.TemporaryFile() # a file, not a pipe: a chatty ffmpeg can never block on a full pipe
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log)
        self.size = (w, h)

    def write(self, frame):
        """Append one uint8 H x W x 3 or 4 frame (alpha dropped); every frame must have the size of the first."""
        if self._tmp is None:
            raise ValueError(f'{self.path}: the video writer is closed')
        rgb = _check_frame(frame)
        h, w = rgb.shape[:2]
        if self._proc is None:
            self._start(w, h)
        elif (w, h) != self.size:
            raise ValueError(f'All frames of a video need one size: first {self.size[0]}x{self.size[1]}, now {w}x{h}')
        try:
            self._proc.stdin.write(rgb.tobytes())
        except OSError: # a broken pipe: ffmpeg has died
            self._proc.wait()
            self._fail(f'ffmpeg stopped reading frames (exit status {self._proc.returncode})')
        self.frames_written += 1

    def close(self):
        """Finish encoding and move the video into place; returns the path. FileExistsError (and no file written)
        if something took the name meanwhile."""
        if self._tmp is None:
            return self.path
        try:
            if self._proc is None:
                raise ValueError(f'{self.path}: no frames were written, so no video was made')
            try:
                self._proc.stdin.close() # flushes the last frames; ffmpeg sees the end of its input
            except OSError: # ffmpeg is gone: its exit status tells why
                pass
            if self._proc.wait() != 0:
                self._fail(f'ffmpeg failed (exit status {self._proc.returncode})')
            _fsync_file(self._tmp)
            dnnlib.util.move_into_place(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._tmp = None
        self._close_log()
        return self.path

    def abort(self):
        """Kill ffmpeg and remove the temp file; nothing is left at the final name. Safe to call twice."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._proc is not None and self._proc.stdin and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except OSError: # the pipe is broken: ffmpeg is gone anyway
                pass
        if self._tmp is not None:
            _remove_quietly(self._tmp)
            self._tmp = None
        self._close_log()

    def _stderr_tail(self):
        if self._log is None:
            return ''
        self._log.seek(0)
        return _tail(self._log.read().decode('utf-8', 'replace'))

    def _fail(self, what):
        err = self._stderr_tail()
        self.abort()
        raise RuntimeError(f'{self.path}: {what}' + (f':\n{err}' if err else ''))

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

#----------------------------------------------------------------------------
# Reading.

def _unescape_ffmetadata(text):
    """Global `key=value` tags of ffmpeg's ffmetadata output. A backslash escapes the next character ('=', ';',
    '#', '\\' or a newline, which then belongs to the value); lines starting with ';' or '#' are comments and the
    first '[SECTION]' line ends the global part."""
    tags, key, cur, i, line_start = {}, None, [], 0, True
    while i < len(text):
        ch = text[i]
        if line_start and ch in ';#[':
            if ch == '[':
                break
            i = text.find('\n', i)
            i = len(text) if i < 0 else i + 1
            continue
        line_start = False
        if ch == '\\' and i + 1 < len(text):
            cur.append(text[i + 1])
            i += 2
            continue
        if ch == '=' and key is None:
            key, cur = ''.join(cur), []
        elif ch == '\n':
            if key is not None:
                tags[key.lower()] = ''.join(cur)
            key, cur, line_start = None, [], True
        else:
            cur.append(ch)
        i += 1
    if key is not None:
        tags[key.lower()] = ''.join(cur)
    return tags

def read_metadata(path):
    """The global metadata tags of a video file as {lower-case key: value}, e.g. 'comment' and 'description'."""
    out = _run(_input_args(path) + ['-f', 'ffmetadata', 'pipe:1'], f'{path}: cannot read metadata')
    return _unescape_ffmetadata(out.decode('utf-8', 'replace'))

def _parse_framecrc(text):
    """(frames, fps, width, height) from ffmpeg's framecrc listing of the packets of one video stream."""
    tb = re.search(r'^#tb 0: (\d+)/(\d+)$', text, re.M)
    dims = re.search(r'^#dimensions 0: (\d+)x(\d+)$', text, re.M)
    packets = [line.split(',') for line in text.splitlines() if line and not line.startswith('#')]
    if tb is None or dims is None or not packets:
        return None
    durations = collections.Counter(int(p[3]) for p in packets if len(p) > 3)
    duration = durations.most_common(1)[0][0] if durations else 0 # constant frame rate: one duration throughout
    fps = float(fractions.Fraction(int(tb[2]), int(tb[1]) * duration)) if duration > 0 else 0.0
    return len(packets), fps, int(dims[1]), int(dims[2])

def probe(path):
    """{frames, fps, width, height} of the first video stream. Counts the stream's packets by copying it to
    ffmpeg's framecrc listing (no decoding; one packet per frame in MP4) and takes the exact frame rate from the
    packet duration and time base."""
    out = _run(_input_args(path) + ['-map', '0:v:0', '-c', 'copy', '-f', 'framecrc', 'pipe:1'], f'{path}: cannot probe')
    parsed = _parse_framecrc(out.decode('utf-8', 'replace'))
    if parsed is None:
        raise ValueError(f'{path}: no video frames found')
    frames, fps, width, height = parsed
    return dict(frames=frames, fps=fps, width=width, height=height)

def read_frames(path):
    """All frames of the first video stream as a uint8 array [N, H, W, 3], decoded by ffmpeg to rgb24."""
    info = probe(path)
    w, h = info['width'], info['height']
    out = _run(_input_args(path) + ['-map', '0:v:0', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24',
        'pipe:1'], f'{path}: cannot decode')
    if len(out) % (w * h * 3):
        raise ValueError(f'{path}: decoded {len(out)} bytes, not a whole number of {w}x{h} RGB frames')
    return np.frombuffer(out, dtype=np.uint8).reshape(-1, h, w, 3)

#----------------------------------------------------------------------------
