"""Does a generator of the synthetic sequence tie the weather to the date? For a few fixed latents, the weather that
disent_synth's probe reads at one hour on every few days of the sequence, against the sequence's real weather at
those moments: memorised weather follows the real days; a weather look entangled with the date drifts slowly
instead. With --trend the trend slot stays at that t while the cycles follow the dates: whether the season's look
depends on the trend. --renderer puts the scene's renderer in the network's place: the floor of every column;
--memorize puts it there drawing the sequence's own weather at each date, as in the training frames: what the
probe reads from the data (with --monthly, the months' means that a generator should match); --blur blurs the
renderer's images (disent_floor.py's): what the data's weather reads as when drawn as blurrily as a young generator. One
line per factor (cloud, fog, and the snow and the trend of the time factors), then with --monthly the mean of each
over the latents and the dates of every month:

  python benchmarks/weather_by_date.py --network=models/demo_128.pkl --data=demo/data/demo_128x128_730hz.zip

  corr_real      correlation, per latent, of the probed factor over the dates with the real one (the range over the
                 latents)
  sd_dates       standard deviation over the dates at a fixed latent, in units of the probe's scale (the mean
                 difference between two random scenes, as disent_synth's move_* values)
  sd_latents     standard deviation over the latents at a fixed date, same units
  sd_common      standard deviation over the dates of the mean over the latents, same units: the part of the moves
                 that every latent shares, a change of the factor's distribution that a discriminator can see (with
                 few latents it includes sd_dates / sqrt(latents) of the rest)
  autocorr_Nd    correlation of the probed factor with itself N days later, per latent, averaged
"""

import os
import sys

import click
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dnnlib # pylint: disable=wrong-import-position
from metrics import disentanglement, metric_utils # pylint: disable=wrong-import-position
from preproc.synth import factors # pylint: disable=wrong-import-position
from torch_utils import safe_pickle # pylint: disable=wrong-import-position
from training import timeline # pylint: disable=wrong-import-position
from viz import render # pylint: disable=wrong-import-position
from disent_floor import DegradedScene # pylint: disable=wrong-import-position

FACTORS = ['cloud', 'fog', 'snow', 'trend']
LAGS = [1, 2, 4, 8] # in steps

#----------------------------------------------------------------------------

def autocorr(x, lag):
    return float(np.mean([np.corrcoef(x[:-lag, j], x[lag:, j])[0, 1] for j in range(x.shape[1])]))

@torch.no_grad()
def weather_by_date(opts, latents=8, step=3, hour=12.0, trend=None, probe_res=64, probe_kwargs={}, batch_dates=4):
    """({factor: {column: value}}, {'YYYY-MM': {factor: mean}}) for opts.G (metric_utils.MetricOptions on the
    synthetic dataset), with the dates and the probe of disent_synth; `trend`: the trend slot's t, held while the
    cycles follow the dates (None: the dates')."""
    G = opts.G
    names, tl = disentanglement.slot_layout(G)
    cfg = disentanglement.scene_config(opts.dataset(), opts.dataset_kwargs.path)
    probe, info = disentanglement.probe_for(G, cfg, probe_res, opts, probe_kwargs)
    days = np.arange(0, int(cfg.days), step)
    u_days = timeline.midnight(cfg.date_start) + days * 86400.0 + hour * 3600
    z = render.seed_latents(range(latents), G.z_dim, opts.device) # the latents of seeds 0, 1, ... as the viewers draw them
    seen = {k: [] for k in FACTORS}
    for i in range(0, len(days), batch_dates):
        u = np.repeat(u_days[i:i + batch_dates], latents)
        u_lin = u if trend is None else np.full_like(u, tl.t_to_unix(trend))
        c = torch.from_numpy(tl.unix_to_slots(u, u_lin, names)).to(opts.device)
        read = probe.read(metric_utils.crop_to_rect(G, G(z.repeat(len(u) // latents, 1), c, noise_mode='const')))
        for k in FACTORS:
            seen[k].append(read[k].reshape(-1, latents))
    real = factors.factors_at(u_days, cfg)
    rows, means = {}, {} # means: [dates] over the latents
    for k in FACTORS:
        x = np.concatenate(seen[k]) / info['scale'][k] # [dates, latents]
        means[k] = x.mean(1)
        with np.errstate(invalid='ignore', divide='ignore'): # a factor that stays put (no snow) has no correlation
            corr = [np.corrcoef(x[:, j], real[k])[0, 1] for j in range(latents)]
            rows[k] = dict(corr_real=(min(corr), max(corr)), sd_dates=x.std(0).mean(), sd_latents=x.std(1).mean(),
                sd_common=means[k].std(), **{f'autocorr_{lag * step}d': autocorr(x, lag) for lag in LAGS})
    months = np.array([timeline.unix_to_datetime(u).strftime('%Y-%m') for u in u_days])
    monthly = {m: {k: float(means[k][months == m].mean()) for k in FACTORS} for m in dict.fromkeys(months)}
    return rows, monthly

def load(network_pkl, data, device, renderer=False, memorize=False, blur=0.0):
    """MetricOptions of the network's generator (safe_pickle.generator_of: G_ema, or a packed raw G) on its dataset
    zip, or of the renderer in its place (memorize: drawing the sequence's own weather; blur: blurred by a Gaussian
    of that many pixels)."""
    G = safe_pickle.generator_of(safe_pickle.load_network_pkl(network_pkl, device=torch.device(device))).eval()
    dataset_kwargs = dnnlib.EasyDict(class_name='training.dataset.ImageFolderDataset', path=data)
    if renderer or memorize:
        G = DegradedScene.in_place_of(G, dataset_kwargs, mode='memorize' if memorize else 'ideal', blur=blur)
    return metric_utils.MetricOptions(G=G, dataset_kwargs=dataset_kwargs, device=device)

#----------------------------------------------------------------------------

@click.command(context_settings=dict(help_option_names=['-h', '--help'], max_content_width=120))
@click.option('--network', 'network_pkl', required=True, help='Generator of the synthetic sequence.')
@click.option('--data', required=True, type=click.Path(exists=True), help='Its dataset zip (the scene config).')
@click.option('--latents', type=click.IntRange(min=2), default=8, show_default=True, help='Fixed latents (seeds 0, 1, ...).')
@click.option('--step', type=click.IntRange(min=1), default=3, show_default=True, help='Days between the dates.')
@click.option('--hour', type=click.FloatRange(0, 24, max_open=True), default=12, show_default=True, help='UTC hour of every date.')
@click.option('--trend', type=click.FloatRange(0, 1), help='Hold the trend slot at this t (0 to 1); default: the dates\'.')
@click.option('--renderer', is_flag=True, help="The scene's renderer in the network's place (its size and letter-box): the floor.")
@click.option('--memorize', is_flag=True, help="The renderer drawing the sequence's own weather at each date (the data).")
@click.option('--blur', type=click.FloatRange(min=0), default=0, show_default=True, help="Gaussian blur of the renderer's images, in pixels.")
@click.option('--monthly', is_flag=True, help='Also the mean of each factor per month.')
@click.option('--device', default='cuda' if torch.cuda.is_available() else 'cpu', show_default=True)
def main(network_pkl, data, latents, step, hour, trend, renderer, memorize, blur, monthly, device):
    """The probed weather of fixed latents over the dates of the sequence against its real weather."""
    if blur > 0 and not (renderer or memorize):
        raise click.UsageError('--blur blurs the renderer: give --renderer or --memorize')
    opts = load(network_pkl, data, device, renderer, memorize, blur)
    rows, means = weather_by_date(opts, latents, step, hour, trend)
    columns = list(next(iter(rows.values())))
    print(f'Dates {step} days apart at {hour:g}:00 UTC, {latents} latents' +
        ('' if trend is None else f', trend slot at t = {trend:g}') +
        (", the renderer with the sequence's weather" if memorize else ', the renderer' if renderer else '') +
        (f', blurred by {blur:g} px' if blur > 0 else ''))
    print('| factor | ' + ' | '.join(columns) + ' |')
    for k, row in rows.items():
        cells = [f'{v[0]:+.2f} to {v[1]:+.2f}' if isinstance(v, tuple) else f'{v:.2f}' for v in row.values()]
        print(f'| {k} | ' + ' | '.join(cells) + ' |')
    if monthly:
        print('\n| month | ' + ' | '.join(FACTORS) + ' |')
        for month, row in means.items():
            print(f'| {month} | ' + ' | '.join(f'{v:.2f}' for v in row.values()) + ' |')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
