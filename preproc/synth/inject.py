"""Frame defects that the synthetic webcam does not make by itself, written over rendered frames to test bad-frame
detection: a black (failed) capture, an overexposed one, a blurred one (focus lost) and one taken after the camera
was knocked aside (shifted by 8 % of the width)."""

import numpy as np
import scipy.ndimage
from PIL import Image

KINDS = ('black', 'overexposed', 'blurred', 'camera_moved')

#----------------------------------------------------------------------------

def corrupt(img, kind, rng):
    """uint8 [H, W, 3] -> the same frame with the defect `kind`."""
    x = img.astype(np.float32)
    W = img.shape[1]
    if kind == 'black':
        x = rng.uniform(0, 3, img.shape)
    elif kind == 'overexposed':
        x = x * 4 + 40
    elif kind == 'blurred':
        x = scipy.ndimage.gaussian_filter(x, (0.02 * W, 0.02 * W, 0))
    elif kind == 'camera_moved':
        x = scipy.ndimage.shift(x, (0, 0.08 * W, 0), order=1, mode='nearest')
    else:
        raise ValueError(f'Unknown defect {kind!r}; one of {", ".join(KINDS)}')
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)

def inject(paths, kinds, seed=0, quality=95):
    """Rewrite the JPEG frames at `paths` with the defect of the same position in `kinds`."""
    rng = np.random.default_rng(seed)
    for path, kind in zip(paths, kinds):
        img = np.asarray(Image.open(path).convert('RGB'))
        Image.fromarray(corrupt(img, kind, rng)).save(path, format='JPEG', quality=quality)

#----------------------------------------------------------------------------
