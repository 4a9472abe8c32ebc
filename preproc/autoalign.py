"""Automatic alignment: each frame's translation to a reference frame, as rows of the original warps_*.npy format.

Method: phase correlation of gradient-magnitude images. The frames are decoded small (longer side <= `size`), turned
into the gradient magnitude of their slightly smoothed log brightness (lighting, exposure and fog change the
brightness and contrast of a scene, much less where its edges are), tapered to zero at the borders and correlated
with the reference in the Fourier domain with the amplitudes flattened (|cross spectrum|^0.8: pure phase correlation
lets sensor noise weigh as much as the scene). The correlation peak gives the shift to a pixel; an upsampled DFT
around it gives it to 1/UPSAMPLE of a pixel. Only translations are estimated: camera
shake of a fixed webcam is mostly a small pan and tilt (rotation and zoom are left to manual warps).

Confidence comes from the distinctness of the correlation peak: (peak - highest value more than 2.5 px away) /
(peak - median of the surface), 0 when another shift fits as well, 1 for a lone peak; DISTINCTNESS_RANGE maps it
linearly onto [0, 1]. Night frames, thick fog and occluded views give low or ambiguous peaks;
frames below `min_confidence` take the warp interpolated (in frame index) between the nearest confident frames before
and after them, and are marked in `interpolated`. A frame that cannot be decoded has confidence 0.

Reference (default): a clear daylight frame: the one with the most gradient energy among the brightest 40 % with
< 5 % saturated pixels. Not a dusk frame: lit windows on a facade are a regular grid that correlates at the wrong
shifts with the lit windows of night frames.

Rows (see geometry.py): [a11-1, a21, a12, a22-1, tx, ty] maps the frame's normalised coordinates onto the
reference's. A frame whose content lies d pixels right of where it lies in the reference gets tx = -d / w.
"""

import dataclasses
import os

import numpy as np
import scipy.ndimage

import dnnlib
from preproc import analysis, geometry

MIN_CONFIDENCE = 0.5
UPSAMPLE = 20                   # Sub-pixel resolution of the peak: 1/20 px of the working size.
MAX_SHIFT = 0.25            # Largest shift searched, as a fraction of the frame's width and height.
WHITEN = 0.8                    # Cross spectrum divided by its amplitude to this power.
DISTINCTNESS_RANGE = (0.1, 0.5) # Peak distinctness that maps to confidence 0 and 1.
Cancelled = analysis.Cancelled

@dataclasses.dataclass
class AlignResult:
    warps: np.ndarray        # (N, 6) float64, original warps_*.npy rows, one per frame in the order given.
    confidence: np.ndarray   # (N,) float64 in [0, 1].
    reference: int           # Index of the reference frame.
    interpolated: np.ndarray # (N,) bool, rows filled from neighbours because confidence was too low.

#----------------------------------------------------------------------------
# Per-frame measurements (in worker processes).

def edge_image(gray):
    """Gradient magnitude of smoothed log brightness, zero mean, tapered to zero at the borders (Hann window)."""
    g = np.log(gray.astype(np.float64) + 1 / 32) # The offset keeps sensor noise in dark areas from dominating.
    gy, gx = np.gradient(scipy.ndimage.gaussian_filter(g, 1.0))
    mag = np.hypot(gx, gy)
    window = np.outer(np.hanning(mag.shape[0]), np.hanning(mag.shape[1]))
    return (mag - mag.mean()) * window

def _peak_dft(cross, y, x):
    """Correlation at fractional positions y[i], x[j] from the normalised cross spectrum (a DFT by matrix products)."""
    fy, fx = np.fft.fftfreq(cross.shape[0]), np.fft.fftfreq(cross.shape[1])
    ey = np.exp(2j * np.pi * np.outer(y, fy))
    ex = np.exp(2j * np.pi * np.outer(fx, x))
    return (ey @ cross @ ex).real / cross.size

def phase_correlate(ref_spectrum, spectrum):
    """(dy, dx, distinctness): the shift that moves the reference's content onto the frame's, in working pixels."""
    cross = spectrum * np.conj(ref_spectrum)
    cross /= np.abs(cross)**WHITEN + 1e-12
    corr = np.fft.fftshift(np.fft.ifft2(cross).real) # Zero shift in the centre.
    H, W = corr.shape
    yy, xx = np.ogrid[:H, :W]
    near = (np.abs(yy - H // 2) <= MAX_SHIFT * H) & (np.abs(xx - W // 2) <= MAX_SHIFT * W)
    cy, cx = np.unravel_index(np.argmax(np.where(near, corr, -np.inf)), corr.shape)
    peak, second = corr[cy, cx], corr[(yy - cy)**2 + (xx - cx)**2 > 2.5**2].max()
    distinctness = (peak - second) / (peak - np.median(corr) + 1e-12)
    py, px = cy - H // 2, cx - W // 2
    offsets = np.arange(-UPSAMPLE, UPSAMPLE + 1) / UPSAMPLE
    fine = _peak_dft(cross, py + offsets, px + offsets)
    iy, ix = np.unravel_index(np.argmax(fine), fine.shape)
    return py + offsets[iy], px + offsets[ix], float(distinctness)

def _stats_chunk(frames, wh):
    """[(mean brightness, fraction saturated, gradient energy) or None]: what the reference is chosen by."""
    out = []
    for frame in frames:
        gray = analysis.load_small(frame, wh)
        out.append(None if gray is None else (float(gray.mean()), float((gray > 0.98).mean()), float(np.hypot(*np.gradient(gray)).mean())))
    return out

def _shift_chunk(frames, wh, ref_spectrum):
    """[(dy, dx, distinctness) or None] of each frame against the reference."""
    out = []
    for frame in frames:
        gray = analysis.load_small(frame, wh)
        out.append(None if gray is None else phase_correlate(ref_spectrum, np.fft.fft2(edge_image(gray))))
    return out

#----------------------------------------------------------------------------
# Putting it together.

def choose_reference(stats):
    """Index of the frame with the most gradient energy among the brightest 40 % of the decodable frames that have
    < 5 % saturated pixels (among all decodable frames if none has)."""
    valid = [i for i, s in enumerate(stats) if s is not None]
    if not valid:
        raise ValueError('None of the frames could be decoded')
    floor = np.percentile([stats[i][0] for i in valid], 60)
    bright = [i for i in valid if stats[i][0] >= floor and stats[i][1] < 0.05]
    return max(bright or valid, key=lambda i: stats[i][2])

def confidence(distinctness):
    lo, hi = DISTINCTNESS_RANGE
    return np.clip((np.asarray(distinctness, dtype=np.float64) - lo) / (hi - lo), 0, 1)

def fill_from_neighbours(values, good):
    """values [N, K] with the rows where ~good replaced by linear interpolation in index between the nearest good rows
    (the nearest good row at the ends); zeros when no row is good."""
    if not good.any():
        return np.zeros_like(values)
    idx = np.arange(len(values))
    return np.stack([np.interp(idx, idx[good], v[good]) for v in values.T], -1)

def estimate(frames, reference=None, *, size=256, min_confidence=MIN_CONFIDENCE, workers=None, progress=None, cancel=None):
    """Align frames (a list of discovery.Frame in time order) to frames[reference] (default: choose_reference).
    Returns an AlignResult whose rows follow `frames`. progress(done, total) counts both passes over the frames (one
    when the reference is given); cancel() raises analysis.Cancelled (also autoalign.Cancelled) and returns nothing."""
    n = len(frames)
    if n == 0:
        raise ValueError('No frames to align')
    if reference is not None and not 0 <= reference < n:
        raise ValueError(f'Reference frame {reference} is outside the {n} frames (0..{n - 1})')
    wh = analysis.work_size(geometry.reference_size(frames), size)
    passes = 1 if reference is not None else 2
    def report(offset):
        return None if progress is None else lambda done, total: progress(offset + done, passes * total)
    if reference is None:
        stats = analysis.map_frames(_stats_chunk, frames, (wh,), workers, report(0), cancel)
        reference = choose_reference(stats)
    ref_gray = analysis.load_small(frames[reference], wh)
    if ref_gray is None:
        raise ValueError(f'The reference frame {frames[reference].name} cannot be decoded')
    ref_spectrum = np.fft.fft2(edge_image(ref_gray))
    shifts = analysis.map_frames(_shift_chunk, frames, (wh, ref_spectrum), workers, report((passes - 1) * n), cancel)

    dydx = np.array([s[:2] if s is not None else (0.0, 0.0) for s in shifts], dtype=np.float64)
    conf = confidence([s[2] if s is not None else -np.inf for s in shifts])
    conf[reference] = 1.0
    good = conf >= min_confidence
    dydx = fill_from_neighbours(dydx, good)
    rows = np.zeros((n, 6))
    rows[:, 4] = -dydx[:, 1] / wh[0]
    rows[:, 5] = -dydx[:, 0] / wh[1]
    return AlignResult(warps=rows, confidence=conf, reference=int(reference), interpolated=~good)

def save_warps(path, warps, overwrite=True):
    """Write warps as the original's .npy (float64, (N, 6)) atomically: a temporary file renamed into place.
    Refuses anything else. overwrite=False raises FileExistsError when `path` exists. Returns the path."""
    warps = np.asarray(warps)
    if warps.ndim != 2 or warps.shape[1] != 6 or len(warps) == 0 or not np.issubdtype(warps.dtype, np.floating):
        raise ValueError(f'Warps must be a float array of shape (N, 6) with N >= 1, got {warps.dtype} {warps.shape}')
    if not np.isfinite(warps).all():
        raise ValueError('Warps contain NaN or infinite values')
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f'{path} exists; pass overwrite to replace it')
    # atomic_write's tmp + rename; overwrite=True so that a file written meanwhile is replaced, not renamed around.
    return dnnlib.util.atomic_write(path, lambda f: np.save(f, warps.astype(np.float64), allow_pickle=False), overwrite=True)

#----------------------------------------------------------------------------
