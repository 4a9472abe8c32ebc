"""The training loop: data, phases with lazy regularisation, EMA, ADA, ticks, snapshots, resumable states.

One process per device (torch_utils.distributed); gradients are all-reduced explicitly as one flat tensor per phase.
Only rank 0 writes files. Outputs in run_dir: log.txt, stats.jsonl, TensorBoard events (if importable), JPEG grids
(quality 97, padding cropped: reals.jpg, fakes_init.jpg, then seq_fakes<tag>.jpg, a time sweep, or fakes<tag>.jpg
for unconditional models), network-snapshot-<tag>.pkl and training-state-<tag>.pt (see training/checkpoint.py).
"""

import contextlib
import copy
import hashlib
import json
import os
import pickle
import signal
import threading
import time

import numpy as np
import PIL.Image
import psutil
import torch

import dnnlib
from torch_utils import distributed as dist
from torch_utils import misc
from torch_utils import safe_pickle
from torch_utils import training_stats
from torch_utils.ops import conv2d_gradfix
from torch_utils.ops import grid_sample_gradfix
from training import checkpoint
from training.dequantizer import Dequantizer

#----------------------------------------------------------------------------
# Snapshot image grids.

def setup_snapshot_image_grid(training_set, random_seed=0):
    """(grid size (gw, gh), uint8 images [N, C, H, W], labels [N, label_dim]) shown in the reals grid.

    Conditional datasets show evenly spaced frames in time order; unconditional ones a random subset.
    """
    pad_h, pad_v = training_set.pad
    _c, h, w = training_set.image_shape
    gw = int(np.clip(3840 // max(w - 2 * pad_h, 1), 7, 9))
    gh = int(np.clip(2160 // max(h - 2 * pad_v, 1), 4, 8))
    num_base = len(training_set.labels) # x-flip copies follow the originals: indices < num_base are unflipped
    if training_set.has_labels:
        order = np.argsort(training_set.labels[:, 0], kind='stable')
        indices = order[np.linspace(0, num_base - 1, gw * gh).round().astype(np.int64)]
    else:
        indices = np.random.RandomState(random_seed).choice(num_base, size=gw * gh, replace=num_base < gw * gh)
    images = np.stack([training_set[int(i)][0] for i in indices])
    return (gw, gh), images, training_set.labels[indices]

def save_image_grid(images, path, grid_size, pad=(0, 0)):
    """Tile images ([N, C, H, W], uint8 or float in [-1, 1]) into a gw x gh JPEG (quality 97), cropping the pads."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.clip(np.rint(images * 127.5 + 128), 0, 255).astype(np.uint8)
    gw, gh = grid_size
    pad_h, pad_v = pad
    _n, c, h, w = images.shape
    images = images[:gw * gh, :, pad_v:h - pad_v, pad_h:w - pad_h]
    h, w = images.shape[2:]
    grid = images.reshape(gh, gw, c, h, w).transpose(0, 3, 1, 4, 2).reshape(gh * h, gw * w, c)
    image = PIL.Image.fromarray(grid[:, :, 0], 'L') if c == 1 else PIL.Image.fromarray(grid[:, :, :3], 'RGB')
    return dnnlib.util.atomic_write(path, lambda f: image.save(f, format='JPEG', quality=97))

@torch.no_grad()
def generate_images(G, z, c, batch):
    """G(z, c) with constant noise, in batches, as a float CPU tensor."""
    return torch.cat([G(z=z_, c=c_, noise_mode='const').float().cpu() for z_, c_ in zip(z.split(batch), c.split(batch))])

#----------------------------------------------------------------------------
# The training step, shared with benchmarks/bench_train.py.

def setup_backends(cudnn_benchmark=True, allow_tf32=False):
    torch.backends.cudnn.benchmark = cudnn_benchmark
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    torch.backends.cudnn.allow_tf32 = allow_tf32
    conv2d_gradfix.enabled = True     # lets the path-length regulariser skip conv weight gradients
    grid_sample_gradfix.enabled = True  # double backward of the augment pipe's grid_sample (R1 through ADA)

def build_phases(G, D, G_opt_kwargs, D_opt_kwargs, G_reg_interval, D_reg_interval, device):
    """Phases [EasyDict(name, module, opt, interval)]: per network 'main' every step and 'reg' every reg_interval
    steps with one optimiser whose lr and betas are corrected for the lazy regularisation (or 'both' if None)."""
    phases = []
    for name, module, opt_kwargs, reg_interval in [('G', G, G_opt_kwargs, G_reg_interval), ('D', D, D_opt_kwargs, D_reg_interval)]:
        opt_kwargs = dnnlib.EasyDict(opt_kwargs)
        if 'betas' in opt_kwargs:
            opt_kwargs.betas = [float(beta) for beta in opt_kwargs.betas] # Adam rejects a mix of int and float
        if device.type == 'cuda' and 'fused' not in opt_kwargs and 'foreach' not in opt_kwargs:
            opt_kwargs.fused = True # one kernel for the whole update
        if reg_interval is None:
            opt = dnnlib.util.construct_class_by_name(params=module.parameters(), **opt_kwargs)
            phases += [dnnlib.EasyDict(name=name + 'both', module=module, opt=opt, interval=1)]
            continue
        ratio = reg_interval / (reg_interval + 1)
        opt_kwargs.lr = opt_kwargs.lr * ratio
        opt_kwargs.betas = [beta ** ratio for beta in opt_kwargs.betas]
        opt = dnnlib.util.construct_class_by_name(params=module.parameters(), **opt_kwargs)
        phases += [dnnlib.EasyDict(name=name + 'main', module=module, opt=opt, interval=1)]
        phases += [dnnlib.EasyDict(name=name + 'reg', module=module, opt=opt, interval=reg_interval)]
    for phase in phases:
        phase.start_event = torch.cuda.Event(enable_timing=True) if device.type == 'cuda' else None
        phase.end_event = torch.cuda.Event(enable_timing=True) if device.type == 'cuda' else None
    return phases

def reduce_grads_and_step(module, opt, world_size):
    """Average the gradients over ranks as one flat tensor, replace NaN/inf, and take the optimiser step."""
    params = [p for p in module.parameters() if p.numel() > 0 and p.grad is not None]
    if params:
        flat = torch.cat([p.grad.flatten() for p in params])
        if world_size > 1:
            torch.distributed.all_reduce(flat)
            flat /= world_size
        torch.nan_to_num(flat, nan=0, posinf=1e5, neginf=-1e5, out=flat)
        for p, grad in zip(params, flat.split([p.numel() for p in params])):
            # Fused Adam wants each grad in its parameter's layout (channels-last weights of the fp16 blocks).
            p.grad = misc.in_layout_of(grad.view(p.shape), p)
    opt.step()

def run_phases(phases, loss, batch_idx, real_img, real_c, gen_z, gen_c, batch_gpu, world_size):
    """One training step: every phase due at batch_idx, each with its own z and c (lists with one entry per phase),
    accumulated over micro-batches of batch_gpu."""
    for phase, phase_z, phase_c in zip(phases, gen_z, gen_c):
        if batch_idx % phase.interval != 0:
            continue
        if phase.start_event is not None:
            phase.start_event.record(torch.cuda.current_stream())
            phase.timed = True
        phase.opt.zero_grad(set_to_none=True)
        phase.module.requires_grad_(True)
        for r_img, r_c, g_z, g_c in zip(real_img.split(batch_gpu), real_c.split(batch_gpu), phase_z.split(batch_gpu), phase_c.split(batch_gpu)):
            loss.accumulate_gradients(phase=phase.name, real_img=r_img, real_c=r_c, gen_z=g_z, gen_c=g_c, gain=phase.interval)
        phase.module.requires_grad_(False)
        with torch.autograd.profiler.record_function(phase.name + '_opt'):
            reduce_grads_and_step(phase.module, phase.opt, world_size)
        if phase.end_event is not None:
            phase.end_event.record(torch.cuda.current_stream())

@torch.no_grad()
def update_ema(G_ema, G, cur_nimg, batch_size, ema_kimg, ema_rampup):
    """G_ema <- lerp towards G with a half-life of ema_kimg (ramped up over the first images); buffers copied."""
    ema_nimg = ema_kimg * 1000
    if ema_rampup is not None:
        ema_nimg = min(ema_nimg, cur_nimg * ema_rampup)
    beta = 0.5 ** (batch_size / max(ema_nimg, 1e-8))
    torch._foreach_lerp_(list(G_ema.parameters()), list(G.parameters()), 1 - beta)
    torch._foreach_copy_(list(G_ema.buffers()), list(G.buffers())) # one launch for all buffers (w_avg, noise, filters)

def sample_gen_c(labels, n, dequantizer, device):
    """Generator times: labels of uniformly random dataset frames (the empirical capture density), dequantised."""
    if labels.shape[1] == 0:
        return torch.zeros([n, 0], device=device)
    c = labels[torch.randint(labels.shape[0], [n], device=device)]
    return dequantizer(c)

#----------------------------------------------------------------------------
# Stopping on SIGTERM / SIGINT: finish the step, save a snapshot and a state, return.

class GracefulStop:
    """While active, SIGTERM and SIGINT only set a flag. A second SIGINT interrupts at once, unless it follows the
    first within a second (Ctrl-C reaches a process both from the terminal and forwarded by train.py's launcher)."""

    def __init__(self):
        self.signum = None
        self.time = None
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self.previous[signum] = signal.signal(signum, self._handle)

    def _handle(self, signum, _frame):
        if self.signum is not None:
            if signum == signal.SIGINT and time.time() - self.time > 1:
                raise KeyboardInterrupt
            return
        self.signum = signum
        self.time = time.time()
        print(f'\nReceived {signal.Signals(signum).name}: stopping after this step and saving the training state...', flush=True)

    def requested(self, device, world_size):
        """True on every rank if any rank got a signal (collective when world_size > 1)."""
        flag = self.signum is not None
        if world_size > 1:
            flag = torch.tensor([float(flag)], device=device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            flag = bool(flag.item())
        return flag

    def restore(self):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

#----------------------------------------------------------------------------
# Snapshots and training states.

def snapshot_modules(modules, world_size):
    """CPU eval copies of the modules (None stays None) after checking that all ranks agree (w_avg may differ)."""
    result = {}
    for name, module in modules.items():
        if module is not None:
            if world_size > 1:
                misc.check_ddp_consistency(module, ignore_regex=r'.*\.[^.]+_(avg|ema)')
            module = copy.deepcopy(module).eval().requires_grad_(False).cpu()
        result[name] = module
    return result

def gather_rng_states(device, world_size):
    """RNG states of all ranks (collective), indexed by rank."""
    state = checkpoint.get_rng_state(device)
    if world_size == 1:
        return [state]
    states = [None] * world_size
    torch.distributed.all_gather_object(states, state)
    return states

def restore_rng(state, rank, world_size, random_seed, device):
    """Each rank continues its own RNG streams; with another number of ranks, fresh seeds derived from the step."""
    if len(state['rng']) == world_size:
        checkpoint.set_rng_state(state['rng'][rank], device)
        return
    seed = int(np.random.SeedSequence([random_seed, rank, state['batch_idx']]).generate_state(1)[0])
    np.random.seed(seed)
    torch.manual_seed(seed)
    print(f'Rank {rank}: the state was saved by {len(state["rng"])} processes, not {world_size}: RNGs reseeded.')

def changed_options(saved, current, ignore=('run_dir', 'resume_pkl', 'resume_state', 'options')):
    """Dotted names of the config entries that differ between a saved run's options and the current ones."""
    if not isinstance(saved, dict) or not isinstance(current, dict):
        return []
    changed = []
    for key in sorted(set(saved) | set(current)):
        if key in ignore:
            continue
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed += [f'{key}.{sub}' for sub in changed_options(a, b, ignore=())]
        elif a != b:
            changed.append(key)
    return changed

def module_checksum(module):
    """sha1 of all parameters (not buffers: w_avg is tracked per rank), to compare ranks."""
    sha = hashlib.sha1()
    for _name, param in sorted(module.named_parameters()):
        sha.update(param.detach().float().cpu().numpy().tobytes())
    return sha.hexdigest()[:16]

def report_rank_checksums(modules, world_size, rank):
    """Print one line with every rank's weight checksums (collective); the same on all ranks means in sync."""
    sums = {name: module_checksum(module) for name, module in modules.items()}
    all_sums = [sums]
    if world_size > 1:
        all_sums = [None] * world_size
        torch.distributed.all_gather_object(all_sums, sums)
    if rank == 0:
        print('Rank checksums: ' + json.dumps(all_sums))

def best_metrics_update(best, results, snapshot_pkl):
    """Keep the lowest value of every FID/KID-like result (lower is better) with the snapshot that reached it."""
    for key, value in results.items():
        if key.startswith(('fid', 'kid')) and np.isfinite(value) and (key not in best or value < best[key]['value']):
            best[key] = dict(value=float(value), snapshot=os.path.basename(snapshot_pkl))
    return best

#----------------------------------------------------------------------------
# Progress output.

def tick_status(cur_tick, cur_nimg, total_kimg, start_time, tick_start_time, tick_end_time, tick_start_nimg,
                maintenance_time, augment_pipe, device):
    """Report the progress stats (every rank) and return the status line."""
    sec_per_kimg = (tick_end_time - tick_start_time) / max(cur_nimg - tick_start_nimg, 1) * 1e3
    eta = sec_per_kimg * max(total_kimg - cur_nimg / 1e3, 0)
    gpu_mem = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == 'cuda' else 0
    gpu_reserved = torch.cuda.max_memory_reserved(device) / 2**30 if device.type == 'cuda' else 0
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    columns = [ # (label, statistic reported, value, format; 'time' = h/m/s)
        ('tick', 'Progress/tick', cur_tick, '<5d'),
        ('kimg', 'Progress/kimg', cur_nimg / 1e3, '<9.3f'),
        ('time', 'Timing/total_sec', tick_end_time - start_time, 'time'),
        ('sec/tick', 'Timing/sec_per_tick', tick_end_time - tick_start_time, '<7.1f'),
        ('sec/kimg', 'Timing/sec_per_kimg', sec_per_kimg, '<7.2f'),
        ('eta', None, eta, 'time'),
        ('maintenance', 'Timing/maintenance_sec', maintenance_time, '<6.1f'),
        ('cpumem', 'Resources/cpu_mem_gb', psutil.Process(os.getpid()).memory_info().rss / 2**30, '<6.2f'),
        ('gpumem', 'Resources/peak_gpu_mem_gb', gpu_mem, '<6.2f'),
        ('reserved', 'Resources/peak_gpu_mem_reserved_gb', gpu_reserved, '<6.2f'),
        ('augment', 'Progress/augment', float(augment_pipe.p) if augment_pipe is not None else 0.0, '.3f'),
    ]
    fields = []
    for label, stat, value, fmt in columns:
        if stat is not None:
            training_stats.report0(stat, value)
        fields.append(f'{label} ' + (f'{dnnlib.util.format_time(value):<12s}' if fmt == 'time' else format(value, fmt)))
    training_stats.report0('Timing/total_hours', (tick_end_time - start_time) / (60 * 60))
    training_stats.report0('Timing/total_days', (tick_end_time - start_time) / (24 * 60 * 60))
    return ' '.join(fields)

def write_stats(stats_jsonl, stats_tfevents, stats_dict, stats_metrics, cur_nimg, start_time):
    """One line of stats.jsonl per tick, and the same scalars (plus metrics) to TensorBoard at step = kimg."""
    timestamp = time.time()
    stats_jsonl.write((json.dumps(dict(stats_dict, timestamp=timestamp)) + '\n').encode('utf-8'))
    stats_jsonl.flush()
    if stats_tfevents is not None:
        global_step = int(cur_nimg / 1e3)
        walltime = timestamp - start_time
        for name, value in stats_dict.items():
            stats_tfevents.add_scalar(name, value.mean, global_step=global_step, walltime=walltime)
        for name, value in stats_metrics.items():
            stats_tfevents.add_scalar(f'Metrics/{name}', value, global_step=global_step, walltime=walltime)
        stats_tfevents.flush()

#----------------------------------------------------------------------------

def _leave_stop_signals_to_main(worker_id):
    """DataLoader workers ignore SIGTERM/SIGINT: a signal sent to the whole process group (timeout, SLURM, Ctrl-C)
    must not kill them under the main process while it finishes its step and saves the training state. They still
    exit with the main process (the DataLoader shuts them down, or their watchdog sees the parent gone)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

#----------------------------------------------------------------------------

def training_loop(
    run_dir                 = '.',      # Where every output of the run goes.
    training_set_kwargs     = {},       # construct_class_by_name() arguments of the dataset.
    data_loader_kwargs      = {},       # Extra torch.utils.data.DataLoader arguments (workers, prefetch, ...).
    G_kwargs                = {},       # construct_class_by_name() arguments of G.
    D_kwargs                = {},       # construct_class_by_name() arguments of D.
    G_opt_kwargs            = {},       # construct_class_by_name() arguments of G's optimiser (lr, betas, ...).
    D_opt_kwargs            = {},       # The same for D.
    augment_kwargs          = None,     # AugmentPipe arguments; None: no augmentation.
    loss_kwargs             = {},       # StyleGAN2Loss arguments.
    metrics                 = [],       # Metric names run on G_ema at every network snapshot.
    random_seed             = 0,        # Seeds every RNG (offset per rank).
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
    options                 = None,     # The whole config (plain data), stored in each training state.
    abort_fn                = None,     # Called at every tick; True stops the run.
    progress_fn             = None,     # Called at every tick with (cur_kimg, total_kimg).
):
    rank = dist.get_rank()
    world_size = dist.get_world_size()
    device = dist.device()
    with _session(run_dir, rank) as stopper:
        _train(**{name: value for name, value in locals().items() if name != 'stopper'}, stopper=stopper)

@contextlib.contextmanager
def _session(run_dir, rank):
    """For the duration of the training: log.txt on rank 0 (appended to on resume) and graceful SIGTERM/SIGINT."""
    logger = dnnlib.util.Logger(os.path.join(run_dir, 'log.txt'), file_mode='a') if rank == 0 else None
    stopper = GracefulStop()
    try:
        yield stopper
    finally:
        stopper.restore()
        if logger is not None:
            logger.close()

def _train(run_dir, training_set_kwargs, data_loader_kwargs, G_kwargs, D_kwargs, G_opt_kwargs, D_opt_kwargs,
           augment_kwargs, loss_kwargs, metrics, random_seed, batch_size, batch_gpu, ema_kimg, ema_rampup,
           G_reg_interval, D_reg_interval, augment_p, ada_target, ada_interval, ada_kimg, total_kimg, kimg_per_tick,
           image_snapshot_ticks, network_snapshot_ticks, resume_pkl, resume_state, keep_states, cudnn_benchmark,
           allow_tf32, options, abort_fn, progress_fn, rank, world_size, device, stopper):
    start_time = time.time()
    if batch_size % (batch_gpu * world_size) != 0:
        raise ValueError(f'batch_size {batch_size} must be a multiple of batch_gpu {batch_gpu} x {world_size} processes')
    np.random.seed(random_seed * world_size + rank)
    torch.manual_seed(random_seed * world_size + rank)
    setup_backends(cudnn_benchmark, allow_tf32)
    training_stats.init_multiprocessing(rank=rank, sync_device=device if world_size > 1 else None)
    if device.type == 'cpu' and world_size > 1: # several processes share this machine's cores
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get('LOCAL_WORLD_SIZE', world_size))))
    state = checkpoint.load_state(resume_state) if resume_state is not None else None

    # Training data.
    dist.print0(f'Opening the training data {training_set_kwargs.get("path", "")}...')
    training_set = dnnlib.util.construct_class_by_name(**training_set_kwargs)
    sampler_seed = random_seed + (state['batch_idx'] if state is not None else 0) # a fresh order after a resume
    sampler = misc.InfiniteSampler(dataset=training_set, rank=rank, num_replicas=world_size, seed=sampler_seed)
    loader_kwargs = dict(data_loader_kwargs)
    if loader_kwargs.get('num_workers', 0) == 0:
        loader_kwargs.pop('prefetch_factor', None)
    loader_kwargs['pin_memory'] = loader_kwargs.get('pin_memory', True) and device.type == 'cuda'
    if loader_kwargs.get('num_workers', 0) > 0:
        loader_kwargs.setdefault('worker_init_fn', _leave_stop_signals_to_main)
    training_set_iterator = iter(torch.utils.data.DataLoader(dataset=training_set, sampler=sampler, batch_size=batch_size // world_size, **loader_kwargs))
    labels = torch.as_tensor(training_set.labels, device=device)
    dist.print0(f'{len(training_set)} images of shape {training_set.image_shape}, labels of shape {training_set.label_shape}')

    # Networks.
    dist.print0('Building the networks...')
    common_kwargs = dict(c_dim=training_set.label_dim, img_resolution=training_set.resolution, img_channels=training_set.num_channels)
    G = dnnlib.util.construct_class_by_name(**G_kwargs, **common_kwargs).train().requires_grad_(False).to(device)
    D = dnnlib.util.construct_class_by_name(**D_kwargs, **common_kwargs).train().requires_grad_(False).to(device)
    G_ema = copy.deepcopy(G).eval()
    dequantizer = Dequantizer(training_set.labels, mode=G.cond_args.get('dequant', 'gauss')) if training_set.has_labels else None
    augment_pipe = None
    if augment_kwargs is not None and (augment_p > 0 or ada_target is not None):
        augment_pipe = dnnlib.util.construct_class_by_name(**augment_kwargs).train().requires_grad_(False).to(device)
        augment_pipe.p.copy_(torch.as_tensor(augment_p))

    if resume_pkl is not None and state is None:
        dist.print0(f'Resuming weights from "{resume_pkl}"')
        resume_data = safe_pickle.load_network_pkl(resume_pkl)
        for name, module in [('G', G), ('D', D), ('G_ema', G_ema)]:
            misc.copy_params_and_buffers(resume_data[name], module, require_all=False)
    if state is not None:
        dist.print0(f'Resuming training state "{resume_state}" at {state["cur_nimg"] / 1000:.3f} kimg')
        for key in changed_options(state.get('options'), options):
            dist.print0(f'Note: option "{key}" differs from the run being resumed; the new value applies from here on.')
        if rank == 0:
            checkpoint.remove_stale_temp_files(run_dir)
        for name, module in [('G', G), ('D', D), ('G_ema', G_ema)]:
            checkpoint.load_module_state(module, state[name], name)
        if augment_pipe is not None and ada_target is not None: # ADA's p; a fixed p comes from the config
            augment_pipe.p.copy_(torch.as_tensor(state['augment_p']))
            dist.print0(f'Augment p restored: {float(augment_pipe.p):.6f}')

    # Layer tables of G and D, from one forward pass each.
    if rank == 0:
        z = torch.zeros([batch_gpu, G.z_dim], device=device)
        c = torch.zeros([batch_gpu, G.c_dim], device=device)
        img = misc.print_module_summary(G, [z, c])
        misc.print_module_summary(D, [img, c])

    # All ranks start from rank 0's weights (random init, noise buffers).
    if world_size > 1:
        for module in [G, D, G_ema, augment_pipe]:
            if module is not None:
                for tensor in misc.params_and_buffers(module):
                    torch.distributed.broadcast(tensor, src=0)

    # Loss, phases, optimisers.
    dist.print0('Preparing the optimisers...')
    loss = dnnlib.util.construct_class_by_name(device=device, G=G, D=D, augment_pipe=augment_pipe, **loss_kwargs)
    phases = build_phases(G, D, G_opt_kwargs, D_opt_kwargs, G_reg_interval, D_reg_interval, device)
    opts = dict(G_opt=phases[0].opt, D_opt=phases[-1].opt)
    if state is not None:
        for name, opt in opts.items():
            wanted = [dict(group) for group in opt.param_groups] # configured hyperparameters win over the saved ones
            opt.load_state_dict(state[name])
            for group, want in zip(opt.param_groups, wanted):
                group.update({k: v for k, v in want.items() if k != 'params'})
        loss.pl_mean.copy_(state['pl_mean'])
    ada_stats = training_stats.Collector(regex='Loss/signs/real') if augment_pipe is not None and ada_target is not None else None

    # Counters.
    cur_nimg, cur_tick, batch_idx, best_metrics = 0, 0, 0, {}
    if state is not None:
        cur_nimg, cur_tick, batch_idx = state['cur_nimg'], state['tick'] + 1, state['batch_idx']
        best_metrics = state['best_metrics']
        start_time -= state['elapsed_sec']
    fine_tags = kimg_per_tick * (network_snapshot_ticks or 1) < 1 # sub-kimg snapshots need finer file names
    grid_size = grid_z = grid_c = None
    stats_jsonl = stats_tfevents = None

    # Export the reals grid and the initial fakes (fresh runs only).
    if rank == 0 and image_snapshot_ticks is not None:
        grid_size, grid_images, grid_labels = setup_snapshot_image_grid(training_set, random_seed)
        grid_z = torch.randn([grid_images.shape[0], G.z_dim], generator=torch.Generator().manual_seed(random_seed)).to(device)
        grid_c = torch.as_tensor(grid_labels, device=device)
        if state is None:
            save_image_grid(grid_images, os.path.join(run_dir, 'reals.jpg'), grid_size, training_set.pad)
            save_image_grid(generate_images(G_ema, grid_z, grid_c, batch_gpu), os.path.join(run_dir, 'fakes_init.jpg'), grid_size, training_set.pad)
        if training_set.has_labels: # the snapshot grids sweep time from start to end, one z per cell
            grid_c = torch.linspace(0, 1, grid_images.shape[0], device=device)[:, None]

    # Stats outputs: appended to on resume.
    if rank == 0:
        stats_jsonl = dnnlib.util.open_jsonl_for_append(os.path.join(run_dir, 'stats.jsonl'))
        try:
            import torch.utils.tensorboard as tensorboard
            stats_tfevents = tensorboard.SummaryWriter(run_dir)
        except ImportError as err:
            print('No TensorBoard output:', err)
    stats_collector = training_stats.Collector(regex='.*')
    stats_metrics = dict()

    # The loop: one step per iteration, a tick every kimg_per_tick.
    if cur_nimg >= total_kimg * 1000:
        dist.print0(f'Nothing to do: the run is at {cur_nimg / 1000:.3f} kimg of {total_kimg} kimg.')
        return
    dist.print0(f'Training until {total_kimg} kimg...\n')
    tick_start_nimg = cur_nimg
    tick_start_time = time.time()
    maintenance_time = tick_start_time - start_time if state is None else 0.0
    if progress_fn is not None:
        progress_fn(cur_nimg // 1000, total_kimg)
    num_phases = len(phases)
    stopped = False
    if state is not None:
        restore_rng(state, rank, world_size, random_seed, device)
    while True:

        # Fetch training data: reals with their times, and z and c for every phase.
        with torch.autograd.profiler.record_function('data_fetch'):
            real_img, real_c = next(training_set_iterator)
            real_img = real_img.to(device, non_blocking=True).to(torch.float32) / 127.5 - 1
            real_c = real_c.to(device, non_blocking=True)
            if dequantizer is not None:
                real_c = dequantizer(real_c)
            n = batch_size // world_size
            gen_z = torch.randn([num_phases * n, G.z_dim], device=device).split(n)
            gen_c = sample_gen_c(labels, num_phases * n, dequantizer, device).split(n)

        run_phases(phases, loss, batch_idx, real_img, real_c, gen_z, gen_c, batch_gpu, world_size)
        with torch.autograd.profiler.record_function('Gema'):
            update_ema(G_ema, G, cur_nimg, batch_size, ema_kimg, ema_rampup)
        cur_nimg += batch_size
        batch_idx += 1

        # ADA: move p towards the target sign of D(real).
        if ada_stats is not None and batch_idx % ada_interval == 0:
            ada_stats.update()
            adjust = np.sign(ada_stats['Loss/signs/real'] - ada_target) * (batch_size * ada_interval) / (ada_kimg * 1000)
            augment_pipe.p.copy_((augment_pipe.p + adjust).clamp(min=0))

        # Is a tick due (or the end)?
        if world_size == 1 or batch_idx % 16 == 0: # polling is a collective: not every step on many ranks
            stopped = stopper.requested(device, world_size)
        done = cur_nimg >= total_kimg * 1000 or stopped
        if (not done) and (cur_tick != 0) and (cur_nimg < tick_start_nimg + kimg_per_tick * 1000):
            continue

        # Print the status line and accumulate the stats.
        tick_end_time = time.time()
        dist.print0(tick_status(cur_tick, cur_nimg, total_kimg, start_time, tick_start_time, tick_end_time,
            tick_start_nimg, maintenance_time, augment_pipe, device))

        # The caller may end the run at a tick.
        if (not done) and (abort_fn is not None) and abort_fn():
            done = True
            dist.print0('\nStopping: abort_fn asked for it.')
        tag = checkpoint.kimg_tag(cur_nimg, fine=fine_tags)

        # Save an image grid.
        if rank == 0 and image_snapshot_ticks is not None and (done or cur_tick % image_snapshot_ticks == 0):
            name = ('seq_fakes' if training_set.has_labels else 'fakes') + tag + '.jpg'
            save_image_grid(generate_images(G_ema, grid_z, grid_c, batch_gpu), os.path.join(run_dir, name), grid_size, training_set.pad)

        # Save a network snapshot, evaluate the metrics (not when stopping on a signal), save the training state.
        if done or (network_snapshot_ticks is not None and cur_tick % network_snapshot_ticks == 0):
            snapshot = snapshot_modules(dict(G=G, D=D, G_ema=G_ema, augment_pipe=augment_pipe), world_size)
            snapshot['training_set_kwargs'] = dict(training_set_kwargs)
            snapshot_pkl = None
            if rank == 0:
                snapshot_pkl = dnnlib.util.atomic_write(os.path.join(run_dir, f'network-snapshot-{tag}.pkl'), lambda f: pickle.dump(snapshot, f))
            snapshot_pkl = dist.broadcast_object(snapshot_pkl)
            if metrics and stopped: # a stop signal leaves little time (SLURM, timeout): the state comes first
                dist.print0(f'Skipping the metrics on the way out; run calc_metrics.py on {snapshot_pkl}')
            elif metrics:
                dist.print0('Running the metrics...')
                from metrics import metric_main # lazily: metrics are optional for training
                for metric in metrics:
                    result_dict = metric_main.calc_metric(metric=metric, G=snapshot['G_ema'],
                        dataset_kwargs=training_set_kwargs, num_gpus=world_size, rank=rank, device=device)
                    if rank == 0:
                        metric_main.report_metric(result_dict, run_dir=run_dir, snapshot_pkl=snapshot_pkl)
                    stats_metrics.update(result_dict.results)
                    best_metrics = best_metrics_update(best_metrics, result_dict.results, snapshot_pkl)
            rng_states = gather_rng_states(device, world_size)
            if rank == 0:
                state_pt = checkpoint.save_state(os.path.join(run_dir, f'training-state-{tag}.pt'), dict(
                    G=checkpoint.cpu_state_dict(G), D=checkpoint.cpu_state_dict(D), G_ema=checkpoint.cpu_state_dict(G_ema),
                    G_opt=opts['G_opt'].state_dict(), D_opt=opts['D_opt'].state_dict(),
                    augment_p=float(augment_pipe.p) if augment_pipe is not None else 0.0, pl_mean=loss.pl_mean,
                    cur_nimg=cur_nimg, tick=cur_tick, batch_idx=batch_idx, elapsed_sec=time.time() - start_time,
                    rng=rng_states, best_metrics=best_metrics, snapshot_pkl=os.path.basename(snapshot_pkl),
                    world_size=world_size, options=json.loads(json.dumps(options or {}))))
                checkpoint.prune_states(run_dir, keep_states)
                print(f'Saved {os.path.basename(snapshot_pkl)} and {os.path.basename(state_pt)}')
            del snapshot # the CPU copies are large

        # Phase timings, then this tick's statistics from every rank.
        for phase in phases:
            if phase.get('timed', False):
                phase.end_event.synchronize()
                training_stats.report0('Timing/' + phase.name, phase.start_event.elapsed_time(phase.end_event))
        stats_collector.update()
        stats_dict = stats_collector.as_dict()

        # Write them out.
        if rank == 0:
            write_stats(stats_jsonl, stats_tfevents, stats_dict, stats_metrics, cur_nimg, start_time)
        if progress_fn is not None:
            progress_fn(cur_nimg // 1000, total_kimg)

        # On to the next tick.
        cur_tick += 1
        tick_start_nimg = cur_nimg
        tick_start_time = time.time()
        maintenance_time = tick_start_time - tick_end_time
        if done:
            break

    # After the last tick.
    report_rank_checksums(dict(G=G, D=D, G_ema=G_ema), world_size, rank)
    if stats_jsonl is not None:
        stats_jsonl.close()
    if stats_tfevents is not None:
        stats_tfevents.close()
    if stopped:
        dist.print0(f'\nStopped by a signal at {cur_nimg / 1000:.3f} kimg; continue with --resume={run_dir}')
    else:
        dist.print0('\nTraining finished.')

#----------------------------------------------------------------------------
