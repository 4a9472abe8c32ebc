"""Bad-frame flags: frames a user probably wants to leave out of a dataset, each with a reason, a score and a readable
detail, and the JSON report (bad_frames.json) that the CLI writes and the viewer reads.

A webcam's frames differ most with the time of day, so every frame is judged against its *peers*: up to PEERS frames
taken at the same time of day (within PEER_HOURS) on the nearest days (within PEER_DAYS), from the capture times in
the file names (or given). Without times, the nearest frames in index are the peers. The occlusion tests take the
PEERS frames that look most like it (in the log-brightness thumbnails) out of the POOL nearest in time of day and date
(within LOOK_DAYS), leaving out black and overexposed frames: a rainy dusk is compared with other rainy dusks.
Reasons:

  black        mean brightness < BLACK_LEVEL whatever the peers (a failed or covered capture), or < DARK and
               < BLACK_RATIO of the peers' median (underexposed). A normal night frame is about as dark as the other
               nights at that hour, so it is not flagged.
  overexposed  the fraction of saturated pixels exceeds the peers' median by OVEREXPOSED_EXCESS, or the mean
               brightness exceeds BRIGHT_RATIO times the peers' median + 0.1 (a night frame lit up).
  blurred      fine detail (mean |Laplacian|) < DETAIL_RATIO of the peers' while the coarse contrast stays.
  fogged       coarse contrast (std of the blurred image) < CONTRAST_RATIO of the peers' median.
  occluded     a dark blob: a round region, DARK_SIGMAS wide at THUMB px, darker than every peer by a factor of
               exp(DARK_LOG) or more after the frames' exposures are matched (dirt or a leaf on the lens, a hand;
               daylight only: weather lightens or darkens a whole region, rarely beyond every peer's); or, at
               LOCAL_SIZE px (day and night; smaller frames enlarged), in the frame's high-pass detail against the
               peers' per-pixel median (in units of their spread and the frame's noise: the residual), one of three
               local tests, each against what that pixel does by itself (its LOCAL_TYPICAL percentile over the days,
               or nights, near in time: lit windows, the crane's hook, clouds):
                 - a local change larger than LOCAL_RATIO times (1 + the usual one): a drop's glint at night;
                 - a bird-shaped darkening (a thin dark gull shape at a few sizes and angles, darker than the residual
                   just off its wings on both sides, so that edges of snow and shadows do not count) larger than
                   BIRD_RATIO times (BIRD_FLOOR + the usual one): birds by day, where clouds change the spot as much
                   as a bird does pixel by pixel;
                 - a drop-shaped ring (a dark ring RING_RADII in radius, darker than the residual just inside and just
                   outside it: the rim of a drop on the lens) larger than RING_RATIO times (RING_FLOOR + the usual one).
               At dusk (peers darker than TWILIGHT times the median day) each pixel may do what it does by day or by
               night: the windows light up. A dark bird or blob on a dark night scene changes nothing, and a glint next
               to lit windows is no larger than what that spot does by itself.
  camera_moved (with warps) the warp's translation is more than MOVED_JUMP of the frame away from the median of the
               3 frames before and the 3 after it: a knocked camera that came back, or a failed alignment. A lasting
               move flags at most the frames next to it (the warps take care of the rest).

blurred, fogged and the dark blob are judged only where the peers are in daylight (mean brightness >= DAYLIGHT): at
night fine detail is mostly sensor noise. Frames that cannot be decoded are not flagged (the export skips them anyway).
"""

import dataclasses
import datetime
import functools
import json

import numpy as np
import scipy.ndimage
from PIL import Image

import dnnlib
from preproc import analysis, geometry, timestamps
from training import timeline

REASONS = ('black', 'overexposed', 'blurred', 'fogged', 'occluded', 'camera_moved')
REPORT_VERSION = 1
THUMB = 64               # Side of the thumbnails compared for dark blobs and for choosing peers by look.
PEERS = 8
PEER_HOURS = 1.5
PEER_DAYS = 20
POOL = 40                # Candidates nearest in time of which the PEERS most alike are the occlusion tests' peers.
LOOK_DAYS = 40
BLACK_LEVEL = 0.01       # Mean brightness in [0, 1].
BLACK_RATIO = 0.3
DARK = 0.05
OVEREXPOSED_EXCESS = 0.25
BRIGHT_RATIO = 2.0
DETAIL_RATIO = 0.35
CONTRAST_RATIO = 0.35
DAYLIGHT = 0.15
TWILIGHT = 0.85          # Of the median day's peer brightness: darker peers are dusk (or dawn).
DARK_LOG = 0.7           # Natural log: darker than every peer by a factor of 2.
DARK_SIGMAS = (1.5, 3, 5) # Blob scales (Gaussian sigma) in pixels at THUMB px.
DARK_EPS = 0.02          # Added before the log: black is not infinitely darker than nearly black.
LOCAL_SIZE = 256         # The local tests' size (frames shrunk or enlarged): a wing or a glint is 2-5 px wide there.
LOCAL_SIGMA = 2.0        # High-pass of the local-change test (Gaussian sigma at 128 px): keeps birds and glints, drops weather.
LOCAL_TYPICAL = 98       # Percentile of each pixel's change over the frames near in time: what that pixel does by itself.
LOCAL_BLOCK = 40         # Frames (days, or nights) per block of that percentile, taken with the blocks before and after.
LOCAL_RATIO = 4.5        # A change this many times the pixel's typical one (+ 1) flags a local occluder.
BIRD_SPANS = (8, 11, 15)  # Body to wing tip, px at 256 px: a bird near the lens.
BIRD_ANGLES = (-25, 0, 25) # Degrees: a gliding bird banks.
BIRD_OFFSET = 3          # px: the wings moved off themselves, past their width and blur.
BIRD_FLOOR = 0.5         # Added to each pixel's typical bird response (z units).
BIRD_RATIO = 5.5         # A bird-shaped darkening this many times (BIRD_FLOOR + the pixel's typical one) flags.
RING_RADII = (13, 17, 22, 27) # px at 256 px: the synth's drops are 5-10 % of the width in radius.
RING_FLOOR = 0.5
RING_RATIO = 4.0
MOVED_JUMP = 0.05
BORDER = 0.03           # Of the frame, not searched for occluders: more than the camera's shake.

@dataclasses.dataclass
class Flag:
    index: int    # Into the frames given (time order).
    reason: str   # One of REASONS.
    score: float  # How far past the threshold: the statistic that was tested (see `detail`).
    detail: str   # Human-readable, e.g. 'mean brightness 0.01 (peers 0.42)'.

#----------------------------------------------------------------------------
# Per-frame measurements (in worker processes).

def _high_pass(x):
    s = LOCAL_SIGMA * max(x.shape) / 128
    return x - scipy.ndimage.gaussian_filter(x, s)

def _measure_chunk(frames, wh, local_wh):
    """[(mean, saturated fraction, detail, contrast, THUMBxTHUMB thumbnail, float16 high-pass at local_wh) or None]
    per frame."""
    out = []
    for frame in frames:
        gray = analysis.load_small(frame, wh)
        if gray is None:
            out.append(None)
            continue
        coarse = scipy.ndimage.gaussian_filter(gray, 2.0)
        thumb = np.asarray(Image.fromarray(gray).resize((THUMB, THUMB), Image.Resampling.BOX))
        fine = _high_pass(gray if local_wh == wh else analysis.load_small(frame, local_wh))
        out.append((float(gray.mean()), float((gray > 0.98).mean()), float(np.abs(scipy.ndimage.laplace(gray)).mean()),
                    float(coarse.std()), thumb, fine.astype(np.float16)))
    return out

#----------------------------------------------------------------------------
# Peers.

def frame_times(frames):
    """Unix seconds per frame from the built-in file-name formats; NaN where none matches."""
    parse = timestamps.NameParser()
    return np.array([np.nan if (u := parse(f.stem)) is None else u for f in frames], dtype=np.float64)

def log_thumbs(thumbs):
    """The log brightness of each THUMB x THUMB thumbnail (None stays None), which peers and dark blobs compare."""
    return [None if t is None else np.log(t + DARK_EPS) for t in thumbs]

def find_peers(times, valid, logs=None):
    """[N] arrays of peer indices among the valid frames: the PEERS at the same time of day on the nearest days (else
    the nearest in index). With logs (log_thumbs), the PEERS of the POOL nearest within LOOK_DAYS that look most like
    the frame: the median absolute difference of log brightness, after the median one (exposure), so that an
    occluder on part of the frame does not change whom it resembles."""
    idx = np.flatnonzero(valid)
    days, count = (PEER_DAYS, PEERS) if logs is None else (LOOK_DAYS, POOL)
    peers = []
    for i in range(len(valid)):
        if np.isfinite(times[i]):
            dt = (times[idx] - times[i]) / 86400
            tod = timeline.hours_apart(times[idx], times[i])
            ok = (tod <= PEER_HOURS) & (np.abs(dt) <= days) & (idx != i) & np.isfinite(dt)
            cost = tod[ok] / PEER_HOURS + np.abs(dt[ok]) / days # Near in time of day first: dusk changes fast.
            cand = idx[ok][np.argsort(cost, kind='stable')[:count]]
        else:
            cand = idx[idx != i][np.argsort(np.abs(idx[idx != i] - i), kind='stable')[:count]]
        if logs is not None and logs[i] is not None and len(cand) > PEERS:
            unlike = [np.median(np.abs((d := logs[i] - logs[j]) - np.median(d))) for j in cand]
            cand = cand[np.argsort(unlike, kind='stable')[:PEERS]]
        peers.append(cand)
    return peers

#----------------------------------------------------------------------------
# Tests.

def _photometric_flags(i, m, peers):
    mean, sat, detail, contrast = m[i][:4]
    pm, ps, pd, pc = (np.median([m[j][k] for j in peers]) for k in range(4))
    flags = []
    if mean < BLACK_LEVEL or (mean < DARK and mean < BLACK_RATIO * pm):
        flags.append(Flag(i, 'black', 1 - mean / max(pm, 1e-6), f'mean brightness {mean:.3f} (peers {pm:.3f})'))
    if sat - ps > OVEREXPOSED_EXCESS or mean > BRIGHT_RATIO * pm + 0.1:
        flags.append(Flag(i, 'overexposed', sat - ps, f'{sat:.0%} saturated pixels (peers {ps:.0%}), mean brightness '
                                                       f'{mean:.2f} (peers {pm:.2f})'))
    if pm >= DAYLIGHT and not flags:
        if contrast < CONTRAST_RATIO * pc:
            flags.append(Flag(i, 'fogged', 1 - contrast / pc, f'coarse contrast {contrast:.3f} (peers {pc:.3f})'))
        elif detail < DETAIL_RATIO * pd:
            flags.append(Flag(i, 'blurred', 1 - detail / pd, f'fine detail {detail:.4f} (peers {pd:.4f})'))
    return flags

def _dark_flag(i, logs, peers):
    """A round region darker than every peer: per peer the log-brightness difference less its median (the exposure,
    robust to an occluder on part of the frame), the smallest over the peers, smoothed at DARK_SIGMAS."""
    darker = np.stack([logs[j] - logs[i] for j in peers])
    darker = np.min(darker - np.median(darker, (1, 2), keepdims=True), 0)
    blobs = [scipy.ndimage.gaussian_filter(darker, s * THUMB / 64) for s in DARK_SIGMAS]
    k = int(np.argmax([b.max() for b in blobs]))
    y, xx = np.unravel_index(np.argmax(blobs[k]), blobs[k].shape)
    score = float(blobs[k][y, xx])
    if score < DARK_LOG:
        return []
    return [Flag(i, 'occluded', float(np.exp(score)), f'dark blob at x={(xx + 0.5) / THUMB:.2f}, '
                 f'y={(y + 0.5) / THUMB:.2f}, {np.exp(score):.1f} times darker than every peer')]

def _inner(ratio):
    """ratio with a border of BORDER of the frame set to 0: there the aligned frames repeat their edge pixels."""
    h, w = ratio.shape
    by, bx = int(np.ceil(BORDER * h)), int(np.ceil(BORDER * w))
    out = np.zeros_like(ratio)
    out[by:h - by, bx:w - bx] = ratio[by:h - by, bx:w - bx]
    return out

def _residual(i, fine, peers):
    """Signed z map of frame i's fine detail against its peers': the difference from their per-pixel median (each
    peer scaled to frame i's contrast first) over their per-pixel spread and frame i's own noise."""
    x, stack = fine[i].astype(np.float32), np.stack([fine[j] for j in peers]).astype(np.float32)
    gain = np.sum(stack * x, (1, 2)) / np.maximum(np.sum(stack * stack, (1, 2)), 1e-9)
    stack = stack * np.clip(gain, 0.3, 3)[:, None, None]
    med = np.median(stack, 0)
    spread = 1.4826 * np.median(np.abs(stack - med), 0)
    noise = 1.5 * 1.4826 * np.median(np.abs(x - scipy.ndimage.uniform_filter(x, 3))) # Sensor noise and JPEG.
    return (x - med) / np.sqrt(spread**2 + noise**2 + 0.005**2)

def _local_change(z):
    """float16 |z|, lightly smoothed: a drop's glint is a few pixels of large z; a change of light or snow cover is
    mostly gone in the high-pass."""
    return np.abs(scipy.ndimage.gaussian_filter(z, 0.5 * max(z.shape) / 128)).astype(np.float16)

def _ring_kernel(radius, width):
    """A ring of `radius` px, `width` px wide (triangular profile), weights summing to 1."""
    r = int(np.ceil(radius + width)) + 1
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32)
    ring = np.clip(1 - np.abs(np.hypot(yy, xx) - radius) / width, 0, 1)
    return ring / ring.sum()

def _bird_kernel(span, angle):
    """A thin dark gull shape (the wings of a bird near the lens, seen from below) `span` px from the body to a
    wing tip, turned by `angle` degrees, weights summing to 1; and the offset (rows, cols) across its wings."""
    r = int(np.ceil(1.3 * span)) + 2
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32)
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    u, v = (c * xx + s * yy) / span, (c * yy - s * xx) / span
    wing = np.abs(v - (-0.3 * np.sin(np.pi * np.minimum(np.abs(u), 1)) + 0.25 * np.abs(u)))
    shape = np.clip(np.minimum(0.09 * (1 - np.abs(u)) + 0.02 - wing, 1 - np.abs(u)) * span / 1.2 + 0.5, 0, 1)
    return shape / shape.sum(), (round(BIRD_OFFSET * c), -round(BIRD_OFFSET * s))

def _correlation_filter(k, h, w):
    """rfft2 of kernel k flipped and centred: multiplying an image's rfft2 by it correlates the image with k."""
    pad = np.zeros((h, w), np.float32)
    pad[:k.shape[0], :k.shape[1]] = k[::-1, ::-1]
    return np.fft.rfft2(np.roll(pad, (-(k.shape[0] // 2), -(k.shape[1] // 2)), (0, 1)))

@functools.lru_cache(maxsize=2)
def _bird_filters(h, w):
    """[(correlation filter of each bird kernel at h x w, offset)] over BIRD_SPANS (at 256 px) and BIRD_ANGLES."""
    out = []
    for span in BIRD_SPANS:
        for angle in BIRD_ANGLES:
            k, offset = _bird_kernel(span * max(h, w) / 256, angle)
            out.append((_correlation_filter(k, h, w), offset))
    return out

@functools.lru_cache(maxsize=2)
def _ring_filters(h, w):
    """[(filters of the ring, of the ring 0.7 times as large and of the ring 1.35 times as large)] at h x w over
    RING_RADII (at 256 px)."""
    out = []
    for radius in RING_RADII:
        r = radius * max(h, w) / 256
        width = max(1.5 * max(h, w) / 256, 0.15 * r)
        out.append(tuple(_correlation_filter(_ring_kernel(f * r, width), h, w) for f in (1, 0.7, 1.35)))
    return out

def _bird_response(z):
    """float16 map of the largest bird-shaped darkening of z: the mean of -z over the shape minus the same over the
    shape moved off it, the smaller of the two sides. An edge (a snow patch, a cloud's shadow) is dark on one side
    only and scores about 0; clouds are smooth, so the thin shape averages their change away."""
    Z = np.fft.rfft2(-z)
    best = np.full(z.shape, -np.inf, np.float32)
    for kf, (dy, dx) in _bird_filters(*z.shape):
        m = np.fft.irfft2(Z * kf, z.shape)
        best = np.maximum(best, np.minimum(m - np.roll(m, (dy, dx), (0, 1)), m - np.roll(m, (-dy, -dx), (0, 1))))
    return best.astype(np.float16)

def _ring_response(z):
    """float16 map, at half z's resolution (the largest of each 2 x 2), of the largest drop-shaped ring: the mean of
    -z on a ring minus the same on the ring just inside and on the ring just outside it, the smaller of the two. The
    dark rim of a drop scores; an edge or a dark patch is as dark on one of the other rings and scores about 0."""
    Z = np.fft.rfft2(-z)
    best = np.full(z.shape, -np.inf, np.float32)
    for on, inside, outside in _ring_filters(*z.shape):
        m = [np.fft.irfft2(Z * f, z.shape) for f in (on, inside, outside)]
        best = np.maximum(best, np.minimum(m[0] - m[1], m[0] - m[2]))
    return scipy.ndimage.maximum_filter(best, 2, origin=-1)[::2, ::2].astype(np.float16)

def _typical_change(changes, members):
    """Per-pixel LOCAL_TYPICAL percentile of the changes of `members`, spread by a pixel: where lit windows, the
    crane's hook, clouds or misaligned edges change by themselves."""
    typical = np.percentile(np.stack([changes[k] for k in members]).astype(np.float32), LOCAL_TYPICAL, axis=0)
    return scipy.ndimage.maximum_filter(typical, 3)

def _typical_blocks(maps, members):
    """[(block, typical map)]: members (time order) in blocks of LOCAL_BLOCK frames, each with the typical change over
    itself and the blocks before and after it (a growing building has new windows)."""
    blocks = np.array_split(members, max(round(len(members) / LOCAL_BLOCK), 1))
    return [(block, np.maximum(_typical_change(maps, np.concatenate(blocks[max(b - 1, 0):b + 2])), 0))
            for b, block in enumerate(blocks)]

def _local_flags(maps, light, floor, threshold, sigma, what):
    """Frames whose map somewhere exceeds `threshold` times (floor + what that pixel typically does), days and nights
    apart (lights at night); a dusk frame's pixel may do what it does by day or by night. The ratio is smoothed by
    `sigma` px. maps: {index: map}; light: {index: the peers' median brightness}; what: the detail's words."""
    night = {i: light[i] < DAYLIGHT for i in maps}
    groups = {}
    for is_night in (False, True):
        members = np.array(sorted(i for i in maps if night[i] == is_night))
        groups[is_night] = _typical_blocks(maps, members) if len(members) >= 10 else [] # Else too few to know.
    day_light = np.median([light[i] for i in maps if not night[i]] or [0])
    flags = []
    for block, typical in groups[False] + groups[True]:
        for i in block:
            usual = typical
            if not night[i] and light[i] < TWILIGHT * day_light and groups[True]:
                nearest = min(groups[True], key=lambda g: abs(np.median(g[0]) - i))
                usual = np.maximum(typical, nearest[1])
            ratio = _inner(scipy.ndimage.gaussian_filter(maps[i].astype(np.float32) / (usual + floor), sigma))
            y, x = np.unravel_index(np.argmax(ratio), ratio.shape)
            score = float(ratio[y, x])
            if score >= threshold:
                h, w = ratio.shape
                flags.append(Flag(int(i), 'occluded', score, f'{what} at x={(x + 0.5) / w:.2f}, y={(y + 0.5) / h:.2f}, '
                                                             f'{score:.1f} times what this spot does by itself'))
    return flags

def _merge(flags):
    """One flag per index: the higher score."""
    best = {}
    for f in flags:
        if f.index not in best or f.score > best[f.index].score:
            best[f.index] = f
    return list(best.values())

def _moved_flags(warps):
    """Frames whose translation is MOVED_JUMP away from the median of the 3 frames before and the 3 after them."""
    t = geometry.rows_to_matrices(warps)[:, :, 2]
    flags = []
    for i in range(len(t)):
        around = np.concatenate([t[max(i - 3, 0):i], t[i + 1:i + 4]])
        jump = np.linalg.norm(t[i] - np.median(around, 0)) if len(around) else 0.0
        if jump > MOVED_JUMP:
            flags.append(Flag(i, 'camera_moved', jump, f'view shifted by {jump:.1%} of the frame against the frames around it'))
    return flags

def _unshift(x, t):
    """x moved back by the translation t (fractions of the frame) of its warp."""
    return scipy.ndimage.shift(x, (t[1] * x.shape[0], t[0] * x.shape[1]), order=1, mode='nearest')

def flag_frames(frames, *, warps=None, times=None, size=128, workers=None, progress=None, cancel=None):
    """Flags of frames (a list of discovery.Frame in time order), sorted by index, one per (index, reason).
    warps: (N, 6) rows in the same order (for camera_moved, and to align the thumbnails' translation); times: unix
    seconds per frame (default: from the file names). cancel() raises analysis.Cancelled."""
    n = len(frames)
    if warps is not None and np.shape(warps) != (n, 6):
        raise ValueError(f'Warps of shape {np.shape(warps)} do not match the {n} frames: expected ({n}, 6)')
    times = frame_times(frames) if times is None else np.asarray(times, dtype=np.float64)
    wh = analysis.work_size(geometry.reference_size(frames), size)
    local_wh = analysis.work_size(geometry.reference_size(frames), LOCAL_SIZE, enlarge=True) # Tuned at LOCAL_SIZE.
    m = analysis.map_frames(_measure_chunk, frames, (wh, local_wh), workers, progress, cancel)
    valid = np.array([v is not None for v in m])
    thumbs = [None if v is None else v[4] for v in m]
    fine = [None if v is None else v[5] for v in m] # float16: a 10 000-frame sequence holds 1.3 GB of them.
    m = [None if v is None else v[:4] for v in m] # The numbers; the images, shifted one by one, are not held twice.
    if warps is not None: # Undo the translation so that the thumbnails and high-passed images line up.
        t = geometry.rows_to_matrices(warps)[:, :, 2]
        for i in np.flatnonzero(valid):
            thumbs[i] = _unshift(thumbs[i], t[i])
            fine[i] = _unshift(fine[i].astype(np.float32), t[i]).astype(np.float16)
    flags = [] if warps is None else _moved_flags(np.asarray(warps, dtype=np.float64))
    judged = np.zeros(n, dtype=bool)
    for i, peers in enumerate(find_peers(times, valid)):
        if valid[i] and len(peers) >= 3:
            photometric = _photometric_flags(i, m, peers)
            flags += photometric
            judged[i] = not photometric
    usable = valid.copy()
    usable[[f.index for f in flags if f.reason in ('black', 'overexposed')]] = False # Nobody's peer.
    changes, birds, rings, light = {}, {}, {}, {}
    logs = log_thumbs(thumbs)
    for i, peers in enumerate(find_peers(times, usable, logs)):
        if judged[i] and len(peers) >= 3:
            light[i] = float(np.median([m[j][0] for j in peers]))
            dark = _dark_flag(i, logs, peers) if light[i] >= DAYLIGHT else [] # At night a dark blob hides nothing.
            flags += dark
            if not dark:
                z = _residual(i, fine, peers)
                changes[i], birds[i], rings[i] = _local_change(z), _bird_response(z), _ring_response(z)
    flags += _merge(_local_flags(changes, light, 1, LOCAL_RATIO, 0.7, 'local change') +
                    _local_flags(birds, light, BIRD_FLOOR, BIRD_RATIO, 0, 'bird-shaped darkening') +
                    _local_flags(rings, light, RING_FLOOR, RING_RATIO, 0, 'drop-shaped ring'))
    return sorted(flags, key=lambda f: (f.index, REASONS.index(f.reason)))

#----------------------------------------------------------------------------
# Report.

def write_report(path, frames, flags, *, input_path=None, times=None):
    """bad_frames.json (atomic, replaces an existing file): {version, input, num_frames, flags: [{index, file, time,
    reason, score, detail}]}; time is ISO 8601 UTC from `times` or the file name, or null."""
    times = frame_times(frames) if times is None else np.asarray(times, dtype=np.float64)
    def iso(u):
        return None if not np.isfinite(u) else datetime.datetime.fromtimestamp(u, datetime.timezone.utc).isoformat().replace('+00:00', 'Z')
    doc = dict(version=REPORT_VERSION, input=input_path, num_frames=len(frames),
               flags=[dict(index=f.index, file=frames[f.index].name, time=iso(times[f.index]), reason=f.reason,
                           score=float(f.score), detail=f.detail) for f in flags])
    dnnlib.util.write_json(path, doc, overwrite=True)

def read_report(path):
    """The flags of a bad_frames.json; ValueError naming the file for anything else."""
    try:
        with open(path, encoding='utf-8') as f:
            doc = json.load(f)
        if doc.get('version') != REPORT_VERSION:
            raise ValueError(f'version {doc.get("version")!r}, expected {REPORT_VERSION}')
        n = doc['num_frames']
        flags = [Flag(int(e['index']), str(e['reason']), float(e['score']), str(e['detail'])) for e in doc['flags']]
        for flag in flags:
            if flag.reason not in REASONS or not 0 <= flag.index < n:
                raise ValueError(f'bad flag {flag}')
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f'Bad-frame report {path} is not readable: {type(e).__name__}: {e}') from e
    return flags

def skip_text(flags, reasons=None):
    """Flagged indices (of the given reasons, default all) as '10,25,100-102', the syntax of --skip."""
    idx = sorted({f.index for f in flags if reasons is None or f.reason in reasons})
    runs = []
    for i in idx:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ','.join(str(a) if a == b else f'{a}-{b}' for a, b in runs)

#----------------------------------------------------------------------------
