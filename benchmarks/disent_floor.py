"""disent_synth of the synthetic scene's renderer itself, wrapped as a generator of a network's size and letter-box
(metrics.disentanglement.SceneGenerator): the floor that each of a model's move_<input>_<factor> entries is read
against, since the probe confuses factors a little even on perfect renders. With --results (calc_metrics.py's JSON of
the model), one table of every entry, the model's beside the renderer's; entries in parentheses may move. --blur and
--noise degrade the renders: how much of a model's leakage its blur or noise alone could explain.

  python benchmarks/disent_floor.py --network=models/demo_128.pkl --data=demo/data/demo_128x128_730hz.zip \\
      --results=results.json
"""

import hashlib
import json
import os
import sys

import click
import scipy.ndimage
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dnnlib # pylint: disable=wrong-import-position
from metrics import disentanglement, factor_probe, metric_utils # pylint: disable=wrong-import-position
from torch_utils import safe_pickle # pylint: disable=wrong-import-position

INPUTS = ['z', 'day', 'year', 'lin']
MAY_MOVE = {'z_cloud', 'z_fog', 'z_snow', 'day_hour', 'year_season', 'year_snow', 'lin_trend'} # what leakage leaves out

#----------------------------------------------------------------------------

class DegradedScene(disentanglement.SceneGenerator):
    """The renderer, blurred (Gaussian, `blur` pixels) and with pixel noise (standard deviation `noise`, the same for
    the same latents): how much leakage blurry or noisy images alone would show."""

    def __init__(self, *args, blur=0.0, noise=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.blur, self.noise = blur, noise

    def forward(self, z, c, **kwargs):
        img = super().forward(z, c, **kwargs)
        if self.blur > 0:
            blurred = scipy.ndimage.gaussian_filter(img.cpu().numpy(), (0, 0, self.blur, self.blur), mode='nearest', truncate=3)
            img = torch.from_numpy(blurred).to(img.device)
        if self.noise > 0:
            gen = torch.Generator().manual_seed(int(hashlib.md5(z.detach().cpu().numpy().tobytes()).hexdigest()[:8], 16))
            img = img + self.noise * torch.randn(img.shape, generator=gen).to(img.device)
        return img

def renderer_results(G, dataset_kwargs, samples, mode, device, blur=0.0, noise=0.0):
    """disent_synth's results for the renderer in G's place (its resolution and content rectangle, the dataset's
    timeline and scene), optionally degraded."""
    scene = DegradedScene.in_place_of(G, dataset_kwargs, mode=mode, blur=blur, noise=noise)
    opts = metric_utils.MetricOptions(G=scene, dataset_kwargs=dataset_kwargs, device=device)
    return disentanglement.compute_disentanglement(opts, samples)

def entry_table(model, floor):
    """Markdown: one row per changed input, one column per factor, 'model / renderer' in each cell."""
    inputs = [i for i in INPUTS if f'move_{i}_hour' in floor]
    lines = ['| changed | ' + ' | '.join(factor_probe.FACTORS) + ' |', '|---' * (len(factor_probe.FACTORS) + 1) + '|']
    for inp in inputs:
        cells = []
        for k in factor_probe.FACTORS:
            cell = f'{model[f"move_{inp}_{k}"]:.2f} / {floor[f"move_{inp}_{k}"]:.2f}'
            cells.append(f'({cell})' if f'{inp}_{k}' in MAY_MOVE else cell)
        lines.append(f'| {inp} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)

#----------------------------------------------------------------------------

@click.command(context_settings=dict(help_option_names=['-h', '--help'], max_content_width=120))
@click.option('--network', 'network_pkl', required=True, help='The model whose size, letter-box and timeline to copy.')
@click.option('--data', required=True, type=click.Path(exists=True), help='Its dataset zip (the scene config).')
@click.option('--results', type=click.Path(exists=True, dir_okay=False), help="calc_metrics.py's JSON of the model (disent_synth).")
@click.option('--samples', type=click.IntRange(min=32), default=512, show_default=True)
@click.option('--mode', type=click.Choice(['ideal', 'ignore_c', 'ignore_z', 'memorize']), default='ideal', show_default=True)
@click.option('--blur', type=click.FloatRange(min=0), default=0, show_default=True, help='Gaussian blur of the renders, in pixels.')
@click.option('--noise', type=click.FloatRange(min=0), default=0, show_default=True, help='Pixel noise on the renders (images in [-1, 1]).')
@click.option('--device', default='cuda' if torch.cuda.is_available() else 'cpu', show_default=True)
def main(network_pkl, data, results, samples, mode, blur, noise, device):
    """The renderer's disent_synth at a model's size, and the model's leakage entries beside it."""
    G = safe_pickle.generator_of(safe_pickle.load_network_pkl(network_pkl, device=torch.device(device))).eval()
    dataset_kwargs = dnnlib.EasyDict(class_name='training.dataset.ImageFolderDataset', path=data)
    floor = renderer_results(G, dataset_kwargs, samples, mode, device, blur, noise)
    print(json.dumps(floor, indent=1))
    if results:
        with open(results, encoding='utf-8') as f:
            model = json.load(f)['disent_synth']['results']
        print(entry_table(model, floor))

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
