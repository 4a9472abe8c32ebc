"""The training loop's state and the bookkeeping of a snapshot: LoopState (counters, clock, best metrics) as one
object; the network snapshot pickle; the training state dict (training/checkpoint.py writes and reads the file) and
restoring a run from one; the checks that all ranks hold the same weights.

A training state holds the G, D and G_ema weights, both optimiser states, ADA's p and the signs it has not acted upon
yet, the path-length mean, the counters, the elapsed time, the best metrics and the config. No random-generator
state: the data order and every random draw derive from (seed, rank, image counter) (training_step, InfiniteSampler).
"""

import copy
import dataclasses
import hashlib
import json
import os
import pickle
import time

import numpy as np
import torch

import dnnlib
from torch_utils import distributed as dist
from torch_utils import misc
from training import checkpoint

#----------------------------------------------------------------------------

@dataclasses.dataclass
class LoopState:
    """Where the run is. cur_nimg, cur_tick, batch_idx, best_metrics and the elapsed time persist in training states;
    the tick fields time the current tick."""
    cur_nimg: int = 0               # Real images shown so far, all ranks together.
    cur_tick: int = 0
    batch_idx: int = 0              # Steps taken so far.
    best_metrics: dict = dataclasses.field(default_factory=dict)
    start_time: float = dataclasses.field(default_factory=time.time) # Wall clock at which the run would have started.
    tick_start_nimg: int = 0
    tick_start_time: float = 0.0
    maintenance_sec: float = 0.0    # Time spent between the previous tick and this one (snapshots, set-up).

    @classmethod
    def resumed(cls, saved):
        """The state that continues a saved training state (in the tick after the saved one)."""
        return cls(cur_nimg=saved['cur_nimg'], cur_tick=saved['tick'] + 1, batch_idx=saved['batch_idx'],
            best_metrics=saved['best_metrics'], start_time=time.time() - saved['elapsed_sec'])

    def start_tick(self, now, maintenance_sec):
        self.tick_start_nimg = self.cur_nimg
        self.tick_start_time = now
        self.maintenance_sec = maintenance_sec

#----------------------------------------------------------------------------
# Network snapshots.

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

def save_network_snapshot(run_dir, tag, nets, training_set_kwargs, rank, world_size):
    """(snapshot dict, path on every rank) of network-snapshot-<tag>.pkl: G, D, G_ema, augment_pipe and the dataset's
    kwargs; rank 0 writes it (collective)."""
    snapshot = snapshot_modules(dict(G=nets.G, D=nets.D, G_ema=nets.G_ema, augment_pipe=nets.augment_pipe), world_size)
    snapshot['training_set_kwargs'] = dict(training_set_kwargs)
    path = None
    if rank == 0:
        path = dnnlib.util.atomic_write(os.path.join(run_dir, f'network-snapshot-{tag}.pkl'), lambda f: pickle.dump(snapshot, f))
    return snapshot, dist.broadcast_object(path)

def best_metrics_update(best, results, snapshot_pkl):
    """Keep the lowest value of every FID/KID-like result (lower is better) with the snapshot that reached it."""
    for key, value in results.items():
        if key.startswith(('fid', 'kid')) and np.isfinite(value) and (key not in best or value < best[key]['value']):
            best[key] = dict(value=float(value), snapshot=os.path.basename(snapshot_pkl))
    return best

#----------------------------------------------------------------------------
# Training states.

def training_state(nets, state, snapshot_pkl, options, world_size):
    """The training state dict of this moment (collective: ADA syncs its signs)."""
    return dict(
        G=checkpoint.cpu_state_dict(nets.G), D=checkpoint.cpu_state_dict(nets.D), G_ema=checkpoint.cpu_state_dict(nets.G_ema),
        G_opt=nets.phases[0].opt.state_dict(), D_opt=nets.phases[-1].opt.state_dict(),
        augment_p=float(nets.augment_pipe.p) if nets.augment_pipe is not None else 0.0,
        ada=nets.ada.state_dict() if nets.ada is not None else None, pl_mean=nets.loss.pl_mean,
        cur_nimg=state.cur_nimg, tick=state.cur_tick, batch_idx=state.batch_idx,
        elapsed_sec=time.time() - state.start_time, best_metrics=state.best_metrics,
        snapshot_pkl=os.path.basename(snapshot_pkl), world_size=world_size, options=json.loads(json.dumps(options or {})))

def save_training_state(run_dir, tag, nets, state, snapshot_pkl, options, keep_states, rank, world_size):
    """Write training-state-<tag>.pt from rank 0 and prune the older ones (collective)."""
    saved = training_state(nets, state, snapshot_pkl, options, world_size)
    if rank == 0:
        path = checkpoint.save_state(os.path.join(run_dir, f'training-state-{tag}.pt'), saved)
        checkpoint.prune_states(run_dir, keep_states)
        print(f'Saved {os.path.basename(snapshot_pkl)} and {os.path.basename(path)}')

def restore_networks(nets, saved, adaptive):
    """Load the weights of a training state into G, D and G_ema, and ADA's p when p adapts (a fixed p comes from the
    config)."""
    for name in ['G', 'D', 'G_ema']:
        checkpoint.load_module_state(nets[name], saved[name], name)
    if nets.augment_pipe is not None and adaptive:
        nets.augment_pipe.p.copy_(torch.as_tensor(saved['augment_p']))
        dist.print0(f'Augment p restored: {float(nets.augment_pipe.p):.6f}')

def restore_training(nets, saved):
    """Load the optimiser states (the configured hyperparameters win over the saved ones), the path-length mean and
    ADA's pending signs."""
    for opt, name in [(nets.phases[0].opt, 'G_opt'), (nets.phases[-1].opt, 'D_opt')]:
        wanted = [dict(group) for group in opt.param_groups]
        opt.load_state_dict(saved[name])
        for group, want in zip(opt.param_groups, wanted):
            group.update({k: v for k, v in want.items() if k != 'params'})
    nets.loss.pl_mean.copy_(saved['pl_mean'])
    if nets.ada is not None and saved.get('ada') is not None:
        nets.ada.load_state_dict(saved['ada'])

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

#----------------------------------------------------------------------------
# Rank agreement.

def broadcast_modules(modules, world_size):
    """Every rank takes rank 0's parameters and buffers (random init, noise buffers)."""
    if world_size > 1:
        for module in modules:
            if module is not None:
                for tensor in misc.params_and_buffers(module):
                    torch.distributed.broadcast(tensor, src=0)

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

#----------------------------------------------------------------------------
