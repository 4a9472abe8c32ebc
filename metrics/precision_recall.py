"""Improved precision and recall (Kynkäänniemi et al. 2019) on VGG16 features: each set's manifold is the union of
balls around its samples reaching the k-th nearest neighbour in the same set; precision is the share of generated
samples inside the real manifold, recall the share of real samples inside the generated one. Distances are computed in
row x column blocks; the rows are split over the processes."""

import torch

from metrics import metric_utils

#----------------------------------------------------------------------------

def _kth_neighbour_distance(rows, points, k, col_batch):
    """Distance from each row to its k-th nearest point; the row itself, at distance 0, counts as the first."""
    best = None
    for start in range(0, len(points), col_batch):
        d = torch.cdist(rows, points[start:start + col_batch])
        best = d if best is None else torch.cat([best, d], dim=1)
        best = best.topk(min(k, best.shape[1]), dim=1, largest=False).values
    return best[:, -1]

def _inside(rows, points, radii, col_batch):
    """1 for each row within radii[j] of some point j, else 0."""
    hit = torch.zeros(len(rows), dtype=torch.bool, device=rows.device)
    for start in range(0, len(points), col_batch):
        hit |= (torch.cdist(rows, points[start:start + col_batch]) <= radii[start:start + col_batch]).any(dim=1)
    return hit.to(torch.float32)

def _over_rows(fn, num_rows, row_batch, opts):
    """fn(row indices) -> [n] for every row, the row blocks shared by the ranks; the full result on every rank."""
    parts = []
    for idx, valid in metric_utils.rank_batches(num_rows, row_batch, opts):
        parts.append(metric_utils.gather_rows(fn(torch.from_numpy(idx).to(opts.device)), opts)[:valid])
    return torch.cat(parts)

def precision_recall(real, gen, nhood_size, row_batch, col_batch, opts):
    def coverage(manifold, probes):
        radii = _over_rows(lambda i: _kth_neighbour_distance(manifold[i], manifold, nhood_size + 1, col_batch), len(manifold), row_batch, opts)
        return _over_rows(lambda i: _inside(probes[i], manifold, radii, col_batch), len(probes), row_batch, opts).mean().item()
    return coverage(real, gen), coverage(gen, real)

def compute_pr(opts, max_real, num_gen, nhood_size, row_batch_size, col_batch_size):
    real = metric_utils.compute_feature_stats_for_dataset(opts, 'vgg16', max_items=max_real, capture_all=True).get_all()
    gen = metric_utils.compute_feature_stats_for_generator(opts, 'vgg16', max_items=num_gen, capture_all=True).get_all()
    real, gen = torch.from_numpy(real).to(opts.device), torch.from_numpy(gen).to(opts.device)
    precision, recall = precision_recall(real, gen, nhood_size, row_batch_size, col_batch_size, opts)
    if opts.rank != 0:
        return float('nan'), float('nan')
    return precision, recall

#----------------------------------------------------------------------------
