"""Per-sample channel scaling, noise, bias and activation around a modulated convolution, in one pass.

y = clamp(act(x * s + noise + b) * gain, -clamp, clamp) for x [B,C,H,W], s [B,C], noise broadcast as [B,1,H,W] and b
[C]. With s the styles alone it is the modulation before the convolution; with s the demodulation coefficients and
the layer's noise, bias and activation, the whole epilogue after it. On the GPU the elementwise chain and its
backward (the sums over pixels for ds and db, over channels for the noise) each take one Triton kernel, where the
reference runs four to six PyTorch kernels each way over activations that dominate memory traffic at high
resolutions (docs/PERFORMANCE.md). The reference is the exact sequence of ops the layers ran before this op existed,
so CPU results are unchanged.
"""

import torch
from . import _dispatch, bias_act, fma

#----------------------------------------------------------------------------

def scale_bias_act(x, s, noise=None, b=None, act='linear', alpha=None, gain=None, clamp=None, impl='cuda'):
    """x [B,C,H,W] times s [B,C], plus noise (broadcastable to [B,1,H,W]), then bias_act(b, act, alpha, gain, clamp)
    if any of those is given (as there, gain None is the activation's default). The result has x's dtype and layout."""
    if x.ndim != 4 or s.shape != x.shape[:2]:
        raise ValueError(f'scale_bias_act: x must be [B,C,H,W] and s [B,C], got {tuple(x.shape)} and {tuple(s.shape)}')
    if b is not None and b.shape != x.shape[1:2]:
        raise ValueError(f'scale_bias_act: b must be [C] = [{x.shape[1]}], got {tuple(b.shape)}')
    cfg = _config(b, act, alpha, gain, clamp, impl)
    fast_ok = not bias_act.activation_funcs[act].has_2nd_grad and (noise is None or
        _broadcasts_to(noise.shape, (x.shape[0], 1, *x.shape[2:])))
    return _dispatch.call('scale_bias_act', impl if fast_ok else 'ref', x,
        fast=lambda: _ScaleBiasAct.apply(x, s, noise, b, cfg),
        ref=lambda: _reference(x, s, noise, b, cfg),
        probe=_probe, probe_key=(x.device, x.dtype), min_bytes=FAST_MIN_BYTES)

# As bias_act's: the kernel replaces several PyTorch launches, which pays in eager steps only on large tensors and in
# replayed CUDA graphs at every size (training_step.setup_backends). float('inf') turns the fast path off.
FAST_MIN_BYTES = bias_act.EAGER_MIN_BYTES

def _config(b, act, alpha, gain, clamp, impl):
    spec = bias_act.activation_funcs[act]
    return dict(act=act, alpha=float(alpha if alpha is not None else spec.def_alpha),
        gain=float(gain if gain is not None else spec.def_gain), clamp=float(clamp if clamp is not None else -1),
        impl=impl, epilogue=b is not None or act != 'linear' or gain is not None or clamp is not None)

def _broadcasts_to(shape, target):
    return len(shape) <= len(target) and all(n in (1, m) for n, m in zip(reversed(shape), reversed(target)))

#----------------------------------------------------------------------------

def _reference(x, s, noise, b, cfg):
    s = s.to(x.dtype).reshape(x.shape[0], -1, 1, 1)
    x = fma.fma(x, s, noise.to(x.dtype)) if noise is not None else x * s
    if cfg['epilogue']:
        x = bias_act.bias_act(x, b, act=cfg['act'], alpha=cfg['alpha'], gain=cfg['gain'],
            clamp=cfg['clamp'] if cfg['clamp'] >= 0 else None, impl=cfg['impl'])
    return x

_kernels = None  # the Triton module, imported on first use

def _triton():
    global _kernels # pylint: disable=global-statement
    if _kernels is None:
        from . import _scale_bias_act_triton as _kernels # pylint: disable=import-outside-toplevel,redefined-outer-name
    return _kernels

class _ScaleBiasAct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, s, noise, b, cfg): # pylint: disable=arguments-differ
        ctx.save_for_backward(x, s, noise, b)
        ctx.cfg = cfg
        slope = bias_act.negative_slope(cfg['act'], cfg['alpha'])
        return _triton().forward(x, s, noise, b, slope, cfg['gain'], cfg['clamp'])

    @staticmethod
    def backward(ctx, dy): # pylint: disable=arguments-differ
        x, s, noise, b = ctx.saved_tensors
        cfg, need = ctx.cfg, ctx.needs_input_grad[:4]
        if torch.is_grad_enabled():
            # A backward that is itself differentiated (path-length regularisation): the reference's, recomputed
            # from the saved inputs, which autograd can differentiate again.
            inputs = [t for t, n in zip((x, s, noise, b), need) if n]
            grads = iter(torch.autograd.grad(_reference(x, s, noise, b, cfg), inputs, dy, create_graph=True))
            return (*[next(grads) if n else None for n in need], None)
        slope = bias_act.negative_slope(cfg['act'], cfg['alpha'])
        dx, ds, db, dn = _triton().backward(dy, x, s, noise, b, slope, cfg['gain'], cfg['clamp'],
            need_dx=need[0], need_dn=need[2])
        return (dx, ds.to(s.dtype) if need[1] else None,
            fma._unbroadcast(dn, noise.shape).to(noise.dtype) if need[2] else None,
            db.to(b.dtype) if need[3] else None, None)

#----------------------------------------------------------------------------

def _probe(key):
    """Run the fast path once, forward and both backward orders, on tiny tensors in both layouts, with per-sample and
    shared noise, and compare with the reference in fp32 on the same inputs (as bias_act's probe). The differentiable
    backward (the reference's ops in `dtype`, whose rounding can flip values across lrelu's kink) is run linear."""
    device, dtype = key
    gen = torch.Generator(device=device).manual_seed(0)
    rand = lambda *shape: torch.randn(shape, device=device, generator=gen).to(dtype) # inputs exact in both precisions
    x0, s0, b0, w = rand(2, 3, 5, 7), rand(2, 3), rand(3), rand(2, 3, 5, 7).float()
    for noise0, layout, clamp in ((rand(2, 1, 5, 7), torch.contiguous_format, 100.0), (rand(5, 7), torch.channels_last, None)):
        results = []
        cfg, linear = _config(b0, 'lrelu', None, 1.5, clamp, 'cuda'), _config(b0, 'linear', None, 1.5, clamp, 'cuda')
        for fn, cast in ((_ScaleBiasAct.apply, dtype), (_reference, torch.float32)):
            inputs = [t.to(cast).requires_grad_() for t in (x0.contiguous(memory_format=layout), s0, noise0, b0)]
            y = fn(*inputs, cfg)
            grads = torch.autograd.grad((y * w).sum(), inputs) # the kernels' backward
            grads1 = torch.autograd.grad((fn(*inputs, linear) * w).sum(), inputs, create_graph=True) # the differentiable one
            loss = sum((g * torch.ones_like(g).cumsum(-1)).sum() for g in grads1)
            grads2 = torch.autograd.grad(loss, inputs, materialize_grads=True)
            results.append([t.float() for t in (y, *grads, *grads2)])
        _dispatch.check_close(*results, f'dtype={dtype}')

#----------------------------------------------------------------------------
