"""How far a change to the training step moves training from the reference. The reference trains STEPS steps of a
small model (the bench_train step: graphs, float16 in the top four resolutions, deterministic cuDNN, TF32 off, ADA
off) from seed 0; every configuration then trains from the same seed. One row per configuration: the largest
difference of any step loss from the reference's up to a few steps, and the distance of the final parameters from
the reference's, relative to their norm.

A GAN amplifies any difference, so no change of precision keeps the losses equal for long. The rows that compare
with one are the reference's own: its weights rounded once at the start (by 5e-4, TF32's rounding) and a run with
cuDNN's benchmarking and non-deterministic kernels (train.py's default). A change that only starts that divergence
grows like them; one that grows faster changes the training itself.

  python benchmarks/same_results.py [--res=128] [--steps=48]
"""

import os
import sys

import click
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from torch_utils import training_stats # pylint: disable=wrong-import-position
from training import step_graphs # pylint: disable=wrong-import-position
from training import training_step # pylint: disable=wrong-import-position
import bench_train # pylint: disable=wrong-import-position

LOSSES = ['Loss/G/loss', 'Loss/D/loss', 'Loss/G/reg', 'Loss/D/reg']
CONFIGS = { # name: train() arguments; those with GPU_ONLY arguments are skipped on the CPU
    'reference again': dict(),
    'weights rounded once by 5e-4': dict(perturb=5e-4),
    "cuDNN benchmarking, non-deterministic (train.py's default)": dict(deterministic=False),
    'eager (no CUDA graphs)': dict(graphs=False),
    'TF32 in matmuls only': dict(tf32_matmul=True),
    'TF32 in convolutions only': dict(tf32_conv=True),
    'TF32 in both (--tf32)': dict(tf32_matmul=True, tf32_conv=True),
    'float16 in one more resolution (--fp16-res=5)': dict(fp16_res=5),
    "scale_bias_act's reference ops instead of its kernel": dict(scale_kernel=False),
}
GPU_ONLY = {'graphs', 'deterministic', 'tf32_matmul', 'tf32_conv', 'fp16_res', 'scale_kernel'} # arguments that change nothing on the CPU

#----------------------------------------------------------------------------

def train(res=64, steps=48, graphs=True, aug_p=0, cond_decay=0, deterministic=True, tf32_matmul=False, tf32_conv=False,
        fp16_res=4, scale_kernel=True, perturb=0, time_weight=0, time_twin=False, time_smooth=0, time_smooth_centred=False, device=None):
    """({loss: per-step mean}, {'G.name' or 'D.name': final parameter}, the PhaseGraphs or None) of `steps` steps at
    res^2 (cbase 2048, cmax 64, batch 32, micro-batch 16) from seed 0. perturb > 0 first scales every parameter by
    1 + perturb * N(0, 1), from a generator of its own."""
    device = device or torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    usable = step_graphs.usable(device)
    training_step.setup_backends(cudnn_benchmark=not deterministic, deterministic=False, graphs=usable) # eager too: the same kernels
    torch.backends.cudnn.deterministic = deterministic # only cuDNN's choice: grid_sample (ADA) has no deterministic kernel
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32_matmul, tf32_conv
    torch.manual_seed(0)
    # The loss is sync-free whether graphed or not (as train.py's with graphs): the same augmentation draws in both.
    net = bench_train.net_options(res=res, cbase=2048, cmax=64, batch_gpu=16, fp16_res=fp16_res, graphs=usable, aug_p=aug_p,
        cond_decay=cond_decay, time_weight=time_weight, time_twin=time_twin, time_smooth=time_smooth,
        time_smooth_centred=time_smooth_centred, scale_kernel=scale_kernel)
    G, G_ema, loss, phases = bench_train.build(net, device)
    if perturb:
        gen = torch.Generator(device=device).manual_seed(1)
        with torch.no_grad():
            for p in [*G.parameters(), *loss.D.parameters()]:
                p.mul_(1 + perturb * torch.randn(p.shape, device=device, generator=gen))
            G_ema.load_state_dict(G.state_dict())
    runner = step_graphs.PhaseGraphs(loss, batch_gpu=16) if graphs and usable else None
    step = bench_train.make_step(G, G_ema, loss, phases, res, 32, 16, runner, device)
    collector = training_stats.Collector(regex='Loss/.*')
    history = {name: [] for name in LOSSES}
    for _ in range(steps):
        step()
        collector.update()
        for name in LOSSES:
            history[name].append(collector.mean(name))
    params = {f'{part}.{name}': p.detach().float().cpu() for part, module in [('G', G), ('D', loss.D)] for name, p in module.named_parameters()}
    return {k: np.array(v) for k, v in history.items()}, params, runner

def loss_drift(losses, reference, upto):
    """The largest |difference| of any loss at any of the first `upto` steps."""
    return max(float(np.nanmax(np.abs(losses[k][:upto] - reference[k][:upto]), initial=0)) for k in LOSSES)

def param_drift(params, reference):
    """|params - reference| / |reference|, all parameters as one vector."""
    return float(np.sqrt(sum(float((params[k] - reference[k]).square().sum()) for k in reference) /
        sum(float(reference[k].square().sum()) for k in reference)))

#----------------------------------------------------------------------------

@click.command(context_settings=dict(help_option_names=['-h', '--help'], max_content_width=120))
@click.option('--res', type=click.IntRange(min=8), default=128, show_default=True, help='Resolution (a power of two); 128 has float32 blocks at 8 and 4.')
@click.option('--steps', type=click.IntRange(min=1), default=48, show_default=True, help='Steps per run (16: one regularisation cycle).')
@click.option('--config', 'names', multiple=True, type=click.Choice(list(CONFIGS)), help='Only these configurations (repeatable).')
def main(res, steps, names):
    """Print how far each configuration's training drifts from the reference's."""
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    names = [n for n in (names or CONFIGS) if device.type == 'cuda' or not GPU_ONLY & set(CONFIGS[n])]
    marks = sorted({m for m in [1, 2, 4, 8, 16, 32, steps] if m <= steps})
    print(f'{torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"}, torch {torch.__version__}, '
          f'{res}x{res}, {steps} steps from seed 0\n')
    print('| configuration | ' + ' | '.join(f'losses to step {m}' for m in marks) + ' | parameters |')
    print('|---' * (len(marks) + 2) + '|')
    ref_losses, ref_params, _ = train(res, steps, device=device)
    for name in names:
        losses, params, _ = train(res, steps, device=device, **CONFIGS[name])
        cells = [f'{loss_drift(losses, ref_losses, m):.2g}' for m in marks]
        print(f'| {name} | ' + ' | '.join(cells) + f' | {param_drift(params, ref_params):.2g} |', flush=True)

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
