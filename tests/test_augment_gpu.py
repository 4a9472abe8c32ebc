"""CUDA tests of training.augment: R1-style double backward in fp32, agreement with the CPU, exactness under TF32."""

import contextlib

import numpy as np
import pytest
import torch

from training.augment import AugmentPipe, BGC

ALL = dict(BGC, imgfilter=1, noise=1, cutout=1)

pytestmark = pytest.mark.gpu

@contextlib.contextmanager
def _tf32(enabled):
    """TF32 for matmuls and cuDNN on or off (a training loop may turn it on), restored afterwards."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved

#----------------------------------------------------------------------------

def _r1_grads(pipe, real, net):
    real = real.detach().requires_grad_(True)
    grad, = torch.autograd.grad(net(pipe(real)).sum(), real, create_graph=True)
    net.zero_grad()
    grad.square().sum().backward()
    return [p.grad.clone() for p in net.parameters() if p.grad is not None]

def test_cuda_r1_double_backward_fp32():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Softplus(), torch.nn.Conv2d(8, 1, 3)).cuda()
    pipe = AugmentPipe(**ALL).cuda()
    real = torch.randn([4, 3, 64, 64], device='cuda')
    with _tf32(True):
        grads = _r1_grads(pipe, real, net)
    assert len(grads) >= 2 and all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)

@pytest.mark.parametrize('fixed_padding', [False, True])
def test_cuda_warp_matches_cpu(fixed_padding):
    torch.manual_seed(1)
    theta = 0.3
    G_inv = torch.tensor([[[np.cos(theta) * 1.2, -np.sin(theta), 2.5], [np.sin(theta), np.cos(theta) * 0.9, -1.0], [0, 0, 1]],
        [[-1.0, 0, 0], [0, 1, 3], [0, 0, 1]]], dtype=torch.float64)
    changed = torch.ones([2], dtype=torch.bool)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Softplus(), torch.nn.Conv2d(4, 1, 3))
    real = torch.randn([2, 3, 32, 32])
    results = []
    for device in ('cpu', 'cuda'):
        pipe, n = AugmentPipe().to(device), net.to(device)
        warp = lambda x: pipe._resample(x, G_inv.to(device), changed.to(device), fixed_padding)
        with _tf32(False):
            results.append([warp(real.to(device)).cpu()] + [g.cpu() for g in _r1_grads(warp, real.to(device), n)])
    for a, b in zip(*results):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-3)

def test_cuda_exact_paths():
    x = torch.randn([8, 3, 32, 32], device='cuda')
    pipe = AugmentPipe(**ALL).cuda()
    pipe.p.zero_()
    with _tf32(True): # p = 0 is the exact identity even with TF32 allowed
        assert torch.equal(pipe(x), x)
    # Integer translations are exact shifts: orthonormal up/down filters reconstruct perfectly.
    torch.manual_seed(2)
    with _tf32(False):
        y = AugmentPipe(xint=1).cuda()(x)
    for a, b in zip(x, y):
        err = min((b[:, 4:-4, 4:-4] - a[:, 4 - dy:28 - dy, 4 - dx:28 - dx]).abs().max() for dy in range(-4, 5) for dx in range(-4, 5))
        assert err < 1e-4

#----------------------------------------------------------------------------
