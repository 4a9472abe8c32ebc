"""One training step, shared by the training loop and benchmarks/bench_train.py: the phases (main and lazy
regularisation of G and D, each accumulating gradients over micro-batches), the all-reduce and optimiser step, G_ema,
ADA's adjustment of the augmentation probability, and the random streams of a step.

Every random draw of a step (latents, generator times, dequantisation, style mixing, noise inputs, augmentation, the
discriminator's time noise) comes from torch's global generators, reseeded at the start of the step from (seed, rank,
image counter). A resumed run therefore draws exactly what an uninterrupted one would, and no generator state needs
saving.
"""

import os

import numpy as np
import torch

import dnnlib
from torch_utils import misc
from torch_utils import training_stats
from torch_utils.ops import bias_act
from torch_utils.ops import conv2d_gradfix
from torch_utils.ops import grid_sample_gradfix
from torch_utils.ops import scale_bias_act

#----------------------------------------------------------------------------
# Set-up.

def setup_backends(cudnn_benchmark=True, allow_tf32=False, deterministic=False, graphs=False):
    """deterministic: only kernels that give the same result every time (cuBLAS needs its workspace setting before
    its first use); PyTorch warns once about each op that has none (grid_sample's backward, under ADA). graphs: the
    step will be replayed as CUDA graphs, where the fused kernels of bias_act and scale_bias_act pay at every size
    (bias_act.EAGER_MIN_BYTES)."""
    if deterministic:
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
        torch.utils.deterministic.fill_uninitialized_memory = False # a debugging aid that costs a fill per allocation
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = cudnn_benchmark and not deterministic
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    torch.backends.cudnn.allow_tf32 = allow_tf32
    conv2d_gradfix.enabled = True     # lets the path-length regulariser skip conv weight gradients
    grid_sample_gradfix.enabled = True  # double backward of the augment pipe's grid_sample (R1 through ADA)
    bias_act.FAST_MIN_BYTES = 0 if graphs else bias_act.EAGER_MIN_BYTES
    scale_bias_act.FAST_MIN_BYTES = bias_act.FAST_MIN_BYTES

def build_phases(G, D, G_opt_kwargs, D_opt_kwargs, G_reg_interval, D_reg_interval, device, cond_decay=0):
    """Phases [EasyDict(name, module, opt, interval, after_step)]: per network 'main' every step and 'reg' every
    reg_interval steps with one optimiser whose lr and betas are corrected for the lazy regularisation (or 'both' if
    None). cond_decay > 0: after each of G's steps, the time weights of its styles shrink by lr * cond_decay."""
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
        phase.after_step = _time_weight_decay(phase, cond_decay) if phase.module is G else None
        phase.start_event = torch.cuda.Event(enable_timing=True) if device.type == 'cuda' else None
        phase.end_event = torch.cuda.Event(enable_timing=True) if device.type == 'cuda' else None
    return phases

def _time_weight_decay(phase, cond_decay):
    """The decoupled decay of G's time weights after an optimiser step of this phase (None if off), as AdamW scales
    it: by lr * cond_decay per step, so Adam's noise-driven random walk settles at about sqrt(lr / (2 cond_decay))
    while weights the loss pushes one way can still grow to 1 / cond_decay (in the stored units, where the constant
    feature's weight starts at 1 / cond_lr)."""
    layers = [m for m in phase.module.modules() if hasattr(m, 'decay_time_weights_')] if cond_decay else []
    if not layers:
        return None
    keep = 1 - phase.opt.param_groups[0]['lr'] * cond_decay
    def after_step():
        for layer in layers:
            layer.decay_time_weights_(keep)
    return after_step

#----------------------------------------------------------------------------
# The step's inputs.

def seed_step(random_seed, rank, nimg, device):
    """Reseed torch's CPU generator and, on CUDA, the current device's for the step that starts at image counter
    nimg on this rank (only those: torch.manual_seed visits every backend and costs ~10x more per step)."""
    seed = int(np.random.SeedSequence([random_seed, rank, nimg]).generate_state(1, np.uint64)[0])
    torch.default_generator.manual_seed(seed)
    if device.type == 'cuda':
        torch.cuda.manual_seed(seed)

def sample_gen_c(labels, n, dequantizer, device):
    """Generator times: labels of uniformly random dataset frames (the empirical capture density), dequantised."""
    if labels.shape[1] == 0:
        return torch.zeros([n, 0], device=device)
    c = labels[torch.randint(labels.shape[0], [n], device=device)]
    return dequantizer(c)

def fetch_inputs(data_iter, labels, dequantizer, num_phases, batch, z_dim, device):
    """(real images in [-1, 1], dequantised real times, one z and one c per phase) of one step on this rank."""
    real_img, real_c = next(data_iter)
    real_img = real_img.to(device, non_blocking=True).to(torch.float32) / 127.5 - 1
    real_c = real_c.to(device, non_blocking=True)
    if dequantizer is not None:
        real_c = dequantizer(real_c)
    gen_z = torch.randn([num_phases * batch, z_dim], device=device).split(batch)
    gen_c = sample_gen_c(labels, num_phases * batch, dequantizer, device).split(batch)
    return real_img, real_c, gen_z, gen_c

#----------------------------------------------------------------------------
# The step.

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

def run_phase(phase, loss, real_img, real_c, gen_z, gen_c, batch_gpu, world_size):
    """One phase: its gradients accumulated over micro-batches of batch_gpu, then the optimiser step."""
    phase.opt.zero_grad(set_to_none=True)
    phase.module.requires_grad_(True)
    for r_img, r_c, g_z, g_c in zip(real_img.split(batch_gpu), real_c.split(batch_gpu), gen_z.split(batch_gpu), gen_c.split(batch_gpu)):
        loss.accumulate_gradients(phase=phase.name, real_img=r_img, real_c=r_c, gen_z=g_z, gen_c=g_c, gain=phase.interval)
    phase.module.requires_grad_(False)
    with torch.autograd.profiler.record_function(phase.name + '_opt'):
        reduce_grads_and_step(phase.module, phase.opt, world_size)
        if phase.after_step is not None:
            phase.after_step()

def run_phases(phases, loss, batch_idx, real_img, real_c, gen_z, gen_c, batch_gpu, world_size, graphs=None):
    """Every phase due at batch_idx, each with its own z and c (lists with one entry per phase); through `graphs`
    (training.step_graphs.PhaseGraphs) if given, else eagerly."""
    for phase, phase_z, phase_c in zip(phases, gen_z, gen_c):
        if batch_idx % phase.interval != 0:
            continue
        if phase.start_event is not None:
            phase.start_event.record(torch.cuda.current_stream())
            phase.timed = True
        if graphs is not None:
            graphs.run(phase, real_img, real_c, phase_z, phase_c)
        else:
            run_phase(phase, loss, real_img, real_c, phase_z, phase_c, batch_gpu, world_size)
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

#----------------------------------------------------------------------------
# ADA.

class AdaTuner:
    """Every `interval` steps, moves augment_pipe.p towards the target mean sign of D(real) by (images since the last
    move) / (kimg * 1000). The signs are summed on the device and p moves there, so that the tuner never stops the GPU
    (collective across ranks, as all ranks must agree on p). The signs seen since the last move belong to the training
    state (state_dict), so that a run resumed between two moves moves exactly as an uninterrupted one."""

    STAT = 'Loss/signs/real'

    def __init__(self, augment_pipe, target, interval, kimg, batch_size):
        self.augment_pipe = augment_pipe
        self.target = target
        self.interval = interval
        self.rate = batch_size * interval / (kimg * 1000)
        self.signs = training_stats.Tap(self.STAT, augment_pipe.p.device)
        self.carried = torch.zeros(2, dtype=torch.float64, device=augment_pipe.p.device) # from a resumed state

    def _pending(self):
        """[count, sum] of the signs since the last move, over all ranks (a device tensor)."""
        return self.signs.total()[:2] + self.carried

    def step(self, batch_idx):
        """After step batch_idx (counted from 1): move p if a move is due."""
        if batch_idx % self.interval != 0:
            return
        count, total = self._pending()
        self.signs.reset()
        self.carried.zero_()
        adjust = torch.where(count > 0, torch.sign(total / count - self.target) * self.rate, 0) # no signs: no move
        p = self.augment_pipe.p
        p.copy_((p + adjust.to(p.dtype)).clamp(min=0))

    def state_dict(self):
        """The signs not yet acted upon (collective: every rank calls it). p itself is saved with the pipe."""
        return dict(pending=self._pending().tolist())

    def load_state_dict(self, state):
        self.signs.reset()
        self.carried.copy_(torch.as_tensor([float(v) for v in state['pending']], dtype=torch.float64))

#----------------------------------------------------------------------------
