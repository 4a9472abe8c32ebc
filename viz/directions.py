"""Directions in w space for the explorer's latent edits, headless: PCA of mapped latents, the SVD / SeFa directions of
the style weights, and saved directions; and the one function that turns an explorer state into the w offset that
the GUI and the exporter both add (so that an exported view re-renders bit-identically).

Files, next to the network pickle (the original toolkit's layout, so that its caches and saved directions load):
  .comp/pca/<stem>.npz          pca_comp [K, w_dim] float32 (unit rows, by decreasing variance), pca_std [K] float32
  .comp/dirs/<stem>/<name>.pkl  a pickle of plain values: {name: str, dir: float32 ndarray [num_ws, w_dim],
                                known_good_seed: int, network: str (the pickle's file name)}; read with a restricted
                                unpickler that admits numpy arrays (and torch tensors, as weights) only
PCA ("IPCA" in the original, which ran sklearn's IncrementalPCA): w of `num_samples` seeded latents at c = 0.5,
mapped in batches while their mean and covariance accumulate in float64; the components are the covariance's
eigenvectors (exact, where IncrementalPCA approximates), each signed so that its largest coordinate is positive.
"""

import collections
import importlib
import io
import os
import pickle
import re
import threading

import numpy as np
import torch

import dnnlib
from viz import state as vstate

PCA_COMPONENTS = 150
PCA_SAMPLES = 100_000
PCA_T = 0.5
PCA_SEED = 0
CFF_COMPONENTS = 150

class DirectionError(ValueError):
    """A direction that cannot be computed, read or written, with the reason."""

#----------------------------------------------------------------------------
# Where things live.

def _stem(pkl_path):
    return os.path.splitext(os.path.basename(pkl_path))[0]

def pca_path(pkl_path):
    return os.path.join(os.path.dirname(os.path.abspath(pkl_path)), '.comp', 'pca', _stem(pkl_path) + '.npz')

def dirs_folder(pkl_path):
    return os.path.join(os.path.dirname(os.path.abspath(pkl_path)), '.comp', 'dirs', _stem(pkl_path))

def layer_range(lo_hi, n):
    """(lo, hi) of a state's layer range over n layers: hi = -1 means n; both clamped to 0..n."""
    lo, hi = lo_hi
    hi = n if hi < 0 else hi
    return min(max(lo, 0), n), min(max(hi, 0), n)

#----------------------------------------------------------------------------
# PCA of w.

def _signed(vectors):
    """Rows flipped so that the largest-magnitude coordinate of each is positive (a deterministic sign)."""
    idx = np.argmax(np.abs(vectors), axis=1)
    signs = np.sign(vectors[np.arange(len(vectors)), idx])
    return vectors * np.where(signs == 0, 1, signs)[:, None]

@torch.no_grad()
def iter_pca(G, num_samples=PCA_SAMPLES, num_components=PCA_COMPONENTS, t=PCA_T, seed=PCA_SEED, batch=2000):
    """Yields (None, progress) while mapping, then ((comp [K, w_dim] float32, std [K] float32), 1.0). Stopping the
    iteration cancels it."""
    device = next(iter(G.mapping.parameters()), torch.zeros([])).device
    rng = np.random.RandomState(seed)
    w_dim = G.w_dim
    total = np.zeros([w_dim], dtype=np.float64)
    outer = np.zeros([w_dim, w_dim], dtype=np.float64)
    done = 0
    while done < num_samples:
        n = min(batch, num_samples - done)
        z = torch.from_numpy(rng.standard_normal([n, G.z_dim])).to(device, torch.float32)
        cs = G.cond_xform(torch.full([n, 1], float(t), device=device), broadcast=True)
        w = G.mapping(z, cs[:, 0])[:, 0].double().cpu().numpy()
        total += w.sum(0)
        outer += w.T @ w
        done += n
        yield None, done / num_samples * 0.99
    mean = total / done
    cov = (outer - done * np.outer(mean, mean)) / max(done - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:min(num_components, w_dim, done)]
    comp = _signed(vectors[:, order].T)
    std = np.sqrt(np.maximum(values[order], 0))
    yield (comp.astype(np.float32), std.astype(np.float32)), 1.0

def compute_pca(G, **kwargs):
    *_, (result, _) = iter_pca(G, **kwargs)
    return result

def save_pca(pkl_path, comp, std):
    """Write the PCA cache atomically (replacing an older one)."""
    path = pca_path(pkl_path)
    def write(f):
        np.savez(f, pca_comp=np.asarray(comp, np.float32), pca_std=np.asarray(std, np.float32))
    return dnnlib.util.atomic_write(path, write, overwrite=True)

_pca_cache = {}
_pca_lock = threading.Lock()

def load_pca(pkl_path):
    """(comp, std) from the cache next to a pickle, or None if there is none. DirectionError if it is unreadable."""
    path = pca_path(pkl_path)
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (path, st.st_size, st.st_mtime_ns)
    with _pca_lock:
        if key in _pca_cache:
            return _pca_cache[key]
    try:
        with np.load(path, allow_pickle=False) as data:
            comp, std = np.asarray(data['pca_comp'], np.float32), np.asarray(data['pca_std'], np.float32).reshape(-1)
    except (OSError, KeyError, ValueError) as e:
        raise DirectionError(f'{path}: not a usable PCA cache ({e}); delete it and compute again') from None
    if comp.ndim != 2 or len(std) != len(comp):
        raise DirectionError(f'{path}: pca_comp {comp.shape} and pca_std {std.shape} do not match')
    with _pca_lock:
        _pca_cache.clear() # one network at a time is plenty
        _pca_cache[key] = (comp, std)
    return comp, std

#----------------------------------------------------------------------------
# Directions from the style weights: SVD U, SeFa unscaled, SeFa.

def affine_weights(G):
    """The w -> style weights [C, w_dim] of the synthesis convolutions, in w-layer order (the toRGB layers and the
    time modulation excluded): one per layer 0..num_ws-2."""
    return [p.detach().double().cpu().numpy() for name, p in G.synthesis.named_parameters()
        if 'affine' in name and name.endswith('weight') and 'rgb' not in name and 'affine_c' not in name and 'input' not in name]

_cff_cache = collections.OrderedDict()

def cff_directions(G, mode, layers, key=None):
    """Unit directions [K, w_dim] float32 of the convolution layers lo..hi-1's style weights, strongest first:
    svd_u: left singular vectors of W = [A_lo; ...; A_hi-1]^T (w_dim x channels); sefa_unscaled: eigenvectors of W W^T;
    sefa: the same with every channel's column of W normalised first. `key` (e.g. the network hash) enables caching."""
    weights = affine_weights(G)
    lo, hi = layer_range(layers, len(weights))
    cache_key = (key, mode, lo, hi)
    if key is not None and cache_key in _cff_cache:
        _cff_cache.move_to_end(cache_key)
        return _cff_cache[cache_key]
    if lo >= hi:
        raise DirectionError(f'The layer range {tuple(layers)} holds no convolution layer (0..{len(weights)})')
    W = np.concatenate(weights[lo:hi], axis=0).T
    k = min(CFF_COMPONENTS, W.shape[0])
    if mode == 'svd_u':
        dirs = np.linalg.svd(W, full_matrices=False)[0].T
    elif mode in ('sefa', 'sefa_unscaled'):
        if mode == 'sefa':
            W = W / np.maximum(np.linalg.norm(W, axis=0, keepdims=True), 1e-12)
        values, vectors = np.linalg.eigh(W @ W.T)
        dirs = vectors[:, np.argsort(values)[::-1]].T
    else:
        raise DirectionError(f'Unknown direction mode {mode!r}')
    dirs = _signed(dirs[:k] / np.linalg.norm(dirs[:k], axis=1, keepdims=True)).astype(np.float32)
    if key is not None:
        _cff_cache[cache_key] = dirs
        while len(_cff_cache) > 16:
            _cff_cache.popitem(last=False)
    return dirs

#----------------------------------------------------------------------------
# Saved directions.

def _global(module, name):
    return getattr(importlib.import_module(module), name)

_ALLOWED = {
    ('numpy', 'ndarray'), ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
    ('numpy.core.numeric', '_frombuffer'), ('numpy._core.numeric', '_frombuffer'),
    ('collections', 'OrderedDict'), ('torch._utils', '_rebuild_tensor_v2'),
}

class _PlainUnpickler(pickle.Unpickler):
    """Admits plain Python values, numpy arrays and torch tensors (their storages read as weights only)."""

    def find_class(self, module, name):
        if (module, name) == ('torch.storage', '_load_from_bytes'):
            return lambda data: torch.load(io.BytesIO(data), weights_only=True, map_location='cpu')
        if (module, name) in _ALLOWED:
            return _global(module, name)
        raise pickle.UnpicklingError(f'refused to load {module}.{name} (only numpy arrays and plain values)')

def read_direction(path, shape=None):
    """{name, dir [num_ws, w_dim] float32, known_good_seed, network} of a saved direction; DirectionError for
    anything else. `shape` (num_ws, w_dim) checks the direction fits a network ([w_dim] is broadcast)."""
    try:
        with open(path, 'rb') as f:
            data = _PlainUnpickler(f).load()
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError, TypeError, RuntimeError) as e:
        raise DirectionError(f'{path}: not a readable saved direction ({type(e).__name__}: {e})') from None
    if not isinstance(data, dict) or 'dir' not in data:
        raise DirectionError(f'{path}: not a saved direction (expected a dict with "dir")')
    d = data['dir']
    d = d.detach().cpu().numpy() if isinstance(d, torch.Tensor) else np.asarray(d)
    if d.dtype.kind not in 'fiu' or not np.all(np.isfinite(d)):
        raise DirectionError(f'{path}: "dir" is not an array of finite numbers')
    d = d.astype(np.float32).squeeze()
    if shape is not None:
        if d.shape == (shape[1],):
            d = np.broadcast_to(d, shape).copy()
        if d.shape != tuple(shape):
            raise DirectionError(f'{path}: direction of shape {d.shape} does not fit this network ({shape[0]} x {shape[1]})')
    return dict(name=str(data.get('name') or _stem(path)), dir=d, known_good_seed=data.get('known_good_seed'),
        network=str(data.get('network') or ''))

def list_directions(pkl_path):
    """Names of the saved directions of a network, sorted."""
    folder = dirs_folder(pkl_path)
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.splitext(f)[0] for f in os.listdir(folder) if f.endswith('.pkl') and not f.startswith('.'))

def direction_path(pkl_path, name):
    if not vstate.direction_name_ok(name):
        raise DirectionError(f'{name!r}: a direction name must be a plain file name (no slashes, not hidden)')
    return os.path.join(dirs_folder(pkl_path), name + '.pkl')

def save_direction(pkl_path, name, direction, known_good_seed):
    """Write a saved direction (never replacing one of the same name). Returns its path."""
    path = direction_path(pkl_path, name)
    if os.path.exists(path):
        raise DirectionError(f'A direction named {name!r} exists already')
    data = dict(name=name, dir=np.asarray(direction, np.float32), known_good_seed=int(known_good_seed),
        network=os.path.basename(pkl_path))
    return dnnlib.util.atomic_write(path, lambda f: pickle.dump(data, f, protocol=4), overwrite=False)

#----------------------------------------------------------------------------
# An explorer state's offset of w.

def latent_edit(net, st, pca=None):
    """float64 [num_ws, w_dim] of the latent explorer's sliders (IPCA and SVD / SeFa, times the Sum), or None
    when all are zero. `pca` is (comp, std); by default the cache next to the network (DirectionError if the IPCA
    sliders are used and it has not been computed)."""
    G = net.G
    L, w_dim = G.num_ws, G.w_dim
    edit = np.zeros([L, w_dim], dtype=np.float64)
    used = False
    if any(st.pca_sliders):
        pca = pca if pca is not None else load_pca(net.path)
        if pca is None:
            raise DirectionError(f'The IPCA of {os.path.basename(net.path)} is not computed yet (Latent explorer: '
                f'Compute), or its cache {pca_path(net.path)} is missing')
        comp, std = pca
        k = min(len(st.pca_sliders), len(comp))
        v = (np.asarray(st.pca_sliders[:k], np.float64) * std[:k]) @ comp[:k].astype(np.float64)
        lo, hi = layer_range(st.pca_layers, L)
        edit[lo:hi] += v * st.latent_sum
        used = True
    if any(st.cff_sliders) and st.latent_mode != 'ipca':
        dirs = cff_directions(G, st.latent_mode, st.cff_layers, key=net.ref.sha256 or None)
        k = min(len(st.cff_sliders), len(dirs))
        v = np.asarray(st.cff_sliders[:k], np.float64) @ dirs[:k].astype(np.float64)
        lo, hi = layer_range(st.cff_layers, L - 1)
        edit[lo:hi] += v * st.latent_sum
        used = True
    return edit if used else None

def w_offset(net, st, pca=None):
    """The whole w offset [num_ws, w_dim] float32 of an explorer state (latent edit + saved directions), or None."""
    edit = latent_edit(net, st, pca)
    total = edit if edit is not None else np.zeros([net.G.num_ws, net.G.w_dim])
    used = edit is not None
    for name, weight in st.saved:
        if weight == 0:
            continue
        path = direction_path(net.path, name)
        if not os.path.isfile(path):
            raise DirectionError(f'Saved direction {name!r} not found ({path})')
        total = total + weight * read_direction(path, (net.G.num_ws, net.G.w_dim))['dir'].astype(np.float64)
        used = True
    return total.astype(np.float32) if used else None

_NAME_RE = re.compile(r'[^A-Za-z0-9_.-]+')

def suggest_name(text):
    """A file-safe direction name from free text ('' if nothing is left)."""
    return _NAME_RE.sub('_', text.strip()).strip('._')

#----------------------------------------------------------------------------
