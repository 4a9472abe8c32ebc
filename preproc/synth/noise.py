"""Deterministic randomness for the synthetic scene: counter-based hashing (random access by integer keys, so a value
depends only on its keys, never on what else was drawn), tileable fractal textures and their bilinear lookup."""

import functools

import numpy as np

#----------------------------------------------------------------------------
# Counter-based hashing (splitmix64 finaliser), vectorised over any broadcastable integer keys.

def _mix(x):
    with np.errstate(over='ignore'):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))

def _as_u64(key):
    key = np.asarray(key)
    if not np.issubdtype(key.dtype, np.integer):
        raise TypeError(f'Hash keys must be integers, got dtype {key.dtype}')
    return key.astype(np.int64).view(np.uint64) if key.dtype != np.uint64 else key

def hash64(*keys):
    """uint64 hash of a tuple of integer keys (arrays broadcast); at least 1-d."""
    keys = np.broadcast_arrays(*[np.atleast_1d(_as_u64(k)) for k in keys])
    h = np.full(keys[0].shape, 0x243F6A8885A308D3, dtype=np.uint64)
    with np.errstate(over='ignore'):
        for k in keys:
            h = _mix(h ^ _mix(k + np.uint64(0x9E3779B97F4A7C15)))
    return h

def uniform(*keys):
    """float64 in [0, 1) per key tuple."""
    return (hash64(*keys) >> np.uint64(11)).astype(np.float64) * 2.0**-53

def normal(*keys):
    """Standard normal per key tuple (Box-Muller on two independent hashes)."""
    u1 = uniform(*keys, 1)
    u2 = uniform(*keys, 2)
    return np.sqrt(-2 * np.log1p(-u1)) * np.cos(2 * np.pi * u2)

#----------------------------------------------------------------------------
# Tileable textures.

@functools.lru_cache(maxsize=None)
def fractal_texture(size, beta, seed):
    """Tileable [size, size] float32 noise with a 1/f^beta power spectrum, zero mean and unit std (read-only)."""
    rng = np.random.default_rng(seed)
    f = np.fft.fftfreq(size)
    k = np.hypot(f[:, None], f[None, :])
    k[0, 0] = 1
    spectrum = np.fft.fft2(rng.standard_normal((size, size))) * k**(-beta / 2)
    spectrum[0, 0] = 0
    tex = np.fft.ifft2(spectrum).real
    tex = ((tex - tex.mean()) / tex.std()).astype(np.float32)
    tex.setflags(write=False)
    return tex

def sample_wrap(tex, y, x):
    """Bilinear lookup of a tileable texture at float texel coordinates (arrays broadcast), wrapping around."""
    size_y, size_x = tex.shape
    y0 = np.floor(y)
    x0 = np.floor(x)
    fy = (y - y0).astype(np.float32)
    fx = (x - x0).astype(np.float32)
    y0 = y0.astype(np.int64) % size_y
    x0 = x0.astype(np.int64) % size_x
    y1 = (y0 + 1) % size_y
    x1 = (x0 + 1) % size_x
    top = tex[y0, x0] * (1 - fx) + tex[y0, x1] * fx
    bottom = tex[y1, x0] * (1 - fx) + tex[y1, x1] * fx
    return top * (1 - fy) + bottom * fy

def shifted_lookup(tex, y, x):
    """Static part of bilinear lookups into a tileable square texture at float texel coordinates (y, x) that are
    shifted later by whole texels (see sample_shifted): the texture tiled 2 x 2 and flattened, its row length, the
    flat corner indices and the bilinear weights."""
    size = tex.shape[0]
    y0, x0 = np.floor(y), np.floor(x)
    base = (y0.astype(np.int64) % size) * (2 * size) + x0.astype(np.int64) % size
    return np.tile(tex, (2, 2)).ravel(), 2 * size, base, (y - y0).astype(np.float32), (x - x0).astype(np.float32)

def sample_shifted(lookup, dy, dx):
    """Values [N, ...] at lookup's coordinates shifted by whole texels dy, dx ([N] ints in [0, size)): four flat
    gathers, no wrapping arithmetic per frame."""
    tiled, row, base, fy, fx = lookup
    shift = (np.asarray(dy, dtype=np.int64) * row + np.asarray(dx, dtype=np.int64)).reshape((-1,) + (1,) * base.ndim)
    flat = base[None] + shift
    top = np.take(tiled, flat) * (1 - fx) + np.take(tiled, flat + 1) * fx
    bottom = np.take(tiled, flat + row) * (1 - fx) + np.take(tiled, flat + row + 1) * fx
    return top * (1 - fy) + bottom * fy

#----------------------------------------------------------------------------
