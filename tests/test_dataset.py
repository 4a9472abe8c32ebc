"""Tests of training.dataset: our zips, zips as the original TLGAN toolkit writes them, folders, labels and errors."""

import io
import json
import os
import pickle
import warnings
import zipfile

import numpy as np
import PIL.Image
import pytest
import torch

import dnnlib
from training.dataset import DatasetError, ImageFolderDataset

RES = 16
META = dict(num_days=1200, date_start=1262304000.0, pad_horizontal=2, pad_vertical=1, img_shape=[3, RES, RES],
    args=dict(path='x', labels=None, state=None), rot_deg=0.0, crop_even=True, manal=dict(target_idx=0))

#----------------------------------------------------------------------------
# Fixtures: tiny images encoded in memory, written the way each producer writes them.

def _images(n, res=RES, channels=3):
    """Distinct, smooth images (JPEG keeps them close) with an asymmetric left-right pattern."""
    y, x = np.mgrid[0:res, 0:res]
    return [np.stack([x * 200 // res + 5 * i, y * 255 // res, np.full_like(x, 20 * i)][:channels], axis=2).astype(np.uint8)
        for i in range(n)]

def _encode(image, fmt):
    buf = io.BytesIO()
    PIL.Image.fromarray(image.squeeze()).save(buf, format=fmt, quality=98)
    return buf.getvalue()

def _times(n):
    return list(np.sort(np.random.RandomState(n).uniform(0, 1, n)))

def _write_original_zip(path, images, times, meta=META):
    """As the original exporter: stored, NNNNN/imgNNNNNNNN.jpg, dataset.json first (no labels yet) and again at the end."""
    names = [f'{k // 1000:05d}/img{k:08d}.jpg' for k in range(len(images))]
    with warnings.catch_warnings(), zipfile.ZipFile(path, 'a', compression=zipfile.ZIP_STORED) as z:
        warnings.simplefilter('ignore') # zipfile warns about the repeated member name
        z.writestr('dataset.json', json.dumps(dict(labels=[], skipped=0, meta=dict(meta, num_days=1))))
        for name, image in zip(names, images):
            z.writestr(name, _encode(image, 'JPEG'))
        labels = [[name, [float(t)]] for name, t in zip(names, times)]
        z.writestr('dataset.json', json.dumps(dict(labels=labels, skipped=0, meta=meta)))
    return names

def _write_zip(path, images, labels, meta=META, compression=zipfile.ZIP_STORED, fmt='PNG'):
    """Our exporter's layout: one dataset.json; labels given as [[name, value], ...] for image names f'{k:04d}.ext'."""
    ext = fmt.lower()
    with zipfile.ZipFile(path, 'w', compression=compression) as z:
        for k, image in enumerate(images):
            z.writestr(f'{k:04d}.{ext}', _encode(image, fmt))
        if labels is not None:
            z.writestr('dataset.json', json.dumps(dict(labels=[[f'{k:04d}.{ext}', v] for k, v in enumerate(labels)], meta=meta)))

def _pixels(ds):
    return np.stack([ds[i][0] for i in range(len(ds))])

#----------------------------------------------------------------------------

def test_original_toolkit_zip(tmp_path):
    images, times = _images(5), _times(5)
    path = tmp_path / 'muotathal_16x16_1200hz.zip'
    names = _write_original_zip(path, images, times)
    with zipfile.ZipFile(path) as z:
        assert [i.compress_type for i in z.infolist()] == [zipfile.ZIP_STORED] * 7
        assert z.namelist().count('dataset.json') == 2
    with warnings.catch_warnings():
        warnings.simplefilter('error') # reading must not warn
        ds = ImageFolderDataset(path)
        image, label = ds[3]
    assert ds.name == 'muotathal_16x16_1200hz' and len(ds) == 5
    assert ds.image_shape == [3, RES, RES] and ds.resolution == RES and ds.num_channels == 3
    assert ds.has_labels and ds.label_dim == 1 and ds.label_shape == [1]
    assert ds.labels.dtype == np.float32 and ds.labels.shape == (5, 1)
    np.testing.assert_array_equal(ds.labels[:, 0], np.float32(times))
    assert ds.meta == META # the last dataset.json won (the first one said num_days=1)
    assert ds.timeline.num_days == 1200 and ds.timeline.date_start == META['date_start']
    assert ds.pad == (2, 1)
    assert image.dtype == np.uint8 and image.shape == (3, RES, RES) and image.flags.c_contiguous
    assert label.dtype == np.float32 and label.shape == (1,) and label[0] == np.float32(times[3])
    assert np.abs(image.astype(int) - images[3].transpose(2, 0, 1)).mean() < 3 # JPEG
    assert ds.image_name(3) == names[3]

def test_our_zip_matches_original(tmp_path):
    images, times = _images(4), _times(4)
    _write_original_zip(tmp_path / 'orig.zip', images, times)
    _write_zip(tmp_path / 'ours.zip', images, [[t] for t in times])
    orig, ours = ImageFolderDataset(tmp_path / 'orig.zip'), ImageFolderDataset(tmp_path / 'ours.zip')
    np.testing.assert_array_equal(orig.labels, ours.labels)
    assert orig.meta == ours.meta and orig.timeline == ours.timeline and orig.pad == ours.pad
    np.testing.assert_array_equal(_pixels(ours), np.stack(images).transpose(0, 3, 1, 2)) # PNG: exact

def test_deflated_zip(tmp_path):
    images, times = _images(3), _times(3)
    _write_zip(tmp_path / 'd.zip', images, [[t] for t in times], compression=zipfile.ZIP_DEFLATED, fmt='JPEG')
    ds = ImageFolderDataset(tmp_path / 'd.zip')
    np.testing.assert_array_equal(ds.labels[:, 0], np.float32(times))
    assert _pixels(ds).shape == (3, 3, RES, RES)

def test_plain_folder_recursive_sorted(tmp_path):
    images = _images(4)
    # Relative paths in forward-slash order: 'a/x.PNG' < 'a0.jpg' < 'b/c/z.Jpeg' < 'b0.png'.
    names = ['a/x.PNG', 'a0.jpg', 'b/c/z.Jpeg', 'b0.png']
    for name, image in zip(reversed(names), images):
        os.makedirs(tmp_path / os.path.dirname(name), exist_ok=True)
        (tmp_path / name).write_bytes(_encode(image, 'PNG' if name.lower().endswith('png') else 'JPEG'))
    (tmp_path / 'notes.txt').write_text('not an image')
    labels = {name: [0.1 * k] for k, name in enumerate(names)}
    (tmp_path / 'dataset.json').write_text(json.dumps(dict(labels=[[n.replace('/', '\\'), v] for n, v in labels.items()])))
    ds = ImageFolderDataset(str(tmp_path) + os.sep)
    assert [ds.image_name(i) for i in range(len(ds))] == names
    np.testing.assert_allclose(ds.labels[:, 0], [0, 0.1, 0.2, 0.3], rtol=1e-6)
    assert ds.meta == {} and ds.pad == (0, 0) and ds.timeline.num_days == 1
    np.testing.assert_array_equal(ds[0][0], images[3].transpose(2, 0, 1)) # 'a/x.PNG' got the last image
    assert ds.name == tmp_path.name

def test_unconditional(tmp_path):
    _write_zip(tmp_path / 'u.zip', _images(3), labels=None)
    ds = ImageFolderDataset(tmp_path / 'u.zip')
    assert not ds.has_labels and ds.label_dim == 0 and ds.labels.shape == (3, 0) and ds.meta == {}
    image, label = ds[1]
    assert image.shape == (3, RES, RES) and label.shape == (0,) and label.dtype == np.float32
    _write_zip(tmp_path / 'c.zip', _images(3), [[0.0], [0.5], [1.0]])
    ds = ImageFolderDataset(tmp_path / 'c.zip', use_labels=False)
    assert ds.label_dim == 0 and ds.get_label(2).shape == (0,) and ds.meta == META

def test_grayscale(tmp_path):
    _write_zip(tmp_path / 'g.zip', _images(2, channels=1), labels=None)
    ds = ImageFolderDataset(tmp_path / 'g.zip')
    assert ds.num_channels == 1 and ds[0][0].shape == (1, RES, RES)

def test_bare_scalar_labels(tmp_path):
    _write_zip(tmp_path / 's.zip', _images(3), [0.0, 0.25, 1])
    ds = ImageFolderDataset(tmp_path / 's.zip')
    assert ds.labels.dtype == np.float32 and ds.labels.shape == (3, 1)
    np.testing.assert_array_equal(ds.labels[:, 0], [0, 0.25, 1])

def test_bad_label_shape(tmp_path):
    _write_zip(tmp_path / 'b.zip', _images(2), [[0.0], [0.1, 0.2]])
    with pytest.raises(DatasetError, match=r"dataset\.json in .*b\.zip.*'0001\.png'"):
        ImageFolderDataset(tmp_path / 'b.zip')

def test_missing_label(tmp_path):
    _write_zip(tmp_path / 'm.zip', _images(3), [[0.0], [0.1], [0.2]])
    with zipfile.ZipFile(tmp_path / 'm.zip', 'a') as z:
        z.writestr('0003.png', _encode(_images(1)[0], 'PNG'))
    with pytest.raises(DatasetError, match=r"no label for image '0003\.png'"):
        ImageFolderDataset(tmp_path / 'm.zip')

def test_resolution_checks(tmp_path):
    _write_zip(tmp_path / 'r.zip', _images(2), labels=None)
    assert ImageFolderDataset(tmp_path / 'r.zip', resolution=RES).resolution == RES
    with pytest.raises(DatasetError, match=r'16x16 images, but resolution 32'):
        ImageFolderDataset(tmp_path / 'r.zip', resolution=32)
    wide = np.zeros([RES, RES + 2, 3], np.uint8)
    _write_zip(tmp_path / 'w.zip', [wide], labels=None)
    with pytest.raises(DatasetError, match=r'square: 0000\.png .* is 18x16'):
        ImageFolderDataset(tmp_path / 'w.zip')

def test_differing_later_image(tmp_path):
    _write_zip(tmp_path / 'x.zip', _images(2) + _images(1, res=RES * 2), labels=None)
    ds = ImageFolderDataset(tmp_path / 'x.zip')
    ds[1]
    with pytest.raises(DatasetError, match=r'0002\.png in .*x\.zip has \[3, 32, 32\]'):
        ds[2]

def test_max_size_keeps_time_order(tmp_path):
    times = _times(20)
    _write_zip(tmp_path / 't.zip', _images(20), [[t] for t in times])
    ds = ImageFolderDataset(tmp_path / 't.zip', max_size=7, random_seed=3)
    assert len(ds) == 7 and np.all(np.diff(ds.labels[:, 0]) > 0)
    assert set(ds.labels[:, 0]) <= set(np.float32(times))
    assert [ds.get_label(i)[0] for i in range(7)] == list(ds.labels[:, 0])
    np.testing.assert_array_equal(ImageFolderDataset(tmp_path / 't.zip', max_size=7, random_seed=3).labels, ds.labels)
    assert not np.array_equal(ImageFolderDataset(tmp_path / 't.zip', max_size=7, random_seed=4).labels, ds.labels)
    assert len(ImageFolderDataset(tmp_path / 't.zip', max_size=100)) == 20

def test_xflip_mirrors_and_doubles(tmp_path):
    times = _times(3)
    _write_zip(tmp_path / 'f.zip', _images(3), [[t] for t in times])
    ds = ImageFolderDataset(tmp_path / 'f.zip', xflip=True)
    assert len(ds) == 6 and ds.labels.shape == (3, 1)
    for i in range(3):
        (a, la), (b, lb) = ds[i], ds[i + 3]
        np.testing.assert_array_equal(b, a[:, :, ::-1])
        assert not np.array_equal(a, b) and la == lb
        assert ds.get_details(i + 3).xflip and ds.get_details(i + 3).raw_idx == i

def test_pickle_and_dataloader_workers(tmp_path):
    _write_zip(tmp_path / 'p.zip', _images(4), [[0.1 * k] for k in range(4)])
    ds = dnnlib.util.construct_class_by_name(class_name='training.dataset.ImageFolderDataset', path=str(tmp_path / 'p.zip'))
    ds[0] # opens the zip handle
    clone = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(_pixels(clone), _pixels(ds))
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2)
    images, labels = map(torch.cat, zip(*loader))
    np.testing.assert_array_equal(images.numpy(), _pixels(ds))
    np.testing.assert_array_equal(labels.numpy(), ds.labels)

def test_truncated_and_missing(tmp_path):
    _write_zip(tmp_path / 'full.zip', _images(3), labels=None)
    data = (tmp_path / 'full.zip').read_bytes()
    (tmp_path / 'cut.zip').write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(DatasetError, match=r'cut\.zip as a zip file'):
        ImageFolderDataset(tmp_path / 'cut.zip')
    with pytest.raises(DatasetError, match='not found'):
        ImageFolderDataset(tmp_path / 'nothing.zip')
    os.makedirs(tmp_path / 'empty')
    with pytest.raises(DatasetError, match='No images'):
        ImageFolderDataset(tmp_path / 'empty')

def test_corrupt_image_and_json(tmp_path):
    with zipfile.ZipFile(tmp_path / 'c.zip', 'w') as z:
        z.writestr('0000.png', _encode(_images(1)[0], 'PNG'))
        z.writestr('0001.png', b'not a png')
    ds = ImageFolderDataset(tmp_path / 'c.zip')
    with pytest.raises(DatasetError, match=r'decode image 0001\.png in .*c\.zip'):
        ds[1]
    with zipfile.ZipFile(tmp_path / 'c.zip', 'a') as z:
        z.writestr('dataset.json', '{"labels": [')
    with pytest.raises(DatasetError, match=r'dataset\.json in .*c\.zip is not valid JSON'):
        ImageFolderDataset(tmp_path / 'c.zip')

#----------------------------------------------------------------------------
