"""Embed the JSON state document of a view in an exported file, and read it back (for restore and drag-and-drop).

Where the document lives, the same places the original toolkit used, so files from either load:
    PNG   text chunk 'description' (tEXt when ASCII, else UTF-8 iTXt)
    JPEG  EXIF ImageDescription (0th IFD, tag 270), ASCII JSON; EXIF UserComment is read too
    MP4   'comment' and 'description' tags (MP4 atoms '©cmt' and 'desc'; the original wrote only 'desc')
    JSON  the document itself (a sidecar or a saved state)
Reading never executes anything from the file: text is parsed as JSON and nothing else.
"""

import errno
import io
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image, PngImagePlugin

import dnnlib.util
from viz import video
from viz.state import dumps # the document text (callers use metadata.dumps too)

SUPPORTED = ('.png', '.jpg', '.jpeg', '.mp4', '.json')
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')

_EXIF_IMAGE_DESCRIPTION = 0x010E
_EXIF_IFD = 0x8769
_EXIF_USER_COMMENT = 0x9286
_EXIF_MAX_BYTES = 65000        # one JPEG APP1 segment holds at most 65533 bytes, EXIF headers included
_PNG_KEYS = ('description', 'Description', 'comment', 'Comment')
_MP4_KEYS = ('comment', 'description')

class MetadataError(ValueError):
    """A file whose state document cannot be read: names the file and what is wrong."""

#----------------------------------------------------------------------------

def _dumps_ascii(doc):
    return json.dumps(doc, sort_keys=True, separators=(',', ':'), ensure_ascii=True, allow_nan=False)

def _suffix(path):
    return os.path.splitext(os.fspath(path))[1].lower()

#----------------------------------------------------------------------------
# Writing.

def _check_image(image):
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4) or 0 in image.shape:
        raise ValueError(f'Images must be uint8 H x W x 3 (RGB) or 4 (RGBA) arrays, got {image.dtype} {image.shape}')
    return np.ascontiguousarray(image)

def _encode_png(image, doc):
    info = PngImagePlugin.PngInfo()
    text = dumps(doc)
    if text.isascii():
        info.add_text('description', text)
    else: # tEXt is Latin-1 only; iTXt holds UTF-8, so every character round-trips
        info.add_itxt('description', text)
    buf = io.BytesIO()
    mode = 'RGBA' if image.shape[2] == 4 else 'RGB'
    optimize = image.shape[0] * image.shape[1] < 2_000_000 # the optimizer is slow on big images (as the original)
    Image.fromarray(image, mode).save(buf, format='PNG', pnginfo=info, compress_level=9, optimize=optimize)
    return buf.getvalue()

def _flatten_alpha(image):
    """RGB of an RGBA image composited over black (JPEG has no alpha): transparent cells become black."""
    rgb, alpha = image[:, :, :3].astype(np.uint16), image[:, :, 3:].astype(np.uint16)
    return ((rgb * alpha + 127) // 255).astype(np.uint8)

def _encode_jpeg(path, image, doc, quality):
    text = _dumps_ascii(doc) # EXIF strings are ASCII: non-ASCII characters travel as \\u escapes
    if len(text) > _EXIF_MAX_BYTES:
        raise ValueError(f'{path}: the state ({len(text)} bytes) does not fit in JPEG EXIF; export a PNG instead')
    rgb = _flatten_alpha(image) if image.shape[2] == 4 else image
    exif = Image.Exif()
    exif[_EXIF_IMAGE_DESCRIPTION] = text
    buf = io.BytesIO()
    Image.fromarray(rgb, 'RGB').save(buf, format='JPEG', quality=quality, exif=exif)
    return buf.getvalue()

def save_image(path, image, doc, *, quality=98):
    """Write `image` (uint8 H x W x 3 or x 4) to `path` with `doc` embedded; the format follows the extension
    (.png, .jpg or .jpeg, any case). PNG keeps the alpha channel; JPEG composites RGBA over black and uses
    `quality`. Never overwrites: FileExistsError if `path` exists. Written atomically (a temp file renamed into
    place); if another process takes the name during the write, the file gets the next free `-rK` name. Returns the
    path written."""
    path = os.fspath(path)
    suffix = _suffix(path)
    if suffix not in IMAGE_SUFFIXES:
        raise MetadataError(f'{path}: cannot save an image as {suffix or "(no extension)"!r} (expected .png, .jpg '
                            f'or .jpeg)')
    image = _check_image(image)
    if os.path.exists(path):
        raise FileExistsError(errno.EEXIST, 'already exists; an export never replaces a file', path)
    data = _encode_png(image, doc) if suffix == '.png' else _encode_jpeg(path, image, doc, quality)
    return dnnlib.util.atomic_write(path, lambda f: f.write(data), overwrite=False)

#----------------------------------------------------------------------------
# Reading.

def _parse(path, found, where):
    """The first of `found` [(name, text)] that is a JSON object. MetadataError naming `where` if none is."""
    if not found:
        raise MetadataError(f'{path}: no embedded state (not exported by this toolkit or the original; {where})')
    errors = []
    for name, text in found:
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as err: # RecursionError: absurdly deep nesting
            errors.append(f"'{name}' is not valid JSON: {err}")
            continue
        if isinstance(doc, dict):
            return doc
        errors.append(f"'{name}' holds a JSON {type(doc).__name__}, not an object")
    raise MetadataError(f'{path}: {"; ".join(errors)}')

# Pillow's errors for broken or hostile files; caught only around the calls that read the file.
_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, Image.DecompressionBombError)

def _png_texts(im):
    text = im.text # decodes the whole image: finds chunks after the pixels, fails on a truncated file
    found = [(key, text[key]) for key in _PNG_KEYS if key in text]
    return found, "PNG has no 'description' text"

def _exif_text(value):
    """An EXIF string as text: bytes as UTF-8, and UTF-8 that Pillow decoded as Latin-1 repaired."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.rstrip(b'\0').decode('utf-8', 'replace')
    try:
        return value.encode('latin-1').decode('utf-8')
    except UnicodeError:
        return value

def _user_comment_text(value):
    """EXIF UserComment: an 8-byte character-code header, then the text. ASCII and undefined codes are read."""
    if value is None or isinstance(value, str):
        return value
    if value[:8] in (b'ASCII\0\0\0', b'\0' * 8):
        return _exif_text(value[8:])
    return None

def _jpeg_texts(im):
    exif = im.getexif()
    description = exif.get(_EXIF_IMAGE_DESCRIPTION)
    comment = exif.get_ifd(_EXIF_IFD).get(_EXIF_USER_COMMENT)
    im.draft('RGB', (max(1, im.width // 8), max(1, im.height // 8))) # decode at 1/8 size: only a check
    im.load() # fails on a truncated file
    found = [('ImageDescription', _exif_text(description)), ('UserComment', _user_comment_text(comment))]
    found = [(name, text) for name, text in found if text is not None]
    return found, 'JPEG has no EXIF ImageDescription or UserComment'

def _read_image(path):
    """By content, not extension: a PNG saved as .jpg still loads."""
    try:
        with Image.open(path, formats=['PNG', 'JPEG']) as im:
            found, where = _png_texts(im) if im.format == 'PNG' else _jpeg_texts(im)
    except _IMAGE_ERRORS as err:
        raise MetadataError(f'{path}: cannot read: {err}') from err
    return _parse(path, found, where)

def _read_mp4(path):
    try:
        tags = video.read_metadata(path)
    except (RuntimeError, OSError) as err: # RuntimeError: ffmpeg's own message, which names the file
        raise MetadataError(str(err) if isinstance(err, RuntimeError) else f'{path}: cannot read: {err}') from err
    found = [(key, tags[key]) for key in _MP4_KEYS if key in tags]
    return _parse(path, found, "MP4 has no 'comment' or 'description' tag")

def _read_json(path):
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8-sig')
    except (OSError, UnicodeError) as err:
        raise MetadataError(f'{path}: cannot read: {err}') from err
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise MetadataError(f'{path}: not valid JSON: {err}') from err
    if not isinstance(doc, dict):
        raise MetadataError(f'{path}: holds a JSON {type(doc).__name__}, not a state object')
    return doc

_READERS = {'.png': _read_image, '.jpg': _read_image, '.jpeg': _read_image, '.mp4': _read_mp4, '.json': _read_json}

def read_doc(path):
    """The state document embedded in an exported .png/.jpg/.jpeg/.mp4 (any case of extension), or the contents
    of a .json file, as a dict. MetadataError, naming the file, for anything else."""
    path = os.fspath(path)
    suffix = _suffix(path)
    if suffix == '.pkl':
        raise MetadataError(f'{path}: a network pickle holds no saved view state; load it as the network instead')
    if suffix not in _READERS:
        raise MetadataError(f'{path}: unsupported file type {suffix or "(no extension)"!r} (expected .png, .jpg, '
                            f'.jpeg, .mp4 or .json)')
    if not os.path.isfile(path):
        raise MetadataError(f'{path}: cannot read: no such file')
    return _READERS[suffix](path)

#----------------------------------------------------------------------------
