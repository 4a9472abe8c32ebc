"""Inception Score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))) of generated images, computed on each of
`num_splits` equal parts; reported as mean and standard deviation over the parts."""

import numpy as np

from metrics import metric_utils

#----------------------------------------------------------------------------

def inception_score(probs, num_splits=10):
    scores = []
    for part in np.array_split(probs.astype(np.float64), num_splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(marginal + 1e-12))).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))

def compute_is(opts, num_gen, num_splits):
    probs = metric_utils.compute_feature_stats_for_generator(opts, 'inception', mode='probabilities', max_items=num_gen,
        capture_all=True).get_all()
    if opts.rank != 0:
        return float('nan'), float('nan')
    return inception_score(probs, num_splits)

#----------------------------------------------------------------------------
