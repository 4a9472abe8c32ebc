"""Train a time-conditioned StyleGAN2 (TLGAN) on a time-lapse dataset: the click CLI, which turns the options into
the training loop's config (with the original's defaults and run-dir names) and launches one process per device."""

import copy
import inspect
import json
import os
import re
import signal
import sys

import click
import numpy as np
import psutil
import torch

import dnnlib
from dnnlib import cli
from torch_utils import distributed as dist
from training import augment
from training import checkpoint
from training import step_graphs
from training import timeline
from training.dequantizer import MODES

COND_SUFFIX = dict(fourier='', concat='-concat', none='-uncond', f_concat='-fcat')
TREND_LR = 100.0 # default --trend-lr: the trend feature is t itself (the original's 1 gives 0.01 t; docs/TRAINING.md)
D_COND = dict(d_map_depth='num_layers', d_map_lr='lr_multiplier', d_cmap='cmap_dim') # option -> D's init argument

def d_cond_holder(d, key):
    """Where D's conditioning argument `key` lives in D_kwargs (or in the D module): the mapping's, but cmap_dim."""
    if key == 'cmap_dim':
        return d
    return d.get('mapping_kwargs', {}) if isinstance(d, dict) else getattr(d, 'mapping', None)

#----------------------------------------------------------------------------
# --noise: 'auto', 'none', one span (global noise) or a comma list (one span per frequency slot).

def parse_noise(value, num_days, num_f):
    """(global span in days, per-slot spans in days, run-dir label) of a --noise value; ValueError if invalid."""
    value = str(value).strip()
    if value == 'none':
        return 0.0, [], 'none'
    if value == 'auto':
        spans = timeline.auto_noise_spans(num_days)[:num_f]
        label = [f'{s / timeline.DAYS_PER_YEAR:.2f}years' if k == 0 and len(spans) == 3 else (f'{s:g}days' if s else '0')
                 for k, s in enumerate(spans)]
        return 0.0, spans, '_'.join(label)
    items = [item.strip() for item in value.split(',')]
    spans = [timeline.parse_span_days(item) for item in items]
    label = '_'.join(re.sub(r'\s+', '', item) for item in items)
    if len(items) == 1:
        return spans[0], [], label
    if len(spans) != num_f:
        raise ValueError(f'--noise lists one span per frequency slot: {num_f} expected (trend'
                         f'{", year" if num_f == 3 else ""}{", day" if num_f >= 2 else ""}), got {len(spans)}')
    if any(b > a for a, b in zip(spans, spans[1:])):
        raise ValueError(f'--noise spans must not increase from the trend to the day slot, got {value!r}')
    return 0.0, spans, label

#----------------------------------------------------------------------------
# Config assembly.

def dataset_config(opts):
    """(training_set_kwargs, opened dataset) for --data, with clear errors."""
    if not os.path.exists(opts.data):
        raise click.UsageError(f'--data: "{opts.data}" does not exist')
    kwargs = dnnlib.EasyDict(class_name='training.dataset.ImageFolderDataset', path=opts.data,
        use_labels=(opts.cond != 'none'), max_size=None, xflip=opts.mirror, random_seed=opts.seed)
    try:
        dataset = dnnlib.util.construct_class_by_name(**kwargs)
    except (IOError, ValueError) as err:
        raise click.UsageError(f'--data: {err}')
    res = dataset.resolution
    if res < 32 or res & (res - 1):
        raise click.UsageError(f'--data: image resolution must be a power of two >= 32, got {res}x{res}')
    if opts.cond != 'none' and not dataset.has_labels:
        raise click.UsageError(f'--data: "{opts.data}" has no time labels (dataset.json); train with --cond=none')
    kwargs.resolution = res
    return kwargs, dataset

def cond_config(opts, dataset):
    """cond_args (original field names) from the dataset meta and --cond, --days, --noise, --cond_lr, --trend_lr (and
    the checks of --cond-decay, --time-head and --time-smooth)."""
    meta = dataset.meta
    num_days = opts.days if opts.days is not None else meta.get('num_days')
    if opts.cond != 'none' and num_days is None:
        raise click.UsageError('--days: the dataset meta has no num_days; give the span of the sequence in days')
    num_days = int(num_days or 1)
    num_frames = len(dataset.labels) # real frames: --mirror does not change the time step
    f_manual = timeline.cycle_frequencies(num_days) if opts.cond in ('fourier', 'f_concat') else []
    num_f = {'none': 0, 'concat': 1}.get(opts.cond, len(f_manual) + 1)
    per_slot = opts.cond in ('fourier', 'f_concat')
    if opts.time_head and not per_slot:
        raise click.BadParameter(f'reads Fourier time features, which --cond={opts.cond} does not give', param_hint='--time-head')
    if opts.time_twin and not opts.time_head:
        raise click.BadParameter('is the time head\'s twin; give --time-head=W (> 0) too', param_hint='--time-twin')
    if opts.time_smooth and opts.cond == 'none':
        raise click.BadParameter('moves the times of G\'s images, which --cond=none has not', param_hint='--time-smooth')
    if opts.time_smooth_centred and not opts.time_smooth:
        raise click.BadParameter('centres the time-smoothness penalty; give --time-smooth=W (> 0) too', param_hint='--time-smooth-centred')
    if opts.cond_decay and opts.cond != 'fourier':
        raise click.BadParameter(f'decays the time weights of the styles, which only --cond=fourier has (not {opts.cond})', param_hint='--cond-decay')
    cycle_res = opts.cycle_res or 0
    if cycle_res and opts.cond != 'fourier':
        raise click.BadParameter(f'limits where the time features scale the styles, which only --cond=fourier does (not {opts.cond})', param_hint='--cycle-res')
    if cycle_res and not (cycle_res & (cycle_res - 1) == 0 and 4 <= cycle_res <= dataset.resolution):
        raise click.BadParameter(f'must be 0 or a power of two from 4 to the resolution ({dataset.resolution}), not {cycle_res}', param_hint='--cycle-res')
    if not per_slot and ',' in opts.noise:
        raise click.BadParameter(f'per-frequency time noise needs --cond=fourier or f_concat, not {opts.cond}', param_hint='--noise')
    try: # without frequency slots, 'auto' means no noise
        noise_days, noise_f_days, noise_label = parse_noise(opts.noise if per_slot or opts.noise != 'auto' else 'none', num_days, num_f)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint='--noise')
    noise_frames = [timeline.days_to_frames(days, num_days, num_frames) for days in [noise_days] + noise_f_days]
    tl = timeline.Timeline.from_meta(dict(meta, num_days=num_days))
    cond_args = dnnlib.EasyDict(type=opts.cond, dims={'none': 0, 'concat': 1}.get(opts.cond, 2 * num_f),
        f_manual=f_manual, include_lin=True, lin_lr=0.01 * (opts.trend_lr or TREND_LR), lr=opts.cond_lr,
        noise=noise_frames[0], noise_f=noise_frames[1:], noise_f_int=[],
        d_time_noise=opts.d_time_noise, dequant=opts.dequant or 'gauss', t_delta=(1 / num_frames if opts.cond != 'none' else 0.0),
        num_frames=num_frames, cycle_min_res=cycle_res, **tl.as_cond_args())
    return cond_args, noise_label

def default_batch_gpu(res, per_gpu):
    """Micro-batch per GPU without --batch-gpu: 8192/res where every visible GPU has at least 22 GiB (on an H100,
    256^2 at 32 per GPU took 13.6 GiB and 1024^2 at 8 took 15.5 GiB; one micro-batch runs about 1.4x faster than two
    halves), else the original's 4096/res (at most about 7.5 GiB)."""
    cap = 4096 // res
    if torch.cuda.is_available():
        smallest = min(torch.cuda.get_device_properties(i).total_memory for i in range(torch.cuda.device_count()))
        cap = 8192 // res if smallest >= 22 * 2**30 else cap
    return max(min(cap, per_gpu), 1)

def build_config(opts, num_gpus):
    """(config for training_loop, run-dir description) from the CLI options; click.UsageError on bad values."""
    c = dnnlib.EasyDict()
    c.training_set_kwargs, dataset = dataset_config(opts)
    res = dataset.resolution
    cond_args, noise_label = cond_config(opts, dataset)

    # Batch.
    c.batch_size = opts.batch
    c.batch_gpu = opts.batch_gpu or default_batch_gpu(res, opts.batch // num_gpus)
    if opts.batch % (num_gpus * c.batch_gpu) != 0:
        raise click.UsageError(f'--batch={opts.batch} must be a multiple of --gpus ({num_gpus}) x --batch-gpu ({c.batch_gpu})')
    mbstd_group = min(c.batch_gpu, 4)
    if c.batch_gpu % mbstd_group != 0:
        raise click.UsageError(f'--batch-gpu={c.batch_gpu} must be at most 4 or a multiple of 4 (the minibatch-stddev group size)')

    # Networks.
    pad_h, pad_v = dataset.pad
    if not (0 <= 2 * pad_h < res and 0 <= 2 * pad_v < res):
        raise click.UsageError(f'--data: the dataset pads ({pad_h}, {pad_v}) leave no image at {res}x{res}')
    num_fp16_res = 0 if (opts.fp32 or opts.bf16) else (4 if opts.fp16_res is None else opts.fp16_res) # bf16: autocast
    c.G_kwargs = dnnlib.EasyDict(class_name='training.networks_stylegan2.Generator', z_dim=512, w_dim=512,
        cond_args=cond_args, mapping_kwargs=dnnlib.EasyDict(num_layers=opts.map_depth),
        channel_base=opts.cbase, channel_max=opts.cmax, num_fp16_res=num_fp16_res,
        conv_clamp=(None if opts.fp32 else 256), fp16_channels_last=opts.channels_last,
        out_rect=(pad_h, pad_v, res - pad_h, res - pad_v))
    c.D_kwargs = dnnlib.EasyDict(class_name='training.networks_stylegan2.Discriminator', cond_args=cond_args,
        channel_base=opts.cbase, channel_max=opts.cmax, num_fp16_res=num_fp16_res,
        conv_clamp=(None if opts.fp32 else 256),
        block_kwargs=dnnlib.EasyDict(freeze_layers=opts.freezed, fp16_channels_last=opts.channels_last),
        mapping_kwargs=dnnlib.EasyDict(), epilogue_kwargs=dnnlib.EasyDict(mbstd_group_size=mbstd_group))
    for opt, key in D_COND.items(): # else the class defaults (8 layers, lr 0.01, the 4x4 width), as the original
        if opts[opt] is not None:
            d_cond_holder(c.D_kwargs, key)[key] = opts[opt]
    c.G_opt_kwargs = dnnlib.EasyDict(class_name='torch.optim.Adam', lr=opts.glr, betas=[0, 0.99], eps=1e-8)
    c.cond_decay = opts.cond_decay
    c.D_opt_kwargs = dnnlib.EasyDict(class_name='torch.optim.Adam', lr=opts.dlr, betas=[0, 0.99], eps=1e-8)
    c.loss_kwargs = dnnlib.EasyDict(class_name='training.loss.StyleGAN2Loss',
        r1_gamma=(opts.gamma if opts.gamma is not None else (res / 256) ** 2), style_mixing_prob=0.9, pl_weight=2,
        pl_no_weight_grad=True, bf16=opts.bf16, compile=opts.compile)
    if opts.time_head: # off: D and the loss exactly as the original's
        c.D_kwargs.time_head = True
        c.loss_kwargs.time_weight = opts.time_head
        if opts.time_twin:
            c.D_kwargs.time_twin = c.loss_kwargs.time_twin = True
    if opts.time_smooth: # off: the original's regularisation phase
        c.loss_kwargs.time_smooth = opts.time_smooth
        if opts.time_smooth_centred:
            if c.batch_gpu < 4: # the penalty's half of the micro-batch needs two latents to centre
                raise click.BadParameter(f'needs a micro-batch of 4 or more, not {c.batch_gpu}', param_hint='--time-smooth-centred')
            c.loss_kwargs.time_smooth_centred = True
    c.G_reg_interval = 4
    c.D_reg_interval = 16
    c.ema_kimg = c.batch_size * 10 / 32
    c.ema_rampup = 0.05

    # Augmentation.
    c.augment_kwargs = None
    c.augment_p = 0
    c.ada_target = None
    c.ada_kimg = opts.ada_kimg or 500
    if opts.aug != 'noaug':
        c.augment_kwargs = dnnlib.EasyDict(class_name='training.augment.AugmentPipe', **augment.PIPES[opts.augpipe or 'bgc'])
        if opts.aug == 'ada':
            c.ada_target = opts.target
        else:
            c.augment_p = opts.p

    # Training length, outputs, performance.
    c.data_loader_kwargs = dnnlib.EasyDict(pin_memory=True, prefetch_factor=2, num_workers=opts.workers)
    c.metrics = parse_metrics(opts.metrics, c.training_set_kwargs)
    c.random_seed = opts.seed
    c.total_kimg = opts.kimg
    c.kimg_per_tick = opts.tick
    c.image_snapshot_ticks = c.network_snapshot_ticks = opts.snap
    c.keep_states = opts.keep_states
    c.cudnn_benchmark = not opts.nobench and not opts.deterministic
    c.deterministic = opts.deterministic
    c.allow_tf32 = opts.tf32
    # CUDA graphs replay each phase with one launch; their loss must never wait for the GPU (training.step_graphs).
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    c.cuda_graphs = c.loss_kwargs.sync_free = bool(opts.graphs and step_graphs.usable(device, num_gpus, opts.compile))

    # Run-dir description, as the original: sg2-a<gpus>-<name>_<res>[cond][-fman_lin_<f>...][-n_<noise>][-<desc>],
    # with -cyc<res> before -<desc> for --cycle-res.
    name = os.path.splitext(os.path.basename(os.path.normpath(opts.data)))[0].split('_')[0]
    desc = f'sg2-a{num_gpus}-{name}_{res}' + COND_SUFFIX[opts.cond]
    if opts.cond in ('fourier', 'f_concat'):
        desc += '-fman_lin' + ''.join(f'_{round(f)}' for f in cond_args.f_manual)
    if opts.cond != 'none':
        desc += f'-n_{noise_label}'
    if cond_args.cycle_min_res:
        desc += f'-cyc{cond_args.cycle_min_res}'
    if opts.time_head:
        desc += f'-th{opts.time_head:g}' + ('twin' if opts.time_twin else '')
    if opts.time_smooth:
        desc += f'-ts{opts.time_smooth:g}' + ('c' if opts.time_smooth_centred else '')
    if opts.desc is not None:
        desc += f'-{opts.desc}'
    if not re.fullmatch(r'[\w.,+=@-]+', desc):
        raise click.UsageError(f'The run name "{desc}" has characters unfit for a folder name; change --desc or --data')
    return c, desc

def parse_metrics(value, training_set_kwargs):
    """--metrics: comma list or 'none'; names are checked against the metric registry (imported only if needed), and
    what the metrics need (feature networks, a synthetic dataset) now, not at the first snapshot hours later."""
    names = [] if value.strip().lower() == 'none' else [m.strip() for m in value.split(',') if m.strip()]
    if names:
        try:
            from metrics import metric_main
        except ImportError as err:
            raise click.BadParameter(f'the metrics package is unavailable ({err}); use --metrics=none', param_hint='--metrics')
        bad = [m for m in names if not metric_main.is_valid_metric(m)]
        if bad:
            raise click.BadParameter(f'unknown metric(s) {", ".join(bad)}', param_hint='--metrics')
        metric_main.check_requirements(names, training_set_kwargs, hint='train with --metrics=none and run '
            'calc_metrics.py on the snapshots later')
    return names

def apply_resume(c, opts, desc):
    """The run dir, and the resume fields of c, for --resume (what each value means: checkpoint.resolve_resume)."""
    if opts.resume is None:
        return checkpoint.next_run_dir(opts.outdir, desc)
    try:
        target = checkpoint.resolve_resume(opts.resume, opts.outdir, desc)
    except FileNotFoundError as err:
        raise click.UsageError(str(err)) # the message names --resume
    if target['kind'] == 'state':
        saved = checkpoint.load_state(target['path'], mmap=True) # cheap: the tensors stay on disk
        c.resume_state = target['path']
        saved_ca = saved.get('options', {}).get('G_kwargs', {}).get('cond_args', {})
        if opts.trend_lr is None: # the default changed (1 -> 100): a run keeps the trend scale it was trained with
            lin_lr = saved_ca.get('lin_lr')
            c.G_kwargs.cond_args.lin_lr = c.D_kwargs.cond_args.lin_lr = lin_lr or c.G_kwargs.cond_args.lin_lr
        if opts.cycle_res is None: # and the layers its cycles reach
            c.G_kwargs.cond_args.cycle_min_res = c.D_kwargs.cond_args.cycle_min_res = saved_ca.get('cycle_min_res', 0)
        if opts.dequant is None: # and the jitter of its time labels
            c.G_kwargs.cond_args.dequant = c.D_kwargs.cond_args.dequant = saved_ca.get('dequant', 'gauss')
        saved_aug = saved.get('options', {}).get('augment_kwargs')
        if opts.augpipe is None and c.augment_kwargs is not None and saved_aug: # and its augmentations
            c.augment_kwargs = dnnlib.EasyDict(saved_aug)
        # And D's conditioning: its mapping's parameters are stored divided by its lr, so they need the same one.
        saved_d = saved.get('options', {}).get('D_kwargs', {})
        for opt, key in D_COND.items():
            if opts[opt] is None and d_cond_holder(saved_d, key).get(key) is not None:
                d_cond_holder(c.D_kwargs, key)[key] = d_cond_holder(saved_d, key)[key]
        saved_loss = saved.get('options', {}).get('loss_kwargs', {})
        if opts.time_head is None and saved_loss.get('time_weight'): # and D's time head (and twin), which its state has
            c.D_kwargs.time_head = True
            c.loss_kwargs.time_weight = saved_loss['time_weight']
            if saved_loss.get('time_twin'):
                c.D_kwargs.time_twin = c.loss_kwargs.time_twin = True
        if opts.time_smooth is None and saved_loss.get('time_smooth'): # and its time-smoothness penalty
            c.loss_kwargs.time_smooth = saved_loss['time_smooth']
            if saved_loss.get('time_smooth_centred') and opts.time_smooth_centred is None:
                c.loss_kwargs.time_smooth_centred = True
        return target['run_dir']
    c.resume_pkl = target['path'] # read and checked by pickle_architecture
    c.ada_kimg = opts.ada_kimg or 100 # ADA adapts faster to the new data
    c.ema_rampup = None # the weights are already trained
    return checkpoint.next_run_dir(opts.outdir, desc)

#----------------------------------------------------------------------------
# --resume=PKL: the networks' shape and time conditioning come from the pickle, whatever the command line says.

def _init_value(module, name):
    """An init argument of a persistent module as constructed: the one given, else the default of the first class in
    its MRO that names it (the persistence wrapper's own __init__ takes only *args, **kwargs)."""
    if name in module.init_kwargs:
        return module.init_kwargs[name]
    return next(params[name].default for cls in type(module).__mro__
                if name in (params := inspect.signature(cls.__init__).parameters))

def load_resume_pkl(path):
    """The --resume network pickle, read before anything is written: a missing, unreadable, refused or incomplete one
    stops here, with one message."""
    from torch_utils import safe_pickle # imports the networks: only when resuming from a pickle
    try:
        data = safe_pickle.load_network_pkl(checkpoint.network_pickle(path))
    except FileNotFoundError as err:
        raise click.UsageError(str(err)) # the message names --resume
    except cli.UserError as err: # the message names the file
        raise cli.UserError(f'--resume: {err}') from err
    except (ValueError, KeyError) as err: # networks that do not rebuild
        raise cli.UserError(f'--resume: cannot read the network pickle "{path}": {err}') from err
    missing = [key for key in ('G', 'D', 'G_ema') if key not in data]
    if missing:
        raise cli.UserError(f'--resume: {path} has no {", ".join(missing)} (it holds {", ".join(data) or "nothing"}); '
                            'resuming needs a training snapshot, network-snapshot-*.pkl')
    return data

def pickle_architecture(path):
    """The options that shape the networks of a network pickle (ours or the original's): capacity, mapping depth, time
    conditioning and the shape of D's conditioning, as option values."""
    data = load_resume_pkl(path)
    G, D = data.G, data.D
    ca = G.cond_args
    rule = timeline.cycle_frequencies(int(ca.num_days))
    if ca.type in ('fourier', 'f_concat') and not (ca.include_lin and len(ca.f_manual) == len(rule) and
            np.allclose(ca.f_manual, rule, rtol=1e-6)):
        raise click.BadParameter(f'"{path}" has time frequencies {ca.f_manual} (trend slot: {ca.include_lin}), not '
            f'those of {int(ca.num_days)} days, which this command line cannot express', param_hint='--resume')
    return dict(cbase=_init_value(G.synthesis, 'channel_base'), cmax=_init_value(G.synthesis, 'channel_max'),
        map_depth=_init_value(G.mapping, 'num_layers'), cond=ca.type, days=int(ca.num_days),
        trend_lr=round(ca.lin_lr / 0.01, 12), cond_lr=ca.lr, # cond_config sets lin_lr = 0.01 * trend_lr
        cycle_res=ca.get('cycle_min_res', 0), **{opt: None if (holder := d_cond_holder(D, key)) is None else
            _init_value(holder, key) for opt, key in D_COND.items()}) # an unconditional D has no mapping

def adopt_pickle_architecture(opts):
    """Set the options that shape the networks to those of the --resume pickle, naming each one that changes."""
    arch = dist.broadcast_object(pickle_architecture(opts.resume) if dist.is_main() else None)
    for key, value in arch.items():
        if opts[key] is not None and opts[key] != value:
            dist.print0(f'--resume: {key}={value} from the network pickle (the command line gave {opts[key]})')
    opts.update(arch)

#----------------------------------------------------------------------------
# Launching.

def launched_externally():
    """True under torchrun (or anything else that sets RANK/WORLD_SIZE) or srun."""
    env = os.environ
    return ('RANK' in env and 'WORLD_SIZE' in env) or ('SLURM_PROCID' in env and 'SLURM_NTASKS' in env)

def run_training(c):
    """One training process (rank): join the group, train, leave. Returns the signal that stopped it early, or None."""
    from training import training_loop # the loop imports the networks' dependencies; keep the CLI quick
    dist.init()
    try:
        signum = training_loop.training_loop(**c)
    except BaseException:
        dist.shutdown(barrier=False)
        raise
    dist.shutdown()
    return signum

def _forward_signals():
    """Pass SIGTERM/SIGINT on to the training processes started by launch_local, which stop gracefully. Returns the
    list that the signals received are appended to."""
    received = []
    def forward(signum, _frame):
        received.append(signum)
        for child in psutil.Process().children():
            if any('spawn_main' in part for part in child.cmdline()):
                child.send_signal(signum)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    return received

def stop_status(signum):
    """Exit status of a run: 0 if it finished, 128 + signal number if a signal stopped it early (as a shell reports a
    process ended by that signal), so that scripts can tell an unfinished run from a finished one."""
    return 128 + signum if signum else 0

#----------------------------------------------------------------------------

@click.command(context_settings=dict(max_content_width=120))
# Required.
@click.option('--outdir',       help='Where to save the results', metavar='DIR', required=True)
@click.option('--data',         help='Training data (zip or folder)', metavar='[ZIP|DIR]', required=True)
@click.option('--batch',        help='Total batch size', metavar='INT', type=click.IntRange(min=1), required=True)
@click.option('--gpus',         help='Number of processes (GPUs); default: the launcher\'s, else 1', metavar='INT', type=click.IntRange(min=1))
# Conditioning.
@click.option('--cond',         help='Time conditioning', type=click.Choice(list(COND_SUFFIX)), default='fourier', show_default=True)
@click.option('--days',         help='Days spanned by the sequence  [default: dataset meta]', metavar='INT', type=click.IntRange(min=1))
@click.option('--noise',        help="D time noise: auto, none, a span ('4 days', '6h', 0.5) or one span per slot (trend,[year,]day)", default='auto', show_default=True)
@click.option('--dequant',      help='Jitter of the time labels within the gaps to the neighbouring frames (gauss: the original\'s; tent; none)  [default: gauss, or a resumed run\'s]', type=click.Choice(list(MODES)))
@click.option('--d-time-noise/--no-d-time-noise', help='Apply the D time noise (off = the released code\'s no-op)', default=True, show_default=True)
@click.option('--cond_lr', '--cond-lr', 'cond_lr', help='Learning-rate multiplier of the time modulation', metavar='FLOAT', type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True)
@click.option('--cycle-res',    help='Lowest resolution of G whose styles the cycles (year, day) modulate; below it only the trend  [default: 0 = every layer, or a resumed pickle\'s]', metavar='INT', type=click.IntRange(min=0))
@click.option('--d-map-depth',  help='Depth of D\'s conditioning mapping (time features -> projection)  [default: 8, or a resumed run\'s]', metavar='INT', type=click.IntRange(min=1))
@click.option('--d-map-lr',     help='Learning-rate factor of D\'s conditioning mapping  [default: 0.01, or a resumed run\'s]', metavar='FLOAT', type=click.FloatRange(min=0, min_open=True))
@click.option('--d-cmap',       help='Width of D\'s conditioning projection  [default: the 4x4 block\'s channels, or a resumed run\'s]', metavar='INT', type=click.IntRange(min=1))
@click.option('--cond-decay',   help='Decoupled weight decay of the time modulation\'s weights (per step: lr*FLOAT)', metavar='FLOAT', type=click.FloatRange(min=0), default=0, show_default=True)
@click.option('--time-head',    help='Weight of D\'s time head: D learns to read the times of real images, G is penalised by the error of its images\' reading  [default: 0 = off, or a resumed run\'s]', metavar='FLOAT', type=click.FloatRange(min=0))
@click.option('--time-twin/--no-time-twin', help='With --time-head: a twin head learns the times of G\'s images, and G\'s penalty is the head\'s error minus the twin\'s, so that readable times are not rewarded over the weather\'s variety  [default: off, or a resumed run\'s]', default=None)
@click.option('--time-smooth',  help='Weight of the time-smoothness penalty: G pays for what a small move of each slot\'s time (an hour, half a month, 1/24 of the trend) changes in its image at a fixed latent  [default: 0 = off, or a resumed run\'s]', metavar='FLOAT', type=click.FloatRange(min=0))
@click.option('--time-smooth-centred/--no-time-smooth-centred', help='With --time-smooth: charge only each latent\'s own change, its change minus the mean of 4 latents moved alike, and leave what all latents change alike (the sun, the snow of a season) to D; in a 180-kimg screening it made the latents alike (docs/TRAINING.md)  [default: off, or a resumed run\'s]', default=None)
@click.option('--trend_lr', '--trend-lr', 'trend_lr', help=f'The trend feature is 0.01*FLOAT*t; 1 = the original\'s  [default: {TREND_LR:g}, or a resumed run\'s]', metavar='FLOAT', type=click.FloatRange(min=0, min_open=True))
# Training.
@click.option('--mirror',       help='Enable dataset x-flips', metavar='BOOL', type=bool, default=False, show_default=True)
@click.option('--aug',          help='Augmentation mode', type=click.Choice(['noaug', 'ada', 'fixed']), default='ada', show_default=True)
@click.option('--augpipe',      help='Augmentation pipeline: with or without the colour transforms  [default: bgc, or a resumed run\'s]', type=click.Choice(list(augment.PIPES)))
@click.option('--p',            help='Probability for --aug=fixed', metavar='FLOAT', type=click.FloatRange(min=0, max=1), default=0.2, show_default=True)
@click.option('--target',       help='Target value for --aug=ada', metavar='FLOAT', type=click.FloatRange(min=0, max=1), default=0.6, show_default=True)
@click.option('--ada-kimg',     help='ADA speed: kimg for p to go from 0 to 1  [default: 500, 100 when resuming a pickle]', metavar='KIMG', type=click.FloatRange(min=0, min_open=True))
@click.option('--resume',       help='Resume: latest, a run dir, a training-state .pt, or a network pickle', metavar='[latest|PATH|URL]')
@click.option('--freezed',      help='Freeze first layers of D', metavar='INT', type=click.IntRange(min=0), default=0, show_default=True)
@click.option('--gamma',        help='R1 regularization weight  [default: (res/256)^2]', metavar='FLOAT', type=click.FloatRange(min=0))
@click.option('--batch-gpu',    help='Limit batch size per GPU  [default: min(8192/res, batch/gpus) on GPUs of 22 GiB or more, else 4096/res]', metavar='INT', type=click.IntRange(min=1))
@click.option('--cbase',        help='Capacity multiplier', metavar='INT', type=click.IntRange(min=1), default=32768, show_default=True)
@click.option('--cmax',         help='Max. feature maps', metavar='INT', type=click.IntRange(min=1), default=512, show_default=True)
@click.option('--glr',          help='G learning rate', metavar='FLOAT', type=click.FloatRange(min=0, min_open=True), default=0.002, show_default=True)
@click.option('--dlr',          help='D learning rate', metavar='FLOAT', type=click.FloatRange(min=0, min_open=True), default=0.002, show_default=True)
@click.option('--map-depth',    help='Mapping network depth', metavar='INT', type=click.IntRange(min=1), default=2, show_default=True)
# Misc.
@click.option('--desc',         help='String to include in result dir name', metavar='STR')
@click.option('--metrics',      help="Quality metrics, or 'none'", metavar='[NAME|A,B,C|none]', default='fid50k_full,var_ratio_mc_5k', show_default=True)
@click.option('--kimg',         help='Total training duration', metavar='KIMG', type=click.FloatRange(min=0, min_open=True), default=8000, show_default=True)
@click.option('--tick',         help='How often to print progress', metavar='KIMG', type=click.FloatRange(min=0, min_open=True), default=4, show_default=True)
@click.option('--snap',         help='How often to save snapshots and training states', metavar='TICKS', type=click.IntRange(min=1), default=50, show_default=True)
@click.option('--keep-states',  help='Keep only the newest N training states (0 = all)', metavar='INT', type=click.IntRange(min=0), default=3, show_default=True)
@click.option('--seed',         help='Random seed', metavar='INT', type=click.IntRange(min=0), default=0, show_default=True)
@click.option('--fp32',         help='Disable mixed-precision', metavar='BOOL', type=bool, default=False, show_default=True)
@click.option('--bf16',         help='bf16 autocast instead of the fp16 blocks', metavar='BOOL', type=bool, default=False, show_default=True)
@click.option('--tf32',         help='Allow TF32 matmuls and convolutions', metavar='BOOL', type=bool, default=False, show_default=True)
@click.option('--fp16-res',     help='Resolutions, from the top, whose blocks run in float16  [default: 4]', metavar='INT', type=click.IntRange(min=0))
@click.option('--channels-last', help='Channels-last memory format in the fp16 blocks', metavar='BOOL', type=bool, default=True, show_default=True)
@click.option('--compile',      help='torch.compile the G synthesis and D forwards of the main phases', metavar='BOOL', type=bool, default=False, show_default=True)
@click.option('--graphs',       help='Replay the training phases as CUDA graphs (one GPU; off with --compile)', metavar='BOOL', type=bool, default=True, show_default=True)
@click.option('--nobench',      help='Disable cuDNN benchmarking', metavar='BOOL', type=bool, default=False, show_default=True)
@click.option('--deterministic', help='Deterministic kernels only (slower): a rerun on the same GPU repeats the run', metavar='BOOL', type=bool, default=False, show_default=True)
@click.option('--workers',      help='DataLoader worker processes', metavar='INT', type=click.IntRange(min=0), default=3, show_default=True)
@click.option('-n', '--dry-run', help='Print training options and exit', is_flag=True)
@cli.user_errors()
def main(**kwargs):
    """Train a time-conditioned StyleGAN2 (TLGAN) on a time-lapse dataset.

    \b
    Examples:
      python train.py --outdir=runs --data=valley_1024x1024_2225hz.zip --gpus=4 --batch=32
      torchrun --nproc-per-node=8 train.py --outdir=runs --data=d.zip --batch=64   # processes from the launcher
      python train.py --outdir=runs --data=d.zip --batch=32 --resume=latest        # continue the newest such run

    --resume=latest continues from the latest training state of the newest run dir under --outdir that has the name
    this command would create; --resume=RUN_DIR or --resume=training-state-*.pt continue from that state. Either way
    everything continues (kimg counter, optimisers, ADA p, data order and random draws) in the same run dir, whose
    files are never overwritten. --resume=PKL (path or URL, ours or original) takes the weights and the networks'
    shape (--cbase, --cmax, --map-depth, --cond, --days, --trend-lr, --cond-lr) from the pickle, into a new run dir,
    with faster ADA. SIGTERM or Ctrl-C stops after the current step, saves a state and exits with status 128 + the
    signal number (143, 130). Without CUDA, --gpus=N starts N CPU processes (gloo).
    """
    opts = dnnlib.EasyDict(kwargs)
    cli.check_folder(opts.outdir, '--outdir')
    external = launched_externally()
    if external:
        dist.init()
        num_gpus = dist.get_world_size()
        if opts.gpus is not None and opts.gpus != num_gpus:
            raise click.BadParameter(f'{opts.gpus} does not match the launcher\'s {num_gpus} processes (omit --gpus)', param_hint='--gpus')
    else:
        num_gpus = opts.gpus or 1
        if torch.cuda.is_available() and num_gpus > torch.cuda.device_count():
            raise click.BadParameter(f'{num_gpus} requested, but only {torch.cuda.device_count()} CUDA devices are visible', param_hint='--gpus')
    if opts.bf16 and opts.fp32:
        raise click.UsageError('--bf16 and --fp32 exclude each other')
    if opts.fp16_res is not None and (opts.bf16 or opts.fp32):
        raise click.UsageError(f'--fp16-res sets the float16 blocks, which --{"bf16" if opts.bf16 else "fp32"} turns off')

    if checkpoint.is_network_pickle(opts.resume):
        adopt_pickle_architecture(opts)
    c, desc = build_config(opts, num_gpus)
    run_dir = apply_resume(c, opts, desc) if dist.is_main() else None
    run_dir, c = dist.broadcast_object((run_dir, c))
    c.run_dir = run_dir
    c.options = json.loads(json.dumps(c)) # plain data: training_options.json and each training state

    if dist.is_main():
        print('\nTraining options:')
        print(json.dumps(c.options, indent=2))
        print(f'\nOutput directory:    {run_dir}' + ('  (continued)' if 'resume_state' in c else ''))
        print(f'Number of processes: {num_gpus} ({"CUDA" if torch.cuda.is_available() else "CPU"})')
        print(f'Batch size:          {c.batch_size} images, {c.batch_gpu} per micro-batch')
        print(f'Training duration:   {c.total_kimg} kimg')
        print(f'Resolution:          {c.training_set_kwargs.resolution}')
        print(f'Conditioning:        {c.G_kwargs.cond_args.type}, frequencies {c.G_kwargs.cond_args.f_manual}\n')
    if opts.dry_run:
        dist.print0('Dry run; exiting.')
        dist.shutdown()
        return

    if dist.is_main():
        os.makedirs(run_dir, exist_ok='resume_state' in c)
        dnnlib.util.write_json(os.path.join(run_dir, 'training_options.json'), c.options)
    dist.barrier()
    if external or num_gpus == 1:
        signum = run_training(c)
        if external:
            dist.exit_now(stop_status(signum))
    else:
        received = _forward_signals()
        dist.launch_local(run_training, num_gpus, copy.deepcopy(c))
        signum = received[0] if received else None
    sys.exit(stop_status(signum))

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
