"""Perceptual path length in W at path endpoints (Karras et al. 2019/2020, "ppl2_wend"), for the time-conditioned
generator: for z0, z1 ~ N(0, I) and a time c of a random dataset frame (the same for both), w0 and w1 are mapped with
the conditioning features cs = G.cond_xform(c); the images at w0 and w0 + eps (w1 - w0), synthesised with cs and
constant noise, are compared with VGG16 LPIPS-style features: d = ||f0 - f1||^2 / eps^2. The result is the mean of d
between its 1st and 99th percentiles. No face crop; images above 256^2 are area-downsampled to 256^2 first."""

import numpy as np
import torch

from metrics import metric_utils

#----------------------------------------------------------------------------

def path_lengths(G, vgg16, z0, z1, c, epsilon):
    """d for each pair (z0[i], z1[i]) under the time c[i]."""
    cs = G.cond_xform(c)
    w0, w1 = G.mapping(torch.cat([z0, z1]), torch.cat([cs, cs])[:, 0]).chunk(2)
    images = G.synthesis(torch.cat([w0, w0.lerp(w1, epsilon)]), torch.cat([cs, cs]), noise_mode='const',
        force_fp32=True) # float16 rounding would swamp the epsilon step
    factor = images.shape[2] // 256
    if factor > 1:
        images = images.reshape([images.shape[0], images.shape[1], images.shape[2] // factor, factor, images.shape[3] // factor, factor]).mean([3, 5])
    images = (images.to(torch.float32) + 1) * (255 / 2)
    f0, f1 = metric_utils.detector_call(vgg16, 'lpips', images).chunk(2)
    return (f0 - f1).square().sum(dim=1) / epsilon ** 2

@torch.no_grad()
def compute_ppl(opts, num_samples, epsilon, batch_size=2):
    G = metric_utils.copy_generator(opts)
    labels = metric_utils.dataset_labels(G, opts.dataset())
    vgg16 = opts.detector('vgg16')
    rngs = opts.rngs(3)
    dists = []
    bar = opts.bar('path lengths', num_samples)
    for _ in range(-(-num_samples // (batch_size * opts.num_gpus))):
        z, c = metric_utils.sample_inputs(G, labels, 2 * batch_size, rngs, opts.device)
        d = path_lengths(G, vgg16, z[:batch_size], z[batch_size:], c[:batch_size], epsilon)
        dists.append(metric_utils.gather_rows(d, opts))
        bar.update(batch_size * opts.num_gpus)
    bar.close()
    if opts.rank != 0:
        return float('nan')
    d = torch.cat(dists)[:num_samples].cpu().numpy()
    lo, hi = np.percentile(d, 1, method='lower'), np.percentile(d, 99, method='higher')
    return float(d[(d >= lo) & (d <= hi)].mean())

#----------------------------------------------------------------------------
