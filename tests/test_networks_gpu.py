"""GPU tests of training.networks_stylegan2: fp16 blocks, bf16 autocast, CPU/CUDA agreement, torch.compile."""

import contextlib

import pytest
import torch

from training import networks_stylegan2 as N

pytestmark = pytest.mark.gpu

RES = 32
COND_ARGS = dict(type='fourier', f_manual=[6.09, 2225.0], include_lin=True, t_delta=1e-3, noise_f=[20, 4, 0])

def _nets(**kw):
    torch.manual_seed(0)
    common = dict(img_resolution=RES, img_channels=3, cond_args=COND_ARGS, channel_base=1024, channel_max=64, **kw)
    G = N.Generator(z_dim=32, c_dim=1, w_dim=32, mapping_kwargs=dict(num_layers=2), **common)
    D = N.Discriminator(c_dim=1, epilogue_kwargs=dict(mbstd_group_size=4), **common)
    with torch.no_grad(): # let time matter
        for name, param in G.named_parameters():
            if name.endswith('c_to_scales.weight'):
                param.normal_()
    return G, D

def _inputs(device, batch=4):
    gen = torch.Generator().manual_seed(0)
    return torch.randn([batch, 32], generator=gen).to(device), torch.rand([batch, 1], generator=gen).to(device)

@contextlib.contextmanager
def _output_dtypes(modules):
    """Record the output dtype of each module (of the last item of a tuple output) while the context is active."""
    seen = {}
    def hook(name, out):
        seen.setdefault(name, (out[-1] if isinstance(out, tuple) else out).dtype)
    hooks = [m.register_forward_hook(lambda _mod, _args, out, name=name: hook(name, out)) for name, m in modules.items()]
    try:
        yield seen
    finally:
        for handle in hooks:
            handle.remove()

def _no_tf32():
    """Full fp32 convolutions for comparisons (matmuls are fp32 by PyTorch's default)."""
    return torch.backends.cudnn.flags(enabled=True, allow_tf32=False)

#----------------------------------------------------------------------------

def test_fp16_blocks_on_cuda():
    G, D = _nets(num_fp16_res=2) # 32x32 and 16x16 in fp16
    G, D = G.cuda().eval(), D.cuda()
    z, c = _inputs('cuda')
    probes = dict(top=G.synthesis.b32.conv1, low=G.synthesis.b8.conv1, styles=G.synthesis.b32.conv1.scaled_styles,
        d_top=D.b32.conv0, d_low=D.b8.conv0)
    with _output_dtypes(probes) as seen:
        img = G(z, c, noise_mode='const')
        logits = D(img, c)
    assert seen == dict(top=torch.float16, low=torch.float32, styles=torch.float32, d_top=torch.float16,
        d_low=torch.float32)
    assert img.dtype == torch.float32 and logits.dtype == torch.float32
    assert torch.isfinite(img).all() and torch.isfinite(logits).all()
    with _no_tf32():
        ref = G(z, c, noise_mode='const', force_fp32=True)
    assert (img - ref).abs().max() < 0.05

def test_bf16_autocast_forward_backward():
    G, D = _nets(num_fp16_res=2)
    G, D = G.cuda().train(), D.cuda().train()
    z, c = _inputs('cuda')
    probes = dict(top=G.synthesis.b32.conv1, styles=G.synthesis.b32.conv1.scaled_styles, mapping=G.mapping,
        image=G.synthesis.b32, d_mapping=D.mapping)
    with _output_dtypes(probes) as seen, torch.autocast('cuda', dtype=torch.bfloat16):
        img = G(z, c)
        loss = torch.nn.functional.softplus(-D(img, c)).mean()
    loss.backward()
    assert seen == dict(top=torch.bfloat16, styles=torch.float32, mapping=torch.float32, image=torch.float32,
        d_mapping=torch.float32)
    assert torch.isfinite(loss)
    for net in [G, D]:
        assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    assert G.mapping.fc0.weight.grad.abs().sum() > 0

def test_cpu_and_cuda_agree_in_fp32():
    G, D = _nets(num_fp16_res=0, conv_clamp=None)
    G.eval()
    D.eval()
    z, c = _inputs('cpu')
    img_cpu = G(z, c, noise_mode='const')
    logits_cpu = D(img_cpu, c)
    with _no_tf32():
        img_gpu = G.cuda()(z.cuda(), c.cuda(), noise_mode='const')
        logits_gpu = D.cuda()(img_cpu.cuda(), c.cuda())
    assert torch.allclose(img_gpu.cpu(), img_cpu, atol=1e-4)
    assert torch.allclose(logits_gpu.cpu(), logits_cpu, atol=1e-4, rtol=1e-4)

def test_compiles_without_graph_breaks():
    G, D = _nets(num_fp16_res=2)
    G, D = G.cuda().train(), D.cuda().train()
    z, c = _inputs('cuda')
    img = torch.compile(G, fullgraph=True)(z, c)
    logits = torch.compile(D, fullgraph=True)(img, c)
    assert img.shape == (4, 3, RES, RES) and torch.isfinite(logits).all()

#----------------------------------------------------------------------------

def test_channels_last_training_step():
    # Channels-last fp16 blocks keep their weights channels-last; the flat gradient reduction must hand fused Adam
    # gradients in the same layout (it refuses mixed layouts).
    from training import training_step
    _, D = _nets(num_fp16_res=2)
    G = N.Generator(z_dim=32, c_dim=1, w_dim=32, mapping_kwargs=dict(num_layers=2), img_resolution=RES, img_channels=3,
        cond_args=COND_ARGS, channel_base=1024, channel_max=64, num_fp16_res=2, fp16_channels_last=True)
    G, D = G.cuda(), D.cuda()
    assert G.synthesis.b32.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(G.parameters(), lr=1e-3, fused=True)
    z, c = _inputs('cuda')
    before = G.synthesis.b32.conv1.weight.detach().clone()
    D(G(z, c), c).sum().backward()
    training_step.reduce_grads_and_step(G, opt, world_size=1)
    assert not torch.equal(G.synthesis.b32.conv1.weight, before)
    assert all(torch.isfinite(p).all() for p in G.parameters())
