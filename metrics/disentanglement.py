"""Ground-truth disentanglement on synthetic sequences (preproc.synth), where every factor of every frame is known.

A factor probe (metrics.factor_probe) reads the solar hour, season, trend, cloud, fog and snow from an image. For a
generator with per-slot Fourier times (trend 'lin', 'year' if the sequence spans one, 'day'), each slot is mapped to
calendar values through training.timeline with the generator's cond_args (start_ts, num_days): the day slot sets the
time of day, the year slot the date (the trend slot does both when there is no year slot), the trend slot the
construction progress. On daylight scenes only (sun above factor_probe.MIN_ELEVATION; at night the scene is dark):
  CONTROL ERROR: reference images with independent random slot values; the probe's hour, season and trend against
    the values the slots stand for (err_hour in hours, err_season_days, err_trend).
  LEAKAGE: from each reference, change only z, only the day slot (another daylight hour of the same date), only the
    year slot (another date, same time of day) or only the trend slot; move_<input>_<factor> = mean probed change
    over the mean change between two random scenes. `leakage` averages the entries whose truth does not move
    (weather may move with z, snow with the season); `z_weather` averages z's moves of cloud, fog and snow.
SceneGenerator wraps the renderer itself as a generator (c -> time -> sun, season, trend; z -> weather and capture
defects), for calibration: it scores near the probe's own error, generators ignoring c or z score clearly worse.
"""

import json
import os

import numpy as np
import scipy.special
import torch

import dnnlib
from metrics import factor_probe
from metrics import metric_utils
from preproc.synth import factors
from preproc.synth import presets
from training import timeline

WEATHER = ('cloud', 'fog', 'snow')
MOVES = 0.05 # A true value moves if its mean change exceeds this share of the difference of two random scenes.

#----------------------------------------------------------------------------
# The scene config of a synthetic dataset.

def _config_from_dict(d):
    return presets.SynthConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

def scene_config(dataset, path):
    """SynthConfig of a synthetic dataset: dataset.json meta['synth'], or the `config` of a factors.json next to the
    dataset (its folder or the folder above)."""
    if 'synth' in dataset.meta:
        return _config_from_dict(dataset.meta['synth'])
    folder = os.path.dirname(os.path.abspath(path))
    for candidate in (os.path.join(folder, 'factors.json'), os.path.join(os.path.dirname(folder), 'factors.json')):
        if os.path.isfile(candidate):
            with open(candidate, encoding='utf-8') as f:
                return _config_from_dict(json.load(f)['config'])
    raise ValueError(f'Dataset {path} is not a known synthetic sequence: the disentanglement metric needs the scene '
        'config, in dataset.json meta["synth"] or a factors.json (written by preproc/synth_sequence.py) beside the dataset')

#----------------------------------------------------------------------------
# The generator's time slots (Timeline.slots_to_unix maps them to the scene's moment and the trend's).

def slot_layout(G):
    """(slot names, Timeline) of a generator with per-slot Fourier times including 'lin' and 'day'."""
    names = metric_utils.slot_names(G)
    if 'lin' not in names or 'day' not in names:
        raise ValueError(f'The disentanglement metric needs a generator with per-slot Fourier times including the trend '
            f'and the day cycle (cond type fourier/f_concat with include_lin); this one has slots {names}')
    return names, timeline.Timeline.from_cond_args(G.cond_args)

#----------------------------------------------------------------------------
# The renderer as a generator (calibration).

class SceneGenerator(torch.nn.Module):
    """G(z, c) drawn by preproc.synth. mode 'ideal': c (one t or one per slot) -> sun, season, trend and z -> weather
    and capture defects (factor_probe.scene_factors); 'ignore_c' / 'ignore_z': that input is fixed (c: noon in the
    middle of the sequence); 'memorize': the weather and defects of the sequence at the scene's own time, as in the
    data (z unused)."""

    def __init__(self, cfg, num_days, date_start, resolution, out_rect=None, mode='ideal'):
        super().__init__()
        if mode not in ('ideal', 'ignore_c', 'ignore_z', 'memorize'):
            raise ValueError(f"SceneGenerator mode must be 'ideal', 'ignore_c', 'ignore_z' or 'memorize', got {mode!r}")
        freqs = timeline.frequency_set(num_days)
        self.cfg, self.mode = cfg, mode
        self.z_dim, self.c_dim, self.img_resolution, self.img_channels = 3, 1, resolution, 3
        self.cond_args = dnnlib.EasyDict(type='fourier', include_lin=True, f_manual=freqs[1:],
            **timeline.Timeline(date_start=date_start, num_days=num_days).as_cond_args())
        self.frequencies = freqs
        self.synthesis = torch.nn.Module()
        self.synthesis.out_rect = tuple(out_rect or (0, 0, resolution, resolution))

    @classmethod
    def in_place_of(cls, G, dataset_kwargs, **kwargs):
        """The renderer of dataset_kwargs' scene and timeline at G's resolution and content rectangle (the floor that
        G's figures are read against); kwargs go to the constructor."""
        dataset = dnnlib.util.construct_class_by_name(**dataset_kwargs)
        return cls(scene_config(dataset, dataset_kwargs.path), dataset.meta['num_days'], dataset.meta['date_start'],
            G.img_resolution, out_rect=metric_utils.content_rect(G), **kwargs)

    def forward(self, z, c, **_kwargs):
        names, tl = slot_layout(self)
        t = np.broadcast_to(c.detach().double().cpu().numpy(), [len(z), len(names)])
        u_sun, u_lin = tl.slots_to_unix(t, names)
        if self.mode == 'ignore_c': # always solar noon in the middle of the sequence
            u_lin = np.full_like(u_lin, tl.t_to_unix(0.5))
            u_sun = timeline.solar_noon(u_lin, self.cfg.lon)
        if self.mode == 'memorize': # the weather and defects of the sequence at this very time
            fac = dict(factors.factors_at(u_sun, self.cfg), **factor_probe.time_factors(self.cfg, u_sun, u_lin))
        else:
            z = z * (self.mode != 'ignore_z') # z = 0: the same weather and defects for all
            draws = scipy.special.ndtr(z[:, :3].detach().double().cpu().numpy())
            fac = factor_probe.scene_factors(self.cfg, u_sun, u_lin, draws)
        x1, y1, x2, y2 = self.synthesis.out_rect
        out = torch.full([len(z), 3, self.img_resolution, self.img_resolution], -1.0, device=z.device)
        out[:, :, y1:y2, x1:x2] = factor_probe.to_images(factor_probe.render_frames(fac, (x2 - x1, y2 - y1)), z.device)
        return out

#----------------------------------------------------------------------------

def reference_times(cfg, names, tl, n, rng):
    """(u_sun, u_lin) of n references: independent random slot values (a date, a daylight hour of it, a trend time)."""
    u_lin = tl.t_to_unix(rng.random(n))
    u_sun = factor_probe.daylight_time(cfg, tl.t_to_unix(rng.random(n)) if 'year' in names else u_lin, rng)
    return u_sun, u_lin

def leakage_variants(cfg, u_sun, u_lin, names, tl, rng):
    """{input: (u_sun, u_lin)} with only that time input changed, daylight kept."""
    n = len(u_sun)
    tod = timeline.time_of_day(u_sun)
    def other_dates(u_candidates): # [n, K] unix whose dates are tried with the same time of day
        return factor_probe.pick_daylight(cfg, timeline.midnight(u_candidates) + tod[:, None])
    variants = dict(day=(factor_probe.daylight_time(cfg, u_sun, rng), u_lin))
    if 'year' in names:
        variants['year'] = (other_dates(tl.t_to_unix(rng.random([n, 16]))), u_lin)
        variants['lin'] = (u_sun, tl.t_to_unix(rng.random(n)))
    else: # the trend slot also carries the date
        new_sun = other_dates(tl.t_to_unix(rng.random([n, 16])))
        variants['lin'] = (new_sun, u_lin + (new_sun - u_sun))
    return variants

def changed_inputs(names):
    """The inputs that the leakage changes one at a time: z and the generator's slots."""
    return ['z'] + [n for n in ('day', 'year', 'lin') if n in names]

def result_keys(names):
    return ['err_hour', 'err_season_days', 'err_trend', 'leakage', 'z_weather', 'probe_err_hour', 'probe_err_season_days',
        'probe_err_trend'] + [f'move_{i}_{k}' for i in changed_inputs(names) for k in factor_probe.FACTORS]

def _summary(mean, names, info):
    """Results from the per-sample means: control errors, leakage over the entries whose truth stays, z_weather."""
    leaks = []
    for inp in changed_inputs(names):
        for k in factor_probe.FACTORS:
            allowed = (inp == 'z' and k in WEATHER) or mean.get(f'truth_{inp}_{k}', 0) > MOVES or \
                (k == 'snow' and mean.get(f'truth_{inp}_season', 0) > MOVES) # snow follows the season
            if not allowed:
                leaks.append(mean[f'move_{inp}_{k}'])
    days = timeline.DAYS_PER_YEAR
    results = dict(err_hour=mean['err_hour'], err_season_days=mean['err_season'] * days, err_trend=mean['err_trend'],
        leakage=float(np.mean(leaks)), z_weather=float(np.mean([mean[f'move_z_{k}'] for k in WEATHER])),
        probe_err_hour=info['val_error']['hour'], probe_err_season_days=info['val_error']['season'] * days,
        probe_err_trend=info['val_error']['trend'])
    results.update({key: mean[key] for key in result_keys(names) if key.startswith('move_')})
    return {k: results[k] for k in result_keys(names)}

def probe_for(G, cfg, probe_res, opts, probe_kwargs):
    """The probe for G's content size (rendered at most 2 * probe_res on the long side); rank 0 trains it first."""
    x1, y1, x2, y2 = metric_utils.content_rect(G)
    scale = min(1.0, 2 * probe_res / max(x2 - x1, y2 - y1))
    render_size = (max(round((x2 - x1) * scale), 16), max(round((y2 - y1) * scale), 16))
    with metric_utils.rank0_first(opts):
        return factor_probe.get_probe(cfg, render_size, probe_res, opts.device, **probe_kwargs)

@torch.no_grad()
def compute_disentanglement(opts, num_samples, probe_res=64, batch_size=32, probe_kwargs={}):
    G = metric_utils.copy_generator(opts)
    names, tl = slot_layout(G)
    cfg = scene_config(opts.dataset(), opts.dataset_kwargs.path)
    probe, info = probe_for(G, cfg, probe_res, opts, probe_kwargs)
    np_rng, torch_gen = opts.rngs(4)

    def read(z, u_sun, u_lin):
        c = torch.from_numpy(tl.unix_to_slots(u_sun, u_lin, names)).to(opts.device)
        return probe.read(metric_utils.crop_to_rect(G, G(z=z, c=c, **dict(opts.G_kwargs, noise_mode='const'))))

    per_sample = dict() # name -> [batch] tensors gathered over the ranks
    def add(name, values):
        values = torch.from_numpy(np.asarray(values, dtype=np.float64)).to(opts.device)
        per_sample.setdefault(name, []).append(metric_utils.gather_rows(values, opts))

    for _ in range(-(-num_samples // (batch_size * opts.num_gpus))):
        z = torch.randn([batch_size, G.z_dim], generator=torch_gen).to(opts.device)
        u_sun, u_lin = reference_times(cfg, names, tl, batch_size, np_rng)
        truth = factor_probe.factor_values(factor_probe.time_factors(cfg, u_sun, u_lin), cfg.lat)
        ref = read(z, u_sun, u_lin)
        for k in ('hour', 'season', 'trend'):
            add(f'err_{k}', factor_probe.factor_distance(k, ref[k], truth[k]))
        variants = {'z': (torch.randn(z.shape, generator=torch_gen).to(opts.device), u_sun, u_lin)}
        variants.update({k: (z,) + v for k, v in leakage_variants(cfg, u_sun, u_lin, names, tl, np_rng).items()})
        for inp, (z2, u_sun2, u_lin2) in variants.items():
            seen = read(z2, u_sun2, u_lin2)
            moved = factor_probe.factor_values(factor_probe.time_factors(cfg, u_sun2, u_lin2), cfg.lat)
            for k in factor_probe.FACTORS:
                add(f'move_{inp}_{k}', factor_probe.factor_distance(k, seen[k], ref[k]) / info['scale'][k])
                if k in truth:
                    add(f'truth_{inp}_{k}', factor_probe.factor_distance(k, moved[k], truth[k]) / info['scale'][k])

    if opts.rank != 0:
        return dict.fromkeys(result_keys(names), float('nan'))
    return _summary({k: float(torch.cat(v)[:num_samples].mean()) for k, v in per_sample.items()}, names, info)

#----------------------------------------------------------------------------
