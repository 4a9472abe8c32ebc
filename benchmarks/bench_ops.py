"""Time the custom ops' fast GPU paths against their pure-PyTorch references at StyleGAN2 256x256 and 1024x1024 shapes.

Usage: python benchmarks/bench_ops.py --out bench_ops.md [--reps 50]
Prints a markdown table (median of `reps` CUDA-event timings after warm-up) and writes it atomically to --out.
"""

import os
import statistics
import sys

import click
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import dnnlib # pylint: disable=wrong-import-position
from torch_utils.ops import _dispatch, bias_act, scale_bias_act, upfirdn2d # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}

def _time_ms(fn, reps, warmup=5):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(reps)]
    for start, end in events:
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return statistics.median(start.elapsed_time(end) for start, end in events)

def _cases():
    """(op label, x shape, op(x, impl), the op's other inputs that need gradients) at the shapes a 256x256 StyleGAN2
    uses (batch 16), and those of scale_bias_act and upfirdn2d at a 1024x1024 one's top layer (32 channels)."""
    f = upfirdn2d.setup_filter([1, 3, 3, 1], device='cuda')
    for shape in [[16, 512, 8, 8], [16, 512, 32, 32], [16, 512, 64, 64], [16, 256, 128, 128], [16, 128, 256, 256]]:
        b = torch.randn(shape[1], device='cuda')
        yield 'bias_act lrelu clamp', shape, lambda x, impl, b=b: bias_act.bias_act(
            x, b.to(x.dtype), act='lrelu', clamp=256, impl=impl), []
    yield 'upsample2d x2', [16, 512, 8, 8], lambda x, impl: upfirdn2d.upsample2d(x, f, impl=impl), []
    yield 'upsample2d x2', [16, 3, 128, 128], lambda x, impl: upfirdn2d.upsample2d(x, f, impl=impl), []
    yield 'upsample2d x2', [16, 128, 128, 128], lambda x, impl: upfirdn2d.upsample2d(x, f, impl=impl), []
    yield 'filter2d 4x4', [16, 128, 257, 257], lambda x, impl: upfirdn2d.upfirdn2d(x, f, padding=1, impl=impl), []
    yield 'downsample2d x2', [16, 128, 256, 256], lambda x, impl: upfirdn2d.downsample2d(x, f, impl=impl), []
    # The same in channels-last layout (the fp16 blocks with --channels-last), where the pixel kernel runs.
    yield 'upsample2d x2 NHWC', [16, 128, 128, 128], lambda x, impl: upfirdn2d.upsample2d(_nhwc(x), f, impl=impl), []
    yield 'filter2d 4x4 NHWC', [16, 128, 257, 257], lambda x, impl: upfirdn2d.upfirdn2d(
        _nhwc(x), f, padding=1, impl=impl), []
    yield 'downsample2d x2 NHWC', [16, 128, 256, 256], lambda x, impl: upfirdn2d.downsample2d(_nhwc(x), f, impl=impl), []
    yield 'bias_act lrelu clamp NHWC', [16, 128, 256, 256], lambda x, impl, b=torch.randn(128, device='cuda'): bias_act.bias_act(
        _nhwc(x), b.to(x.dtype), act='lrelu', clamp=256, impl=impl), []
    # A synthesis layer's scalings at the top resolution (styles and demodulation in fp32, as in the layers).
    r = TOP_RES
    s, b, noise = (torch.randn(n, device='cuda', requires_grad=True) for n in ([16, 32], [32], [16, 1, r, r]))
    yield 'scale_bias_act modulation NHWC', [16, 32, r, r], lambda x, impl: scale_bias_act.scale_bias_act(
        _nhwc(x), s, impl=impl), [s]
    yield 'scale_bias_act epilogue NHWC', [16, 32, r, r], lambda x, impl: scale_bias_act.scale_bias_act(
        _nhwc(x), s, noise, b, act='lrelu', gain=2 ** 0.5, clamp=256, impl=impl), [s, noise, b]
    yield 'filter2d 4x4 NHWC', [16, 32, r + 1, r + 1], lambda x, impl: upfirdn2d.upfirdn2d(
        _nhwc(x), f, padding=1, impl=impl), []
    yield 'downsample2d x2 NHWC', [16, 32, r, r], lambda x, impl: upfirdn2d.downsample2d(_nhwc(x), f, impl=impl), []

TOP_RES = 1024 # the 1024x1024 generator's top layer: 32 channels

def _nhwc(x):
    return x.contiguous(memory_format=torch.channels_last) # a no-op on an input already in that layout

def _measure(op_label, op, leaves, shape, dtype, reps):
    """Forward and forward+backward (gradients of x and `leaves`) times of the reference, the kernel forced at any
    size, and the default."""
    x = torch.randn(shape, device='cuda', dtype=dtype)
    if 'NHWC' in op_label:
        x = _nhwc(x)
    xg = x.detach().requires_grad_()
    dy = torch.randn_like(op(x, 'ref'))
    default_min_bytes = bias_act.FAST_MIN_BYTES
    times = []
    for impl, min_bytes in [('ref', default_min_bytes), ('cuda', 0), ('cuda', default_min_bytes)]:
        bias_act.FAST_MIN_BYTES = scale_bias_act.FAST_MIN_BYTES = min_bytes
        try:
            with torch.no_grad():
                fwd = _time_ms(lambda: op(x, impl), reps)
            times.append((fwd, _time_ms(lambda: torch.autograd.grad(op(xg, impl), [xg, *leaves], dy), reps)))
        finally:
            bias_act.FAST_MIN_BYTES = scale_bias_act.FAST_MIN_BYTES = default_min_bytes
    return times

#----------------------------------------------------------------------------

@click.command()
@click.option('--out', type=click.Path(dir_okay=False), required=True, help='Markdown file to write')
@click.option('--reps', type=click.IntRange(min=3), default=50, show_default=True, help='Timed calls per entry')
@click.option('--overwrite', is_flag=True, help='Replace an existing --out file')
@click.option('--only', help='Only ops whose label contains this text')
@click.option('--rows-kernel/--no-rows-kernel', help='upfirdn2d\'s rows kernel for channels-last and contiguous channel-first tensors; off: its pixel and plane kernels', default=True, show_default=True)
def main(out, reps, overwrite, only, rows_kernel):
    """Benchmark the ops' fast paths (impl='cuda') against the references (impl='ref') on a CUDA device."""
    if not torch.cuda.is_available():
        raise click.UsageError('bench_ops.py needs a CUDA device')
    upfirdn2d.ROWS_KERNEL = rows_kernel
    if os.path.exists(out) and not overwrite:
        raise click.UsageError(f'{out} exists; pass --overwrite to replace it')
    lines = [f'Device: {torch.cuda.get_device_name()}, PyTorch {torch.__version__}; median of {reps} calls, ms. '
             f'kernel = fast path forced at every size; default = impl="cuda" as shipped (bias_act and scale_bias_act '
             f'use their kernels from {bias_act.FAST_MIN_BYTES >> 20} MiB); speedup = ref / default.'
             f'{"" if rows_kernel else " upfirdn2d without its rows kernel."}', '',
             '| op | shape | dtype | fwd ref | fwd kernel | fwd default | speedup | fwd+bwd ref | fwd+bwd kernel '
             '| fwd+bwd default | speedup |',
             '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    print('\n'.join(lines), flush=True)
    for label, shape, op, leaves in _cases():
        if only and only not in label:
            continue
        for dtype_name, dtype in DTYPES.items():
            (ref_f, ref_fb), (ker_f, ker_fb), (def_f, def_fb) = _measure(label, op, leaves, shape, dtype, reps)
            line = (f'| {label} | {"x".join(map(str, shape))} | {dtype_name} | {ref_f:.3f} | {ker_f:.3f} | '
                    f'{def_f:.3f} | {ref_f / def_f:.2f}x | {ref_fb:.3f} | {ker_fb:.3f} | {def_fb:.3f} | '
                    f'{ref_fb / def_fb:.2f}x |')
            print(line, flush=True)
            lines.append(line)
    fell_back = _dispatch.fallbacks()
    if fell_back:
        lines += ['', fell_back]
        print(fell_back)

    dnnlib.util.atomic_write(out, lambda f: f.write(('\n'.join(lines) + '\n').encode()), overwrite=True)

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
