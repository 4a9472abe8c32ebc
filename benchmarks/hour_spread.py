"""How far apart, and how far off, the hours lie that a generator draws at one time label. For `--times` references
drawn as disent_synth draws them (a date, a daylight hour of it, a trend time), with the same `--latents` latents at
each, disent_synth's probe reads the solar hour. Per reference: the bias (the circular mean of the read hours minus
the true one) and the spread (their circular standard deviation over the latents), in hours. A generator trained on
time labels jittered by a few hours (train.py's --dequant=gauss on a sparse sequence) may draw that jitter as a
spread over z. --renderer puts the scene's renderer in the network's place: the probe's own floor.

  python benchmarks/hour_spread.py --network=models/demo_128.pkl --data=demo/data/demo_128x128_730hz.zip [--renderer]
"""

import os
import sys

import click
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from metrics import disentanglement, factor_probe, metric_utils # pylint: disable=wrong-import-position
from viz import render # pylint: disable=wrong-import-position
from weather_by_date import load # pylint: disable=wrong-import-position

PARTS = [('morning', -12, -3), ('midday', -3, 3), ('afternoon', 3, 12)] # solar hours from noon

#----------------------------------------------------------------------------

def circular_stats(hours):
    """(circular mean, circular standard deviation) on the 24-hour circle, along the last axis."""
    angle = np.asarray(hours) * (np.pi / 12)
    cos, sin = np.cos(angle).mean(-1), np.sin(angle).mean(-1)
    length = np.clip(np.hypot(cos, sin), 1e-12, 1)
    return np.arctan2(sin, cos) * (12 / np.pi), np.sqrt(-2 * np.log(length)) * (12 / np.pi)

@torch.no_grad()
def hour_spread(opts, latents=32, times=48, seed=0, probe_res=64, probe_kwargs={}):
    """(bias, spread, true solar hour), each [times] in hours, for opts.G (metric_utils.MetricOptions on the synthetic
    dataset)."""
    G = opts.G
    names, tl = disentanglement.slot_layout(G)
    cfg = disentanglement.scene_config(opts.dataset(), opts.dataset_kwargs.path)
    probe, _ = disentanglement.probe_for(G, cfg, probe_res, opts, probe_kwargs)
    u_sun, u_lin = disentanglement.reference_times(cfg, names, tl, times, np.random.default_rng(seed))
    truth = factor_probe.factor_values(factor_probe.time_factors(cfg, u_sun, u_lin), cfg.lat)['hour']
    z = render.seed_latents(range(latents), G.z_dim, opts.device)
    read = []
    for sun, lin in zip(u_sun, u_lin):
        c = torch.from_numpy(tl.unix_to_slots(np.full(latents, sun), np.full(latents, lin), names)).to(opts.device)
        read.append(probe.read(metric_utils.crop_to_rect(G, G(z, c, noise_mode='const')))['hour'])
    mean, spread = circular_stats(np.stack(read))
    return np.mod(mean - truth + 12, 24) - 12, spread, truth

#----------------------------------------------------------------------------

@click.command(context_settings=dict(help_option_names=['-h', '--help'], max_content_width=120))
@click.option('--network', 'network_pkl', required=True, help='Generator of the synthetic sequence.')
@click.option('--data', required=True, type=click.Path(exists=True), help='Its dataset zip (the scene config).')
@click.option('--latents', type=click.IntRange(min=2), default=32, show_default=True, help='Latents per time label (seeds 0, 1, ...).')
@click.option('--times', type=click.IntRange(min=1), default=48, show_default=True, help='Time labels.')
@click.option('--renderer', is_flag=True, help="The scene's renderer in the network's place: the floor.")
@click.option('--device', default='cuda' if torch.cuda.is_available() else 'cpu', show_default=True)
def main(network_pkl, data, latents, times, renderer, device):
    """The bias and the spread over latents of the hour that the probe reads, in hours."""
    bias, spread, truth = hour_spread(load(network_pkl, data, device, renderer), latents, times)
    print(f'{times} time labels, {latents} latents each' + (', the renderer' if renderer else ''))
    print('| solar hour | labels | mean bias (h) | median spread (h) |\n|---|---|---|---|')
    for name, lo, hi in PARTS:
        part = (truth >= lo) & (truth < hi)
        if part.any():
            print(f'| {name} | {part.sum()} | {bias[part].mean():+.2f} | {np.median(spread[part]):.2f} |')
    print(f'| all | {times} | {bias.mean():+.2f} | {np.median(spread):.2f} |')
    print(f'\nMedian absolute bias: {np.median(np.abs(bias)):.2f} h')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
