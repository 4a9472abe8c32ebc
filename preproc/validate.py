"""Check a dataset zip or folder against the TLGAN dataset format: dataset.json with strictly increasing [member, [t]]
labels in name order, t in [0, 1], every image present, RGB and R x R with R a power of two, and the meta keys the
trainer reads (num_days, date_start, pad_horizontal, pad_vertical, img_shape). Images are checked from their headers.
"""

import io
import json
import os
import re
import zipfile

from PIL import Image

from preproc import discovery, geometry

#----------------------------------------------------------------------------

class _Reader:
    """Uniform access to the files of a dataset zip or folder."""
    def __init__(self, path):
        try:
            self.zip = zipfile.ZipFile(path) if os.path.isfile(path) else None
        except zipfile.BadZipFile as e:
            raise ValueError(f'{path} is not a zip file: {e}') from e
        if self.zip is None and not os.path.isdir(path):
            raise FileNotFoundError(f'Dataset {path} does not exist')
        if self.zip is not None:
            self.infos = {i.filename: i for i in self.zip.infolist() if not i.is_dir()}
            self.names = sorted(self.infos)
        else:
            self.root = path
            self.names = sorted(os.path.relpath(os.path.join(d, f), path).replace(os.sep, '/')
                                for d, _, files in os.walk(path) for f in files)

    def read(self, name):
        if self.zip is not None:
            return self.zip.read(name)
        with open(os.path.join(self.root, name), 'rb') as f:
            return f.read()

def _check_meta(meta, res, errors, warnings):
    """The keys the trainer reads. Only num_days is needed (else train.py needs --days); pads default to 0 and
    date_start to 2000-01-01, as in the original, and img_shape is informative."""
    if 'num_days' not in meta:
        warnings.append('meta lacks "num_days": train.py will need --days')
    elif not (isinstance(meta['num_days'], int) and meta['num_days'] >= 1):
        errors.append(f'meta.num_days must be a positive int, got {meta["num_days"]!r}')
    if 'date_start' not in meta:
        warnings.append('meta lacks "date_start": dates will count from 2000-01-01')
    elif not isinstance(meta['date_start'], (int, float)):
        errors.append(f'meta.date_start must be unix seconds, got {meta["date_start"]!r}')
    for key in ('pad_horizontal', 'pad_vertical'):
        if key in meta and not (isinstance(meta[key], int) and (res is None or 0 <= meta[key] < res // 2)):
            errors.append(f'meta.{key} must be an int in [0, R/2), got {meta[key]!r}')
    if res and 'img_shape' in meta and meta['img_shape'] != [3, res, res]:
        errors.append(f'meta.img_shape is {meta["img_shape"]!r}, the images are {[3, res, res]}')

def _check_labels(labels, errors):
    """Label times, or None if the list is malformed."""
    if not isinstance(labels, list) or not labels:
        errors.append('"labels" must be a non-empty list')
        return None
    bad = [e for e in labels if not (isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) and isinstance(e[1], list)
                                     and len(e[1]) == 1 and isinstance(e[1][0], (int, float)))]
    if bad:
        errors.append(f'{len(bad)} labels are not [member, [t]], e.g. {bad[0]!r}')
        return None
    t = [e[1][0] for e in labels]
    names = [e[0] for e in labels]
    if any(b <= a for a, b in zip(t, t[1:])):
        errors.append('label times are not strictly increasing')
    if min(t) < 0 or max(t) > 1:
        errors.append(f'label times leave [0, 1]: {min(t)}..{max(t)}')
    if names != sorted(names):
        errors.append('label order differs from the name order of the images')
    return t

def validate_dataset(path, verbose=True):
    """Report dict(ok, errors, warnings, num_images, resolution, num_days, date_start, pad); printed if verbose."""
    errors, warnings, res, meta = [], [], None, {}
    reader = _Reader(path)
    images = [n for n in reader.names if n.lower().endswith(discovery.IMAGE_EXTS)]
    if 'dataset.json' not in reader.names:
        errors.append('dataset.json is missing')
    else:
        try:
            dataset = json.loads(reader.read('dataset.json'))
        except ValueError as e:
            dataset = {}
            errors.append(f'dataset.json is not valid JSON: {e}')
        meta = dataset.get('meta') or {}
        if not isinstance(dataset.get('skipped', 0), int):
            errors.append('"skipped" must be an int')
        if _check_labels(dataset.get('labels'), errors) is not None:
            labelled = [e[0] for e in dataset['labels']]
            missing = sorted(set(labelled) - set(images))
            unlabelled = sorted(set(images) - set(labelled))
            if missing:
                errors.append(f'{len(missing)} labelled images are missing: {discovery.format_names(missing)}')
            if unlabelled:
                errors.append(f'{len(unlabelled)} images have no label: {discovery.format_names(unlabelled)}')
    sizes = {}
    for name in images:
        try:
            with Image.open(io.BytesIO(reader.read(name))) as img:
                sizes.setdefault((img.size, img.mode), []).append(name)
        except Exception as e: # pylint: disable=broad-except
            errors.append(f'{name} cannot be read: {e}')
    if len(sizes) > 1:
        errors.append('images differ in size or mode: ' + ', '.join(f'{len(v)}x {k[0][0]}x{k[0][1]} {k[1]}' for k, v in sizes.items()))
    elif sizes:
        (w, h), mode = next(iter(sizes))
        try:
            geometry.check_resolution(w if w == h else None)
            res = w
        except ValueError:
            res = None
        if res is None or mode != 'RGB':
            errors.append(f'images are {w}x{h} {mode}; expected R x R RGB with R a power of two >= 32')
    _check_meta(meta, res, errors, warnings)
    if reader.zip is not None:
        if any(i.compress_type != zipfile.ZIP_STORED for i in reader.infos.values()):
            warnings.append('some members are compressed; the format uses ZIP_STORED')
        m = re.search(r'_(\d+)x(\d+)_(\d+)hz\.zip$', os.path.basename(path))
        if m is None or (res and int(m.group(1)) != res) or m.group(3) != str(meta.get('num_days')):
            warnings.append('file name does not follow NAME_RxR_Dhz.zip with the actual R and num_days')
    report = dict(ok=not errors, errors=errors, warnings=warnings, num_images=len(images), resolution=res,
                  num_days=meta.get('num_days'), date_start=meta.get('date_start'),
                  pad=(meta.get('pad_horizontal'), meta.get('pad_vertical')))
    if verbose:
        print(f'{path}: {"OK" if report["ok"] else "INVALID"}: {len(images)} images, resolution {res}, '
              f'num_days {report["num_days"]}, pad {report["pad"]}')
        for line in errors:
            print(f'  error: {line}')
        for line in warnings:
            print(f'  warning: {line}')
    return report

#----------------------------------------------------------------------------
