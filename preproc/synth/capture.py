"""How the synthetic webcam captures: uneven capture times with dropped frames and multi-hour/multi-day outages,
and the per-frame capture defects (camera jitter, exposure flicker, occluders), hashed from the seed and the
capture second so that a frame's defects do not depend on the other frames."""

import numpy as np

from preproc.synth import noise
from training import timeline

# Hash streams of the per-frame defects.
_JITTER_X, _JITTER_Y, _EXPOSURE, _OCCLUDER, _OCC_X, _OCC_Y, _OCC_KIND, _NOISE_SEED = range(21, 29)
NUM_OCCLUDER_KINDS = 3 # 0 = raindrop on the lens, 1 = bird, 2 = dark blurred blob close to the lens
NIGHT_ELEVATION = -6.0 # Sun below this (civil dusk): an occluder is a drop. Birds do not fly then, and a dark bird or
                       # blob on a dark scene changes less than the sensor noise: no defect to find, none to record.

#----------------------------------------------------------------------------

def sample_outages(cfg, rng):
    """[K, 2] float64 (start, end) unix seconds of camera outages, K >= 1, sorted by start, each at most a quarter
    of the span."""
    count = max(1, rng.poisson(cfg.days / cfg.outage_every_days))
    lo, hi = np.log(np.asarray(cfg.outage_hours, dtype=np.float64))
    span = cfg.days * timeline.SECONDS_PER_DAY
    duration = np.minimum(np.exp(rng.uniform(lo, hi, count)) * timeline.SECONDS_PER_HOUR, 0.25 * span) # Short sequences keep most frames.
    start = cfg.date_start + rng.uniform(0.05, 0.95, count) * span
    start = np.sort(start)
    return np.stack([start, start + duration], axis=1)

def sample_capture_times(cfg, rng, outages=None):
    """Sorted float64 unix seconds (whole seconds, strictly increasing) of the captures in [start, start + days).

    Intervals are uniform in interval_min * (1 +- interval_jitter); single captures are dropped with drop_prob and
    none fall inside an outage. Outages are drawn from rng first unless given ([K, 2] as from sample_outages).
    """
    if outages is None:
        outages = sample_outages(cfg, rng)
    start, end = cfg.date_start, cfg.date_end
    mean = cfg.interval_min * 60
    count = int(np.ceil((end - start) / (mean * (1 - cfg.interval_jitter)))) + 1
    steps = mean * rng.uniform(1 - cfg.interval_jitter, 1 + cfg.interval_jitter, count)
    unix = np.round(start + np.concatenate([[0.0], np.cumsum(steps)]))
    keep = (unix < end) & (rng.random(unix.size) >= cfg.drop_prob)
    for a, b in np.asarray(outages).reshape(-1, 2):
        keep &= (unix < a) | (unix >= b)
    unix = np.unique(unix[keep])
    if unix.size == 0:
        raise ValueError(f'No captures left in {cfg.days} days: lengthen the sequence or shorten the interval')
    return unix

#----------------------------------------------------------------------------

def capture_defects(unix, cfg, sun_elevation):
    """Per-frame defects as a dict of arrays: jitter_x, jitter_y (pixels at 256 px width), exposure (gain),
    occluder (0/1), occluder_x, occluder_y (0..1 of the frame), occluder_kind (int; 0 where sun_elevation, degrees, is
    below NIGHT_ELEVATION), noise_seed (int, drives the renderer's small random details: cloud texture offset, rain
    streaks, sensor noise, lit windows)."""
    second = np.round(np.asarray(unix, dtype=np.float64)).astype(np.int64)
    seed = cfg.seed
    jitter = [np.clip(noise.normal(seed, s, second), -3, 3) * cfg.jitter_px for s in (_JITTER_X, _JITTER_Y)]
    return dict(
        jitter_x=jitter[0],
        jitter_y=jitter[1],
        exposure=np.exp(np.clip(noise.normal(seed, _EXPOSURE, second), -3, 3) * cfg.exposure_sigma),
        occluder=(noise.uniform(seed, _OCCLUDER, second) < cfg.occluder_prob).astype(np.int64),
        occluder_x=0.1 + 0.8 * noise.uniform(seed, _OCC_X, second),
        occluder_y=0.1 + 0.8 * noise.uniform(seed, _OCC_Y, second),
        occluder_kind=np.where(np.asarray(sun_elevation) < NIGHT_ELEVATION, 0,
                               (noise.uniform(seed, _OCC_KIND, second) * NUM_OCCLUDER_KINDS).astype(np.int64)),
        noise_seed=(noise.hash64(seed, _NOISE_SEED, second) >> np.uint64(33)).astype(np.int64),
    )

#----------------------------------------------------------------------------
