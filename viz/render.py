"""The one path from a rendering request to pixels: seeds -> z (the original's rule), per-slot times -> c (with
per-layer-range overrides), truncation with cutoff, noise, out_rect crop, resampling and the uint8 RGBA conversion on
the device. Used by the exporter, both viewers, the training grids, the time-grid script and the metrics, so that the
same request gives the same pixels everywhere. Each result carries the request that produced it.

Times are given per image as (lin, year, day) slot times in units of t (training.timeline); the renderer keeps the
slots the generator has. Dataset requests take the nearest real frame instead (viz.dataset).
"""

import contextlib
import dataclasses
import functools

import numpy as np
import torch

from viz.cuda_graphs import GraphCache
from viz.network import NetworkCache

SLOTS = ('lin', 'year', 'day') # The canonical slot order of requests.
GRAPH_MAX_BATCH = 4              # Larger batches are compute-bound: no graphs (each holds its own memory).

#----------------------------------------------------------------------------
# Conversions shared with training grids and metrics.

def seed_to_z(seed, z_dim):
    """The original toolkit's latent of a seed: RandomState(seed).standard_normal(z_dim), float64."""
    return np.random.RandomState(int(seed)).standard_normal(z_dim)

def to_uint8(images):
    """Generator output ([-1, 1] nominal, unbounded) -> uint8, x * 127.5 + 128 clamped and truncated (as the original)."""
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)

def to_rgba8(images):
    """[B, C, H, W] generator output -> [B, H, W, 4] uint8 RGBA on the same device (grey images are repeated)."""
    x = to_uint8(images).permute(0, 2, 3, 1)
    if x.shape[3] == 1:
        x = x.repeat(1, 1, 1, 3)
    alpha = torch.full_like(x[..., :1], 255)
    return torch.cat([x[..., :3], alpha], dim=3)

def resample(images, size, antialias):
    """[B, C, H, W] float images to size (w, h): anti-aliased bilinear, or nearest neighbour."""
    w, h = size
    if (images.shape[3], images.shape[2]) == (w, h):
        return images
    if antialias:
        return torch.nn.functional.interpolate(images, size=(h, w), mode='bilinear', antialias=True, align_corners=False)
    return torch.nn.functional.interpolate(images, size=(h, w), mode='nearest-exact')

def scaled_size(out_rect, res_scale):
    """Output (w, h) of one image: the out_rect part of the frame times res_scale, at least 1 pixel."""
    x1, y1, x2, y2 = out_rect
    return max(int(round((x2 - x1) * res_scale)), 1), max(int(round((y2 - y1) * res_scale)), 1)

#----------------------------------------------------------------------------
# Requests and results.

@dataclasses.dataclass(frozen=True)
class Request:
    """Everything that decides the pixels of a batch. Per image: seed, (lin, year, day) times and an optional
    w-space blend (seed_b, alpha). For the whole batch: the rest."""
    network: str                          # Path of the network file (resolved).
    seeds: tuple                          # [B] ints.
    times: tuple                          # [B] (lin, year, day) tuples, t units.
    lerps: tuple = ()                     # [B] (seed_b, alpha) or None; () = none.
    layer_times: tuple = ()               # ((lo, hi, (lin, year, day)), ...): layers lo..hi-1 get these times.
    trunc: float = 1.0
    trunc_cutoff: int = 0                 # The last trunc_cutoff layers stay untruncated.
    noise_mode: str = 'const'
    noise_seed: int = 0                   # Seeds the 'random' noise of this batch.
    res_scale: float = 1.0
    antialias: bool = True
    source: str = 'gan'                   # 'gan', or 'dataset' for the nearest real frames.
    dataset_noise: bool = False           # source='dataset': jitter times with the training-time D noise.
    gt_tol_hours: float = 1.5             # source='dataset': largest distance of a frame shown.
    mix_seed: int = -1                    # Style mixing: layers mix_layer.. take the w of this seed (< 0: none).
    mix_layer: int = 0
    w_offset: tuple = ()                  # [L][w_dim] floats added to every image's w last (latent edits); () = none.

    def __len__(self):
        return len(self.seeds)

@dataclasses.dataclass(frozen=True)
class Result:
    request: Request
    images: np.ndarray                    # [B, h, w, 4] uint8 RGBA.

#----------------------------------------------------------------------------

class Renderer:
    """Turns requests into RGBA8 images on one device. Thread-safe for one caller at a time (the viewers' worker)."""

    def __init__(self, device=None, cache_size=3, datasets=None, cuda_graphs=True):
        self.device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
        self.networks = NetworkCache(self.device, size=cache_size)
        self.datasets = datasets # viz.dataset.DatasetFinder, or None: dataset requests render grey.
        # Small batches are launch-bound on a GPU: replay them as CUDA graphs (viz.cuda_graphs).
        self.graphs = GraphCache(self.device) if cuda_graphs and self.device.type == 'cuda' else None

    def network(self, path):
        return self.networks.load(path)

    @torch.no_grad()
    def render(self, req, to_host=True):
        net = self.network(req.network)
        if req.source == 'dataset':
            images = self._dataset_images(net, req)
        else:
            images = self._generate(net, req)
        if to_host:
            images = images.cpu().numpy()
        return Result(request=req, images=images)

    def _generate(self, net, req):
        inputs = self._inputs(net, req)
        settings = (req.trunc, req.trunc_cutoff, req.noise_mode, req.mix_layer, req.res_scale, req.antialias)
        forward = functools.partial(generate, net.G, net.out_rect, *settings)
        if self.graphs is not None and req.noise_mode != 'random' and len(req) <= GRAPH_MAX_BATCH:
            key = (net.ref.sha256, settings, tuple((k, tuple(v.shape)) for k, v in inputs.items()))
            return self.graphs.run(key, forward, inputs)
        with _seeded(self.device, req.noise_seed):
            return forward(**inputs)

    def _inputs(self, net, req):
        """The request's tensors on the device: times c, latents z (and z_b, alpha, z_mix, w_offset when used)."""
        z = lambda seeds: seed_latents(seeds, net.G.z_dim, self.device)
        inputs = dict(c=torch.as_tensor(slot_times(net, req.times, req.layer_times), device=self.device, dtype=torch.float32),
            z=z(req.seeds))
        if req.lerps:
            blend = [l if l is not None else (s, 0.0) for s, l in zip(req.seeds, req.lerps)]
            inputs['z_b'] = z([b for b, _ in blend])
            inputs['alpha'] = torch.tensor([a for _, a in blend], device=self.device, dtype=torch.float32)[:, None, None]
        if req.mix_seed >= 0:
            inputs['z_mix'] = z([req.mix_seed] * len(req))
        if req.w_offset:
            inputs['w_offset'] = torch.from_numpy(np.asarray(req.w_offset, dtype=np.float32)).to(self.device)
        return inputs

    def _dataset_images(self, net, req):
        from viz import dataset # pylint: disable=import-outside-toplevel # only dataset mode needs it
        size = scaled_size(net.out_rect, req.res_scale)
        lookup = self.datasets.lookup(net) if self.datasets is not None else None
        frames = dataset.render_frames(lookup, net, req, size)
        return torch.from_numpy(frames).to(self.device)

def generate(G, out_rect, trunc, trunc_cutoff, noise_mode, mix_layer, res_scale, antialias, c, z, z_b=None,
             alpha=None, z_mix=None, w_offset=None):
    """Tensors in, RGBA8 images [B, h, w, 4] out, all on G's device (so that a CUDA graph can hold the call): times c
    [B, F] or [B, L, F], latents z; optionally a w blend towards z_b by alpha [B, 1, 1], style mixing from z_mix at
    layer mix_layer, and a w offset [L, w_dim]. The last trunc_cutoff layers stay untruncated."""
    cs = G.cond_xform(c, broadcast=True)
    cutoff = G.num_ws - trunc_cutoff if trunc_cutoff > 0 else None
    mapping = lambda z_: G.mapping(z_, cs[:, 0], truncation_psi=trunc, truncation_cutoff=cutoff)
    ws = mapping(z)
    if z_b is not None:
        ws = ws + (mapping(z_b) - ws) * alpha.to(ws.dtype)
    if z_mix is not None:
        ws = torch.cat([ws[:, :mix_layer], mapping(z_mix)[:, mix_layer:]], dim=1)
    if w_offset is not None:
        ws = ws + w_offset.to(ws.dtype)
    images = G.synthesis(ws, cs, noise_mode=noise_mode).to(torch.float32)
    x1, y1, x2, y2 = out_rect
    return to_rgba8(resample(images[:, :, y1:y2, x1:x2], scaled_size(out_rect, res_scale), antialias))

def seed_latents(seeds, z_dim, device):
    """float32 [B, z_dim] latents of seeds (seed_to_z) on a device."""
    return torch.from_numpy(np.stack([seed_to_z(s, z_dim) for s in seeds])).to(device, torch.float32)

def slot_times(net, times, layer_times=()):
    """float64 [B, F] generator input of (lin, year, day) times [B, 3], or [B, L, F] with layer overrides."""
    cols = [SLOTS.index(n) if n in SLOTS else 0 for n in net.slot_names] # unknown slots (implicit trend) -> lin
    times = np.asarray(times, dtype=np.float64).reshape(-1, len(SLOTS))
    c = times[:, cols]
    if layer_times:
        c = np.repeat(c[:, None, :], net.G.num_ws, axis=1)
        for lo, hi, t in layer_times:
            c[:, lo:hi, :] = np.asarray(t, dtype=np.float64)[cols]
    return c

@contextlib.contextmanager
def _seeded(device, seed):
    """Random noise that depends only on the request: a forked, seeded torch RNG."""
    devices = [device] if device.type == 'cuda' else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield

#----------------------------------------------------------------------------
