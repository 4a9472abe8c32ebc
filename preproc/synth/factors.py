"""Per-frame ground truth of the synthetic sequence: every factor the renderer draws, computed from the capture time
and the config (sun from solar geometry, season from the calendar, trend from the progress through the sequence,
weather and capture defects from the seed)."""

import numpy as np

from preproc.synth import capture, scene, solar, weather
from training import timeline

# Keys of factors_at(), in the order of factors.json. The renderer reads only RENDER_KEYS.
FACTOR_KEYS = ('unix', 'sun_elevation', 'sun_azimuth', 'hour_utc', 'day_of_year', 'season_phase', 'trend',
               'cloud', 'fog', 'rain', 'snow', 'jitter_x', 'jitter_y', 'exposure', 'occluder',
               'occluder_x', 'occluder_y', 'occluder_kind', 'noise_seed')
RENDER_KEYS = ('sun_elevation', 'sun_azimuth', 'season_phase', 'trend', 'cloud', 'fog', 'rain', 'snow',
               'jitter_x', 'jitter_y', 'exposure', 'occluder', 'occluder_x', 'occluder_y', 'occluder_kind',
               'noise_seed')

#----------------------------------------------------------------------------

def trend_at(unix, cfg):
    """Construction progress in [0, 1]: a smooth step over [start, start + days]."""
    return scene.smoothstep(cfg.date_start, cfg.date_end, np.asarray(unix, dtype=np.float64))

def factors_at(unix_times, cfg):
    """dict factor name -> [N] array for the given UTC unix seconds; deterministic given cfg (seed included).

    unix, sun_elevation / sun_azimuth (degrees; azimuth clockwise from north), hour_utc, day_of_year (fractional,
    1-based), season_phase (0..1 over the calendar year), trend (0..1), cloud, fog, rain, snow (0..1, weather
    depends only on time and seed), then the capture defects of capture.capture_defects.
    """
    unix = np.atleast_1d(np.asarray(unix_times, dtype=np.float64))
    if unix.ndim != 1 or not np.all(np.isfinite(unix)):
        raise ValueError('factors_at() expects a 1-d array of finite unix seconds')
    elevation, azimuth = solar.sun_position(unix, cfg.lat, cfg.lon)
    day_of_year, season_phase, hour_utc = timeline.calendar(unix)
    out = dict(unix=unix, sun_elevation=elevation, sun_azimuth=azimuth, hour_utc=hour_utc, day_of_year=day_of_year,
               season_phase=season_phase, trend=trend_at(unix, cfg))
    out.update(weather.weather_at(unix, cfg.seed))
    out.update(capture.capture_defects(unix, cfg, elevation))
    return {k: out[k] for k in FACTOR_KEYS}

#----------------------------------------------------------------------------
