"""What a run reports while it trains: the status line of every tick and its statistics (stats.jsonl and, when
TensorBoard is importable, event files), and the JPEG image grids (quality 97, pads cropped): reals.jpg and
fakes_init.jpg at the start of a fresh run, then at every image snapshot seq_fakes<tag>.jpg, a time sweep from t = 0
to t = 1, or fakes<tag>.jpg for unconditional models."""

import json
import os
import time

import numpy as np
import PIL.Image
import psutil
import torch

import dnnlib
from torch_utils import training_stats
from viz import compose, render

#----------------------------------------------------------------------------
# Image grids.

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

def save_image_grid(images, path, grid_size):
    """Tile uint8 images [N, h, w, C] (C = 1, 3 or 4) into a gw x gh JPEG (quality 97) with viz's tiler."""
    gw, gh = grid_size
    grid = compose.tile(images[:gw * gh], gw, gh)
    image = PIL.Image.fromarray(grid[:, :, 0], 'L') if grid.shape[2] == 1 else PIL.Image.fromarray(grid[:, :, :3], 'RGB')
    return dnnlib.util.atomic_write(path, lambda f: image.save(f, format='JPEG', quality=97))

class SnapshotGrid:
    """The grids of one run: cell i shows seed random_seed + i (the viewers' seed rule), rendered through viz.render
    as the exporter renders it (constant noise, out_rect crop, uint8 conversion); the reals' times for
    fakes_init.jpg, then a time sweep (conditional models) or the same times again."""

    def __init__(self, training_set, z_dim, random_seed, batch, device):
        self.size, reals, labels = setup_snapshot_image_grid(training_set, random_seed)
        pad_h, pad_v = training_set.pad
        _n, _c, h, w = reals.shape
        self.out_rect = (pad_h, pad_v, w - pad_h, h - pad_v)
        self.reals = reals[:, :, pad_v:h - pad_v, pad_h:w - pad_h].transpose(0, 2, 3, 1)
        self.batch = batch
        self.z = render.seed_latents(range(random_seed, random_seed + len(reals)), z_dim, device)
        self.reals_c = torch.as_tensor(labels, device=device)
        sweep = torch.from_numpy(np.linspace(0, 1, len(reals))[:, None]).to(device, torch.float32) # as viz.layout
        self.sweep_c = sweep if training_set.has_labels else self.reals_c
        self.prefix = 'seq_fakes' if training_set.has_labels else 'fakes'

    def save_start(self, run_dir, G_ema):
        save_image_grid(self.reals, os.path.join(run_dir, 'reals.jpg'), self.size)
        save_image_grid(self.fakes(G_ema, self.reals_c), os.path.join(run_dir, 'fakes_init.jpg'), self.size)

    def save(self, run_dir, G_ema, tag):
        save_image_grid(self.fakes(G_ema, self.sweep_c), os.path.join(run_dir, f'{self.prefix}{tag}.jpg'), self.size)

    @torch.no_grad()
    def fakes(self, G_ema, c):
        """uint8 RGBA [N, h, w, 4] of the cells at times c [N, 1]."""
        settings = dict(out_rect=self.out_rect, trunc=1, trunc_cutoff=0, noise_mode='const', mix_layer=0, res_scale=1,
            antialias=True)
        return torch.cat([render.generate(G_ema, c=c_, z=z_, **settings).cpu()
            for z_, c_ in zip(self.z.split(self.batch), c.split(self.batch))]).numpy()

#----------------------------------------------------------------------------
# Status line and statistics.

def tick_status(state, total_kimg, tick_end_time, augment_pipe, device):
    """Report the progress stats of the tick that ends now (every rank) and return the status line."""
    tick_sec = tick_end_time - state.tick_start_time
    sec_per_kimg = tick_sec / max(state.cur_nimg - state.tick_start_nimg, 1) * 1e3
    eta = sec_per_kimg * max(total_kimg - state.cur_nimg / 1e3, 0)
    total_sec = tick_end_time - state.start_time
    gpu_mem = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == 'cuda' else 0
    gpu_reserved = torch.cuda.max_memory_reserved(device) / 2**30 if device.type == 'cuda' else 0
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    columns = [ # (label, statistic reported, value, format; 'time' = h/m/s)
        ('tick', 'Progress/tick', state.cur_tick, '<5d'),
        ('kimg', 'Progress/kimg', state.cur_nimg / 1e3, '<9.3f'),
        ('time', 'Timing/total_sec', total_sec, 'time'),
        ('sec/tick', 'Timing/sec_per_tick', tick_sec, '<7.1f'),
        ('sec/kimg', 'Timing/sec_per_kimg', sec_per_kimg, '<7.2f'),
        ('eta', None, eta, 'time'),
        ('maintenance', 'Timing/maintenance_sec', state.maintenance_sec, '<6.1f'),
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
    training_stats.report0('Timing/total_hours', total_sec / (60 * 60))
    training_stats.report0('Timing/total_days', total_sec / (24 * 60 * 60))
    return ' '.join(fields)

def report_phase_timings(phases):
    """Report the CUDA time of the phases that ran since the last call (waits for them)."""
    for phase in phases:
        if phase.get('timed', False):
            phase.end_event.synchronize()
            training_stats.report0('Timing/' + phase.name, phase.start_event.elapsed_time(phase.end_event))

class StatsWriter:
    """Rank 0's statistics outputs in run_dir, appended to on resume: stats.jsonl and TensorBoard events."""

    def __init__(self, run_dir):
        self.jsonl = dnnlib.util.open_jsonl_for_append(os.path.join(run_dir, 'stats.jsonl'))
        self.tfevents = None
        try:
            import torch.utils.tensorboard as tensorboard
            self.tfevents = tensorboard.SummaryWriter(run_dir)
        except ImportError as err:
            print('No TensorBoard output:', err)

    def write(self, stats_dict, metrics, cur_nimg, start_time):
        """One line of stats.jsonl, and the same scalars (plus the metrics) to TensorBoard at step = kimg."""
        timestamp = time.time()
        self.jsonl.write((json.dumps(dict(stats_dict, timestamp=timestamp)) + '\n').encode('utf-8'))
        self.jsonl.flush()
        if self.tfevents is not None:
            step, walltime = int(cur_nimg / 1e3), timestamp - start_time
            for name, value in stats_dict.items():
                self.tfevents.add_scalar(name, value.mean, global_step=step, walltime=walltime)
            for name, value in metrics.items():
                self.tfevents.add_scalar(f'Metrics/{name}', value, global_step=step, walltime=walltime)
            self.tfevents.flush()

    def close(self):
        self.jsonl.close()
        if self.tfevents is not None:
            self.tfevents.close()

#----------------------------------------------------------------------------
