"""Unit tests of the preprocessing library: discovery order, timestamp parsing and checks, selection syntax, warps,
crop and fit geometry."""

import datetime
import zipfile

import numpy as np
import pytest
from PIL import Image

from preproc import archive, discovery, geometry, selection, timestamps

def _unix(*args, tz=datetime.timezone.utc):
    return datetime.datetime(*args, tzinfo=tz).timestamp()

def _jpeg(path, exif_time=None, offset=None, orientation=None, size=(48, 32)):
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if exif_time:
        exif.get_ifd(0x8769)[36867] = exif_time
    if offset:
        exif.get_ifd(0x8769)[36881] = offset
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', size, (90, 120, 150)).save(path, exif=exif)

#----------------------------------------------------------------------------
# Discovery.

def test_discovery_order_mixes_folders_zips_and_skips_hidden(tmp_path):
    root = tmp_path / 'cam'
    for name in ['img10.JPG', 'img2.jpg', 'sub/img1.png', '.hidden/x.jpg', 'notes.txt']:
        _jpeg(root / name) if not name.endswith('.txt') else (root / name).write_text('x')
    with zipfile.ZipFile(root / 'b.zip', 'w') as zf:
        zf.writestr('f/c3.jpg', (root / 'img2.jpg').read_bytes())
        zf.writestr('__MACOSX/f/._c3.jpg', b'junk')
        zf.writestr('readme.md', b'x')
    for folder in ['out', 'sub']: # An earlier export (in the excluded folder, or anywhere): not input frames.
        (root / folder).mkdir(exist_ok=True)
        with zipfile.ZipFile(root / folder / 'cam_32x32_1hz.zip', 'w') as zf:
            zf.writestr('00000/img00000000.jpg', (root / 'img2.jpg').read_bytes())
            zf.writestr('dataset.json', '{}')
    src = discovery.discover(str(root), exclude=[str(root / 'out')])
    assert [f.name for f in src.frames] == ['b.zip/f/c3.jpg', 'img2.jpg', 'img10.JPG', 'sub/img1.png']
    assert sorted(src.ignored) == ['b.zip/readme.md', 'notes.txt', 'sub/cam_32x32_1hz.zip']
    assert src.name == 'cam'
    assert discovery.read_bytes(src.frames[0]) == (root / 'img2.jpg').read_bytes()

def test_discovery_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        discovery.discover(str(tmp_path / 'missing'))
    with pytest.raises(ValueError, match='No images'):
        discovery.discover(str(tmp_path))

#----------------------------------------------------------------------------
# Timestamps.

def test_name_formats_and_wildcards():
    utc = datetime.timezone.utc
    parse = timestamps.NameParser(None, utc)
    assert parse('20100217_030236') == _unix(2010, 2, 17, 3, 2, 36)
    assert parse('2010-02-17-03-02-36') == _unix(2010, 2, 17, 3, 2, 36)
    assert parse('cam_20100217_030236') is None # Built-in formats match the whole stem only.
    assert timestamps.NameParser('*%Y%m%d_%H%M%S', utc)('cam_20100217_030236') == _unix(2010, 2, 17, 3, 2, 36)
    assert timestamps.NameParser('%Y%m%d*', utc)('20100217_extra') == _unix(2010, 2, 17)
    assert timestamps.NameParser('*%d.%m.%Y %H%M*', utc)('x 17.02.2010 0302 y') == _unix(2010, 2, 17, 3, 2)
    assert timestamps.NameParser('%d.%m.%Y', utc)('17.02.2010x') is None
    with pytest.raises(ValueError, match='not supported'):
        timestamps.NameParser('*%Y%c', utc)
    with pytest.raises(ValueError, match='no year'):
        timestamps.NameParser('IMG_%d', utc)

def test_timezones():
    assert timestamps.NameParser(None, timestamps.parse_timezone('Europe/Helsinki'))('20200601_120000') == _unix(2020, 6, 1, 9)
    assert timestamps.NameParser(None, timestamps.parse_timezone('Europe/Helsinki'))('20200101_120000') == _unix(2020, 1, 1, 10)
    assert timestamps.NameParser(None, timestamps.parse_timezone('-05:30'))('20200101_120000') == _unix(2020, 1, 1, 17, 30)
    assert timestamps.NameParser('%Y%m%d_%H%M%S%z', timestamps.parse_timezone('+05:00'))('20200101_120000+0100') == _unix(2020, 1, 1, 11)
    with pytest.raises(ValueError, match='Unknown time zone'):
        timestamps.parse_timezone('Mars/Olympus')

def test_intervals_and_iso():
    assert timestamps.parse_interval_seconds('10min') == 600
    with pytest.raises(ValueError, match='needs a unit'):
        timestamps.parse_interval_seconds('30')
    assert timestamps.parse_interval_seconds('30 s') == 30
    assert timestamps.parse_interval_seconds('1.5h') == 5400
    assert timestamps.parse_interval_seconds('2 days') == 2 * 86400
    with pytest.raises(ValueError):
        timestamps.parse_interval_seconds('soon')
    assert timestamps.parse_iso('2021-06-01T06:00', timestamps.parse_timezone('+02:00')) == _unix(2021, 6, 1, 4)
    with pytest.raises(ValueError, match='ISO'):
        timestamps.parse_iso('June 1st', datetime.timezone.utc)

def test_exif_fallback_with_offset_and_timezone(tmp_path):
    _jpeg(tmp_path / 'IMG_0001.jpg', exif_time='2020:06:01 12:00:00')
    _jpeg(tmp_path / 'IMG_0002.jpg', exif_time='2020:06:01 12:10:00', offset='+00:00')
    _jpeg(tmp_path / '20200601_100500.jpg')
    timed = timestamps.assign_times(discovery.discover(str(tmp_path)), timezone='Europe/Helsinki')
    assert [f.name for f in timed.frames] == ['20200601_100500.jpg', 'IMG_0001.jpg', 'IMG_0002.jpg']
    assert timed.unix.tolist() == [_unix(2020, 6, 1, 7, 5), _unix(2020, 6, 1, 9), _unix(2020, 6, 1, 12, 10)]
    assert timed.origins == ['name', 'exif', 'exif']

def test_unparsable_out_of_order_and_duplicates(tmp_path):
    _jpeg(tmp_path / 'holiday.jpg')                                         # No time anywhere.
    _jpeg(tmp_path / 'IMG_0001.jpg', exif_time='2020:06:02 00:00:00')
    _jpeg(tmp_path / 'IMG_0002.jpg', exif_time='2020:06:01 00:00:00')        # Clock went backwards.
    _jpeg(tmp_path / '2020-06-03-00-00-00.jpg')
    _jpeg(tmp_path / '20200603_000000.jpg')                                  # Same time as the previous one.
    source = discovery.discover(str(tmp_path))
    with pytest.raises(timestamps.BadTimesError) as info:
        timestamps.assign_times(source)
    msg = str(info.value)
    assert '1 unparsable' in msg and 'holiday.jpg' in msg and '1 out-of-order' in msg and 'IMG_0002.jpg' in msg
    assert '1 duplicate' in msg and '20200603_000000.jpg' in msg and '--skip-bad-times' in msg
    timed = timestamps.assign_times(source, skip_bad_times=True)
    assert [f.name for f in timed.frames] == ['IMG_0001.jpg', '2020-06-03-00-00-00.jpg']
    assert timed.dropped == dict(unparsable=['holiday.jpg'], out_of_order=['IMG_0002.jpg'], duplicate=['20200603_000000.jpg'])
    assert len(timestamps.assign_times(source, skip_bad_times=True, check_order=False).frames) == 3

#----------------------------------------------------------------------------
# Selection.

def test_trim_and_skip_syntax():
    assert selection.parse_trim(None, 10) == (0, 9)
    assert selection.parse_trim('2:', 10) == (2, 9)
    assert selection.parse_trim(' :4 ', 10) == (0, 4)
    assert selection.parse_skip('1, 3-5,9', 10) == [1, 3, 4, 5, 9]
    for bad in ['1,,2', '3-1', 'a', '1-2-3', '10']:
        with pytest.raises(ValueError):
            selection.parse_skip(bad, 10)
    for bad in ['5:2', '0:10', '1-3']:
        with pytest.raises(ValueError):
            selection.parse_trim(bad, 10)
    sel = selection.select(10, '2:8', '0,3,4-5')
    assert sel.indices.tolist() == [2, 6, 7, 8] and sel.skipped == [3, 4, 5]
    with pytest.raises(ValueError, match='Nothing to export'):
        selection.select(10, '2:3', '2-3')

#----------------------------------------------------------------------------
# Geometry.

def test_warps_file_shape_and_smoothing(tmp_path):
    np.save(tmp_path / 'bad.npy', np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r'shape \(4, 5\).*\(3, 6\)'):
        geometry.load_warps(str(tmp_path / 'bad.npy'), 3)
    rng = np.random.default_rng(1)
    rows = rng.normal(0, 0.1, (7, 6))
    m = geometry.rows_to_matrices(rows)
    assert np.allclose(geometry._compose(geometry._decompose(m)), m) # pylint: disable=protected-access
    assert geometry.smooth_warps(rows, 1) is rows
    const = np.tile(rows[:1], (7, 1))
    assert np.allclose(geometry.smooth_warps(const, 5), const)
    shifts = np.zeros((5, 6))
    shifts[:, 4] = [0, 0, 0.5, 0, 0]
    assert np.allclose(geometry.smooth_warps(shifts, 3)[:, 4], [0, 0.5 / 3, 0.5 / 3, 0.5 / 3, 0])

def test_fit_window_and_crop():
    rows = np.zeros((3, 6))
    rows[1, 4], rows[2, 5] = 0.1, -0.2 # Frame 1 moves right, frame 2 up.
    assert np.allclose(geometry.fit_window(rows, [0, 1, 2]), (0.1, 0, 1, 0.8))
    assert np.allclose(geometry.crop_box('fit', (100, 50), rows, [0, 1]), (0.1, 0, 1, 1))
    assert np.allclose(geometry.crop_box('0.1,10,0,0.5', (100, 50)), (0.1, 0.2, 1, 0.5))
    for bad in ['1,2,3', '0.1,0.1,0.9,0.1', 'a,b,c,d', '-1,0,0,0']:
        with pytest.raises(ValueError):
            geometry.crop_box(bad, (100, 50))
    with pytest.raises(ValueError, match='needs --warps'):
        geometry.crop_box('fit', (100, 50))

def test_plan_pads_and_resolution():
    plan = geometry.make_plan((48, 32), 32)
    assert plan.size == (32, 22) and plan.pad == (0, 5) and plan.quality == 98
    assert geometry.make_plan((30, 60), 512).pad == (128, 0) and geometry.make_plan((30, 60), 512).quality == 95
    assert geometry.make_plan((48, 32), 32, fit='crop').box == pytest.approx((1 / 6, 0, 5 / 6, 1))
    assert geometry.make_plan((48, 32), 32, fit='stretch').pad == (0, 0)
    for bad in [300, 16, 0, 256.0]:
        with pytest.raises(ValueError, match='power of two'):
            geometry.make_plan((48, 32), bad)

def test_render_applies_warp_crop_and_pad():
    img = Image.new('RGB', (64, 32))
    img.paste((255, 255, 255), (0, 0, 16, 32)) # White left quarter.
    plan = geometry.make_plan((64, 32), 32)
    out = np.asarray(geometry.render(img, plan))
    assert out.shape == (32, 32, 3) and plan.pad == (0, 8)
    assert out[:8].max() == 0 and out[24:].max() == 0                 # Letterbox.
    assert out[16, :7].min() > 250 and out[16, 9:].max() < 5          # Content: left quarter white.
    shifted = np.asarray(geometry.render(img, plan, np.array([0, 0, 0, 0, 0.5, 0])))
    assert shifted[16, :15].max() < 5 and shifted[16, 17:23].min() > 250 # Forward warp moves content right by half.

def test_warped_render_rounds_instead_of_truncating():
    ramp = Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (64, 1))).convert('RGB')
    plan = geometry.make_plan((256, 64), 256, fit='stretch')
    out = np.asarray(geometry.render(ramp, plan, np.array([0, 0, 0, 0, 0.25 / 256, 0])), dtype=int)
    assert np.array_equal(out[32, 8:248, 0], np.arange(8, 248)) # x - 0.25 rounds back to x.

#----------------------------------------------------------------------------

def test_export_keeps_a_zip_that_appears_meanwhile(tmp_path):
    final = tmp_path / 'seq_32x32_1hz.zip'
    with archive.PartialZip(str(final), fingerprint='x') as out:
        final.write_bytes(b'another export')
        with pytest.raises(FileExistsError, match='appeared while exporting'):
            out.finish({'dataset.json': b'{}'})
    assert final.read_bytes() == b'another export' # untouched; ours stays as the partial file
    assert (tmp_path / '.seq_32x32_1hz.zip.partial').stat().st_size > 0
