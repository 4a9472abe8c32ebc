"""Training images with time labels: a zip or a folder of same-size square images plus an optional `dataset.json`.

Reads our exported zips, zips written by the original TLGAN toolkit (stored, `NNNNN/imgNNNNNNNN.jpg`, `dataset.json`
repeated in the archive: the last copy wins) and plain folders. `dataset.json` holds `labels` = [[name, [t]], ...]
(a bare t is accepted too) and `meta` (num_days, date_start, pad_horizontal, pad_vertical, ...). Image name order is
time order. Labels are float32 [N, 1]; datasets without labels (or use_labels=False) have label_dim 0.
"""

import io
import json
import os
import zipfile
import zlib

import numpy as np
import PIL.Image
import torch

import dnnlib
from dnnlib.cli import UserError
from training.timeline import Timeline

try:
    import pyspng
except ImportError:
    pyspng = None

#----------------------------------------------------------------------------

class DatasetError(ValueError, UserError):
    """A dataset that cannot be used as given; the message names the file and the problem."""

#----------------------------------------------------------------------------
# Base class: index selection (max_size, x-flip), labels and the properties the training code reads.

class Dataset(torch.utils.data.Dataset):
    def __init__(self,
        name,                   # Dataset name, for logs.
        raw_shape,              # Shape of the raw image set: [N, C, H, W].
        raw_labels  = None,     # float32 [N, 1] time labels in image order, or None for an unconditional dataset.
        meta        = None,     # The `meta` dict of dataset.json, or None.
        max_size    = None,     # Use a seeded random subset of at most this many images (time order is kept).
        use_labels  = False,    # False: ignore the labels (label_dim 0).
        xflip       = False,    # Append mirrored copies of every image, with the same labels.
        random_seed = 0,        # Seed of the max_size subset.
    ):
        self._name = name
        self._raw_shape = list(raw_shape)
        self._meta = dict(meta or {})
        num_raw = self._raw_shape[0]
        if use_labels and raw_labels is not None:
            self._raw_labels = np.asarray(raw_labels, dtype=np.float32).reshape(num_raw, 1)
        else:
            self._raw_labels = np.zeros([num_raw, 0], dtype=np.float32)

        self._base_idx = np.arange(num_raw, dtype=np.int64)
        if max_size is not None and num_raw > max_size:
            rng = np.random.RandomState(random_seed % (1 << 31))
            self._base_idx = np.sort(rng.choice(num_raw, size=max_size, replace=False)) # sorted: time order is kept
        self._xflip = bool(xflip)

    def __len__(self):
        return self._base_idx.size * (2 if self._xflip else 1)

    def _raw_index(self, idx):
        """(raw image index, mirrored?) of a dataset index; the mirrored copies follow the originals."""
        n = self._base_idx.size
        if not -len(self) <= idx < len(self):
            raise IndexError(f'Dataset index {idx} out of range for {len(self)} images')
        idx = idx % len(self)
        return int(self._base_idx[idx % n]), idx >= n

    def _load_raw_image(self, raw_idx): # -> uint8 [C, H, W]
        raise NotImplementedError

    def __getitem__(self, idx):
        raw_idx, flip = self._raw_index(idx)
        image = self._load_raw_image(raw_idx)
        if flip:
            image = image[:, :, ::-1]
        return np.array(image, order='C'), self._raw_labels[raw_idx].copy()

    def get_label(self, idx):
        raw_idx, _flip = self._raw_index(idx)
        return self._raw_labels[raw_idx].copy()

    def get_details(self, idx):
        raw_idx, flip = self._raw_index(idx)
        return dnnlib.EasyDict(raw_idx=raw_idx, xflip=flip, raw_label=self._raw_labels[raw_idx].copy())

    @property
    def name(self):
        return self._name

    @property
    def image_shape(self):
        return list(self._raw_shape[1:])

    @property
    def num_channels(self):
        return self._raw_shape[1]

    @property
    def resolution(self):
        return self._raw_shape[2]

    @property
    def label_shape(self):
        return list(self._raw_labels.shape[1:])

    @property
    def label_dim(self):
        return self._raw_labels.shape[1]

    @property
    def has_labels(self):
        return self.label_dim != 0

    @property
    def labels(self):
        """float32 [N, label_dim] labels of the images in use (max_size applied, x-flip copies not repeated), in image
        name order, which is time order in exported datasets."""
        return self._raw_labels[self._base_idx].copy()

    @property
    def meta(self):
        return dict(self._meta)

    @property
    def timeline(self):
        return Timeline.from_meta(self._meta)

    @property
    def pad(self):
        """(pad_horizontal, pad_vertical): black border in pixels per side, added when the dataset was exported."""
        return int(self._meta.get('pad_horizontal', 0)), int(self._meta.get('pad_vertical', 0))

#----------------------------------------------------------------------------
# dataset.json parsing.

def _parse_labels(entries, image_names, json_name):
    """float32 [N, 1] times of image_names from dataset.json's [[name, [t]], ...] (or [[name, t], ...])."""
    times = {}
    for entry in entries:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str)):
            raise DatasetError(f'{json_name}: each label must be [image name, [t]], got {entry!r:.80}')
        value = entry[1]
        if isinstance(value, (list, tuple)) and len(value) == 1:
            value = value[0]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise DatasetError(f'{json_name}: the label of {entry[0]!r} must be a time [t] or t (one finite number), '
                f'got {entry[1]!r:.80}')
        times[entry[0].replace('\\', '/')] = float(value)
    missing = [name for name in image_names if name not in times]
    if missing:
        raise DatasetError(f'{json_name}: no label for image {missing[0]!r}' +
            (f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''))
    return np.array([[times[name]] for name in image_names], dtype=np.float32)

def _parse_dataset_json(data, json_name):
    """(labels list or None, meta dict) of a dataset.json's bytes."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise DatasetError(f'{json_name} is not valid JSON: {e}') from None
    if not isinstance(doc, dict):
        raise DatasetError(f'{json_name} must hold a JSON object with "labels" and "meta"')
    meta = doc.get('meta') or {}
    if not isinstance(meta, dict):
        raise DatasetError(f'{json_name}: "meta" must be a JSON object')
    return doc.get('labels'), meta

#----------------------------------------------------------------------------
# Image decoding.

_CONVERT_TO_RGB = ('P', 'PA', '1', 'LA', 'CMYK', 'YCbCr')

def _decode_image(data, name, where):
    """uint8 [C, H, W] array of the encoded image `name` (`where` names it in errors); PNGs through pyspng."""
    try:
        if pyspng is not None and name.lower().endswith('.png'):
            image = pyspng.load(data)
        else:
            with PIL.Image.open(io.BytesIO(data)) as img:
                if img.mode in _CONVERT_TO_RGB:
                    img = img.convert('RGB')
                image = np.asarray(img)
    except Exception as e: # any decoder failure: report which file
        raise DatasetError(f'Cannot decode image {where}: {e}') from e
    if image.dtype != np.uint8:
        raise DatasetError(f'Image {where} has {image.dtype} pixels; only 8-bit images are supported')
    if image.ndim == 2:
        image = image[:, :, np.newaxis]
    return image.transpose(2, 0, 1)

# Extensions (lower case, with the dot) of the formats Pillow can read, as in the original.
_IMAGE_EXTENSIONS = {ext for ext, fmt in PIL.Image.registered_extensions().items() if fmt in PIL.Image.OPEN}

#----------------------------------------------------------------------------
# Zip or folder of images.

class ImageFolderDataset(Dataset):
    def __init__(self,
        path,                   # Path to a zip file or a folder (searched recursively).
        resolution  = None,     # Expected resolution; the actual one is read from the images.
        use_labels  = True,     # False: ignore dataset.json's labels (label_dim 0).
        **super_kwargs,         # max_size, xflip, random_seed: see Dataset.
    ):
        self._path = str(path)
        self._zipfile = None
        self._zip_pid = None
        if os.path.isdir(self._path):
            self._type = 'dir'
            names = []
            for root, _dirs, files in os.walk(self._path):
                names += [os.path.relpath(os.path.join(root, f), self._path).replace(os.sep, '/') for f in files]
        elif os.path.isfile(self._path):
            self._type = 'zip'
            names = self._get_zipfile().namelist()
        else:
            raise DatasetError(f'Dataset not found: {self._path}')
        self._image_names = sorted(set(name for name in names if os.path.splitext(name)[1].lower() in _IMAGE_EXTENSIONS))
        if len(self._image_names) == 0:
            raise DatasetError(f'No images found in {self._path}')

        first = self._image_names[0]
        self._image_shape = list(_decode_image(self._read(first), first, self._describe(first)).shape)
        _c, h, w = self._image_shape
        if h != w:
            raise DatasetError(f'Images must be square: {self._describe(first)} is {w}x{h}')
        if resolution is not None and h != resolution:
            raise DatasetError(f'{self._path} holds {w}x{h} images, but resolution {resolution} was requested')

        raw_labels, meta = None, {}
        if self._exists('dataset.json'):
            entries, meta = _parse_dataset_json(self._read('dataset.json'), self._describe('dataset.json'))
            if use_labels and entries is not None:
                raw_labels = _parse_labels(entries, self._image_names, self._describe('dataset.json'))
        name = os.path.splitext(os.path.basename(os.path.normpath(self._path)))[0]
        super().__init__(name=name, raw_shape=[len(self._image_names)] + self._image_shape, raw_labels=raw_labels,
            meta=meta, use_labels=use_labels, **super_kwargs)

    def _describe(self, name):
        return f'{name} in {self._path}'

    def _get_zipfile(self):
        """The zip opened by this process: a handle inherited through fork would share its file offset."""
        if self._zipfile is None or self._zip_pid != os.getpid():
            try:
                self._zipfile = zipfile.ZipFile(self._path)
            except (zipfile.BadZipFile, EOFError, OSError) as e:
                raise DatasetError(f'Cannot open {self._path} as a zip file (truncated or corrupt?): {e}') from None
            self._zip_pid = os.getpid()
        return self._zipfile

    def _exists(self, name):
        if self._type == 'dir':
            return os.path.isfile(os.path.join(self._path, name))
        try:
            self._get_zipfile().getinfo(name)
        except KeyError:
            return False
        return True

    def _read(self, name):
        """Bytes of a member; for a repeated zip member name, the last copy."""
        try:
            if self._type == 'dir':
                with open(os.path.join(self._path, name), 'rb') as f:
                    return f.read()
            return self._get_zipfile().read(name)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise DatasetError(f'Cannot read {self._describe(name)} (truncated or corrupt?): {e}') from None

    def _load_raw_image(self, raw_idx):
        name = self._image_names[raw_idx]
        image = _decode_image(self._read(name), name, self._describe(name))
        if list(image.shape) != self._image_shape:
            raise DatasetError(f'All images must have the shape of the first one, {self._image_shape} (CHW), '
                f'but {self._describe(name)} has {list(image.shape)}')
        return image

    def image_name(self, idx):
        """File name (relative, forward slashes) of a dataset index."""
        return self._image_names[self._raw_index(idx)[0]]

    def close(self):
        if self._zipfile is not None:
            self._zipfile.close()
        self._zipfile = None

    def __getstate__(self): # DataLoader workers get a copy without the open handle
        return dict(self.__dict__, _zipfile=None, _zip_pid=None)

#----------------------------------------------------------------------------
