"""Per-frame geometry: alignment warps (the original's (N, 6) .npy format, with its decomposition smoothing and
inscribed-window fit), crop, fit into R x R with a black letterbox, and the rendering of one frame.

Coordinates are normalised to the reference frame: x right, y down, the image is [0, 1]^2 with pixel edges at
multiples of 1/W (pixel centres at (i + 0.5)/W, the convention of PIL's transforms and of resize boxes, so no half-pixel
mismatch). The reference frame has the most common size; a frame of another size is stretched onto it. Chain per frame:
  decode (+ EXIF orientation)  ->  warp A (forward: frame coords -> reference coords; bicubic, black outside)
  ->  crop box  ->  Lanczos resize (antialiased) to the content size  ->  paste centred on a black R x R canvas.
Crop (--crop=L,T,R,B): margins removed from the left, top, right and bottom of the reference frame; a number with a
decimal point is a fraction of the frame's width (L, R) or height (T, B), an integer is pixels of the reference frame;
'fit' takes the largest box that every warped frame covers. Fit (--fit): 'pad' keeps the aspect and letterboxes the
short side symmetrically (the content side gets R's parity so both pads are equal), 'crop' cuts the box to a centred
square, 'stretch' ignores the aspect.
"""

import collections
import dataclasses
import math

import numpy as np
from PIL import Image

from preproc import discovery

FIT_MODES = ('pad', 'crop', 'stretch')

#----------------------------------------------------------------------------
# Reference size.

def check_resolution(resolution):
    if not (isinstance(resolution, int) and resolution >= 32 and resolution & (resolution - 1) == 0):
        raise ValueError(f'Resolution must be a power of two >= 32 (e.g. 256, 512, 1024), got {resolution!r}')

def reference_size(frames, max_samples=1000):
    """(W0, H0): the most common header size (the larger area on a tie) among at most max_samples evenly spaced
    frames, so that a few odd frames do not set the size of all the others; those are named in a warning."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), max_samples)).round().astype(int))
    sizes = {frames[i].name: size for i in picks if (size := discovery.header_size(frames[i])) is not None}
    if not sizes:
        raise ValueError(f'None of the {len(picks)} sampled frames could be read (first: {frames[0].name})')
    counts = collections.Counter(sizes.values())
    ref = max(counts, key=lambda s: (counts[s], s[0] * s[1]))
    odd = [f'{name} ({w}x{h})' for name, (w, h) in sizes.items() if (w, h) != ref]
    if odd:
        print(f'Warning: {len(odd)} of {len(sizes)} sampled frames are not {ref[0]}x{ref[1]}, the most common size; '
              f'they are resized to it (stretched if their aspect differs): {discovery.format_names(odd)}')
    return ref

#----------------------------------------------------------------------------
# Warps: rows [a11-1, a21, a12, a22-1, tx, ty] <-> 2x3 matrices.

def load_warps(path, num_frames):
    try:
        rows = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f'Cannot read warps file {path}: {e}') from e
    if rows.shape != (num_frames, 6) or not np.issubdtype(rows.dtype, np.floating):
        raise ValueError(f'Warps file {path} holds a {rows.dtype} array of shape {rows.shape}; expected float rows of shape '
                         f'({num_frames}, 6): one [a11-1, a21, a12, a22-1, tx, ty] per input frame, in discovery order')
    if not np.isfinite(rows).all():
        raise ValueError(f'Warps file {path} contains NaN or infinite values')
    return rows.astype(np.float64)

def rows_to_matrices(rows):
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    return np.stack([np.stack([1 + rows[:, 0], rows[:, 2], rows[:, 4]], -1),
                     np.stack([rows[:, 1], 1 + rows[:, 3], rows[:, 5]], -1)], 1)

def matrices_to_rows(m):
    return np.stack([m[:, 0, 0] - 1, m[:, 1, 0], m[:, 0, 1], m[:, 1, 1] - 1, m[:, 0, 2], m[:, 1, 2]], -1)

def _decompose(m):
    """[N,2,3] -> [N,6] (tx, ty, sx, sy, shear, theta) with A = R(theta) [[1, shear], [0, 1]] diag(sx, sy) + t."""
    a11, a12, a21, a22 = m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1]
    sx = np.hypot(a11, a21)
    theta = np.arctan2(a21, a11)
    c, s = np.cos(theta), np.sin(theta)
    msy = a12 * c + a22 * s
    # Two equivalent solutions for sy; divide by the larger of cos and sin (the original switched at |theta| = 1e-8).
    sy = np.where(np.abs(c) >= np.abs(s), (a22 - msy * s) / np.where(c == 0, 1, c), (msy * c - a12) / np.where(s == 0, 1, s))
    return np.stack([m[:, 0, 2], m[:, 1, 2], sx, sy, msy / sy, theta], -1)

def _compose(p):
    tx, ty, sx, sy, shear, theta = p.T
    c, s = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([c * sx, (c * shear - s) * sy, tx], -1), np.stack([s * sx, (s * shear + c) * sy, ty], -1)], 1)

def smooth_warps(rows, window):
    """The original's smoothing: box-average the decomposed parameters over indices [i - w//2, i + w//2] (clipped
    at the ends), then recompose. window <= 1 returns the rows unchanged."""
    if window <= 1:
        return rows
    params = _decompose(rows_to_matrices(rows))
    csum = np.concatenate([np.zeros((1, 6)), np.cumsum(params, 0)])
    idx = np.arange(len(params))
    lo, hi = np.clip(idx - window // 2, 0, len(params)), np.clip(idx + window // 2 + 1, 0, len(params))
    return matrices_to_rows(_compose((csum[hi] - csum[lo]) / (hi - lo)[:, None]))

def fit_window(rows, indices):
    """Largest axis-aligned box (x0, y0, x1, y1) inside every listed frame after its (unsmoothed) warp."""
    m = rows_to_matrices(rows[indices])
    def corners(x, y):
        return m @ np.array([x, y, 1.0])  # [N, 2]
    x0 = max(corners(0, 0)[:, 0].max(), corners(0, 1)[:, 0].max(), 0)
    y0 = max(corners(0, 0)[:, 1].max(), corners(1, 0)[:, 1].max(), 0)
    x1 = min(corners(1, 0)[:, 0].min(), corners(1, 1)[:, 0].min(), 1)
    y1 = min(corners(0, 1)[:, 1].min(), corners(1, 1)[:, 1].min(), 1)
    if x1 <= x0 or y1 <= y0:
        raise ValueError('--crop=fit: the warped frames have no common area; check the warps file')
    return float(x0), float(y0), float(x1), float(y1)

#----------------------------------------------------------------------------
# Crop and fit.

def crop_box(text, ref_size, warps=None, indices=None):
    """Normalised box (x0, y0, x1, y1) from --crop (see the module docstring)."""
    if text is None or not str(text).strip():
        return 0.0, 0.0, 1.0, 1.0
    if str(text).strip() == 'fit':
        if warps is None:
            raise ValueError('--crop=fit needs --warps: it fits the box to the aligned frames')
        return fit_window(warps, indices)
    parts = str(text).split(',')
    try:
        margins = [float(p) if '.' in p else int(p) for p in parts]
    except ValueError:
        margins = []
    if len(margins) != 4 or min(margins) < 0 or any(isinstance(v, float) and v >= 1 for v in margins):
        raise ValueError(f'Malformed --crop {text!r}: expected L,T,R,B margins, fractions like 0.1 or pixels like 64, or "fit"')
    dims = [ref_size[0], ref_size[1]] * 2
    l, t, r, b = [v / d if isinstance(v, int) else v for v, d in zip(margins, dims)]
    if l + r >= 1 or t + b >= 1:
        raise ValueError(f'--crop {text!r} removes the whole {ref_size[0]}x{ref_size[1]} frame')
    return l, t, 1 - r, 1 - b

@dataclasses.dataclass(frozen=True)
class Plan:
    """The output geometry shared by every frame."""
    resolution: int
    ref_size: tuple   # (W0, H0) reference frame size.
    box: tuple        # Normalised crop box (x0, y0, x1, y1).
    size: tuple       # Content size (w, h) in output pixels.
    pad: tuple        # Black margin per side (horizontal, vertical) in output pixels.
    quality: int      # JPEG quality.

def make_plan(ref_size, resolution, box=(0, 0, 1, 1), fit='pad', quality=None):
    check_resolution(resolution)
    if fit not in FIT_MODES:
        raise ValueError(f'--fit must be one of {", ".join(FIT_MODES)}, got {fit!r}')
    x0, y0, x1, y1 = box
    bw, bh = (x1 - x0) * ref_size[0], (y1 - y0) * ref_size[1] # Box size in reference pixels.
    if fit == 'crop':
        side = min(bw, bh)
        cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, side / ref_size[0] / 2, side / ref_size[1] / 2
        x0, y0, x1, y1 = cx - hw, cy - hh, cx + hw, cy + hh
    R, px, py = resolution, 0, 0
    if fit == 'pad':
        px = round((R - bw * R / max(bw, bh)) / 2)
        py = round((R - bh * R / max(bw, bh)) / 2)
    if R - 2 * max(px, py) < 2:
        raise ValueError(f'The cropped content ({bw:.0f}x{bh:.0f} px) is too thin to fit into {R}x{R}')
    quality = quality if quality is not None else (95 if R >= 512 else 98)
    if not 1 <= quality <= 100:
        raise ValueError(f'JPEG quality must be in 1..100, got {quality}')
    return Plan(resolution=R, ref_size=tuple(ref_size), box=(x0, y0, x1, y1), size=(R - 2 * px, R - 2 * py),
                pad=(px, py), quality=quality)

#----------------------------------------------------------------------------
# Rendering.

def decode_size(plan, warp=None):
    """Smallest full-frame size to decode at: twice what maps the crop box 1:1 onto the content, divided by the
    warp's smallest scale (a shrinking warp needs more source pixels)."""
    x0, y0, x1, y1 = plan.box
    scale = 2.0
    if warp is not None:
        scale /= max(np.linalg.svd(rows_to_matrices(warp)[0, :, :2], compute_uv=False).min(), 1e-3)
    return math.ceil(scale * plan.size[0] / (x1 - x0)), math.ceil(scale * plan.size[1] / (y1 - y0))

def render(img, plan, warp=None):
    """RGB PIL image of any size -> the final R x R RGB image. warp: a 6-row or None (identity)."""
    W, H = img.size
    x0, y0, x1, y1 = plan.box
    box = (x0 * W, y0 * H, x1 * W, y1 * H)
    if warp is None or not np.any(warp):
        img = img.resize(plan.size, Image.Resampling.LANCZOS, box=box) # 8-bit resampling rounds.
    else:
        # PIL's 8-bit affine transform truncates: warp and resize each channel in float, then round once.
        S = np.diag([W, H, 1.0])
        A = np.vstack([rows_to_matrices(warp)[0], [0, 0, 1]])
        inv = tuple(np.linalg.inv(S @ A @ np.linalg.inv(S))[:2].ravel()) # PIL maps output pixels to input pixels.
        bands = [band.convert('F').transform((W, H), Image.Transform.AFFINE, inv, resample=Image.Resampling.BICUBIC, fillcolor=0)
                 .resize(plan.size, Image.Resampling.LANCZOS, box=box) for band in img.split()]
        img = Image.fromarray(np.clip(np.rint(np.stack([np.asarray(b) for b in bands], -1)), 0, 255).astype(np.uint8))
    if plan.size == (plan.resolution, plan.resolution):
        return img
    canvas = Image.new('RGB', (plan.resolution, plan.resolution))
    canvas.paste(img, plan.pad)
    return canvas

#----------------------------------------------------------------------------
