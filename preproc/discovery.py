"""Finding the frames of a time-lapse input and reading them: folders (recursive), zip files (alone or inside
folders, mixed with loose images) and videos (frames extracted with the ffmpeg binary of imageio-ffmpeg).

Discovery order (deterministic; the frames are sorted by capture time later, this order only breaks ties and defines
"name order" for the out-of-order check):
  - A folder is walked recursively. Entries whose name starts with '.' (hidden files, our own partial exports) and the
    export folder itself are skipped. Loose images and zip files are listed together in natural order of their path
    relative to the input (digit runs compare as numbers, case-insensitive, then by the raw string).
  - A zip expands at its own position into its image members, again in natural order of the member names. Folders
    inside a zip, '__MACOSX' and hidden members are skipped; zips inside zips are not opened; zips holding a
    dataset.json (exported datasets) are ignored.
  - Image extensions (case-insensitive): .jpg .jpeg .png .webp .bmp .tif .tiff. Other files are ignored and counted.
  - A video file (.mp4 .mov .avi .mkv .webm .m4v .mpg .mpeg .wmv) is decoded into numbered JPEGs in a temporary
    folder; its frames come in decoding order together with their presentation times (seconds).
"""

import contextlib
import dataclasses
import functools
import io
import os
import re
import shutil
import subprocess
import tempfile
import warnings
import zipfile

import numpy as np
from PIL import Image, ImageOps

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff')
VIDEO_EXTS = ('.mp4', '.mov', '.avi', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv')

#----------------------------------------------------------------------------
# Frame references.

@dataclasses.dataclass(frozen=True)
class Frame:
    """One input frame: a loose file (`member` is None) or a member of a zip file at `path`."""
    path: str           # Absolute path of the image file or of the zip holding it.
    member: str = None  # Member name inside the zip.
    name: str = ''      # Name for reports: path relative to the input, zip members as 'x.zip/member'.

    @property
    def stem(self):
        return os.path.splitext(os.path.basename(self.name))[0]

    @property
    def folder(self):
        """The folder (or zip folder) holding the frame: the unit of the name-order check."""
        return self.name.rsplit('/', 1)[0] if '/' in self.name else ''

@dataclasses.dataclass
class Source:
    """What an input contains, in discovery order."""
    name: str                # Default dataset name: folder name, zip or video stem.
    frames: list             # [Frame]
    ignored: list            # Names of files that are not frames (other extensions, exported datasets).
    video_pts: list = None   # Presentation time in seconds per frame (videos only).

def natural_key(text):
    """Sort key comparing digit runs as numbers, case-insensitively (img2 < img10), ties broken by the raw text."""
    parts = re.split(r'(\d+)', text.lower())
    return [int(p) if p.isdigit() else p for p in parts], text

def format_names(names, limit=5):
    """'a, b, c, ... (N more)': the first few names of a list for a report."""
    more = f', ... ({len(names) - limit} more)' if len(names) > limit else ''
    return ', '.join(names[:limit]) + more

def _is_image(name):
    return name.lower().endswith(IMAGE_EXTS)

def _is_hidden(relpath):
    return any(part.startswith('.') or part == '__MACOSX' for part in relpath.split('/'))

#----------------------------------------------------------------------------
# Discovery.

def _zip_frames(zip_path, prefix, ignored):
    try:
        with zipfile.ZipFile(zip_path) as zf:
            names = [info.filename for info in zf.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f'Cannot read zip file {zip_path}: {e}') from e
    if 'dataset.json' in names: # An exported dataset (e.g. an earlier export into the input folder), not frames.
        ignored.append(prefix)
        return []
    frames = []
    for member in sorted(names, key=natural_key):
        if _is_hidden(member):
            continue
        if _is_image(member):
            frames.append(Frame(path=zip_path, member=member, name=f'{prefix}/{member}'))
        else:
            ignored.append(f'{prefix}/{member}')
    return frames

def _folder_frames(root, exclude, ignored):
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith('.') and os.path.abspath(os.path.join(dirpath, d)) not in exclude]
        for fname in filenames:
            rel = os.path.relpath(os.path.join(dirpath, fname), root).replace(os.sep, '/')
            if not _is_hidden(rel):
                entries.append(rel)
    frames = []
    for rel in sorted(entries, key=natural_key):
        path = os.path.join(root, rel)
        if rel.lower().endswith('.zip'):
            frames += _zip_frames(path, rel, ignored)
        elif _is_image(rel):
            frames.append(Frame(path=path, name=rel))
        else:
            ignored.append(rel)
    return frames

def discover(path, exclude=()):
    """List the frames of an input folder or zip file (videos: see open_input). `exclude`: folders not to walk."""
    path = os.path.abspath(path)
    exclude = {os.path.abspath(p) for p in exclude}
    ignored = []
    if os.path.isdir(path):
        name = os.path.basename(path)
        frames = _folder_frames(path, exclude, ignored)
    elif os.path.isfile(path) and path.lower().endswith('.zip'):
        name = os.path.splitext(os.path.basename(path))[0]
        frames = _zip_frames(path, os.path.basename(path), ignored)
    elif os.path.isfile(path) and path.lower().endswith(VIDEO_EXTS):
        raise ValueError(f'{path} is a video: open it with open_input()')
    elif os.path.exists(path):
        raise ValueError(f'Input {path} is neither a folder, a zip file nor a video ({", ".join(VIDEO_EXTS)})')
    else:
        raise FileNotFoundError(f'Input {path} does not exist')
    if not frames:
        raise ValueError(f'No images ({", ".join(IMAGE_EXTS)}) found in {path}')
    return Source(name=name, frames=frames, ignored=ignored)

#----------------------------------------------------------------------------
# Videos.

_SHOWINFO = re.compile(r'\bn:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[0-9.eE+-]+)')

def extract_video(video, outdir):
    """Decode every frame of `video` into outdir/NNNNNNNN.jpg (ffmpeg, as a subprocess with a list argv). Returns the
    Source with the frames' presentation times in seconds, read from ffmpeg's showinfo filter."""
    try:
        import imageio_ffmpeg # Only videos need it; imported here so that everything else works without it.
    except ImportError:
        raise ValueError(f'Reading video {video} needs the ffmpeg binary of imageio-ffmpeg: pip install imageio-ffmpeg') from None
    argv = [imageio_ffmpeg.get_ffmpeg_exe(), '-hide_banner', '-nostdin', '-i', video, '-map', '0:v:0',
            '-fps_mode', 'passthrough', '-vf', 'showinfo', '-q:v', '2', '-start_number', '0',
            os.path.join(outdir, '%08d.jpg')]
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors='replace')
    files = sorted(f for f in os.listdir(outdir) if f.endswith('.jpg'))
    if proc.returncode != 0 or not files:
        tail = '\n'.join(proc.stderr.strip().splitlines()[-5:])
        raise ValueError(f'ffmpeg could not decode video {video}:\n{tail}')
    pts = {int(m.group(1)): float(m.group(3)) for m in _SHOWINFO.finditer(proc.stderr)}
    if len(pts) != len(files):
        raise ValueError(f'ffmpeg wrote {len(files)} frames of {video} but reported times for {len(pts)}')
    stem = os.path.basename(video)
    frames = [Frame(path=os.path.join(outdir, f), name=f'{stem}#{i}') for i, f in enumerate(files)]
    return Source(name=os.path.splitext(stem)[0], frames=frames, ignored=[], video_pts=[pts[i] for i in range(len(files))])

@contextlib.contextmanager
def open_input(path, exclude=(), workdir=None):
    """Context manager yielding the Source of any input; a video's extracted frames live in a hidden temporary folder
    in `workdir` (so large videos do not fill /tmp) and are deleted on exit."""
    if not (os.path.isfile(path) and path.lower().endswith(VIDEO_EXTS)):
        yield discover(path, exclude=exclude)
        return
    tmp = tempfile.mkdtemp(prefix='.frames-', dir=workdir)
    try:
        yield extract_video(os.path.abspath(path), tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

#----------------------------------------------------------------------------
# Reading frames.

@functools.lru_cache(maxsize=8)
def _open_zip(path):
    # Parsing a large zip's central directory is slow: keep a few open per process.
    return zipfile.ZipFile(path)

def read_bytes(frame):
    if frame.member is None:
        with open(frame.path, 'rb') as f:
            return f.read()
    return _open_zip(frame.path).read(frame.member)

def _open(fp):
    """Image.open without PIL's DecompressionBombWarning: frames of an odd size are reported once, before the export
    starts (geometry.reference_size), not in the middle of its progress bar."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', Image.DecompressionBombWarning)
        return Image.open(fp)

def open_image(frame):
    """The frame as a lazily decoded PIL image: opening reads only the header (and EXIF) of a loose file."""
    return _open(io.BytesIO(read_bytes(frame)) if frame.member else frame.path)

def header_size(frame):
    """(width, height) of a frame after EXIF orientation, from its header only; None if unreadable."""
    try:
        with open_image(frame) as img:
            w, h = img.size
            swap = img.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # Orientations that rotate by 90 degrees.
    except Exception: # pylint: disable=broad-except
        return None
    return (h, w) if swap else (w, h)

def load_image(frame, min_size=None):
    """Decode a frame to an RGB PIL image with EXIF orientation applied. Raises on any read or decode failure.
    min_size (w, h): JPEGs may be decoded at a reduced DCT scale as long as both sides stay >= max(min_size)."""
    img = _open(io.BytesIO(read_bytes(frame)))
    if min_size is not None:
        side = max(min_size)  # Square request: safe whatever the EXIF orientation turns out to be.
        img.draft('RGB', (side, side))
    img.load()
    return to_rgb(ImageOps.exif_transpose(img))

def to_rgb(img):
    """An 8-bit RGB image of any PIL image. 16-bit greyscale (modes I;16* and I, read as 16-bit) is scaled by 255/65535,
    where PIL's own conversion would clip it to white; palette, alpha, CMYK and 1-bit images convert as usual
    (16-bit colour PNGs already open as 8-bit). Floating-point images are refused: their range is unknown."""
    if img.mode.startswith('I'):
        values = np.asarray(img)
        low, high = int(values.min()), int(values.max())
        if low < 0 or high > 65535:
            raise ValueError(f'{img.mode} image with values {low}..{high}: only 8- and 16-bit images are supported')
        img = Image.fromarray(((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8), 'L')
    elif img.mode == 'F':
        raise ValueError('floating-point image (mode F): convert the frames to 8- or 16-bit images')
    return img.convert('RGB')

#----------------------------------------------------------------------------
