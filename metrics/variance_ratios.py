"""Variance ratios (TLGAN's disentanglement metric): which share of each output pixel's variance comes from z (random
effects), from the time t (and from each frequency slot: trend, year, day) and from the per-pixel noise inputs.

Monte Carlo over pairs of images that differ in one input only: E[Var_v] ~= 1/2 E[(G(a) - G(a'))^2]. The reference
batch has z ~ N(0, I), t ~ U[0, 1] and constant noise; each target re-draws only its input (z; t; noise 'random';
one frequency slot of a per-slot [B, F] time). Shares per pixel and channel, averaged over the image inside out_rect:
  collection 1: var_z, var_c, var_noise over total = max(var_z + var_c + var_noise, 1e-3);
  collection 2: var_<slot> over total = max(var_z + var_noise + sum_k var_k, 1e-3)  (fourier / f_concat only);
std_* the same with sqrt(E[Var]) maps. Unlike the original, one reference batch serves every target, so a run costs
(1 + 3 + F) * N generator evaluations instead of 2 * (3 + F) * N.
"""

import numpy as np
import torch

from metrics import metric_utils

#----------------------------------------------------------------------------

def shares(maps, keys, prefix):
    """{prefix + key: mean over pixels of maps[key] / max(sum of maps[keys], 1e-3)}."""
    total = sum(maps[k] for k in keys).clamp(min=1e-3)
    return {prefix + k: float((maps[k] / total).mean()) for k in keys}

@torch.no_grad()
def compute_variance_ratios(opts, num_samples, batch_size=None):
    G = metric_utils.copy_generator(opts)
    names = metric_utils.slot_names(G)
    batch = batch_size or (16 if G.img_resolution <= 256 else 8)
    num_batches = -(-num_samples // (batch * opts.num_gpus)) # N rounded up to a multiple of batch * num_gpus
    np_rng, torch_gen = opts.rngs(2)

    def randt():
        return torch.from_numpy(np_rng.random([batch, 1], dtype=np.float32)).to(opts.device)

    def run(z, t, noise_mode='const'):
        c = t if G.c_dim > 0 else t[:, :0]
        images = G(z=z, c=c, **dict(opts.G_kwargs, noise_mode=noise_mode))
        return metric_utils.crop_to_rect(G, images).to(torch.float64)

    keys = ['z', 'c', 'noise'] + names
    sums = None
    bar = opts.bar('variance ratios', num_batches * batch * opts.num_gpus)
    for _ in range(num_batches):
        z, t = torch.randn([batch, G.z_dim], generator=torch_gen).to(opts.device), randt()
        ref = run(z, t)
        sums = sums or {key: torch.zeros_like(ref[0]) for key in keys}
        pairs = [('z', torch.randn(z.shape, generator=torch_gen).to(opts.device), t, 'const'), ('noise', z, t, 'random')]
        if G.c_dim > 0: # an unconditional G has no c terms: they stay 0
            pairs.append(('c', z, randt(), 'const'))
        for k, name in enumerate(names): # one slot re-drawn, the others keep the reference time
            pairs.append((name, z, torch.cat([t] * k + [randt()] + [t] * (len(names) - k - 1), dim=1), 'const'))
        for key, z2, t2, noise_mode in pairs:
            sums[key] = sums[key] + (run(z2, t2, noise_mode) - ref).square().sum(dim=0)
        bar.update(batch * opts.num_gpus)
    bar.close()

    total = metric_utils.sum_across(torch.stack([sums[k] for k in keys]), opts)
    if opts.rank != 0:
        return dict.fromkeys(result_keys(names), float('nan'))
    var = {key: 0.5 * s / (num_batches * batch * opts.num_gpus) for key, s in zip(keys, total)}
    std = {key: v.sqrt() for key, v in var.items()}
    results = dict()
    for maps, prefix in ((var, 'var_'), (std, 'std_')):
        results.update(shares(maps, ['z', 'c', 'noise'], prefix))
        per_slot = shares(maps, ['z', 'noise'] + names, prefix)
        results.update({prefix + n: per_slot[prefix + n] for n in names})
    return {k: results[k] for k in result_keys(names)}

def result_keys(names):
    """The original's key order: collection 1, then var_/std_ per slot."""
    return ['var_z', 'var_c', 'var_noise', 'std_z', 'std_c', 'std_noise'] + [p + n for n in names for p in ('var_', 'std_')]

#----------------------------------------------------------------------------
