"""Manual piecewise alignment, as in the original's preprocessing UI: the sequence is cut into ranges (sorted start
indices, the first is 0; a range runs until the next start), each with an ordered list of clicked points on one of
its frames (the keyframe). The range holding the target frame is the reference; every other range gets the transform
that maps its points onto the reference's (the first n = min(n_range, n_reference) points, in order):

  translate   >= 1 point:  the mean offset
  affine4     >= 2 points: similarity (rotation, isotropic scale, translation), least squares
  affine6     >= 3 points: affine; exact for 3 points, least squares for more

Points are normalised frame coordinates (x right, y down, the frame is [0, 1]^2); the fits run in reference pixels,
so that a similarity stays one on a non-square frame. The result is the original's warps format: one row
[a11-1, a21, a12, a22-1, tx, ty] per frame (preproc.geometry), the matrix mapping this frame's coordinates onto the
reference's. Indices are those of the viewer's slider (time-sorted frames); `to_discovery_order` turns the rows into
a warps file's (one per input frame in discovery order; write it with autoalign.save_warps).
"""

import dataclasses

import numpy as np

from preproc import geometry

MODES = ('translate', 'affine4', 'affine6')
MIN_POINTS = dict(translate=1, affine4=2, affine6=3)

#----------------------------------------------------------------------------
# Ranges: tuples of frozen Range, so that a state compares by value and never aliases.

@dataclasses.dataclass(frozen=True)
class Range:
    start: int              # First frame index of the range.
    keyframe: int           # The frame the points were clicked on.
    points: tuple = ()      # ((x, y), ...) normalised coordinates on the keyframe.

def initial():
    return (Range(start=0, keyframe=0),)

def range_of(ranges, index):
    """Position of the range holding frame `index`."""
    starts = [r.start for r in ranges]
    return max(int(np.searchsorted(starts, index, side='right')) - 1, 0)

def add_range(ranges, index):
    """A new range starting at `index` (its keyframe); unchanged if one starts there."""
    if any(r.start == index for r in ranges):
        return tuple(ranges)
    return tuple(sorted(ranges + (Range(start=index, keyframe=index),), key=lambda r: r.start))

def add_ranges(ranges, n, first, last):
    """n more ranges with starts evenly spaced in [first, last] (the original's 'N + Add range')."""
    for index in np.unique(np.linspace(first, last, n).round().astype(int)):
        ranges = add_range(ranges, int(index))
    return ranges

def delete_range(ranges, k):
    """Remove range k; the first range always starts at 0 (removing it extends the next one back to 0)."""
    if len(ranges) == 1:
        return (Range(start=0, keyframe=ranges[0].keyframe),)
    out = ranges[:k] + ranges[k + 1:]
    return (dataclasses.replace(out[0], start=0),) + out[1:] if k == 0 else out

def clear_points(ranges, k):
    return ranges[:k] + (dataclasses.replace(ranges[k], points=()),) + ranges[k + 1:]

def add_point(ranges, index, xy):
    """Append a point clicked on frame `index`; that frame becomes its range's keyframe."""
    k = range_of(ranges, index)
    r = ranges[k]
    point = (float(xy[0]), float(xy[1]))
    return ranges[:k] + (Range(start=r.start, keyframe=int(index), points=r.points + (point,)),) + ranges[k + 1:]

def delete_point(ranges, index, xy, radius):
    """Remove the point of frame `index`'s range nearest to xy if it lies within `radius` (normalised x units)."""
    k = range_of(ranges, index)
    points = ranges[k].points
    if not points:
        return ranges
    d = np.hypot(*(np.array(points) - np.array(xy, dtype=np.float64)).T)
    if d.min() > radius:
        return ranges
    j = int(d.argmin())
    return ranges[:k] + (dataclasses.replace(ranges[k], points=points[:j] + points[j + 1:]),) + ranges[k + 1:]

def keyframes(ranges):
    return sorted({r.keyframe for r in ranges})

#----------------------------------------------------------------------------
# Fits.

def fit(src, dst, mode, size):
    """Normalised 2x3 matrix mapping the points src onto dst ([n, 2] each, normalised) on a frame of `size` (W, H)."""
    S = np.array(size, dtype=np.float64)
    p, q = np.asarray(src, dtype=np.float64) * S, np.asarray(dst, dtype=np.float64) * S
    m = np.zeros((2, 3))
    if mode == 'translate':
        m[:, :2], m[:, 2] = np.eye(2), (q - p).mean(0)
    elif mode == 'affine4': # x' = a x - b y + tx, y' = b x + a y + ty
        A = np.zeros((2 * len(p), 4))
        A[0::2] = np.stack([p[:, 0], -p[:, 1], np.ones(len(p)), np.zeros(len(p))], -1)
        A[1::2] = np.stack([p[:, 1], p[:, 0], np.zeros(len(p)), np.ones(len(p))], -1)
        (a, b, tx, ty), *_ = np.linalg.lstsq(A, q.reshape(-1), rcond=None)
        m[:] = [[a, -b, tx], [b, a, ty]]
    elif mode == 'affine6':
        A = np.concatenate([p, np.ones((len(p), 1))], 1)
        if np.linalg.matrix_rank(A) < 3:
            raise ValueError('the points lie on a line')
        sol, *_ = np.linalg.lstsq(A, q, rcond=None)
        m[:] = sol.T
    else:
        raise ValueError(f'Alignment mode must be one of {", ".join(MODES)}, got {mode!r}')
    full = np.vstack([m, [0, 0, 1]])
    return (np.diag([1 / S[0], 1 / S[1], 1]) @ full @ np.diag([S[0], S[1], 1]))[:2]

def solve(ranges, target, mode, size):
    """[len(ranges), 2, 3] matrices onto the range holding frame `target`. ValueError naming every range with too
    few points (nothing is solved then)."""
    if mode not in MODES:
        raise ValueError(f'Alignment mode must be one of {", ".join(MODES)}, got {mode!r}')
    ref = ranges[range_of(ranges, target)]
    need = MIN_POINTS[mode]
    short = [r for r in ranges if min(len(r.points), len(ref.points)) < need]
    if short:
        names = ', '.join(f'[{r.start}-{_end(ranges, r)}] ({len(r.points)} pts)' for r in short)
        raise ValueError(f'{mode} alignment needs {need} points in every range and in the reference range '
                         f'[{ref.start}-{_end(ranges, ref)}] ({len(ref.points)} pts); too few: {names}')
    out = []
    for r in ranges:
        if r is ref: # exactly the identity (a fit of the points onto themselves leaves rounding noise)
            out.append(np.eye(2, 3))
            continue
        n = min(len(r.points), len(ref.points))
        try:
            out.append(fit(r.points[:n], ref.points[:n], mode, size))
        except ValueError as e:
            raise ValueError(f'Range [{r.start}-{_end(ranges, r)}]: {e}') from None
    return np.stack(out)

def _end(ranges, r):
    k = ranges.index(r)
    return f'{ranges[k + 1].start - 1}' if k + 1 < len(ranges) else 'end'

def warps(ranges, target, mode, size, num_frames):
    """(num_frames, 6) rows: each frame gets its range's matrix."""
    m = solve(ranges, target, mode, size)
    owner = np.searchsorted([r.start for r in ranges], np.arange(num_frames), side='right') - 1
    return geometry.matrices_to_rows(m[owner])

def to_discovery_order(rows, source_index, num_input_frames):
    """Rows in slider order -> a warps file's rows: one per input frame in discovery order (frames without a valid
    time keep the identity)."""
    out = np.zeros((num_input_frames, 6))
    out[np.asarray(source_index)] = rows
    return out

#----------------------------------------------------------------------------
