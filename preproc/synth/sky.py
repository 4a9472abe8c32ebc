"""Light of the synthetic scene, per frame: direct sun (colour from the air mass), sky light (ambient), haze and fog,
and the sky itself (gradient, twilight glow, halo, sun disk, stars, clouds on a deck 1.5 km up).

All radiances are linear RGB in arbitrary units (noon sun about 2.6); the renderer's auto exposure maps them to
display values. Arrays are per frame [N] or [N, 3] unless noted.
"""

import numpy as np

from preproc.synth import noise, scene

TAU = np.array([0.07, 0.14, 0.30], dtype=np.float32)           # Optical depth per air mass (Rayleigh-like).
SUN_IRRADIANCE = 2.6
ZENITH = np.array([0.12, 0.28, 0.85], dtype=np.float32)
HORIZON = np.array([0.70, 0.80, 0.95], dtype=np.float32)
TWILIGHT = np.array([1.00, 0.42, 0.12], dtype=np.float32)
NIGHT = np.array([0.010, 0.014, 0.030], dtype=np.float32)
CLEAR_HAZE = 3e-5                                              # Extinction of clear air per metre.
SUN_RADIUS = np.radians(0.6)                                   # About twice the real one, to be seen at 256 px.

#----------------------------------------------------------------------------

def lighting(fac):
    """Per-frame light from the factors: sun/ambient/haze colours, fog extinction, sun vector, auto-exposure gain."""
    e, cloud, fog, rain = (fac[k] for k in ('sun_elevation', 'cloud', 'fog', 'rain'))
    sin_e = np.sin(np.radians(np.maximum(e, 0)))
    airmass = 1 / (sin_e + 0.50572 * (np.maximum(e, 0) + 6.07995)**-1.6364) # Kasten & Young
    sun_clear = SUN_IRRADIANCE * np.exp(-TAU * airmass[:, None]) * scene.smoothstep(-1.0, 1.5, e)[:, None]
    sun = sun_clear * ((1 - 0.95 * cloud**1.5) * np.exp(-2.5 * fog) * (1 - 0.5 * rain))[:, None]

    # Sky light: day part ~ sin(e), twilight falling a decade per 3 degrees, a little starlight.
    level = np.where(e >= 0, 0.12 + 0.5 * sin_e**0.8, 0.12 * 10**(np.maximum(e, -30) / 3)) + 2e-4
    blue = scene.smoothstep(-8, 6, e)
    sky_tint = (1 - blue)[:, None] * np.array([0.55, 0.60, 1.0]) + blue[:, None] * np.array([0.78, 0.87, 1.0])
    overcast_tint = np.array([0.92, 0.95, 1.0])
    tint = sky_tint + (overcast_tint - sky_tint) * cloud[:, None]
    diffused = 0.3 * cloud * sin_e * sun_clear.mean(axis=1) # Sunlight scattered down by the clouds.
    ambient = tint * ((level * (1 - 0.35 * cloud**2) + diffused) * (1 - 0.35 * rain))[:, None]

    fog_beta = 0.04 * fog**2 + 0.003 * rain
    fog_rgb = 1.25 * ambient + 0.25 * sun
    horizon_rgb = HORIZON * 1.9 * level[:, None] + 0.2 * sun_clear * (1 - cloud)[:, None]
    haze_rgb = horizon_rgb + (fog_rgb - horizon_rgb) * (fog_beta / (fog_beta + CLEAR_HAZE))[:, None]

    luma = np.array([0.25, 0.6, 0.15], dtype=np.float32)
    key = ambient @ luma + 0.6 * (sun @ luma) * sin_e + 1e-4
    gain = np.clip((0.45 / key)**0.7, 0.2, 8.0)
    return dict(e=e, sun=sun.astype(np.float32), sun_clear=sun_clear.astype(np.float32),
                ambient=ambient.astype(np.float32), level=level.astype(np.float32), fog_beta=fog_beta,
                haze=haze_rgb.astype(np.float32),
                sun_dir=scene.sun_vector(fac['sun_elevation'], fac['sun_azimuth']), gain=gain.astype(np.float32))

def apply_haze(rgb, dist, light, clear_air=True):
    """Aerial perspective and fog: blend [N, ..., 3] radiance toward the haze colour over distance dist (m)."""
    beta = light['fog_beta'] + (CLEAR_HAZE if clear_air else 0)
    shape = (-1,) + (1,) * (rgb.ndim - 1)
    trans = np.exp(-beta.reshape(shape[:-1]) * dist)[..., None]
    return rgb * trans + light['haze'].reshape(shape[:1] + (1,) * (rgb.ndim - 2) + (3,)) * (1 - trans)

#----------------------------------------------------------------------------

def _cloud_layer(lay, fac, light, cos_gamma, frame_rand):
    """Cloud alpha [N, h, w] and radiance [N, h, w, 3] over the sky rows."""
    cloud = fac['cloud'][:, None, None]
    oz, ox = (np.floor(frame_rand[:, i] * scene.cloud_texture().shape[0]) for i in (0, 1)) # Whole texels.
    n = (noise.sample_shifted(lay.clouds[0], oz, ox) + 0.45 * noise.sample_shifted(lay.clouds[1], ox, oz)) / 1.1
    threshold = 2.8 - 5.4 * cloud
    near = scene.smoothstep(threshold - 0.5, threshold + 0.6, n)
    far = 1 / (1 + np.exp(1.7 * threshold)) # Share of a large stretch of deck that is cloud.
    alpha = near + (far - near) * lay.cloud_far
    thick = np.clip((n - threshold) / 1.5, 0, 1) * (1 - lay.cloud_far)
    forward = np.exp(-(1 - cos_gamma) / 0.15)
    lit = (0.35 + 0.9 * forward + 1.5 * np.exp(-(1 - cos_gamma) / 0.02) * (1 - thick)) * (1 - 0.7 * cloud)
    rgb = 0.9 * (light['ambient'][:, None, None] * 1.3 + light['sun_clear'][:, None, None] * lit[..., None])
    rgb = rgb * (1 - 0.5 * thick * np.sqrt(cloud))[..., None]
    return alpha, rgb

def sky(lay, fac, light, frame_rand):
    """Sky radiance [N, sky_rows, W, 3] with clouds, sun disk and stars, fogged."""
    e = light['e'][:, None, None]
    cos_gamma = np.clip(np.einsum('hwc,nc->nhw', lay.sky_rays, light['sun_dir']), -1, 1)
    gamma = np.arccos(cos_gamma)
    up = np.maximum(lay.sky_rays[..., 1], 0)
    horizon = np.exp(-up / 0.18)[None, ..., None]
    level = light['level'][:, None, None, None]
    rgb = 1.9 * level * (ZENITH + (HORIZON - ZENITH) * horizon)
    rgb = rgb + NIGHT * np.sqrt(level / 0.12) # Airglow, fading with the day's light.
    twilight = (0.35 * np.exp(-((e + 1) / 4.5)**2) * np.exp(-(1 - cos_gamma) / 0.35))[..., None]
    rgb = rgb + twilight * TWILIGHT * horizon**0.6
    halo = (0.12 * np.exp(-gamma / 0.4) + 0.6 * np.exp(-gamma / 0.06))[..., None]
    rgb = rgb + halo * light['sun_clear'][:, None, None]
    disk = scene.coverage((SUN_RADIUS - gamma) * lay.f)
    rgb = rgb + (25 * disk)[..., None] * light['sun_clear'][:, None, None]
    night = scene.smoothstep(-7, -13, light['e'])[:, None, None]
    rgb = rgb + (0.03 * night * lay.stars)[..., None]
    alpha, cloud_rgb = _cloud_layer(lay, fac, light, cos_gamma, frame_rand)
    rgb = rgb + (cloud_rgb - rgb) * alpha[..., None]
    return apply_haze(rgb, 3000.0, light, clear_air=False)

#----------------------------------------------------------------------------
