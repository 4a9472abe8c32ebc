"""Training throughput (s/kimg), peak GPU memory, GPU busy fraction and achieved TFLOP/s of the training step.

Runs the training loop's own step (training_step: the per-step reseeding, run_phases and update_ema; Gmain, Greg every
4, Dmain, Dreg every 16, with lazy-regularisation optimisers; CUDA graphs of the phases as train.py uses them unless
--no-graphs) on random data held in memory, ADA off as the original's figures were measured (--aug-p=P adds the ADA
'bgc' pipeline at a fixed probability, to measure its cost): batch 32 at 128^2 (cbase 16384, cmax 256), 256^2 and
1024^2 (cbase 32768, cmax 512), fourier conditioning with trend, year and day. Each resolution runs for --seconds
after a warm-up and prints one markdown table row. Busy is the GPU utilisation nvidia-smi reports over the timed
window (the fraction of time a kernel was running); TFLOP/s divides the FLOPs that torch.utils.flop_counter's formulas
give for one regularisation cycle (16 eager steps, all phases; FlopCount) by the measured time (--flops; convolutions
and matmuls: the hand-written elementwise kernels are not counted).

--real-data=ZIP times train.py itself on a dataset zip instead (data loading, ADA and reporting included): it trains
--kimg-real kimg (ten ticks) into a temporary folder and reports the median s/kimg of the ticks after the first
three (the first step, then cuDNN's and the graphs' warm-ups).

  python benchmarks/bench_train.py                                    # all three resolutions, original settings
  python benchmarks/bench_train.py --res=256 --no-graphs --flops      # eager, with TFLOP/s
  python benchmarks/bench_train.py --real-data=demo_128x128_730hz.zip --cbase=16384 --cmax=256 -- --aug=noaug
  python benchmarks/bench_train.py --res=32 --cbase=256 --cmax=32 --seconds=3    # CPU smoke run
"""

import copy
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import click
import torch
import torch.utils.flop_counter
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dnnlib # pylint: disable=wrong-import-position
import train # pylint: disable=wrong-import-position
from training import augment # pylint: disable=wrong-import-position
from training import step_graphs # pylint: disable=wrong-import-position
from training import timeline # pylint: disable=wrong-import-position
from training import training_step # pylint: disable=wrong-import-position
from torch_utils.ops import _dispatch, reflect_warp, scale_bias_act, upfirdn2d # pylint: disable=wrong-import-position

ORIGINAL_SEC_PER_KIMG = {128: 6.5, 256: 13.1, 1024: 73.4} # original code, one H100, --aug=noaug,
ORIGINAL_BATCH = 32                                        # batch 32,
ORIGINAL_BATCH_GPU = {128: 32, 256: 32, 1024: 8}           # at these micro-batches (ours by default; its fastest)
ORIGINAL_CHANNELS = {128: (16384, 256)}                    # cbase, cmax of the 128^2 measurement (others 32768, 512)
ORIGINAL_GPU = 'H100'                                      # the ratio is printed only like for like: same GPU kind,
                                                           # batch, channels and micro-batch as the original's
NUM_DAYS = 2225                                            # a six-year sequence: trend, year and day slots
NUM_FRAMES = 1000                                          # frames of that sequence ('auto' time noise is in frames)

#----------------------------------------------------------------------------

NET = dnnlib.EasyDict( # what build() makes: the networks, their precision and the step's execution
    res=128, cbase=16384, cmax=256, batch_gpu=32,
    fp32=False, bf16=False, fp16_res=4, channels_last=True, # fp32: no float16 blocks; bf16: autocast instead of them
    compile=False, graphs=True, aug_p=0, cond_decay=0,      # aug_p: ADA at this fixed probability (0 = off)
    time_weight=0, time_twin=False,                         # > 0: D's time head with this weight (train.py --time-head),
                                                            # and its twin (--time-twin)
    time_smooth=0, time_smooth_centred=False,               # > 0: the time-smoothness penalty (train.py --time-smooth),
                                                            # centred (--time-smooth-centred)
    fuse_small=True,                                        # with graphs, bias_act's kernel at every size (as train.py)
    scale_kernel=True,                                      # scale_bias_act's kernel (off: its reference's PyTorch ops)
    rows_kernel=True,                                       # upfirdn2d's rows kernel (off: its pixel kernel)
    warp_kernel=True)                                       # ADA's reflect_warp kernel (off: its reference's ops)

def net_options(**kwargs):
    """NET with the given values replaced (only its own keys)."""
    unknown = set(kwargs) - set(NET)
    if unknown:
        raise TypeError(f'unknown network options: {", ".join(sorted(unknown))}')
    return dnnlib.EasyDict(NET, **kwargs)

def build(net, device):
    """G, G_ema, loss and phases of the options `net` (net_options()) configured as train.py does (after
    training_step.setup_backends, whose choice of kernels scale_kernel, rows_kernel and warp_kernel=False override)."""
    if not net.scale_kernel:
        scale_bias_act.FAST_MIN_BYTES = float('inf')
    upfirdn2d.ROWS_KERNEL = net.rows_kernel
    reflect_warp.FAST = net.warp_kernel
    res, fp32, bf16, channels_last = net.res, net.fp32, net.bf16, net.channels_last
    f_manual = timeline.cycle_frequencies(NUM_DAYS)
    cond_args = dnnlib.EasyDict(type='fourier', dims=2 * (len(f_manual) + 1), f_manual=f_manual, include_lin=True,
        lin_lr=0.01, lr=1.0, noise=0.0, noise_f_int=[], d_time_noise=True, dequant='gauss', t_delta=1 / NUM_FRAMES,
        noise_f=[timeline.days_to_frames(s, NUM_DAYS, NUM_FRAMES) for s in timeline.auto_noise_spans(NUM_DAYS)],
        num_frames=NUM_FRAMES, **timeline.Timeline(num_days=NUM_DAYS).as_cond_args())
    common = dict(c_dim=1, img_resolution=res, img_channels=3, cond_args=cond_args, channel_base=net.cbase,
        channel_max=net.cmax, num_fp16_res=(0 if fp32 or bf16 else net.fp16_res), conv_clamp=(None if fp32 else 256))
    G = dnnlib.util.construct_class_by_name(class_name='training.networks_stylegan2.Generator', z_dim=512, w_dim=512,
        mapping_kwargs=dict(num_layers=2), fp16_channels_last=channels_last,
        **common).train().requires_grad_(False).to(device)
    D = dnnlib.util.construct_class_by_name(class_name='training.networks_stylegan2.Discriminator',
        block_kwargs=dict(fp16_channels_last=channels_last), epilogue_kwargs=dict(mbstd_group_size=min(net.batch_gpu, 4)),
        time_head=net.time_weight > 0, time_twin=net.time_twin, **common).train().requires_grad_(False).to(device)
    G_ema = copy.deepcopy(G).eval()
    augment_pipe = None
    if net.aug_p > 0:
        augment_pipe = augment.AugmentPipe(**augment.BGC).train().requires_grad_(False).to(device)
        augment_pipe.p.fill_(net.aug_p)
    loss = dnnlib.util.construct_class_by_name(class_name='training.loss.StyleGAN2Loss', device=device, G=G, D=D, augment_pipe=augment_pipe,
        r1_gamma=(res / 256) ** 2, style_mixing_prob=0.9, pl_weight=2, pl_no_weight_grad=True, bf16=bf16, compile=net.compile,
        sync_free=net.graphs, time_weight=net.time_weight, time_twin=net.time_twin, time_smooth=net.time_smooth,
        time_smooth_centred=net.time_smooth_centred)
    opt_kwargs = dict(class_name='torch.optim.Adam', lr=0.002, betas=[0, 0.99], eps=1e-8)
    phases = training_step.build_phases(G, D, opt_kwargs, opt_kwargs, 4, 16, device, net.cond_decay)
    return G, G_ema, loss, phases

def run(net, batch, seconds, warmup, tf32, flops, profile, device):
    """EasyDict(sec_per_kimg, peak GiB, busy fraction or None, TFLOP per image or None) of the options `net` at this
    batch; profile=N > 0 also prints where N steps' time goes."""
    training_step.setup_backends(cudnn_benchmark=True, allow_tf32=tf32, graphs=net.graphs and net.fuse_small)
    flop_per_img = count_flops(net, batch, device) if flops else None
    torch.manual_seed(0)
    G, G_ema, loss, phases = build(net, device)
    step_graph = step_graphs.PhaseGraphs(loss, net.batch_gpu) if net.graphs else None
    step = make_step(G, G_ema, loss, phases, net.res, batch, net.batch_gpu, step_graph, device)
    sync = lambda: torch.cuda.synchronize(device) if device.type == 'cuda' else None

    if net.graphs: # every phase captured before the clock starts (Dreg runs every 16 steps)
        warmup = max(warmup, 16 * (step_graph.warmup + 1) + 1)
    if device.type == 'cuda': # the peak includes the warm-up: the graphs' memory is allocated while capturing
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup): # includes both regularisation phases (and their compilation, if any)
        step()
    sync()
    with BusySampler(device) as busy:
        start = time.perf_counter()
        steps = 0
        while steps == 0 or steps % 16 != 0 or time.perf_counter() - start < seconds: # whole regularisation cycles
            step()
            steps += 1
            if steps % 16 == 0:
                sync()
        sync()
        elapsed = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == 'cuda' else float('nan')
    if profile:
        print_profile(step, sync, device, steps=profile)
    return dnnlib.EasyDict(sec_per_kimg=elapsed / (steps * batch) * 1000, peak=peak, busy=busy.fraction, flop_per_img=flop_per_img)

def make_step(G, G_ema, loss, phases, res, batch, batch_gpu, graphs, device):
    """One training step on fixed random reals, as the training loop runs it."""
    real_img = torch.rand([batch, 3, res, res], device=device) * 2 - 1
    real_c = torch.rand([batch, 1], device=device)
    batch_idx = 0

    def step():
        nonlocal batch_idx
        training_step.seed_step(0, 0, batch_idx * batch, device)
        gen_z = torch.randn([len(phases) * batch, G.z_dim], device=device).split(batch)
        gen_c = torch.rand([len(phases) * batch, 1], device=device).split(batch)
        training_step.run_phases(phases, loss, batch_idx, real_img, real_c, gen_z, gen_c, batch_gpu, 1, graphs)
        training_step.update_ema(G_ema, G, batch_idx * batch, batch, ema_kimg=batch * 10 / 32, ema_rampup=0.05)
        batch_idx += 1
    return step

def count_flops(net, batch, device):
    """FLOPs per real image of one regularisation cycle (16 eager steps), as torch.utils.flop_counter counts them."""
    torch.manual_seed(0)
    net = dnnlib.EasyDict(net, compile=False, graphs=False)
    G, G_ema, loss, phases = build(net, device)
    step = make_step(G, G_ema, loss, phases, net.res, batch, net.batch_gpu, None, device)
    step() # lazy initialisation outside the count
    with FlopCount() as counter:
        for _ in range(16):
            step()
    return counter.total / (16 * batch)

class FlopCount(TorchDispatchMode):
    """FLOPs of the ops that torch.utils.flop_counter has formulas for (convolutions, matmuls). Its own
    FlopCounterMode tracks modules with hooks that fail under the regularisers' autograd.grad."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = torch.utils.flop_counter.flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out

class BusySampler:
    """The mean GPU utilisation that nvidia-smi reports (sampled every 100 ms) while the block runs; None without it."""

    def __init__(self, device):
        self.device, self.proc, self.fraction = device, None, None

    def __enter__(self):
        if self.device.type == 'cuda':
            cmd = ['nvidia-smi', f'--id={torch.cuda.current_device()}', '--query-gpu=utilization.gpu', '--format=csv,noheader,nounits', '-lms', '100']
            try:
                self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            except OSError:
                self.proc = None
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.terminate()
            samples = [float(line) for line in self.proc.communicate()[0].split() if line.strip().isdigit()]
            self.fraction = float(np.mean(samples[2:])) / 100 if len(samples) > 2 else None # the first read is stale

def print_profile(step, sync, device, steps):
    """Wall time vs. summed kernel time per step (how idle the GPU is), launches per step, the top kernels, and the
    operators (with input shapes) that launched them. Under CUDA graphs the operators are seen only while capturing,
    so their table is for an eager step (--no-graphs)."""
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if device.type == 'cuda' else [])
    with torch.profiler.profile(activities=activities, record_shapes=True) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        wall = (time.perf_counter() - start) / steps * 1e3
    tables_start = time.perf_counter() # the tables' cost grows with the events: at 1024² it can exceed the steps'
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA and not e.is_user_annotation]
    busy = sum(e.device_time for e in kernels) / 1e3 / steps
    print(f'\nProfile over {steps} steps: wall {wall:.1f} ms/step, kernels {busy:.1f} ms/step '
          f'({busy / wall:.0%} busy), {len(kernels) / steps:.0f} kernel launches/step\n', file=sys.stderr)
    print(prof.key_averages().table(sort_by='self_device_time_total', row_limit=30, max_name_column_width=70), file=sys.stderr)
    print(prof.key_averages(group_by_input_shape=True).table(sort_by='device_time_total', row_limit=40,
        max_name_column_width=40, max_shapes_column_width=80), file=sys.stderr)
    print(f'(profile tables: {time.perf_counter() - tables_start:.1f} s)', file=sys.stderr)

#----------------------------------------------------------------------------

def time_train_py(zip_path, cbase, cmax, kimg, graphs, extra):
    """EasyDict(sec_per_kimg, peak and reserved GiB, ticks, graphs) of train.py itself on a dataset zip: the median over
    the ticks after the first three, and whether the run replayed CUDA graphs (a --graphs among `extra` overrides
    `graphs`). Under CUDA graphs the peak allocated is low (a replay allocates nothing): what the graphs hold shows as
    reserved memory."""
    with tempfile.TemporaryDirectory() as outdir:
        cmd = [sys.executable, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'train.py'),
            f'--outdir={outdir}', f'--data={zip_path}', '--batch=32', f'--kimg={kimg}', f'--tick={kimg / 10:g}',
            '--snap=1000', '--metrics=none', f'--graphs={graphs}'] + ([f'--cbase={cbase}'] if cbase else []) + \
            ([f'--cmax={cmax}'] if cmax else []) + list(extra)
        print(' '.join(cmd), file=sys.stderr, flush=True)
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            for line in proc.stdout: # train.py's progress, as it comes
                sys.stderr.write(line)
        if proc.returncode != 0:
            raise click.ClickException(f'train.py exited with status {proc.returncode}')
        run_dir, = [d for d, _, files in os.walk(outdir) if 'stats.jsonl' in files]
        with open(os.path.join(run_dir, 'stats.jsonl'), encoding='utf-8') as f:
            ticks = [json.loads(line) for line in f if line.strip()]
        with open(os.path.join(run_dir, 'training_options.json'), encoding='utf-8') as f:
            graphs = json.load(f)['cuda_graphs'] # what the run used: train.py's --graphs among TRAIN_ARGS wins
    steady = ticks[3:] # tick 0 is the first step; ticks 1 and 2 hold the warm-ups
    if not steady:
        raise click.ClickException(f'only {len(ticks)} ticks: raise --kimg-real')
    return dnnlib.EasyDict(sec_per_kimg=float(np.median([t['Timing/sec_per_kimg']['mean'] for t in steady])),
        peak=max(t['Resources/peak_gpu_mem_gb']['mean'] for t in steady),
        reserved=max(t['Resources/peak_gpu_mem_reserved_gb']['mean'] for t in steady), ticks=len(steady), graphs=graphs)

#----------------------------------------------------------------------------

@click.command(context_settings=dict(ignore_unknown_options=True))
@click.option('--res', 'resolutions', help='Resolutions (comma list)', default='128,256,1024', show_default=True)
@click.option('--batch', help='Batch size', type=click.IntRange(min=1), default=32, show_default=True)
@click.option('--batch-gpu', help='Micro-batch  [default: as train.py]', type=click.IntRange(min=1))
@click.option('--cbase', help='channel_base  [default: 16384 at 128^2, else 32768]', type=click.IntRange(min=1))
@click.option('--cmax', help='channel_max  [default: 256 at 128^2, else 512]', type=click.IntRange(min=1))
@click.option('--seconds', help='Measured time per resolution', type=click.FloatRange(min=0), default=40, show_default=True)
@click.option('--warmup', help='Warm-up steps (with graphs at least 49: every phase captured first)', type=click.IntRange(min=1), default=20, show_default=True)
@click.option('--fp32', help='No fp16 blocks', is_flag=True)
@click.option('--bf16', help='bf16 autocast instead of the fp16 blocks', is_flag=True)
@click.option('--fp16-res', help='Resolutions, from the top, in float16 (train.py --fp16-res)', type=click.IntRange(min=0), default=4, show_default=True)
@click.option('--channels-last/--no-channels-last', help='Channels-last fp16 blocks (train.py default)', default=True, show_default=True)
@click.option('--compile', help='torch.compile the main-phase forwards (no graphs then)', is_flag=True)
@click.option('--tf32', help='Allow TF32', is_flag=True)
@click.option('--graphs/--no-graphs', help='CUDA graphs of the phases (train.py default)', default=True, show_default=True)
@click.option('--fuse-small/--no-fuse-small', help='With graphs, bias_act\'s fused kernel at every size (train.py\'s); off: from 64 MiB, as in eager steps', default=True, show_default=True)
@click.option('--scale-kernel/--no-scale-kernel', help='scale_bias_act\'s fused kernel (the modulation, and the demodulation, noise, bias and activation after the convolution); off: its reference\'s PyTorch ops', default=True, show_default=True)
@click.option('--rows-kernel/--no-rows-kernel', help='upfirdn2d\'s rows kernel for channels-last and contiguous channel-first tensors; off: its pixel and plane kernels', default=True, show_default=True)
@click.option('--warp-kernel/--no-warp-kernel', help='ADA\'s reflect_warp kernel (pads, upsamples and samples in one pass); off: its reference\'s ops', default=True, show_default=True)
@click.option('--aug-p', help='ADA (bgc) at this fixed probability; 0 = off', type=click.FloatRange(min=0, max=1), default=0, show_default=True)
@click.option('--flops', help='Also count the FLOPs (16 extra eager steps) for TFLOP/s', is_flag=True)
@click.option('--profile', help='Also profile N steps (to stderr); 16 = one regularisation cycle, fewer leave out Dreg', metavar='N', type=click.IntRange(min=1), is_flag=False, flag_value=16)
@click.option('--real-data', help='Time train.py on this dataset zip instead', type=click.Path(exists=True, dir_okay=False))
@click.option('--kimg-real', help='kimg that train.py runs with --real-data (ten ticks)', type=click.FloatRange(min=0, min_open=True), default=20, show_default=True)
@click.argument('train_args', nargs=-1, type=click.UNPROCESSED)
def main(resolutions, batch, batch_gpu, cbase, cmax, seconds, warmup, fp32, bf16, fp16_res, channels_last, compile, tf32, graphs,
        fuse_small, scale_kernel, rows_kernel, warp_kernel, aug_p, flops, profile, real_data, kimg_real, train_args):
    """Print a markdown table of s/kimg, peak memory, busy fraction and TFLOP/s per resolution. TRAIN_ARGS (after
    --) go to train.py with --real-data."""
    device = torch.device('cuda') if torch.cuda.is_available() else torch.device('cpu')
    if real_data is not None:
        row = time_train_py(real_data, cbase, cmax, kimg_real, graphs, train_args)
        print(f'train.py on {os.path.basename(real_data)} ({" ".join(train_args) or "defaults"}, graphs {row.graphs}): '
              f'{row.sec_per_kimg:.2f} s/kimg, {1000 / row.sec_per_kimg:.1f} img/s, peak {row.peak:.2f} GiB allocated, '
              f'{row.reserved:.2f} GiB reserved, '
              f'median of {row.ticks} ticks')
        return
    graphs = graphs and step_graphs.usable(device, compile=compile)
    flags = [name for name, on in [('fp32', fp32), ('bf16', bf16), ('channels-last', channels_last), ('compile', compile),
        ('tf32', tf32), ('CUDA graphs', graphs), ('bias_act fused at every size', graphs and fuse_small),
        ('no scale_bias_act kernel', not scale_kernel), ('no upfirdn2d rows kernel', not rows_kernel),
        ('no reflect_warp kernel', aug_p > 0 and not warp_kernel)] if on]
    flags += [f'fp16 in {fp16_res} resolutions'] if fp16_res != 4 and not (fp32 or bf16) else []
    flags += [f'ADA p={aug_p:g}'] if aug_p > 0 else []
    gpu_name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'
    print(f'Device: {gpu_name}, torch {torch.__version__}, '
          f'options: {", ".join(flags) or "defaults"}\n')
    print('| res | batch | batch_gpu | cbase/cmax | s/kimg | img/s | peak GPU mem (GiB) | busy | TFLOP/img | TFLOP/s | original s/kimg | speed-up |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|')
    for res in [int(r) for r in resolutions.split(',')]:
        base, top = ORIGINAL_CHANNELS.get(res, (32768, 512))
        base, top = cbase or base, cmax or top
        bgpu = batch_gpu or train.default_batch_gpu(res, batch)
        if batch % bgpu != 0:
            raise click.BadParameter(f'batch {batch} is not a multiple of batch_gpu {bgpu}', param_hint='--batch-gpu')
        net = net_options(res=res, cbase=base, cmax=top, batch_gpu=bgpu, fp32=fp32, bf16=bf16, fp16_res=fp16_res,
            channels_last=channels_last, compile=compile, graphs=graphs, aug_p=aug_p, fuse_small=fuse_small,
            scale_kernel=scale_kernel, rows_kernel=rows_kernel, warp_kernel=warp_kernel)
        r = run(net, batch, seconds, warmup, tf32, flops, profile, device)
        same = ((base, top) == ORIGINAL_CHANNELS.get(res, (32768, 512))
            and (batch, bgpu) == (ORIGINAL_BATCH, ORIGINAL_BATCH_GPU.get(res)))
        orig = ORIGINAL_SEC_PER_KIMG.get(res) if same and ORIGINAL_GPU in gpu_name else None
        ref = f'{orig:.1f} | {orig / r.sec_per_kimg:.2f}x' if orig else '- | -'
        busy = f'{r.busy:.0%}' if r.busy is not None else '-'
        work = f'{r.flop_per_img / 1e12:.3g} | {r.flop_per_img / r.sec_per_kimg / 1e9:.3g}' if r.flop_per_img else '- | -'
        print(f'| {res} | {batch} | {bgpu} | {base}/{top} | {r.sec_per_kimg:.2f} | {1000 / r.sec_per_kimg:.1f} | '
              f'{r.peak:.2f} | {busy} | {work} | {ref} |', flush=True)
    fell_back = _dispatch.fallbacks()
    if fell_back:
        print(f'\n{fell_back}')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
