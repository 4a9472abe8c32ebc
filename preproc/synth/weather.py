"""Random weather of the synthetic scene: cloud cover, fog, rain and snow on the ground as functions of absolute time
and a seed only (random access, no dependence on which frames are sampled, none on the time of day).

Each latent is a sum of AR(1) processes (discretised Ornstein-Uhlenbeck) on the global hourly grid of unix time,
written as a truncated moving average of hashed innovations so that any hour can be evaluated on its own. Cloud,
fog and rain are stationary; snow cover comes from a temperature proxy (seasonal mean + slow random anomaly).
"""

import numpy as np

from preproc.synth import noise, scene
from training import timeline

# (stream id, [(time constant in hours, variance share), ...]) of the latents.
CLOUD = (11, [(10.0, 0.35), (72.0, 0.65)])
FOG   = (12, [(8.0, 0.5), (48.0, 0.5)])
RAIN  = (13, [(5.0, 0.6), (30.0, 0.4)])
TEMP  = (14, [(96.0, 1.0)])

TEMP_MEAN, TEMP_SEASON, TEMP_ANOMALY = 8.5, 10.5, 4.0 # deg C: annual mean, seasonal half-range, weather std
COLDEST_DAY = 15.0                                   # day of year of the seasonal minimum (mid January)

#----------------------------------------------------------------------------

def ar1(unix, seed, stream, tau_hours):
    """Unit-variance AR(1) process with correlation time tau_hours at the given times (linear between whole hours)."""
    hours = np.asarray(unix, dtype=np.float64) / timeline.SECONDS_PER_HOUR
    if hours.size == 0:
        return hours
    phi = np.exp(-1 / tau_hours)
    taps = int(np.ceil(7 * tau_hours)) # phi**taps < 1e-3: the truncated past no longer matters
    kernel = np.sqrt(1 - phi**2) * phi**np.arange(taps)
    k0 = int(np.floor(hours.min()))
    grid = np.arange(k0 - taps + 1, int(np.floor(hours.max())) + 2)
    series = np.convolve(noise.normal(seed, stream, grid), kernel, mode='valid') # series[i] is hour k0 + i
    pos = hours - k0
    i = np.minimum(np.floor(pos).astype(np.int64), len(series) - 2)
    w = pos - i
    return series[i] * (1 - w) + series[i + 1] * w

def latent(unix, seed, spec):
    stream, parts = spec
    return sum(np.sqrt(share) * ar1(unix, seed, stream * 100 + j, tau) for j, (tau, share) in enumerate(parts))

def temperature(unix, seed):
    """Temperature proxy in deg C: seasonal cycle plus a slow random anomaly (no daily cycle)."""
    day_of_year, _, _ = timeline.calendar(unix)
    seasonal = TEMP_MEAN - TEMP_SEASON * np.cos(2 * np.pi * (day_of_year - COLDEST_DAY) / timeline.DAYS_PER_YEAR)
    return seasonal + TEMP_ANOMALY * latent(unix, seed, TEMP)

def weather_at(unix, seed):
    """dict of cloud, fog, rain, snow in [0, 1] (float64 arrays) at the given unix times."""
    unix = np.atleast_1d(np.asarray(unix, dtype=np.float64))
    cloud = 1 / (1 + np.exp(-2.2 * (latent(unix, seed, CLOUD) + 0.1)))
    fog = scene.smoothstep(1.0, 2.4, latent(unix, seed, FOG))
    rain = scene.smoothstep(0.3, 1.6, latent(unix, seed, RAIN)) * scene.smoothstep(0.55, 0.8, cloud)
    snow = scene.smoothstep(1.5, -2.5, temperature(unix, seed))
    return dict(cloud=cloud, fog=fog, rain=rain, snow=snow)

#----------------------------------------------------------------------------
