"""Factor probe of the synthetic scene: a small CNN that reads the scene's factors back from an image (solar hour,
season phase, trend, cloud, fog, snow). It is trained on frames that preproc.synth renders from random daylight
factors and cached per scene config and size. Also the scene sampling that the disentanglement metric shares:
daylight times, factors of a scene whose sun, season, trend and weather come from separate sources, and the truth
values of the probed factors."""

import hashlib
import json
import os

import numpy as np
import torch

import dnnlib
from preproc.synth import capture, factors, renderer, solar, weather
from training import timeline

DAY = timeline.SECONDS_PER_DAY
YEAR = timeline.DAYS_PER_GREGORIAN_YEAR * DAY # Whole multiples keep the calendar date.
MIN_ELEVATION = 5.0           # Degrees: the probe only sees (and is only asked about) daylight scenes.
FACTORS = ('hour', 'season', 'trend', 'cloud', 'fog', 'snow')
PERIODS = dict(hour=24.0, season=1.0) # Circular factors: their period in the unit they are given in.
VERSION = 1                   # Bump to invalidate cached probes.

#----------------------------------------------------------------------------
# Scene sampling and truth values.

def solar_hour(elevation, azimuth, lat):
    """Apparent solar time relative to local noon, in hours in (-12, 12], from the sun's position and the latitude.
    Sun direction (east, north, up) -> components along west and along the meridian's upward-south direction."""
    e, a, phi = np.radians(elevation), np.radians(azimuth), np.radians(lat)
    west = -np.cos(e) * np.sin(a)
    meridian = np.sin(e) * np.cos(phi) - np.cos(e) * np.cos(a) * np.sin(phi)
    return np.arctan2(west, meridian) * (12 / np.pi)

def time_factors(cfg, u_sun, u_lin):
    """Render factors of the time: sun and season at unix u_sun, construction (trend) at unix u_lin."""
    elevation, azimuth = solar.sun_position(u_sun, cfg.lat, cfg.lon)
    return dict(sun_elevation=elevation, sun_azimuth=azimuth, season_phase=timeline.calendar(u_sun)[1],
        trend=factors.trend_at(u_lin, cfg))

def scene_factors(cfg, u_sun, u_lin, draws):
    """All render factors: time_factors plus weather and capture defects from draws [n, 3] in [0, 1): cloud, fog and
    rain of a random time in four years, snow of the date of u_sun in one of four later years (+-3 days: snow follows
    the season), the defects of a random capture second. Changing u_sun's hour moves none of them."""
    fac = time_factors(cfg, u_sun, u_lin)
    years = 4 * draws[:, 0]
    fac.update(weather.weather_at(cfg.date_start + years * YEAR, cfg.seed))
    snow_time = timeline.midnight(u_sun) + np.floor(1 + years) * YEAR + (draws[:, 1] - 0.5) * 6 * DAY
    fac['snow'] = weather.weather_at(snow_time, cfg.seed)['snow']
    fac.update(capture.capture_defects(np.floor(draws[:, 2] * 1e9).astype(np.int64), cfg, fac['sun_elevation']))
    return fac

def factor_values(fac, lat):
    """dict of the probed factors (as far as fac has them) from render factors."""
    values = dict(hour=solar_hour(fac['sun_elevation'], fac['sun_azimuth'], lat), season=fac['season_phase'])
    values.update({k: fac[k] for k in FACTORS[2:] if k in fac})
    return values

def pick_daylight(cfg, candidates):
    """[n, K] unix candidates -> [n]: per row the first with the sun above MIN_ELEVATION (else the highest sun)."""
    elevation = solar.sun_position(candidates.ravel(), cfg.lat, cfg.lon)[0].reshape(candidates.shape)
    ok = elevation > MIN_ELEVATION
    col = np.where(ok.any(axis=1), ok.argmax(axis=1), elevation.argmax(axis=1))
    return candidates[np.arange(len(candidates)), col]

def daylight_time(cfg, u_date, rng):
    """A random daylight time on the (UTC) date of each u_date."""
    return pick_daylight(cfg, timeline.midnight(u_date)[:, None] + rng.uniform(0, DAY, [len(u_date), 48]))

def circular_error(a, b, period):
    d = np.mod(np.asarray(a) - b, period)
    return np.minimum(d, period - d)

def factor_distance(name, a, b):
    """|a - b| of a factor, the short way round for circular ones."""
    return circular_error(a, b, PERIODS[name]) if name in PERIODS else np.abs(np.asarray(a) - b)

#----------------------------------------------------------------------------
# The probe network: images in [-1, 1] resized to res x res -> [cos, sin of hour, cos, sin of season, trend, cloud,
# fog, snow].

class FactorProbe(torch.nn.Module):
    def __init__(self, res):
        super().__init__()
        self.res = res
        chans = [3, 32, 64, 96, 128]
        layers = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [torch.nn.Conv2d(cin, cout, 3, stride=2, padding=1), torch.nn.LeakyReLU(0.2)]
        layers += [torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(chans[-1] * 16, 128),
            torch.nn.LeakyReLU(0.2), torch.nn.Linear(128, 8)]
        self.net = torch.nn.Sequential(*layers)

    def forward(self, images):
        return self.net(probe_resize(images, self.res))

    def read(self, images, batch=256):
        """dict of the probed factors ([n] numpy arrays) seen in the images."""
        with torch.no_grad():
            out = torch.cat([self(images[i:i + batch]) for i in range(0, len(images), batch)]).double().cpu().numpy()
        return dict(hour=np.arctan2(out[:, 1], out[:, 0]) * (12 / np.pi), season=np.mod(np.arctan2(out[:, 3], out[:, 2]) / (2 * np.pi), 1),
            trend=out[:, 4], cloud=out[:, 5], fog=out[:, 6], snow=out[:, 7])

def probe_targets(values):
    hour, season = 2 * np.pi * values['hour'] / 24, 2 * np.pi * values['season']
    cols = [np.cos(hour), np.sin(hour), np.cos(season), np.sin(season)] + [values[k] for k in FACTORS[2:]]
    return torch.from_numpy(np.stack(cols, axis=1).astype(np.float32))

def render_frames(fac, size, workers=1):
    """Render factors -> uint8 frames [n, H, W, 3] (size = (W, H)); over a process pool if workers > 2 (with fewer,
    starting the pool costs more than it saves)."""
    if workers <= 2:
        return renderer.render(fac, size)
    chunks = [{k: v[i:i + 64] for k, v in fac.items()} for i in range(0, len(fac['trend']), 64)]
    with dnnlib.util.process_pool(workers) as pool:
        return np.concatenate(list(pool.map(renderer.render, chunks, [size] * len(chunks))))

def to_images(frames, device):
    """uint8 frames [n, H, W, 3] -> float images [n, 3, H, W] in [-1, 1] on device."""
    return torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1

def probe_resize(images, res):
    return torch.nn.functional.interpolate(images.to(torch.float32), size=(res, res), mode='area')

#----------------------------------------------------------------------------
# Training data and training.

def random_scenes(cfg, n, rng):
    """Render factors of n random daylight scenes: any date in four years, trend over the sequence, random weather."""
    u_date = cfg.date_start + rng.uniform(0, 4 * YEAR, n)
    u_lin = rng.uniform(cfg.date_start, cfg.date_end, n)
    return scene_factors(cfg, daylight_time(cfg, u_date, rng), u_lin, rng.random([n, 3]))

def train_probe(cfg, render_size, res, device, num_train=4096, num_val=512, steps=1500, seed=0):
    """Train a FactorProbe on renders of random scenes; returns (probe, info) with the validation errors and the
    mean distance between random pairs of each factor (the unit of the metric's movements)."""
    rng = np.random.default_rng(seed)
    fac = random_scenes(cfg, num_train + num_val, rng)
    values = factor_values(fac, cfg.lat)
    frames = render_frames(fac, render_size, workers=min(os.cpu_count() or 1, 16))
    images = torch.cat([probe_resize(to_images(frames[i:i + 512], device), res) for i in range(0, len(frames), 512)])
    targets = probe_targets(values).to(device)
    with torch.random.fork_rng(devices=[]): # initialised on the CPU: the same probe on every device
        torch.manual_seed(seed)
        probe = FactorProbe(res).to(device)
    batches = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(probe.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.1)
    with torch.enable_grad():
        for _ in range(steps):
            idx = torch.randint(num_train, [64], generator=batches).to(device)
            loss = (probe(images[idx]) - targets[idx]).square().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    probe.eval().requires_grad_(False)
    seen = probe.read(images[num_train:])
    val = {k: v[num_train:] for k, v in values.items()}
    pair = rng.permutation(num_val)
    info = dict(val_error={k: float(factor_distance(k, seen[k], val[k]).mean()) for k in FACTORS},
        scale={k: float(factor_distance(k, val[k], val[k][pair]).mean()) for k in FACTORS})
    return probe, info

def get_probe(cfg, render_size, res, device, **train_kwargs):
    """The cached probe for this scene config and size, trained (and cached atomically) when missing."""
    key = json.dumps(dict(cfg=cfg.as_dict(), render_size=list(render_size), res=res, version=VERSION, **train_kwargs), sort_keys=True)
    path = dnnlib.util.make_cache_dir_path('gan-metrics', f'factor-probe-{cfg.name}-{hashlib.md5(key.encode()).hexdigest()[:16]}.pt')
    if os.path.isfile(path):
        data = torch.load(path, map_location=device, weights_only=True)
        probe = FactorProbe(res).to(device)
        probe.load_state_dict(data['state'])
        return probe.eval().requires_grad_(False), data['info']
    probe, info = train_probe(cfg, render_size, res, device, **train_kwargs)
    dnnlib.util.atomic_write(path, lambda f: torch.save(dict(state=probe.state_dict(), info=info), f), overwrite=True)
    return probe, info

#----------------------------------------------------------------------------
