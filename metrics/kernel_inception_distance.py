"""Kernel Inception Distance (Bińkowski et al. 2018): the unbiased MMD^2 between real and generated Inception features
with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets of equal size."""

import numpy as np

from metrics import metric_utils

#----------------------------------------------------------------------------

def kernel_distance(real, gen, num_subsets=100, max_subset_size=1000, seed=0):
    """Mean over subsets of the unbiased MMD^2 estimate (off-diagonal within-set means minus twice the cross mean)."""
    d = real.shape[1]
    m = min(len(real), len(gen), max_subset_size)
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(num_subsets):
        x = gen[rng.choice(len(gen), m, replace=False)].astype(np.float64)
        y = real[rng.choice(len(real), m, replace=False)].astype(np.float64)
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        total += within - 2 * kxy.mean()
    return float(total / num_subsets)

def compute_kid(opts, max_real, num_gen, num_subsets, max_subset_size):
    real = metric_utils.compute_feature_stats_for_dataset(opts, 'inception', max_items=max_real, capture_all=True).get_all()
    gen = metric_utils.compute_feature_stats_for_generator(opts, 'inception', max_items=num_gen, capture_all=True).get_all()
    if opts.rank != 0:
        return float('nan')
    return kernel_distance(real, gen, num_subsets, max_subset_size, seed=opts.seed)

#----------------------------------------------------------------------------
