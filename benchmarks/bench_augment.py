"""Time the ADA pipeline (training/augment.py, 'bgc') alone, in the three ways a training step runs it.

Usage: python benchmarks/bench_augment.py --res=256 --batch=32 [--p=0.4] [--reps=20]
  forward          D's real and fake passes (no gradient through the images)
  fwd+bwd          G's pass: the gradient w.r.t. the images flows back through the pipeline
  double bwd       R1's: the gradient w.r.t. the images, differentiated again (through the warp's backward)
each for the whole pipeline and for its geometric and colour parts, with fixed padding (as with CUDA graphs: the
most that can be needed) and without (the padding this batch needs, read back from the GPU), on the GPU through
reflect_warp's kernel or (--no-warp-kernel) its reference ops. Prints a markdown table
(median ms, the peak memory of the double backward, the GPU operations one forward call launches and the PyTorch
operators it calls, views aside), then how large the padding that each batch needs is against the fixed one, over
many draws; runs on the CPU too, for a smoke test at small sizes.
"""

import os
import statistics
import sys
import time

import click
import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from torch_utils.ops import _dispatch, reflect_warp # pylint: disable=wrong-import-position
from training import augment # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def _time_ms(fn, reps, device):
    """Median wall time of fn() in ms, the device synchronised around each call, after two warm-up calls."""
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    times = []
    for i in range(reps + 2):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        if i >= 2:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)

def _kernels(fn, device):
    """GPU operations (kernels, copies, fills) that one call of fn launches: what a CUDA graph replays one after
    another, a few microseconds each however small. '-' on the CPU."""
    if device.type != 'cuda':
        return '-'
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize(device)
    return str(sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA))

class _CountOperators(TorchDispatchMode):
    """Counts the PyTorch operators called inside it, views aside: each is at least one launch on a GPU, and on the CPU
    this is what can be counted."""
    VIEWS = {'alias', 'as_strided', 'detach', 'expand', 'lift_fresh', 'permute', 'reshape', 'select', 'slice', 'split',
        'split_with_sizes', 'squeeze', 't', 'transpose', 'unbind', 'unflatten', 'unsqueeze', 'view', '_unsafe_view'}

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += func.overloadpacket.__name__ not in self.VIEWS
        return func(*args, **(kwargs or {}))

def _operators(fn):
    with _CountOperators() as counter:
        fn()
    return counter.count

def _modes(op, x, w):
    """The three ways a step runs the op on images x, as functions; w weights the output (a stand-in for D)."""
    def forward():
        with torch.no_grad():
            op(x)
    def backward():
        xg = x.detach().requires_grad_()
        torch.autograd.grad((op(xg) * w).sum(), [xg])
    def double(): # a part linear in the images (colour) has a gradient that does not depend on them
        xg = x.detach().requires_grad_()
        g, = torch.autograd.grad((op(xg) * w).sum(), [xg], create_graph=True)
        if g.requires_grad:
            torch.autograd.grad(g.square().sum(), [xg])
    return dict(forward=forward, backward=backward, double=double)

def _padding_share(pipe, batch, res, draws):
    """Over `draws` batches at the pipe's p: the area of the image padded as each batch needs, as a fraction of the
    fixed padding's (3 res - 2)^2 (0 where no image is warped); its median and 90th percentile, and the fraction of
    batches that need no warp. The backward's grid_sample gradient and upsampling transpose scale with that area, and
    so does the forward's upsampling where reflect_warp's kernel is not used."""
    shares = []
    for _ in range(draws):
        G_inv = pipe._geometric_inverse(batch, res, res, pipe.p.device) # pylint: disable=protected-access
        pl, pt, pr, pb, warp = pipe.padding_needed(G_inv, res, res).tolist()
        shares.append((res + pl + pr) * (res + pt + pb) / (3 * res - 2) ** 2 if warp else 0)
    shares.sort()
    return shares[len(shares) // 2], shares[int(0.9 * (len(shares) - 1))], shares.count(0) / len(shares)

def _print_padding_share(pipe, batch, res, draws):
    median, p90, untouched = _padding_share(pipe, batch, res, draws)
    print(f'Padding as needed at p={pipe.p.item():g}, {batch}x{res}x{res}, over {draws} batches: {100 * median:.0f} % of '
          f'the fixed padding\'s area (median; 90th percentile {100 * p90:.0f} %); {100 * untouched:.0f} % of the batches '
          'need no warp.')

#----------------------------------------------------------------------------

@click.command()
@click.option('--res', type=click.IntRange(min=16), default=256, show_default=True, help='Image resolution')
@click.option('--batch', type=click.IntRange(min=1), default=32, show_default=True, help='Images per call (micro-batch)')
@click.option('--p', 'p', type=click.FloatRange(min=0, max=1), default=0.4, show_default=True, help='Augmentation probability')
@click.option('--reps', type=click.IntRange(min=1), default=20, show_default=True, help='Timed calls per entry')
@click.option('--draws', type=click.IntRange(min=1), default=500, show_default=True, help='Batches drawn for the padding statistics')
@click.option('--padding-only', is_flag=True, help='Only the padding statistics (no timing: quick at any size on the CPU)')
@click.option('--warp-kernel/--no-warp-kernel', default=True, show_default=True, help='reflect_warp\'s GPU kernel (off: its reference ops)')
def main(res, batch, p, reps, draws, padding_only, warp_kernel):
    """Time the bgc augmentation pipeline's parts and modes at one resolution and micro-batch."""
    reflect_warp.FAST = warp_kernel
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    torch.manual_seed(0)
    pipe = augment.AugmentPipe(**augment.BGC).to(device)
    pipe.p.fill_(p)
    if padding_only:
        return _print_padding_share(pipe, batch, res, draws)
    x = torch.randn([batch, 3, res, res], device=device)
    w = torch.randn_like(x)
    parts = dict(whole=lambda fixed: lambda t: pipe(t, fixed_padding=fixed),
        geometric=lambda fixed: lambda t: pipe._geometric(t, fixed), # pylint: disable=protected-access
        colour=lambda fixed: lambda t: pipe._colour(t)) # pylint: disable=protected-access,unnecessary-lambda
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'
    kernel = 'the warp kernel' if warp_kernel and device.type == 'cuda' else 'the warp\'s reference ops'
    print(f'Device: {name}, PyTorch {torch.__version__}; bgc at p={p:g}, {batch}x3x{res}x{res} float32, {kernel}, '
          f'median of {reps} calls, ms\n')
    print('| part | padding | forward | fwd+bwd | double bwd | peak GiB (double bwd) | GPU ops (forward) | operators (forward) |')
    print('|---|---|---:|---:|---:|---:|---:|---:|')
    for part, make in parts.items():
        for fixed in ([True, False] if part != 'colour' else [True]):
            modes = _modes(make(fixed), x, w)
            row = []
            for mode in ('forward', 'backward', 'double'):
                if device.type == 'cuda':
                    torch.cuda.reset_peak_memory_stats(device)
                row.append(_time_ms(modes[mode], reps, device))
            peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == 'cuda' else float('nan')
            padding = 'fixed' if fixed else 'as needed'
            print(f'| {part} | {padding if part != "colour" else "-"} | {row[0]:.2f} | {row[1]:.2f} | {row[2]:.2f} | '
                  f'{peak:.2f} | {_kernels(modes["forward"], device)} | {_operators(modes["forward"])} |', flush=True)
    fell_back = _dispatch.fallbacks()
    print(f'\n{fell_back}\n' if fell_back else '')
    _print_padding_share(pipe, batch, res, draws)

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter
