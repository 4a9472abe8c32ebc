"""Time the training-time metrics (fid50k_full and var_ratio_mc_5k by default) at 256^2 with a randomly initialised
generator of the default architecture, on real data from a synthetic zip that this script writes itself:

    python benchmarks/bench_metrics.py                                    # Inception found as calc_metrics finds it
    python benchmarks/bench_metrics.py --detector=torchvision-inception   # offline: random Inception-v3, same cost

Each metric runs twice: cold (real-data statistics computed) and warm (read from the cache), so the table shows the
cost of the first snapshot of a run and of every later one.
"""

import io
import json
import os
import sys
import tempfile
import time
import zipfile

if __package__ in (None, ''): # Run as a file: make the repository root importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import click
import numpy as np
import PIL.Image
import torch

from metrics import metric_main
from preproc.synth import presets
from training import networks_stylegan2
from training import timeline

#----------------------------------------------------------------------------

def write_dataset(path, num_images, res, seed=0):
    """A zip of smooth random JPEG frames with time labels over the 730 days of the synthetic 'demo' scene, whose
    config the meta carries (so that disent_synth runs too; its factors do not match these frames)."""
    cfg = presets.PRESETS['demo']
    rng = np.random.default_rng(seed)
    names = [f'{i // 1000:05d}/img{i:08d}.jpg' for i in range(num_images)]
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        for name in names:
            low = rng.uniform(0, 255, [8, 8, 3]).astype(np.uint8)
            buf = io.BytesIO()
            PIL.Image.fromarray(low).resize((res, res), PIL.Image.BICUBIC).save(buf, format='JPEG', quality=90)
            z.writestr(name, buf.getvalue())
        labels = [[name, [i / max(num_images - 1, 1)]] for i, name in enumerate(names)]
        meta = dict(num_days=int(cfg.days), date_start=cfg.date_start, synth=cfg.as_dict())
        z.writestr('dataset.json', json.dumps(dict(labels=labels, meta=meta)))
    return dict(class_name='training.dataset.ImageFolderDataset', path=path)

def default_generator(res, num_days, date_start, device):
    """The default TLGAN architecture (train.py defaults: cbase 32768, cmax 512, 2-layer mapping), random weights."""
    freqs = timeline.cycle_frequencies(num_days)
    cond_args = dict(type='fourier', f_manual=freqs, include_lin=True,
        **timeline.Timeline(date_start=date_start, num_days=num_days).as_cond_args())
    G = networks_stylegan2.Generator(z_dim=512, c_dim=1, w_dim=512, img_resolution=res, img_channels=3, cond_args=cond_args,
        mapping_kwargs=dict(num_layers=2), channel_base=32768, channel_max=512, num_fp16_res=4, conv_clamp=256)
    return G.eval().requires_grad_(False).to(device)

def timed(metric, **kwargs):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = metric_main.calc_metric(metric, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - start

#----------------------------------------------------------------------------

@click.command()
@click.option('--metrics', default='fid50k_full,var_ratio_mc_5k', show_default=True, help='Comma-separated metric names.')
@click.option('--detector', help="Inception spec: 'torchvision-inception', 'standin' or a file [default: as calc_metrics].")
@click.option('--res', default=256, show_default=True, type=click.IntRange(min=4), help='Image resolution.')
@click.option('--num-images', default=2000, show_default=True, type=click.IntRange(min=1), help='Real images in the zip.')
@click.option('--out', type=click.Path(dir_okay=False), help='Also write the timings to this JSON file.')
def main(metrics, detector, res, num_images, out):
    """Time metrics at RES^2 with a random default-architecture generator."""
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    torch.backends.cudnn.benchmark = True
    with tempfile.TemporaryDirectory() as tmp:
        os.environ['DNNLIB_CACHE_DIR'] = os.path.join(tmp, 'cache') # cold cache: the first run computes the real statistics
        start = time.perf_counter()
        dataset_kwargs = write_dataset(os.path.join(tmp, f'bench_{res}.zip'), num_images, res)
        print(f'Wrote {num_images} images at {res}x{res} in {time.perf_counter() - start:.1f} s; device {device}')
        G = default_generator(res, int(presets.PRESETS['demo'].days), presets.PRESETS['demo'].date_start, device)
        kwargs = dict(G=G, dataset_kwargs=dataset_kwargs, device=device, inception=detector, progress=True)
        rows = []
        for metric in [m.strip() for m in metrics.split(',') if m.strip()]:
            cold, cold_s = timed(metric, **kwargs)
            _warm, warm_s = timed(metric, **kwargs)
            rows.append(dict(metric=metric, cold_s=cold_s, warm_s=warm_s, results=dict(cold.results)))
            print(f'{metric:<20} cold {cold_s:8.1f} s   warm {warm_s:8.1f} s   {json.dumps(dict(cold.results))}', flush=True)
    info = dict(device=torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu', torch=torch.__version__,
        res=res, num_images=num_images, detector=detector, rows=rows)
    if out is not None:
        with open(out, 'w', encoding='utf-8') as f:
            json.dump(info, f, indent=2)

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main()
