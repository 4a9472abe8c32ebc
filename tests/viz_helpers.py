"""Shared by the viz tests: a tiny real generator pickle, and a stand-in generator whose pixels spell out the
request that made them, so that a test can read back which (seed, times, lerp) landed in every cell and column."""

import dataclasses
import os
import pickle
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from training import timeline # pylint: disable=wrong-import-position
from training.networks_stylegan2 import Generator # pylint: disable=wrong-import-position
from viz import network # pylint: disable=wrong-import-position

NUM_DAYS = 730
START = 1614556800.0 # 2021-03-01 00:00 UTC

#----------------------------------------------------------------------------
# A tiny real generator whose output visibly depends on time.

def tiny_generator(res=32, seed=0, num_days=NUM_DAYS, out_rect=None):
    torch.manual_seed(seed)
    cond_args = dict(type='fourier', f_manual=timeline.cycle_frequencies(num_days), start_ts=START, num_days=num_days,
        num_frames=40, t_delta=1 / 40)
    G = Generator(z_dim=16, w_dim=16, c_dim=1, img_resolution=res, img_channels=3, cond_args=cond_args,
        mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16, out_rect=out_rect).eval()
    with torch.no_grad(): # random time modulation instead of the near-identity init, so that time shows
        for name, param in G.named_parameters():
            if name.endswith('c_to_scales.weight'):
                param.normal_()
    return G

def save_pickle(path, G, dataset_path=None):
    data = dict(G_ema=G)
    if dataset_path:
        data['training_set_kwargs'] = dict(class_name='training.dataset.ImageFolderDataset', path=str(dataset_path))
    with open(path, 'wb') as f:
        pickle.dump(data, f)
    return str(path)

#----------------------------------------------------------------------------
# The stand-in: each pixel column holds the float32 bytes of (lin, year, day, w0, column index, layer-4 day) in the
# RGB values of its first 8 rows, so every column of every output can be decoded.

FIELDS = ('lin', 'year', 'day', 'w0', 'x', 'day4')

class _Xform(torch.nn.Module):
    def __init__(self, num_ws):
        super().__init__()
        self.num_ws = num_ws
    def forward(self, c, broadcast=True):
        return c if c.ndim == 3 else c[:, None, :].repeat(1, self.num_ws, 1)

class _Mapping(torch.nn.Module):
    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None):
        del c
        w = z[:, None, :].repeat(1, 6, 1)
        cutoff = 6 if truncation_cutoff is None else truncation_cutoff
        w[:, :cutoff] *= truncation_psi
        return w

class _Synthesis(torch.nn.Module):
    def __init__(self, res):
        super().__init__()
        self.res = res
        self.out_rect = (0, 0, res, res)
    def forward(self, ws, cs, noise_mode='const'):
        del noise_mode
        B = ws.shape[0]
        x = torch.arange(self.res, dtype=torch.float32)
        values = [cs[:, 0, 0], cs[:, 0, 1], cs[:, 0, 2], ws[:, 0, 0]]
        cols = torch.stack([torch.stack([v.float()] * self.res, 1) for v in values] + [x[None].repeat(B, 1),
            cs[:, 4, 2].float()[:, None].repeat(1, self.res)], 1) # [B, fields, W]
        raw = cols.numpy().astype('<f4').view(np.uint8).reshape(B, len(FIELDS), self.res, 4) # [B, F, W, 4 bytes]
        raw = raw.transpose(0, 1, 3, 2).reshape(B, len(FIELDS) * 4, self.res) # rows = field bytes
        img = np.zeros([B, 3, self.res, self.res], dtype=np.float32)
        img[:, :, :8] = raw.reshape(B, 3, 8, self.res) # byte b in channel b // 8, row b % 8
        return torch.from_numpy((img - 127.75) / 127.5) # to_uint8 gives the bytes back exactly

class StandIn(torch.nn.Module):
    def __init__(self, res=16, num_days=NUM_DAYS):
        super().__init__()
        self.z_dim, self.num_ws, self.img_resolution = 4, 6, res
        self.frequencies = timeline.frequency_set(num_days)
        self.cond_args = dict(start_ts=START, num_days=num_days)
        self.cond_xform = _Xform(self.num_ws)
        self.mapping = _Mapping()
        self.synthesis = _Synthesis(res)

def standin_network(res=16, num_days=NUM_DAYS):
    G = StandIn(res, num_days)
    return network.Network(G=G, ref=network.NetworkRef(name='standin.pkl', sha256='0' * 64), path='standin.pkl',
        timeline=timeline.Timeline(START, num_days), slot_names=('lin', 'year', 'day'), dataset_name='', init_kwargs={})

def use_standin(renderer, net):
    """Make a renderer render `net` whatever path a request names."""
    renderer.networks.load = lambda path: net
    return renderer

def decode(image):
    """[h, w, 4] stand-in output -> {field: float64 [w]} of each pixel column."""
    rows = image[:8, :, :3].transpose(2, 0, 1).reshape(len(FIELDS) * 4, -1) # [F*4, W]
    raw = rows.reshape(len(FIELDS), 4, -1).transpose(0, 2, 1).copy() # [F, W, 4]
    vals = raw.view('<f4')[..., 0].astype(np.float64)
    return dict(zip(FIELDS, vals))

def expected_w0(seed, psi=1.0):
    return np.float32(np.random.RandomState(seed).standard_normal(4)[0]) * np.float32(psi)

#----------------------------------------------------------------------------

def replace(obj, **changes):
    return dataclasses.replace(obj, **changes)

#----------------------------------------------------------------------------
