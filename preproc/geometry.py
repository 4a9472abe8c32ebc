"""Per-frame geometry: alignment warps (the original's (N, 6) .npy format, with its decomposition smoothing and
inscribed-window fit), crop, fit into R x R with a black letterbox, and the rendering of one frame.

Coordinates are normalised to the reference frame: x right, y down, the image is [0, 1]^2 with pixel edges at
multiples of 1/W (pixel centres at (i + 0.5)/W, the convention of PIL's transforms and of resize boxes, so no half-pixel
mismatch). The reference frame has the most common size; a frame of another size is stretched onto it. Chain per frame:
  decode (+ EXIF orientation)  ->  warp U A (forward: frame coords -> reference coords; bicubic, black outside)
  ->  crop box  ->  resize (antialiased; Lanczos-3 by default) to the content size  ->  paste centred on a black R x R
  canvas.
A is the frame's alignment (--warps), U the user transform (--rotate, --zoom, --translate): in reference pixels
p -> c + zoom R(rotate) (p + translate - c), i.e. shift the content by `translate` (fractions of the frame), then
rotate counter-clockwise on screen by `rotate` degrees and scale by `zoom` about the frame centre c.
Crop (--crop=L,T,R,B): margins removed from the left, top, right and bottom of the reference frame; a number with a
decimal point is a fraction of the frame's width (L, R) or height (T, B), an integer is pixels of the reference frame;
'fit' takes the largest box that every warped frame covers. Fit (--fit): 'pad' keeps the aspect and letterboxes the
short side symmetrically (the content side gets R's parity so both pads are equal), 'crop' cuts the box to a centred
square, 'stretch' ignores the aspect. Pad (--pad=X,Y): a black margin per side of the R x R output (fractions of R or
pixels) that the content is fitted inside, in addition to the letterbox of 'pad'. Pads are equal on both sides, so
every side of the content is even like R (the original's "Force even" always holds).
"""

import collections
import dataclasses
import functools
import math
import os

import numpy as np
from PIL import Image

from preproc import discovery

FIT_MODES = ('pad', 'crop', 'stretch')
KERNELS = {'lanczos3': Image.Resampling.LANCZOS, 'bicubic': Image.Resampling.BICUBIC,
           'bilinear': Image.Resampling.BILINEAR, 'box': Image.Resampling.BOX}

#----------------------------------------------------------------------------
# Reference size.

def check_resolution(resolution):
    if not (isinstance(resolution, int) and resolution >= 32 and resolution & (resolution - 1) == 0):
        raise ValueError(f'Resolution must be a power of two >= 32 (e.g. 256, 512, 1024), got {resolution!r}')

def reference_size(frames, max_samples=1000):
    """(W0, H0): the most common header size (the larger area on a tie) among at most max_samples evenly spaced
    frames, so that a few odd frames do not set the size of all the others; those are named in a warning."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), max_samples)).round().astype(int))
    sample = tuple(frames[i] for i in picks)
    return _most_common_size(sample, tuple(_mtime(f.path) for f in sample))

def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None

@functools.lru_cache(maxsize=16)
def _most_common_size(frames, _mtimes):
    # Cached by the files' modification times: the preprocessing UI plans again on every edit, with the same frames.
    sizes = {f.name: size for f in frames if (size := discovery.header_size(f)) is not None}
    if not sizes:
        raise ValueError(f'None of the {len(frames)} sampled frames could be read (first: {frames[0].name})')
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

def user_matrix(ref_size, rotate=0.0, zoom=1.0, translate=(0.0, 0.0)):
    """The user transform U (module docstring) as a normalised 3x3 matrix; None for the identity."""
    if rotate == 0 and zoom == 1 and not any(translate):
        return None
    if not zoom > 0:
        raise ValueError(f'Zoom must be positive, got {zoom}')
    W, H = ref_size
    c, s = math.cos(math.radians(rotate)), math.sin(math.radians(rotate))
    lin = zoom * np.array([[c, s], [-s, c]]) # counter-clockwise on screen: y points down
    centre = np.array([W / 2, H / 2])
    px = np.eye(3)
    px[:2, :2], px[:2, 2] = lin, centre + lin @ (np.array(translate, dtype=np.float64) * (W, H) - centre)
    S = np.diag([W, H, 1.0])
    return np.linalg.inv(S) @ px @ S

def apply_user(user, rows, n):
    """Rows of U A per frame: `rows` (N, 6) or None (identity) with the user matrix (or None). None if both are."""
    if user is None:
        return rows
    m = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    if rows is not None:
        m[:, :2] = rows_to_matrices(rows)
    return matrices_to_rows((user @ m)[:, :2])

def _inner_sides(rows, indices):
    """Per listed frame, the box (left, top, right, bottom) inside its warped unit square, [N, 4]."""
    m = rows_to_matrices(rows[indices])
    def corners(x, y):
        return m @ np.array([x, y, 1.0])  # [N, 2]
    return np.stack([np.maximum(corners(0, 0)[:, 0], corners(0, 1)[:, 0]), np.maximum(corners(0, 0)[:, 1], corners(1, 0)[:, 1]),
                     np.minimum(corners(1, 0)[:, 0], corners(1, 1)[:, 0]), np.minimum(corners(0, 1)[:, 1], corners(1, 1)[:, 1])], -1)

def fit_window(rows, indices):
    """Largest axis-aligned box (x0, y0, x1, y1) inside every listed frame after its (unsmoothed) warp."""
    sides = _inner_sides(rows, indices)
    x0, y0 = max(sides[:, 0].max(), 0), max(sides[:, 1].max(), 0)
    x1, y1 = min(sides[:, 2].min(), 1), min(sides[:, 3].min(), 1)
    if x1 <= x0 or y1 <= y0:
        raise ValueError('--crop=fit: the warped frames have no common area; check the warps file')
    return float(x0), float(y0), float(x1), float(y1)

def fit_limits(rows, indices):
    """The frames (of `indices`) that limit the fit window on the left, top, right and bottom (the original's
    L / T / R / B jumps)."""
    sides = _inner_sides(rows, indices)
    return tuple(int(indices[k]) for k in (sides[:, 0].argmax(), sides[:, 1].argmax(), sides[:, 2].argmin(), sides[:, 3].argmin()))

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

def parse_pad(text, resolution):
    """(x, y) black margin per side in output pixels from --pad 'X,Y' (fractions of R like 0.1, or pixels)."""
    if text is None or not str(text).strip():
        return 0, 0
    try:
        values = [float(p) if '.' in p else int(p) for p in str(text).split(',')]
    except ValueError:
        values = []
    if len(values) != 2 or min(values) < 0 or any(isinstance(v, float) and v >= 0.5 for v in values):
        raise ValueError(f'Malformed --pad {text!r}: expected X,Y margins per side, fractions of R like 0.1 or pixels like 16')
    return tuple(round(v * resolution) if isinstance(v, float) else v for v in values)

@dataclasses.dataclass(frozen=True)
class Plan:
    """The output geometry shared by every frame."""
    resolution: int
    ref_size: tuple   # (W0, H0) reference frame size.
    box: tuple        # Normalised crop box (x0, y0, x1, y1).
    size: tuple       # Content size (w, h) in output pixels.
    pad: tuple        # Black margin per side (horizontal, vertical) in output pixels.
    quality: int      # JPEG quality.
    kernel: str = 'lanczos3' # Resize kernel, a key of KERNELS.

def make_plan(ref_size, resolution, box=(0, 0, 1, 1), fit='pad', quality=None, pad=(0, 0), kernel='lanczos3'):
    """pad: the user's margin per side (output pixels) that the content fits inside."""
    check_resolution(resolution)
    if fit not in FIT_MODES:
        raise ValueError(f'--fit must be one of {", ".join(FIT_MODES)}, got {fit!r}')
    if kernel not in KERNELS:
        raise ValueError(f'--kernel must be one of {", ".join(KERNELS)}, got {kernel!r}')
    R, (px, py) = resolution, pad
    aw, ah = R - 2 * px, R - 2 * py # The area inside the user's pad.
    if min(aw, ah) < 2:
        raise ValueError(f'--pad {px},{py} leaves no room in {R}x{R}')
    x0, y0, x1, y1 = box
    bw, bh = (x1 - x0) * ref_size[0], (y1 - y0) * ref_size[1] # Box size in reference pixels.
    if fit == 'crop': # Cut the box to the aspect of the area.
        cw, ch = (bh * aw / ah, bh) if bw * ah > bh * aw else (bw, bw * ah / aw)
        cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, cw / ref_size[0] / 2, ch / ref_size[1] / 2
        x0, y0, x1, y1 = cx - hw, cy - hh, cx + hw, cy + hh
    if fit == 'pad': # Letterbox the short side (without --pad: the same float operations, so the same pads as ever).
        wc, hc = (aw, bh * aw / bw) if bw * ah >= bh * aw else (bw * ah / bh, ah)
        px += round((aw - wc) / 2)
        py += round((ah - hc) / 2)
    if R - 2 * max(px, py) < 2:
        raise ValueError(f'The cropped content ({bw:.0f}x{bh:.0f} px) is too thin to fit into {R}x{R}')
    quality = quality if quality is not None else (95 if R >= 512 else 98)
    if not 1 <= quality <= 100:
        raise ValueError(f'JPEG quality must be in 1..100, got {quality}')
    return Plan(resolution=R, ref_size=tuple(ref_size), box=(x0, y0, x1, y1), size=(R - 2 * px, R - 2 * py),
                pad=(px, py), quality=quality, kernel=kernel)

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
        img = img.resize(plan.size, KERNELS[plan.kernel], box=box) # 8-bit resampling rounds.
    else:
        # PIL's 8-bit affine transform truncates: warp and resize each channel in float, then round once.
        S = np.diag([W, H, 1.0])
        A = np.vstack([rows_to_matrices(warp)[0], [0, 0, 1]])
        inv = tuple(np.linalg.inv(S @ A @ np.linalg.inv(S))[:2].ravel()) # PIL maps output pixels to input pixels.
        bands = [band.convert('F').transform((W, H), Image.Transform.AFFINE, inv, resample=Image.Resampling.BICUBIC, fillcolor=0)
                 .resize(plan.size, KERNELS[plan.kernel], box=box) for band in img.split()]
        img = Image.fromarray(np.clip(np.rint(np.stack([np.asarray(b) for b in bands], -1)), 0, 255).astype(np.uint8))
    if plan.size == (plan.resolution, plan.resolution):
        return img
    canvas = Image.new('RGB', (plan.resolution, plan.resolution))
    canvas.paste(img, plan.pad)
    return canvas

#----------------------------------------------------------------------------
