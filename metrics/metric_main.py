"""Registry of the metrics by the original's names, calc_metric() to run one and report_metric() to log its result
as one JSON line in <run_dir>/metric-<name>.jsonl."""

import functools
import json
import os
import time

import dnnlib
from dnnlib.cli import UserError
from metrics import disentanglement
from metrics import feature_nets
from metrics import frechet_inception_distance
from metrics import inception_score
from metrics import kernel_inception_distance
from metrics import metric_utils
from metrics import perceptual_path_length
from metrics import precision_recall
from metrics import variance_ratios

#----------------------------------------------------------------------------

_metric_dict = dict() # name -> fn(opts) -> dict of results
_needs = dict()       # name -> what the metric needs besides G: 'inception', 'vgg16' (feature networks), 'synth'

def register_metric(*needs, name=None):
    """Decorator registering fn(opts) under `name` (default: its own name); `needs` as in _needs, checked by
    check_requirements()."""
    def register(fn):
        _metric_dict[name or fn.__name__] = fn
        _needs[name or fn.__name__] = needs
        return fn
    return register

def is_valid_metric(metric):
    return metric in _metric_dict

def list_valid_metrics():
    return list(_metric_dict.keys())

def check_requirements(metrics, dataset_kwargs, inception=None, vgg16=None, hint=''):
    """Before any work: UserError if a feature network that `metrics` need cannot be found (it is downloaded into the
    cache if need be), or if they need a synthetic sequence and the dataset is none. `hint`: a way out to add."""
    specs = dict(inception=inception, vgg16=vgg16)
    for need in dict.fromkeys(need for metric in metrics for need in _needs[metric]):
        try:
            if need == 'synth':
                dataset = dnnlib.util.construct_class_by_name(**dataset_kwargs)
                disentanglement.scene_config(dataset, dataset_kwargs['path'])
            else:
                feature_nets.locate(need, specs[need])
        except (ValueError, feature_nets.DetectorUnavailableError) as err:
            users = ','.join(m for m in metrics if need in _needs[m])
            raise UserError(f'--metrics={users}: {err}' + (f'; or {hint}' if hint else '')) from err

def calc_metric(metric, **kwargs):
    """Run `metric` on every rank; kwargs as metric_utils.MetricOptions (G, dataset_kwargs, num_gpus, rank, device,
    cache, progress, inception, vgg16, seed, G_kwargs). Every rank gets rank 0's results."""
    if not is_valid_metric(metric):
        raise ValueError(f'Unknown metric "{metric}"; valid metrics: {", ".join(list_valid_metrics())}')
    opts = metric_utils.MetricOptions(**kwargs)
    opts.dataset_kwargs.update(max_size=None, xflip=False) # metrics see the whole dataset, unmirrored
    start = time.time()
    results = _metric_dict[metric](opts)
    total_time = time.time() - start
    results = {key: metric_utils.broadcast_value(value, opts) for key, value in results.items()}
    return dnnlib.EasyDict(results=dnnlib.EasyDict(results), metric=metric, total_time=total_time,
        total_time_str=dnnlib.util.format_time(total_time), num_gpus=opts.num_gpus)

def report_metric(result_dict, run_dir=None, snapshot_pkl=None):
    """Print the result as a JSON line and append it to <run_dir>/metric-<name>.jsonl when run_dir is given."""
    metric = result_dict['metric']
    if not is_valid_metric(metric):
        raise ValueError(f'Unknown metric "{metric}"')
    if run_dir is not None and snapshot_pkl is not None:
        snapshot_pkl = os.path.relpath(snapshot_pkl, run_dir)
    line = json.dumps(dict(result_dict, snapshot_pkl=snapshot_pkl, timestamp=time.time()))
    print(line)
    if run_dir is not None and os.path.isdir(run_dir):
        with dnnlib.util.open_jsonl_for_append(os.path.join(run_dir, f'metric-{metric}.jsonl')) as f:
            f.write((line + '\n').encode('utf-8'))

#----------------------------------------------------------------------------
# Image quality against the whole dataset.

@register_metric('inception')
def fid50k_full(opts):
    return dict(fid50k_full=frechet_inception_distance.compute_fid(opts, max_real=None, num_gen=50000))

@register_metric('inception')
def fid10k_full(opts):
    return dict(fid10k_full=frechet_inception_distance.compute_fid(opts, max_real=None, num_gen=10000))

@register_metric('inception')
def fid1k_debug(opts):
    return dict(fid1k_debug=frechet_inception_distance.compute_fid(opts, max_real=1000, num_gen=1000))

@register_metric('inception')
def kid50k_full(opts):
    kid = kernel_inception_distance.compute_kid(opts, max_real=1000000, num_gen=50000, num_subsets=100, max_subset_size=1000)
    return dict(kid50k_full=kid)

@register_metric('inception')
def kid1k_debug(opts):
    kid = kernel_inception_distance.compute_kid(opts, max_real=1000, num_gen=1000, num_subsets=100, max_subset_size=1000)
    return dict(kid1k_debug=kid)

@register_metric('vgg16')
def pr50k3_full(opts):
    precision, recall = precision_recall.compute_pr(opts, max_real=200000, num_gen=50000, nhood_size=3,
        row_batch_size=10000, col_batch_size=10000)
    return dict(pr50k3_full_precision=precision, pr50k3_full_recall=recall)

@register_metric('inception')
def is50k(opts):
    mean, std = inception_score.compute_is(opts, num_gen=50000, num_splits=10)
    return dict(is50k_mean=mean, is50k_std=std)

@register_metric('vgg16')
def ppl2_wend(opts):
    return dict(ppl2_wend=perceptual_path_length.compute_ppl(opts, num_samples=50000, epsilon=1e-4, batch_size=8))

#----------------------------------------------------------------------------
# Disentanglement: variance ratios (any data) and ground-truth factors (synthetic sequences).

VAR_RATIO_SAMPLES = dict(var_ratio_mc_20k=20000, var_ratio_mc_10k=10000, var_ratio_mc_5k=5000, var_ratio_mc_1k_debug=1000)
for _name, _num in VAR_RATIO_SAMPLES.items():
    register_metric(name=_name)(functools.partial(variance_ratios.compute_variance_ratios, num_samples=_num))

@register_metric('synth')
def disent_synth(opts):
    return disentanglement.compute_disentanglement(opts, num_samples=2000)

@register_metric('synth')
def disent_synth_debug(opts):
    return disentanglement.compute_disentanglement(opts, num_samples=256)

#----------------------------------------------------------------------------
