"""Does a generator of the synthetic sequence tie the weather to the date? For a few fixed latents, the weather that
disent_synth's probe reads at one hour on every few days of the sequence, against the real weather of those days
(factors.json of preproc/synth_sequence.py): memorised weather follows the real days; a weather look entangled with
the season drifts slowly instead. One line per factor (cloud, fog):

  python benchmarks/weather_by_date.py --network=models/demo_128.pkl --factors=demo/sequence/factors.json

  corr_real      correlation, per latent, of the probed factor over the dates with the real daytime mean of those days
                 (the range over the latents)
  sd_dates       standard deviation over the dates at a fixed latent, in units of the probe's scale (the mean
                 difference between two random scenes, as disent_synth's move_* values)
  sd_latents     standard deviation over the latents at a fixed date, same units
  autocorr_LAG   correlation of the probed factor with itself LAG days later, per latent, averaged
"""

import json
import os
import sys

import click
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from metrics import disentanglement, factor_probe, metric_utils # pylint: disable=wrong-import-position
from torch_utils import safe_pickle # pylint: disable=wrong-import-position

FACTORS = ['cloud', 'fog']

#----------------------------------------------------------------------------

def real_daily(frames, start, num_days, factor):
    """The daytime (08-16 UTC) mean of a factor per day of the sequence; NaN on days without such a frame."""
    day = ((np.array([f['unix'] for f in frames]) - start) // 86400).astype(int)
    hour = np.array([f['hour_utc'] for f in frames])
    values = np.array([f[factor] for f in frames])
    out = np.full(num_days, np.nan)
    for d in range(num_days):
        pick = (day == d) & (hour > 8) & (hour < 16)
        if pick.any():
            out[d] = values[pick].mean()
    return out

def probed_by_date(G, probe, names, tl, u_days, z, batch_dates=4):
    """{factor: [dates, latents]} read by the probe from G at the given unix times (scene and trend alike)."""
    out = {k: [] for k in FACTORS}
    for i in range(0, len(u_days), batch_dates):
        u = np.repeat(u_days[i:i + batch_dates], len(z))
        c = torch.from_numpy(tl.unix_to_slots(u, u, names)).to(z.device)
        zz = z.repeat(len(u) // len(z), 1)
        with torch.no_grad():
            seen = probe.read(metric_utils.crop_to_rect(G, G(zz, c, noise_mode='const')))
        for k in FACTORS:
            out[k].append(seen[k].reshape(-1, len(z)))
    return {k: np.concatenate(v) for k, v in out.items()}

def autocorr(x, lag):
    return float(np.mean([np.corrcoef(x[:-lag, j], x[lag:, j])[0, 1] for j in range(x.shape[1])]))

#----------------------------------------------------------------------------

@click.command(context_settings=dict(help_option_names=['-h', '--help'], max_content_width=120))
@click.option('--network', 'network_pkl', required=True, help='Generator of the synthetic sequence.')
@click.option('--factors', 'factors_json', required=True, type=click.Path(exists=True, dir_okay=False), help="The sequence's factors.json.")
@click.option('--latents', type=click.IntRange(min=2), default=8, show_default=True, help='Fixed latents (seeds 0, 1, ...).')
@click.option('--step', type=click.IntRange(min=1), default=3, show_default=True, help='Days between the dates.')
@click.option('--hour', type=click.FloatRange(0, 24, max_open=True), default=12, show_default=True, help='UTC hour of every date.')
@click.option('--device', default='cuda' if torch.cuda.is_available() else 'cpu', show_default=True)
def main(network_pkl, factors_json, latents, step, hour, device):
    """The probed weather of fixed latents over the dates of the sequence against its real weather."""
    device = torch.device(device)
    G = safe_pickle.load_network_pkl(network_pkl, device=device).G_ema.eval()
    names, tl = disentanglement.slot_layout(G)
    with open(factors_json, encoding='utf-8') as f:
        seq = json.load(f)
    cfg = disentanglement._config_from_dict(seq['config']) # pylint: disable=protected-access
    x1, y1, x2, y2 = metric_utils.content_rect(G)
    scale = min(1.0, 128 / max(x2 - x1, y2 - y1)) # as disent_synth's default probe (64 px, rendered at up to 128)
    probe, info = factor_probe.get_probe(cfg, (max(round((x2 - x1) * scale), 16), max(round((y2 - y1) * scale), 16)), 64, device)
    start, num_days = seq['frames'][0]['unix'], int(cfg.days)
    start -= start % 86400
    days = np.arange(0, num_days, step)
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(G.z_dim) for s in range(latents)]).astype(np.float32)).to(device)
    seen = probed_by_date(G, probe, names, tl, start + days * 86400 + hour * 3600, z)
    lags = [1, 2, 4, 8]
    print(f'{len(days)} dates {step} days apart at {hour:g}:00 UTC, {latents} latents')
    print('| factor | corr_real | sd_dates | sd_latents | ' + ' | '.join(f'autocorr_{lag * step}d' for lag in lags) + ' |')
    for k in FACTORS:
        real = real_daily(seq['frames'], start, num_days, k)[days]
        ok = np.isfinite(real)
        corr = [np.corrcoef(seen[k][ok, j], real[ok])[0, 1] for j in range(latents)]
        cells = [f'{min(corr):+.2f} to {max(corr):+.2f}', f'{seen[k].std(0).mean() / info["scale"][k]:.2f}',
            f'{seen[k].std(1).mean() / info["scale"][k]:.2f}'] + [f'{autocorr(seen[k], lag):.2f}' for lag in lags]
        print(f'| {k} | ' + ' | '.join(cells) + ' |')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
