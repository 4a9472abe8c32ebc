"""A training step's four phases with every op on its fast path's wiring, on the CPU.

On a GPU each op goes through its dispatcher, self-check and autograd Functions; on the CPU the references run, so a
wiring fault (a backward that reaches the op again and re-enters its self-check, as reflect_warp's did on an H100) is
found only on the GPU. Here CPU tensors are taken for GPU ones and every kernel is replaced by a stand-in of the same
signature built from the references: the dispatch, the checks and the Functions then run as on a GPU, kernels aside
(tests/test_kernels_interpreted.py checks those under Triton's interpreter).
"""

import os
import sys
import types

import pytest
import torch

from torch_utils.ops import _dispatch, bias_act, conv2d_gradfix, grid_sample_gradfix, reflect_warp, scale_bias_act
from torch_utils.ops import upfirdn2d
from training import training_step

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks'))
import bench_train # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------
# Stand-ins for the Triton modules, from the references (same arguments, same results up to rounding).

def _grads(fn, inputs, wanted, dy):
    """The gradients of fn(*inputs) for output gradient dy w.r.t. the inputs flagged in `wanted` (None elsewhere)."""
    with torch.enable_grad():
        leaves = [t.detach().requires_grad_(w) if isinstance(t, torch.Tensor) else t for t, w in zip(inputs, wanted)]
        grads = iter(torch.autograd.grad(fn(*leaves), [t for t, w in zip(leaves, wanted) if w], dy))
        return [next(grads) if w else None for w in wanted]

def _bias_act_launch(mode, x, b, g, h, dim, act, alpha, gain, clamp):
    """bias_act's kernel: mode 0 the op, 1 its input gradient for output gradient g, 2 the gradient of that input
    gradient (for output gradient h) w.r.t. x, contracted with g."""
    ref = lambda x, b: bias_act._bias_act_ref(x, b, dim, act, alpha, gain, clamp) # pylint: disable=protected-access
    if mode == 0:
        return ref(x, b)
    if mode == 1:
        return _grads(ref, [x, b], [True, False], g)[0]
    with torch.enable_grad():
        leaf = x.detach().requires_grad_()
        dx, = torch.autograd.grad(ref(leaf, b), leaf, h, create_graph=True)
        return torch.autograd.grad(dx, leaf, g)[0]

def _scale_bias_act(x, s, noise, b, slope, gain, clamp):
    y = x * s[:, :, None, None] if s is not None else x
    y = y + noise if noise is not None else y
    y = y + b[None, :, None, None] if b is not None else y
    y = torch.where(y >= 0, y, y * slope) * gain
    return y.clamp(-clamp, clamp) if clamp >= 0 else y

def _scale_bias_act_backward(dy, x, s, noise, b, slope, gain, clamp, need_dx, need_dn):
    """As the kernel: (dx or None, ds [B,C] fp32 or None, db [C] fp32, dn [B,1,H,W] fp32 or None)."""
    B, C, H, W = x.shape
    full_noise = None if noise is None else noise.reshape([1] * (4 - noise.ndim) + list(noise.shape)).expand(B, 1, H, W)
    dx, ds, dn, db = _grads(_scale_bias_act, [x, s, full_noise, b, slope, gain, clamp],
        [need_dx, s is not None, need_dn, b is not None, False, False, False], dy)[:4]
    return (dx, ds.float() if ds is not None else None, db.float() if db is not None else x.new_zeros([C]),
        dn.float() if dn is not None else None)

#----------------------------------------------------------------------------

def _wire_fast_paths(monkeypatch, calls):
    """Every op through its fast path as on a GPU, with the stand-ins as kernels; calls[op] counts kernel calls, and
    calls['op, channels-last'] those outside the self-checks (which try both layouts) on channels-last tensors."""
    probing = []
    def counted(name, fn):
        def run(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            x = args[0]
            if not probing and isinstance(x, torch.Tensor) and x.ndim == 4 and not x.is_contiguous():
                key = f'{name}, channels-last'
                calls[key] = calls.get(key, 0) + x.is_contiguous(memory_format=torch.channels_last)
            return fn(*args, **kwargs)
        return run
    monkeypatch.setattr(_dispatch, 'on_fast_device', lambda x: True)
    monkeypatch.setattr(bias_act, '_kernels', types.SimpleNamespace(launch=counted('bias_act', _bias_act_launch)))
    sba = types.SimpleNamespace(forward=counted('scale_bias_act', _scale_bias_act),
        backward=counted('scale_bias_act backward', _scale_bias_act_backward))
    monkeypatch.setattr(scale_bias_act, '_kernels', sba)
    monkeypatch.setattr(bias_act, '_scale_kernels', sba) # bias_act's one-pass backward
    upfirdn2d_ref = upfirdn2d._upfirdn2d_ref # pylint: disable=protected-access
    monkeypatch.setattr(upfirdn2d, '_upfirdn2d_fast', counted('upfirdn2d', upfirdn2d_ref))
    monkeypatch.setattr(reflect_warp, '_forward', counted('reflect_warp',
        lambda *args: reflect_warp._reference(*args).detach())) # pylint: disable=protected-access
    for module in (bias_act, scale_bias_act, reflect_warp): # a self-check that starts itself again fails at once
        monkeypatch.setattr(module, '_probe', _not_reentered(module._probe, probing)) # pylint: disable=protected-access

def _not_reentered(probe, probing):
    """The self-check `probe`, failing if it starts again while it runs (which on a GPU recursed without end); while
    it runs, `probing` holds its key."""
    running = []
    def checked(key):
        assert not running, f'self-check re-entered: {key}'
        running.append(key)
        probing.append(key)
        try:
            probe(key)
        finally:
            running.pop()
            probing.pop()
    return checked

def _phase_gradients(options):
    """{phase: {parameter: gradient}} of the first step's four phases (G's main and regularisation phases, D's main
    and R1 phases) at 32x32 with ADA at p = 0.5 and bench_train's network `options`, each phase from the same random
    draws; no optimiser step is taken."""
    cpu = torch.device('cpu')
    torch.manual_seed(0)
    net = bench_train.net_options(res=32, cbase=2048, cmax=64, batch_gpu=16, graphs=False, aug_p=0.5, **options)
    G, _G_ema, loss, phases = bench_train.build(net, cpu)
    real_img, real_c = torch.rand([32, 3, 32, 32]) * 2 - 1, torch.rand([32, 1])
    grads = {}
    for phase in phases:
        training_step.seed_step(0, 0, 0, cpu)
        gen_z, gen_c = torch.randn([32, G.z_dim]), torch.rand([32, 1])
        training_step.run_phase(phase, loss, real_img, real_c, gen_z, gen_c, batch_gpu=16, world_size=1)
        grads[phase.name] = {name: p.grad.clone() for name, p in phase.module.named_parameters() if p.grad is not None}
    return grads

@pytest.mark.parametrize('options', [dict(channels_last=False), dict(channels_last=True),
    dict(channels_last=True, time_weight=1, time_twin=True, time_smooth=5)], ids=['nchw', 'channels_last', 'time_losses'])
def test_training_step_through_every_fast_path_computes_the_references_gradients(monkeypatch, options):
    """With every op's fast path taken (its dispatch, self-check and autograd Functions, kernels replaced by the
    stand-ins), the gradients of all four phases, R1's double backward through ADA's warp and the path length's
    included, are the references' up to rounding; every fast path ran and none fell back. channels_last: the blocks
    that run in float16 on a GPU keep their weights channels-last (train.py's default), and on the CPU their
    convolutions then give channels-last activations too. time_losses: D's time head with its twin, and the
    time-smoothness pass in G's regularisation phase."""
    channels_last = options['channels_last']
    monkeypatch.setattr(_dispatch, '_disabled', dict())
    monkeypatch.setattr(_dispatch, '_probed', set())
    monkeypatch.setattr(bias_act, 'FAST_MIN_BYTES', 0) # the fused kernels at every size, as in a graphed step
    monkeypatch.setattr(scale_bias_act, 'FAST_MIN_BYTES', 0)
    monkeypatch.setattr(conv2d_gradfix, 'enabled', True) # as training_step.setup_backends
    monkeypatch.setattr(grid_sample_gradfix, 'enabled', True)
    monkeypatch.setattr(training_step, 'reduce_grads_and_step', lambda module, opt, world_size: None) # keep the grads
    reference = _phase_gradients(options)
    calls = {}
    _wire_fast_paths(monkeypatch, calls)
    fast = _phase_gradients(options)
    assert not _dispatch._disabled, _dispatch.fallbacks() # pylint: disable=protected-access
    assert {'bias_act', 'scale_bias_act', 'scale_bias_act backward', 'upfirdn2d', 'reflect_warp'} <= set(calls), calls
    assert bool(calls.get('scale_bias_act, channels-last')) == channels_last, calls
    assert list(fast) == ['Gmain', 'Greg', 'Dmain', 'Dreg']
    for phase, grads in reference.items():
        assert set(fast[phase]) <= set(grads), phase
        # Each error relative to the parameter's largest gradient plus a thousandth of the phase's largest: some
        # gradients are zero up to rounding (a bias that moves both images of the time-smoothness pair alike).
        floor = 1e-3 * max(float(ref.abs().max()) for ref in grads.values())
        for name, ref in grads.items():
            if name not in fast[phase]: # a gradient the references' autograd builds as zeros: D's last bias in R1,
                assert not ref.any(), (phase, name) # which reaches it only through lrelu's piecewise-constant slope
                continue
            err = float((fast[phase][name] - ref).abs().max() / (ref.abs().max() + floor))
            assert err < 1e-4, (phase, name, err)

#----------------------------------------------------------------------------
