"""Fréchet Inception Distance (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to Inception-v3 pool
features of real and generated images, ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)); biased covariances in
float64, matrix square root by scipy, real part kept."""

import numpy as np
import scipy.linalg

from metrics import metric_utils

#----------------------------------------------------------------------------

def frechet_distance(mu1, sigma1, mu2, sigma2):
    root = scipy.linalg.sqrtm(np.dot(sigma1, sigma2))
    return float(np.real(np.square(mu1 - mu2).sum() + np.trace(sigma1 + sigma2 - 2 * root)))

def compute_fid(opts, max_real, num_gen):
    mu_real, sigma_real = metric_utils.compute_feature_stats_for_dataset(opts, 'inception', max_items=max_real,
        capture_mean_cov=True).get_mean_cov()
    mu_gen, sigma_gen = metric_utils.compute_feature_stats_for_generator(opts, 'inception', max_items=num_gen,
        capture_mean_cov=True).get_mean_cov()
    if opts.rank != 0:
        return float('nan')
    return frechet_distance(mu_real, sigma_real, mu_gen, sigma_gen)

#----------------------------------------------------------------------------
