"""The training loop. One process per device (torch_utils.distributed); only rank 0 writes files. It calls on

  training_step   the step, shared with benchmarks/bench_train.py: phases, accumulation, EMA, ADA, random streams
  reporting       the status line, stats.jsonl / TensorBoard and the image grids
  loop_state      LoopState (counters, clock, best metrics), network snapshots, training states, resuming
  stop_signals    stopping gracefully on SIGTERM / SIGINT
  checkpoint      file tags, training-state files

Outputs in run_dir: log.txt, stats.jsonl, TensorBoard events, JPEG grids, network-snapshot-<tag>.pkl and
training-state-<tag>.pt.
"""

import contextlib
import copy
import os
import time

import numpy as np
import torch

import dnnlib
from torch_utils import distributed as dist
from torch_utils import misc
from torch_utils import safe_pickle
from torch_utils import training_stats
from training import checkpoint
from training import loop_state
from training import reporting
from training import step_graphs
from training import stop_signals
from training import training_step
from training.dequantizer import Dequantizer

#----------------------------------------------------------------------------

CONFIG = dict(
    run_dir                 = '.',      # Where every output of the run goes.
    training_set_kwargs     = {},       # construct_class_by_name() arguments of the dataset.
    data_loader_kwargs      = {},       # Extra torch.utils.data.DataLoader arguments (workers, prefetch, ...).
    G_kwargs                = {},       # construct_class_by_name() arguments of G.
    D_kwargs                = {},       # construct_class_by_name() arguments of D.
    G_opt_kwargs            = {},       # construct_class_by_name() arguments of G's optimiser (lr, betas, ...).
    D_opt_kwargs            = {},       # The same for D.
    cond_decay              = 0,        # Decoupled weight decay of G's time weights (training_step.build_phases).
    augment_kwargs          = None,     # AugmentPipe arguments; None: no augmentation.
    loss_kwargs             = {},       # StyleGAN2Loss arguments.
    metrics                 = [],       # Metric names run on G_ema at every network snapshot.
    random_seed             = 0,        # Seeds the initial weights, the data order and every step's random draws.
    batch_size              = 4,        # Images per step, all ranks together.
    batch_gpu               = 4,        # Micro-batch: images per forward pass on one rank.
    ema_kimg                = 10,       # G_ema's half-life in thousands of images.
    ema_rampup              = 0.05,     # The half-life grows as this fraction of the images seen; None: constant.
    G_reg_interval          = None,     # Steps between path-length regularisations; None: in every step.
    D_reg_interval          = 16,       # Steps between R1 regularisations; None: in every step.
    augment_p               = 0,        # Augmentation probability at the start.
    ada_target              = None,     # Adapt p towards this mean sign of D(real); None: p stays fixed.
    ada_interval            = 4,        # Steps between adaptations of p.
    ada_kimg                = 500,      # Thousands of images over which p could move from 0 to 1.
    total_kimg              = 25000,    # Length of the run in thousands of real images.
    kimg_per_tick           = 4,        # Thousands of images between status lines.
    image_snapshot_ticks    = 50,       # Ticks between image grids; None: never.
    network_snapshot_ticks  = 50,       # Ticks between network snapshots and training states; None: only at the end.
    resume_pkl              = None,     # Network pickle whose weights start the run (weights only).
    resume_state            = None,     # Training state to continue exactly (training-state-*.pt in run_dir).
    keep_states             = 3,        # How many of the newest training states to keep; 0: all.
    cudnn_benchmark         = True,     # Let cuDNN pick the fastest convolution algorithms.
    allow_tf32              = False,    # TF32 matmuls and convolutions.
    deterministic           = False,    # Deterministic kernels only: a rerun on the same GPU repeats the run exactly.
    cuda_graphs             = False,    # Replay the phases as CUDA graphs (one CUDA device; needs loss sync_free).
    options                 = None,     # The whole config (plain data), stored in each training state.
    abort_fn                = None,     # Called at every tick; True stops the run.
    progress_fn             = None,     # Called at every tick with (cur_kimg, total_kimg).
)

def training_loop(**config):
    """Train this process's rank with `config` (the keys of CONFIG, which gives the defaults). Returns the signal
    number (SIGTERM, SIGINT) that stopped the run early on this rank, or None."""
    unknown = sorted(set(config) - set(CONFIG))
    if unknown:
        raise TypeError(f'training_loop: unknown config keys {", ".join(unknown)}')
    c = dnnlib.EasyDict(CONFIG, **config)
    env = dnnlib.EasyDict(rank=dist.get_rank(), world_size=dist.get_world_size(), device=dist.device())
    with _session(c.run_dir, env.rank) as stopper:
        stopped = _train(c, env, stopper)
    return stopper.signum if stopped else None

@contextlib.contextmanager
def _session(run_dir, rank):
    """For the duration of the training: log.txt on rank 0 (appended to on resume) and graceful SIGTERM/SIGINT."""
    logger = dnnlib.util.Logger(os.path.join(run_dir, 'log.txt'), file_mode='a') if rank == 0 else None
    stopper = stop_signals.GracefulStop()
    try:
        yield stopper
    finally:
        stopper.restore()
        if logger is not None:
            logger.close()

#----------------------------------------------------------------------------
# Set-up.

def _setup_process(c, env):
    if c.batch_size % (c.batch_gpu * env.world_size) != 0:
        raise ValueError(f'batch_size {c.batch_size} must be a multiple of batch_gpu {c.batch_gpu} x {env.world_size} processes')
    np.random.seed(c.random_seed)
    torch.manual_seed(c.random_seed) # the initial weights (every rank then takes rank 0's)
    training_step.setup_backends(c.cudnn_benchmark, c.allow_tf32, c.deterministic,
        graphs=c.cuda_graphs and step_graphs.usable(env.device, env.world_size))
    training_stats.init_multiprocessing(rank=env.rank, sync_device=env.device if env.world_size > 1 else None)
    if env.device.type == 'cpu' and env.world_size > 1: # several processes share this machine's cores
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get('LOCAL_WORLD_SIZE', env.world_size))))

def _open_data(c, env, start_nimg):
    """(dataset, iterator over this rank's batches, continuing the global data order at image start_nimg)."""
    dist.print0(f'Opening the training data {c.training_set_kwargs.get("path", "")}...')
    training_set = dnnlib.util.construct_class_by_name(**c.training_set_kwargs)
    sampler = misc.InfiniteSampler(dataset=training_set, rank=env.rank, num_replicas=env.world_size,
        seed=c.random_seed, start_idx=start_nimg)
    kwargs = dict(c.data_loader_kwargs)
    if kwargs.get('num_workers', 0) == 0:
        kwargs.pop('prefetch_factor', None)
    else:
        kwargs.setdefault('worker_init_fn', stop_signals.leave_stop_signals_to_main)
    kwargs['pin_memory'] = kwargs.get('pin_memory', True) and env.device.type == 'cuda'
    loader = torch.utils.data.DataLoader(dataset=training_set, sampler=sampler, batch_size=c.batch_size // env.world_size, **kwargs)
    dist.print0(f'{len(training_set)} images of shape {training_set.image_shape}, labels of shape {training_set.label_shape}')
    return training_set, iter(loader)

def _build_networks(c, training_set, device):
    """EasyDict(G, D, G_ema, augment_pipe) as configured, before any weights are loaded."""
    dist.print0('Building the networks...')
    common = dict(c_dim=training_set.label_dim, img_resolution=training_set.resolution, img_channels=training_set.num_channels)
    nets = dnnlib.EasyDict(augment_pipe=None)
    nets.G = dnnlib.util.construct_class_by_name(**c.G_kwargs, **common).train().requires_grad_(False).to(device)
    nets.D = dnnlib.util.construct_class_by_name(**c.D_kwargs, **common).train().requires_grad_(False).to(device)
    nets.G_ema = copy.deepcopy(nets.G).eval()
    if c.augment_kwargs is not None and (c.augment_p > 0 or c.ada_target is not None):
        nets.augment_pipe = dnnlib.util.construct_class_by_name(**c.augment_kwargs).train().requires_grad_(False).to(device)
        nets.augment_pipe.p.copy_(torch.as_tensor(c.augment_p))
    return nets

def _load_weights(c, env, nets, saved):
    """The weights a run starts from: a training state's, a network pickle's, or the fresh ones of rank 0."""
    if saved is not None:
        dist.print0(f'Resuming training state "{c.resume_state}" at {saved["cur_nimg"] / 1000:.3f} kimg')
        for key in loop_state.changed_options(saved.get('options'), c.options):
            dist.print0(f'Note: option "{key}" differs from the run being resumed; the new value applies from here on.')
        if env.rank == 0:
            checkpoint.remove_stale_temp_files(c.run_dir)
        loop_state.restore_networks(nets, saved, adaptive=c.ada_target is not None)
    elif c.resume_pkl is not None:
        dist.print0(f'Resuming weights from "{c.resume_pkl}"')
        weights = safe_pickle.load_network_pkl(c.resume_pkl)
        checkpoint.load_pickled_weights({name: nets[name] for name in ['G', 'D', 'G_ema']}, weights, c.resume_pkl)
    if env.rank == 0: # layer tables of G and D, from one forward pass each
        z = torch.zeros([c.batch_gpu, nets.G.z_dim], device=env.device)
        cond = torch.zeros([c.batch_gpu, nets.G.c_dim], device=env.device)
        img = misc.print_module_summary(nets.G, [z, cond])
        misc.print_module_summary(nets.D, [img, cond])
    loop_state.broadcast_modules([nets.G, nets.D, nets.G_ema, nets.augment_pipe], env.world_size)

def _prepare_training(c, env, nets, saved):
    """Add the loss, the phases with their optimisers and ADA to nets; continue a training state's."""
    dist.print0('Preparing the optimisers...')
    nets.loss = dnnlib.util.construct_class_by_name(device=env.device, G=nets.G, D=nets.D, augment_pipe=nets.augment_pipe, **c.loss_kwargs)
    nets.phases = training_step.build_phases(nets.G, nets.D, c.G_opt_kwargs, c.D_opt_kwargs, c.G_reg_interval, c.D_reg_interval, env.device,
        c.cond_decay)
    nets.ada = None
    if nets.augment_pipe is not None and c.ada_target is not None:
        nets.ada = training_step.AdaTuner(nets.augment_pipe, c.ada_target, c.ada_interval, c.ada_kimg, c.batch_size)
    if saved is not None:
        loop_state.restore_training(nets, saved)
    nets.graphs = None
    if c.cuda_graphs and step_graphs.usable(env.device, env.world_size):
        nets.graphs = step_graphs.PhaseGraphs(nets.loss, c.batch_gpu)
    elif c.cuda_graphs:
        dist.print0('Note: CUDA graphs need one CUDA device; the phases run eagerly.')

#----------------------------------------------------------------------------
# The loop.

def _train(c, env, stopper):
    state, nets, data, out = _set_up(c, env)
    try:
        if state.cur_nimg >= c.total_kimg * 1000:
            dist.print0(f'Nothing to do: the run is at {state.cur_nimg / 1000:.3f} kimg of {c.total_kimg} kimg.')
            return
        stopped = _steps(c, env, nets, data, state, out, stopper)
        loop_state.report_rank_checksums(dict(G=nets.G, D=nets.D, G_ema=nets.G_ema), env.world_size, env.rank)
    finally:
        _close_outputs(out)
    if stopped:
        dist.print0(f'\nStopped by a signal at {state.cur_nimg / 1000:.3f} kimg; continue with --resume={c.run_dir}')
    else:
        dist.print0('\nTraining finished.')
    return stopped

def _set_up(c, env):
    """(LoopState, nets, EasyDict(iterator, labels, dequantizer), outputs) of a fresh or resumed run."""
    state = loop_state.LoopState()
    _setup_process(c, env)
    saved = checkpoint.load_state(c.resume_state) if c.resume_state is not None else None
    if saved is not None:
        state = loop_state.LoopState.resumed(saved)
    training_set, iterator = _open_data(c, env, state.cur_nimg)
    nets = _build_networks(c, training_set, env.device)
    _load_weights(c, env, nets, saved)
    _prepare_training(c, env, nets, saved)
    data = dnnlib.EasyDict(iterator=iterator, labels=torch.as_tensor(training_set.labels, device=env.device), dequantizer=None)
    if training_set.has_labels:
        data.dequantizer = Dequantizer(training_set.labels, mode=nets.G.cond_args.get('dequant', 'gauss'))
    out = _open_outputs(c, env, training_set, nets, fresh=saved is None)
    now = time.time()
    state.start_tick(now, now - state.start_time if saved is None else 0.0) # a fresh run's set-up counts as maintenance
    return state, nets, data, out

def _steps(c, env, nets, data, state, out, stopper):
    """Train until the run ends; returns whether a stop signal ended it."""
    dist.print0(f'Training until {c.total_kimg} kimg...\n')
    if c.progress_fn is not None:
        c.progress_fn(state.cur_nimg // 1000, c.total_kimg)
    stopped = False
    while True:
        training_step.seed_step(c.random_seed, env.rank, state.cur_nimg, env.device)
        with torch.autograd.profiler.record_function('data_fetch'):
            inputs = training_step.fetch_inputs(data.iterator, data.labels, data.dequantizer, len(nets.phases),
                c.batch_size // env.world_size, nets.G.z_dim, env.device)
        training_step.run_phases(nets.phases, nets.loss, state.batch_idx, *inputs, c.batch_gpu, env.world_size, nets.graphs)
        with torch.autograd.profiler.record_function('Gema'):
            training_step.update_ema(nets.G_ema, nets.G, state.cur_nimg, c.batch_size, c.ema_kimg, c.ema_rampup)
        state.cur_nimg += c.batch_size
        state.batch_idx += 1
        if nets.ada is not None:
            nets.ada.step(state.batch_idx)

        # A tick is due every kimg_per_tick, at the end and after a stop signal.
        if env.world_size == 1 or state.batch_idx % 16 == 0: # polling is a collective: not every step on many ranks
            stopped = stopper.requested(env.device, env.world_size)
        done = state.cur_nimg >= c.total_kimg * 1000 or stopped
        if (not done) and (state.cur_tick != 0) and (state.cur_nimg < state.tick_start_nimg + c.kimg_per_tick * 1000):
            continue
        if _end_tick(c, env, nets, state, out, done, stopped):
            return stopped

def _end_tick(c, env, nets, state, out, done, stopped):
    """Status line, grid, snapshot and statistics at the end of a tick; returns whether the run ends here."""
    tick_end_time = time.time()
    dist.print0(reporting.tick_status(state, c.total_kimg, tick_end_time, nets.augment_pipe, env.device))
    if (not done) and (c.abort_fn is not None) and c.abort_fn():
        done = True
        dist.print0('\nStopping: abort_fn asked for it.')
    tag = checkpoint.kimg_tag(state.cur_nimg, fine=out.fine_tags)
    if out.grid is not None and (done or state.cur_tick % c.image_snapshot_ticks == 0):
        out.grid.save(c.run_dir, nets.G_ema, tag)
    if done or (c.network_snapshot_ticks is not None and state.cur_tick % c.network_snapshot_ticks == 0):
        _snapshot(c, env, nets, state, out, tag, stopped)

    reporting.report_phase_timings(nets.phases)
    out.collector.update()
    if out.writer is not None:
        out.writer.write(out.collector.as_dict(), out.metrics, state.cur_nimg, state.start_time)
    if c.progress_fn is not None:
        c.progress_fn(state.cur_nimg // 1000, c.total_kimg)
    state.cur_tick += 1
    now = time.time()
    state.start_tick(now, now - tick_end_time)
    return done

def _snapshot(c, env, nets, state, out, tag, stopped):
    """Network snapshot, the metrics on it (skipped on a stop signal: a scheduler's grace period is short and the
    state comes first) and the training state."""
    snapshot, snapshot_pkl = loop_state.save_network_snapshot(c.run_dir, tag, nets, c.training_set_kwargs, env.rank, env.world_size)
    if c.metrics and stopped:
        dist.print0(f'Skipping the metrics on the way out; run calc_metrics.py on {snapshot_pkl}')
    elif c.metrics:
        _evaluate_metrics(c, env, snapshot['G_ema'], snapshot_pkl, state, out)
    del snapshot # the CPU copies are large
    loop_state.save_training_state(c.run_dir, tag, nets, state, snapshot_pkl, c.options, c.keep_states, env.rank, env.world_size)

def _evaluate_metrics(c, env, G_ema, snapshot_pkl, state, out):
    dist.print0('Running the metrics...')
    from metrics import metric_main # lazily: metrics are optional for training
    for metric in c.metrics:
        result_dict = metric_main.calc_metric(metric=metric, G=G_ema, dataset_kwargs=c.training_set_kwargs,
            num_gpus=env.world_size, rank=env.rank, device=env.device)
        if env.rank == 0:
            metric_main.report_metric(result_dict, run_dir=c.run_dir, snapshot_pkl=snapshot_pkl)
        out.metrics.update(result_dict.results)
        state.best_metrics = loop_state.best_metrics_update(state.best_metrics, result_dict.results, snapshot_pkl)

#----------------------------------------------------------------------------
# Outputs besides snapshots and states.

def _open_outputs(c, env, training_set, nets, fresh):
    """EasyDict(grid, writer, collector, metrics, fine_tags); a fresh run also saves the reals and initial fakes."""
    out = dnnlib.EasyDict(grid=None, writer=None, metrics={})
    out.fine_tags = c.kimg_per_tick * (c.network_snapshot_ticks or 1) < 1 # sub-kimg snapshots need finer file names
    if env.rank == 0 and c.image_snapshot_ticks is not None:
        out.grid = reporting.SnapshotGrid(training_set, nets.G.z_dim, c.random_seed, c.batch_gpu, env.device)
        if fresh:
            out.grid.save_start(c.run_dir, nets.G_ema)
    if env.rank == 0:
        out.writer = reporting.StatsWriter(c.run_dir)
    out.collector = training_stats.Collector(regex='.*')
    return out

def _close_outputs(out):
    if out.writer is not None:
        out.writer.close()

#----------------------------------------------------------------------------
