"""viz.metadata: the state document embedded in PNG, JPEG and MP4 exports, ours and the original toolkit's."""

import json
import os
import struct
import subprocess

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from viz import metadata, video

DOC = {'version': 1, 'tool': 'grid', 'state': {'pkl': 'Zürich ☀ 東京.pkl', 'seeds': '0,1', 't': 0.25,
    'sliders': [0.5, 0.0, 0.0]}, 'state_soft': {'video_i': 3}}

# A state as the original toolkit wrote it: every UIState / UIStateSoft field, enums as ints, tuples as lists,
# `pkl` as a path, and the legacy `seed1` key.
ORIGINAL_DOC = {
    'state': {'B': 5, 'H': 1, 'W': 7, 'axis_x': 'day', 'axis_y': 'year', 'crop_hor': [0, 0], 'crop_ver': [0, 0],
        'dataset_noise': False, 'date_str': '', 'export_img': True, 'export_vid': False, 'gt_tol_hours': 1.5,
        'pkl': 'c:/runs/00012/network-snapshot-004000.pkl', 'rand_seed': 'fixed', 'res_scale': 1.0, 'seed1': 0,
        'seeds': '0', 'show_dataset': False, 'sliders': [0.5, 0, 0], 'spatial_noise': 'const', 't': 0.5,
        't_range': [0, 1], 'trunc': 1.0, 'trunc_cutoff': 0, 'use_AA': True, 'viz_mode': 1},
    'state_soft': {'cycles': 1, 'num_strips': 0, 'video_i': 0, 'video_mode': 1},
}

def _original_dumps(doc):
    return json.dumps(doc, sort_keys=True, separators=(',', ':'))

def _image(channels=3, h=16, w=32):
    rnd = np.random.RandomState(0)
    image = np.repeat(np.linspace(0, 255, w, dtype=np.uint8)[None, :, None], h, axis=0) # smooth: JPEG-friendly
    image = np.repeat(image, channels, axis=2).copy()
    if channels == 4:
        image[..., 3] = rnd.randint(0, 256, (h, w))
    return image

def _leftovers(folder):
    return [name for name in os.listdir(folder) if name.startswith('.tmp-')]

#----------------------------------------------------------------------------
# Our exports.

def test_dumps_is_compact_sorted_utf8():
    text = metadata.dumps({'b': '東京', 'a': [1, 2]})
    assert text == '{"a":[1,2],"b":"東京"}'
    with pytest.raises(ValueError):
        metadata.dumps({'t': float('nan')}) # not JSON

@pytest.mark.parametrize('name', ['x.PNG', 'x.png', 'x.JPG', 'x.jpg', 'x.JPEG', 'x.jpeg'])
def test_image_round_trip(tmp_path, name):
    path = metadata.save_image(tmp_path / name, _image(), DOC)
    assert path == os.fspath(tmp_path / name)
    assert metadata.read_doc(path) == DOC
    assert _leftovers(tmp_path) == []

def test_mp4_round_trip_upper_case(tmp_path):
    path = tmp_path / 'v.MP4'
    with video.VideoWriter(path, 24, preset='ultrafast', metadata=metadata.dumps(DOC)) as writer:
        for i in range(3):
            writer.write(np.full((16, 32, 3), 60 * i, np.uint8))
    assert metadata.read_doc(path) == DOC
    assert _leftovers(tmp_path) == []

def test_png_keeps_alpha_and_uses_itxt_for_non_ascii(tmp_path):
    image = _image(4)
    path = metadata.save_image(tmp_path / 'a.png', image, DOC)
    with Image.open(path) as im:
        assert im.mode == 'RGBA'
        assert np.array_equal(np.asarray(im), image)
        assert isinstance(im.text['description'], PngImagePlugin.iTXt)
    ascii_path = metadata.save_image(tmp_path / 'b.png', _image(3), {'a': 1})
    with Image.open(ascii_path) as im:
        assert im.mode == 'RGB' and im.text['description'] == '{"a":1}'

def test_jpeg_pixels_and_rgba(tmp_path):
    image = _image(3)
    path = metadata.save_image(tmp_path / 'a.jpg', image, DOC)
    with Image.open(path) as im:
        assert np.abs(np.asarray(im).astype(int) - image).max() <= 8
    rgba = _image(4)
    path = metadata.save_image(tmp_path / 'b.jpg', rgba, DOC, quality=90) # no "cannot write mode RGBA as JPEG"
    composited = rgba[..., :3].astype(float) * rgba[..., 3:] / 255 # over black
    with Image.open(path) as im:
        assert im.mode == 'RGB'
        assert np.abs(np.asarray(im) - composited).mean() < 6
    assert metadata.read_doc(path) == DOC

def test_save_image_never_overwrites(tmp_path):
    path = tmp_path / 'x.png'
    path.write_bytes(b'keep me')
    with pytest.raises(FileExistsError, match='x.png'):
        metadata.save_image(path, _image(), DOC)
    assert path.read_bytes() == b'keep me' and _leftovers(tmp_path) == []

@pytest.mark.parametrize('image', [np.zeros((16, 32), np.uint8), np.zeros((16, 32, 3), np.float32),
    np.zeros((16, 32, 2), np.uint8)])
def test_save_image_refuses_bad_arrays(tmp_path, image):
    with pytest.raises(ValueError, match='uint8'):
        metadata.save_image(tmp_path / 'x.png', image, DOC)
    assert os.listdir(tmp_path) == []

def test_save_image_refuses_other_formats(tmp_path):
    with pytest.raises(metadata.MetadataError, match="x.gif.*'.gif'"):
        metadata.save_image(tmp_path / 'x.gif', _image(), DOC)
    assert os.listdir(tmp_path) == []

#----------------------------------------------------------------------------
# Files written the way the original toolkit wrote them.

def test_original_png(tmp_path):
    path = tmp_path / 'grid_X_day_year_0_gan_0.png'
    info = PngImagePlugin.PngInfo()
    info.add_text('description', _original_dumps(ORIGINAL_DOC))
    Image.fromarray(_image(4), 'RGBA').save(path, pnginfo=info, compress_level=9, optimize=True)
    assert metadata.read_doc(path) == ORIGINAL_DOC

def test_original_jpeg_piexif(tmp_path):
    piexif = pytest.importorskip('piexif')
    path = tmp_path / 'orig.jpg'
    exif = piexif.dump({'0th': {piexif.ImageIFD.ImageDescription: _original_dumps(ORIGINAL_DOC)}})
    Image.fromarray(_image(3)).save(path, quality=98, exif=exif)
    assert metadata.read_doc(path) == ORIGINAL_DOC

def test_jpeg_user_comment_fallback(tmp_path):
    piexif = pytest.importorskip('piexif')
    path = tmp_path / 'uc.JPEG'
    comment = b'ASCII\0\0\0' + json.dumps(DOC).encode('ascii')
    Image.fromarray(_image(3)).save(path, exif=piexif.dump({'Exif': {piexif.ExifIFD.UserComment: comment}}))
    assert metadata.read_doc(path) == DOC

def _box(kind, payload):
    return struct.pack('>I4s', 8 + len(payload), kind) + payload

def _boxes(data):
    """(type, start, end) of the MP4 boxes laid end to end in `data` (32-bit sizes only: small test files)."""
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from('>I4s', data, pos)
        assert size >= 8
        yield kind, pos, pos + size
        pos += size

_FULL_BOX = {b'meta': 4} # meta carries version and flags before its children

def _add_atom(children, path, atom):
    """`children` (boxes end to end) with `atom` appended inside the nested boxes `path`, sizes updated."""
    if not path:
        return children + atom
    out, found = b'', False
    for kind, start, end in _boxes(children):
        box = children[start:end]
        if kind == path[0] and not found:
            skip, found = 8 + _FULL_BOX.get(kind, 0), True
            box = _box(kind, box[8:skip] + _add_atom(box[skip:], path[1:], atom))
        out += box
    assert found, f'no {path[0]} box'
    return out

def _find_atom(data, path):
    """Payload of the box at `path` (e.g. moov/udta/meta/ilst/desc/data), or None."""
    for kind, start, end in _boxes(data):
        if kind == path[0]:
            body = data[start + 8 + _FULL_BOX.get(kind, 0):end]
            return body if len(path) == 1 else _find_atom(body, path[1:])
    return None

def _add_desc_atom(path, text):
    """Tag the file as mutagen's `MP4(f)['desc'] = text; save()` did: a moov/udta/meta/ilst/desc box holding a
    'data' box of type 1 (UTF-8), locale 0, then the text. moov must be the last box (no faststart), so that
    growing it moves no sample data and the chunk offsets stay valid."""
    data = open(path, 'rb').read()
    kind, start, end = list(_boxes(data))[-1]
    assert kind == b'moov'
    atom = _box(b'desc', _box(b'data', struct.pack('>II', 1, 0) + text.encode('utf-8')))
    moov = _box(b'moov', _add_atom(data[start + 8:end], [b'udta', b'meta', b'ilst'], atom))
    open(path, 'wb').write(data[:start] + moov)

def test_original_mp4_desc_atom(tmp_path):
    # The original: imageio (libx264, yuv420p, no faststart), then mutagen's desc atom. Built here without either.
    path = tmp_path / 'stack_X_day_year_0_gan_0.mp4'
    subprocess.run([video.ffmpeg_exe(), '-loglevel', 'error', '-f', 'lavfi', '-i', 'color=c=red:s=32x16:r=24',
        '-frames:v', '3', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', str(path)], check=True,
        stdin=subprocess.DEVNULL)
    with pytest.raises(metadata.MetadataError, match='no embedded state'):
        metadata.read_doc(path)
    text = _original_dumps(ORIGINAL_DOC)
    _add_desc_atom(path, text)
    assert _find_atom(open(path, 'rb').read(), [b'moov', b'udta', b'meta', b'ilst', b'desc', b'data'])[8:] == \
        text.encode()
    assert metadata.read_doc(path) == ORIGINAL_DOC
    assert video.probe(path)['frames'] == 3 # still a valid video

def test_our_mp4_has_a_desc_atom_for_the_original(tmp_path):
    # The original's reader took MP4(f)['desc']: ffmpeg's 'description' tag lands in that very atom.
    path = tmp_path / 'v.mp4'
    with video.VideoWriter(path, 24, preset='ultrafast', metadata=metadata.dumps(DOC)) as writer:
        writer.write(np.zeros((16, 32, 3), np.uint8))
    data = _find_atom(open(path, 'rb').read(), [b'moov', b'udta', b'meta', b'ilst', b'desc', b'data'])
    assert data[:8] == struct.pack('>II', 1, 0) and json.loads(data[8:]) == DOC

#----------------------------------------------------------------------------
# Files with no usable state.

def _plain_mp4(path):
    with video.VideoWriter(path, 24, preset='ultrafast') as writer:
        writer.write(np.zeros((16, 32, 3), np.uint8))

@pytest.mark.parametrize('name', ['plain.png', 'plain.JPG', 'plain.mp4'])
def test_no_metadata(tmp_path, name):
    path = tmp_path / name
    _plain_mp4(path) if name.endswith('.mp4') else Image.fromarray(_image()).save(path, format=(
        'PNG' if name.endswith('.png') else 'JPEG'))
    with pytest.raises(metadata.MetadataError, match=f'{name}: no embedded state'):
        metadata.read_doc(path)

def test_png_description_that_is_not_a_state(tmp_path):
    for name, text, problem in [('a.png', 'a photo of a lake', 'not valid JSON'), ('b.png', '[1,2]', 'list')]:
        info = PngImagePlugin.PngInfo()
        info.add_text('description', text)
        Image.fromarray(_image()).save(tmp_path / name, pnginfo=info)
        with pytest.raises(metadata.MetadataError, match=f"{name}: 'description'.*{problem}"):
            metadata.read_doc(tmp_path / name)

def test_unsupported_and_missing(tmp_path):
    with pytest.raises(metadata.MetadataError, match=r"x.gif: unsupported file type '.gif' \(expected"):
        metadata.read_doc(tmp_path / 'x.gif')
    with pytest.raises(metadata.MetadataError, match='noext: unsupported'):
        metadata.read_doc(tmp_path / 'noext')
    with pytest.raises(metadata.MetadataError, match='net.pkl: a network pickle'):
        metadata.read_doc(tmp_path / 'net.pkl')
    with pytest.raises(metadata.MetadataError, match='gone.png: cannot read'):
        metadata.read_doc(tmp_path / 'gone.png')

def test_truncated_files(tmp_path):
    for name in ['t.png', 't.jpg']:
        whole = metadata.save_image(tmp_path / ('whole' + name), _image(), DOC)
        data = open(whole, 'rb').read()
        (tmp_path / name).write_bytes(data[:len(data) * 2 // 3]) # the text chunk / EXIF is still there
        with pytest.raises(metadata.MetadataError, match=f'{name}: cannot read'):
            metadata.read_doc(tmp_path / name)

def test_garbage_files(tmp_path):
    cases = {'g.json': (b'{"state": ', 'not valid JSON'), 'l.json': (b'[1, 2]', 'list'),
        'g.png': (b'\x89PNG\r\n\x1a\n garbage', 'cannot read'), 'g.jpg': (b'\xff\xd8 junk', 'cannot read'),
        'g.mp4': (b'\0\0\0\x08junk', 'cannot read')}
    for name, (data, problem) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(metadata.MetadataError, match=f'{name}.*{problem}'):
            metadata.read_doc(tmp_path / name)

def test_json_file(tmp_path):
    (tmp_path / 's.JSON').write_text(json.dumps(DOC, ensure_ascii=False, indent=2), encoding='utf-8')
    assert metadata.read_doc(tmp_path / 's.JSON') == DOC
    assert metadata.SUPPORTED == ('.png', '.jpg', '.jpeg', '.mp4', '.json')

#----------------------------------------------------------------------------
