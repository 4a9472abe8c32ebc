"""Training on CPU with a tiny configuration: losses, outputs, snapshots loadable in a fresh process, the CLI's
config assembly (--noise, --dry-run, resume from a pickle) and its errors for bad options.

The helpers shared with test_resume.py and test_train_ddp.py are in training_helpers.py.
"""

import glob
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import types

import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from training_helpers import NUM_DAYS, ROOT, TINY, make_tiny_dataset, read_stats, run_dirs, run_train
sys.path.insert(0, ROOT)
import dnnlib # pylint: disable=wrong-import-position
import train # pylint: disable=wrong-import-position
from training import timeline # pylint: disable=wrong-import-position
from training import training_step # pylint: disable=wrong-import-position

@pytest.fixture(scope='module')
def dataset_zip(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('data') / 'tiny_32x32_730hz.zip')

@pytest.fixture
def one_thread():
    """In-process training with one thread (see train_env)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

#----------------------------------------------------------------------------
# A tiny training run: losses, outputs, snapshot loaded by the safe loader in a fresh process.

LOAD_SNAPSHOT = r'''
import json, sys, torch
sys.path.insert(0, sys.argv[1])
from torch_utils import safe_pickle
data = safe_pickle.load_network_pkl(sys.argv[2])
G = data.G_ema
c = torch.tensor([[0.0], [0.5], [1.0]])
img = G(torch.randn([3, G.z_dim]), c, noise_mode='const')
print(json.dumps(dict(keys=sorted(data.keys()), shape=list(img.shape), finite=bool(torch.isfinite(img).all()),
    border=float(img[:, :, :4].abs().sub(1).abs().max()), cond_args=dict(G.cond_args),
    augment=type(data.augment_pipe).__name__, dataset=data.training_set_kwargs['path'],
    logits=list(data.D(img, c).shape))))
'''

def test_tiny_training_run(tmp_path, dataset_zip):
    outdir = str(tmp_path / 'runs')
    run_train(['--outdir', outdir, '--data', dataset_zip, '--kimg=0.06', '--snap=1'] + TINY)
    (run_dir,) = run_dirs(outdir)
    assert os.path.basename(run_dir) == '00000-sg2-a1-tiny_32-fman_lin_2_730-n_0.40years_4days_0'

    # Losses of every phase are finite and reported at every tick.
    stats = read_stats(run_dir)
    assert len(stats) >= 3
    for line in stats:
        for name in ['Loss/G/loss', 'Loss/D/loss', 'Loss/scores/real', 'Loss/scores/fake']:
            assert math.isfinite(line[name]['mean']), (name, line[name])
    for name in ['Loss/G/reg', 'Loss/D/reg', 'Loss/pl_penalty', 'Loss/r1_penalty']:
        assert any(name in line and math.isfinite(line[name]['mean']) for line in stats), name
    assert stats[-1]['Progress/kimg']['mean'] == pytest.approx(0.06)

    # Outputs: grids with the pads cropped, snapshots, states, options.
    files = set(os.listdir(run_dir))
    assert {'log.txt', 'stats.jsonl', 'training_options.json', 'reals.jpg', 'fakes_init.jpg'} <= files
    assert 'network-snapshot-000000.060.pkl' in files and 'training-state-000000.060.pt' in files
    assert 'seq_fakes000000.060.jpg' in files
    with PIL.Image.open(os.path.join(run_dir, 'reals.jpg')) as img:
        assert img.size == (9 * 32, 8 * (32 - 2 * 4))
    options = json.load(open(os.path.join(run_dir, 'training_options.json'), encoding='utf-8'))
    assert options['G_kwargs']['out_rect'] == [0, 4, 32, 28]
    assert not [f for f in files if f.startswith('.tmp-')]

    # The snapshot loads through the safe loader in a fresh process, and G(z, c) works.
    proc = subprocess.run([sys.executable, '-c', LOAD_SNAPSHOT, ROOT, os.path.join(run_dir, 'network-snapshot-000000.060.pkl')],
        capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result['keys'] == ['D', 'G', 'G_ema', 'augment_pipe', 'training_set_kwargs']
    assert result['shape'] == [3, 3, 32, 32] and result['finite']
    assert result['border'] == 0 # out_rect mask: the letter-box rows are exactly -1
    assert result['logits'] == [3, 1] and result['augment'] == 'AugmentPipe'
    ca = result['cond_args']
    assert ca['num_frames'] == 24 and ca['t_delta'] == pytest.approx(1 / 24) and ca['num_days'] == NUM_DAYS
    assert ca['start_ts'] == 1600000000.0 and ca['f_manual'] == pytest.approx(timeline.cycle_frequencies(NUM_DAYS))
    assert [s * ca['t_delta'] for s in ca['noise_f']] == pytest.approx([0.2, 4 / NUM_DAYS, 0]) # in t units

    # Weights-only resume from that pickle: a new run dir, faster ADA, no EMA ramp-up.
    pkl = os.path.join(run_dir, 'network-snapshot-000000.060.pkl')
    proc = run_train(['--outdir', outdir, '--data', dataset_zip, '--kimg=0.004', '--snap=1', '--resume', pkl] + TINY)
    assert 'Resuming weights from' in proc.stdout
    new_dir = run_dirs(outdir)[1]
    assert os.path.basename(new_dir).startswith('00001-')
    options = json.load(open(os.path.join(new_dir, 'training_options.json'), encoding='utf-8'))
    assert options['resume_pkl'] == pkl and options['ada_kimg'] == 100 and options['ema_rampup'] is None

def test_resume_pkl_takes_the_architecture_of_the_pickle(tmp_path, dataset_zip):
    """A pickle trained with other capacity, mapping depth and conditioning than the command line's: the config takes
    the pickle's, and its weights fit the networks built from that config exactly."""
    from torch_utils import misc, safe_pickle
    from training.networks_stylegan2 import Discriminator, Generator
    cond_args = dict(type='f_concat', f_manual=timeline.cycle_frequencies(365), include_lin=True, lin_lr=0.05, lr=2.0,
        **timeline.Timeline(date_start=1.6e9, num_days=365).as_cond_args())
    nets = dict(c_dim=1, img_resolution=32, img_channels=3, cond_args=cond_args, channel_base=512, channel_max=16)
    G = Generator(z_dim=512, w_dim=512, mapping_kwargs=dict(num_layers=1), **nets)
    pkl = tmp_path / 'other.pkl'
    with open(pkl, 'wb') as f:
        pickle.dump(dict(G=G, D=Discriminator(**nets), G_ema=G), f)
    options = dry_run_options(tmp_path / 'runs', dataset_zip, ['--resume', str(pkl)]) # TINY: cbase 256, cmax 32, depth 2
    G_kwargs = options['G_kwargs']
    assert (G_kwargs['channel_base'], G_kwargs['channel_max'], G_kwargs['mapping_kwargs']['num_layers']) == (512, 16, 1)
    ca = G_kwargs['cond_args']
    assert (ca['type'], ca['num_days'], ca['f_manual'], ca['lin_lr'], ca['lr']) == ('f_concat', 365, [365.0], 0.05, 2.0)
    assert '-fcat-fman_lin_365-' in options['run_dir'] and options['D_kwargs']['channel_max'] == 16
    data = safe_pickle.load_network_pkl(str(pkl))
    for name, kwargs in [('G', G_kwargs), ('D', options['D_kwargs'])]:
        net = dnnlib.util.construct_class_by_name(**kwargs, c_dim=1, img_resolution=32, img_channels=3)
        misc.copy_params_and_buffers(data[name], net, require_all=True, allow_extra=False)

    # Frequencies that no --days gives cannot be expressed: a clear error, not a shape mismatch later.
    nets = dict(nets, cond_args=dict(cond_args, f_manual=[3.0]))
    G = Generator(z_dim=512, w_dim=512, **nets)
    assert train._init_value(G.mapping, 'num_layers') == 8 # not given: MappingNetwork's default
    with open(pkl, 'wb') as f:
        pickle.dump(dict(G=G, D=Discriminator(**nets), G_ema=G), f)
    result = CliRunner().invoke(train.main, ['--outdir', str(tmp_path / 'runs'), '--data', dataset_zip, '--dry-run',
        '--resume', str(pkl)] + TINY)
    assert result.exit_code == 2 and 'cannot express' in result.output, result.output

#----------------------------------------------------------------------------
# The loss, phase by phase.

# Tiny networks with the 730-day time slots (trend, year, day).
TIME_COND = dict(type='fourier', f_manual=timeline.cycle_frequencies(NUM_DAYS), t_delta=1 / 24)
TIME_NETS = dict(c_dim=1, img_resolution=32, img_channels=3, cond_args=TIME_COND, channel_base=256, channel_max=32)

def test_loss_phases_and_style_mixing(one_thread):
    import torch
    from training.augment import AugmentPipe
    from training.loss import StyleGAN2Loss
    from training.networks_stylegan2 import Discriminator, Generator
    torch.manual_seed(0)
    nets = dict(TIME_NETS, cond_args=dict(TIME_COND, noise_f=[4.8, 0.1, 0]))
    G = Generator(z_dim=32, w_dim=32, mapping_kwargs=dict(num_layers=2), **nets).requires_grad_(False)
    D = Discriminator(**nets).requires_grad_(False)
    pipe = AugmentPipe(xflip=1, rotate=1, scale=1, brightness=1)
    pipe.p.fill_(0.5)
    loss = StyleGAN2Loss(torch.device('cpu'), G, D, augment_pipe=pipe, r1_gamma=1, style_mixing_prob=1, pl_weight=2,
        pl_no_weight_grad=True)
    seen, augmented = [], []
    G.synthesis.register_forward_hook(lambda _mod, args, _out: seen.append((args[0].detach(), args[1].detach())))
    pipe.register_forward_pre_hook(lambda _mod, args: augmented.append(args[0].detach()))
    real_img = torch.rand([4, 3, 32, 32]) * 2 - 1
    z, c = torch.randn([4, 32]), torch.rand([4, 1])
    def run(phase, module):
        """One phase with gradients for module alone: they exist and are finite; the pipe's inputs land in augmented."""
        module.requires_grad_(True)
        augmented.clear()
        loss.accumulate_gradients(phase, real_img, c, z, c, gain=4)
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), phase
        module.zero_grad(set_to_none=True)
        module.requires_grad_(False)

    for phase, module in [('Gmain', G), ('Greg', G), ('Gboth', G), ('Dmain', D), ('Dreg', D), ('Dboth', D)]:
        run(phase, module)
        # One pipe call per phase that sees D: the fakes (G's), the reals, or both in one batch, reals first.
        assert [len(x) for x in augmented] == {'Greg': [], 'Dmain': [8], 'Dboth': [8]}.get(phase, [4]), phase
        if phase.startswith('D'):
            assert torch.equal(augmented[0][:4], real_img), phase
    assert loss.pl_mean > 0 # updated by Greg and Gboth
    # Above MERGE_MAX values the reals and the fakes go through the pipe in two calls, reals first.
    loss.MERGE_MAX = real_img.numel() * 2 - 1
    for phase in ['Dmain', 'Dboth']:
        run(phase, D)
        assert [len(x) for x in augmented] == [4, 4] and torch.equal(augmented[0], real_img), phase

    # Style mixing swaps the tail of ws for another z's; the time features cs are the same for every layer.
    ws, cs = seen[0]
    assert torch.equal(cs, G.cond_xform(c))
    assert torch.equal(ws[:, 0], G.mapping(z, cs[:, 0])[:, 0]) and not torch.equal(ws[:, 0], ws[:, -1])
    with pytest.raises(ValueError, match='Unknown training phase'):
        loss.accumulate_gradients('Gfoo', real_img, c, z, c, gain=1)

def test_cond_decay_shrinks_only_the_time_weights_of_G(tmp_path, dataset_zip, one_thread):
    """--cond-decay: after each of G's optimiser steps, every time-feature column of its styles' c_to_scales (not the
    constant's) is the undecayed step's times 1 - lr * cond_decay; all else steps as without it; D's phases have no
    decay."""
    from training.loss import StyleGAN2Loss
    from training.networks_stylegan2 import Discriminator, Generator
    options = dry_run_options(tmp_path, dataset_zip, ['--cond-decay=0.5', '--glr=0.01'])
    assert options['cond_decay'] == 0.5
    opt = dict(class_name='torch.optim.Adam', lr=0.01, betas=[0, 0.99], eps=1e-8)
    real_img, z, c = torch.rand([4, 3, 32, 32]) * 2 - 1, torch.randn([4, 32]), torch.rand([4, 1])
    params = []
    for decay in [0, 0.5]:
        torch.manual_seed(0)
        G = Generator(z_dim=32, w_dim=32, mapping_kwargs=dict(num_layers=2), **TIME_NETS).requires_grad_(False)
        D = Discriminator(**TIME_NETS).requires_grad_(False)
        loss = StyleGAN2Loss(torch.device('cpu'), G, D, r1_gamma=1, pl_weight=2)
        phases = training_step.build_phases(G, D, opt, opt, 4, 16, torch.device('cpu'), cond_decay=decay)
        assert [p.after_step is not None for p in phases] == [decay > 0] * 2 + [False] * 2
        torch.manual_seed(1)
        training_step.run_phase(phases[0], loss, real_img, c, z, c, batch_gpu=4, world_size=1) # Gmain
        params.append({name: p.clone() for name, p in G.named_parameters()})
    keep = 1 - 0.01 * 4 / 5 * 0.5 # the lr as corrected for the lazy regularisation
    time_weights = [name for name in params[0] if name.endswith('c_to_scales.weight')]
    assert len(time_weights) == 2 + 3 * 3 # 4x4: conv1 and torgb; 8x8 to 32x32: conv0 too
    for name, before in params[0].items():
        after = params[1][name]
        if name in time_weights:
            assert torch.equal(after[:, 0], before[:, 0]), name
            assert torch.allclose(after[:, 1:], before[:, 1:] * keep, rtol=1e-6, atol=0), name
        else:
            assert torch.equal(after, before), name

def time_head_nets(**D_kwargs):
    """A tiny G and a D with the time head (and D_kwargs) for the time head's tests, from seed 0."""
    from training.networks_stylegan2 import Discriminator, Generator
    torch.manual_seed(0)
    G = Generator(z_dim=32, w_dim=32, mapping_kwargs=dict(num_layers=2), **TIME_NETS)
    return G, Discriminator(time_head=True, **D_kwargs, **TIME_NETS)

def grads_of(module, fn):
    """{name: gradient} of module's parameters after fn() (seeded), with module trainable only meanwhile."""
    module.requires_grad_(True).zero_grad(set_to_none=True)
    torch.manual_seed(1)
    fn()
    found = {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}
    module.requires_grad_(False)
    return found

def test_time_head_learns_from_reals_and_steers_G(one_thread):
    """D's time head (--time-head): its targets are t for the trend and cos/sin per cycle; in D's phases it learns from
    the reals only (the fakes' pass leaves it untouched), and in G's main phase its reading adds a gradient to G."""
    from training.loss import StyleGAN2Loss
    from training.networks_stylegan2 import Discriminator
    G, D = time_head_nets()
    freqs = G.cond_xform.frequencies # [trend, year, day]
    t = torch.tensor([[0.0], [0.25], [0.6]])
    angles = [t[:, 0] * (2 * math.pi * f) for f in freqs[1:]]
    expected = torch.stack([t[:, 0], angles[0].cos(), angles[0].sin(), angles[1].cos(), angles[1].sin()], -1)
    assert torch.allclose(D.cond_xform.targets(t), expected, atol=1e-6)
    img = torch.rand([3, 3, 32, 32]) * 2 - 1
    logits, times = D(img, t, return_time=True)
    assert logits.shape == (3, 1) and times.shape == (3, 5) and torch.equal(D(img, t), logits)
    with pytest.raises(ValueError, match='no time head'):
        Discriminator(**TIME_NETS)(img, t, return_time=True)
    with pytest.raises(ValueError, match='reads Fourier time features'):
        Discriminator(time_head=True, **dict(TIME_NETS, cond_args=dict(TIME_COND, type='concat')))

    real_img, z, c = torch.rand([4, 3, 32, 32]) * 2 - 1, torch.randn([4, 32]), torch.rand([4, 1])
    head = D.b4.time_out.weight
    loss = StyleGAN2Loss(torch.device('cpu'), G, D, r1_gamma=1, time_weight=2)
    fake_img = G(z, c).detach()
    assert 'b4.time_out.weight' not in grads_of(D, lambda: loss._D_fake(fake_img, c, gain=1, fast=False))
    from_reals = grads_of(D, lambda: loss._D_real('Dmain', real_img, real_img, c, 1, torch.zeros([4, 1])))
    assert from_reals['b4.time_out.weight'].abs().sum() > 0
    assert 'b4.time_out.weight' not in grads_of(D, lambda: loss._D('Dreg', real_img, c, z, c, 1)) # R1 only
    with_head = grads_of(G, lambda: loss._G_main(z, c, gain=1, fast=False))
    without = grads_of(G, lambda: StyleGAN2Loss(torch.device('cpu'), G, D, r1_gamma=1)._G_main(z, c, gain=1, fast=False))
    assert with_head.keys() == without.keys()
    assert any(not torch.allclose(with_head[name], without[name]) for name in with_head)
    assert head.grad is None # D, frozen in G's phases, learns nothing there

def test_time_twin_learns_from_fakes_and_offsets_G(one_thread):
    """The time head's twin (--time-twin): D reads 2 x 5 times; the head's rows learn from reals only, the twin's from
    fakes only; G's penalty loses the twin's error, which stops counting beyond a guess's (1 per target)."""
    from training.loss import StyleGAN2Loss
    from training.networks_stylegan2 import Discriminator
    G, D = time_head_nets(time_twin=True)
    with pytest.raises(ValueError, match='needs the time head'):
        Discriminator(time_twin=True, **TIME_NETS)
    real_img, z, c = torch.rand([4, 3, 32, 32]) * 2 - 1, torch.randn([4, 32]), torch.rand([4, 1])
    assert D(real_img, c, return_time=True)[1].shape == (4, 10)

    twin = StyleGAN2Loss(torch.device('cpu'), G, D, r1_gamma=1, time_weight=2, time_twin=True)
    plain = StyleGAN2Loss(torch.device('cpu'), G, D, r1_gamma=1, time_weight=2) # the same D: the head's columns only
    fake_img = G(z, c).detach()
    from_fakes = grads_of(D, lambda: twin._D_fake(fake_img, c, gain=1, fast=False))['b4.time_out.weight']
    from_reals = grads_of(D, lambda: twin._D_real('Dmain', real_img, real_img, c, 1, torch.zeros([4, 1])))['b4.time_out.weight']
    assert from_fakes[:5].abs().sum() == 0 and from_fakes[5:].abs().sum() > 0
    assert from_reals[:5].abs().sum() > 0 and from_reals[5:].abs().sum() == 0
    assert 'b4.time_out.weight' not in grads_of(D, lambda: plain._D_fake(fake_img, c, gain=1, fast=False))

    with_twin = grads_of(G, lambda: twin._G_main(z, c, gain=1, fast=False))
    without = grads_of(G, lambda: plain._G_main(z, c, gain=1, fast=False))
    assert any(not torch.allclose(with_twin[name], without[name]) for name in with_twin)
    with torch.no_grad():
        D.b4.time_out.bias[5:] += 100 # a twin that reads nothing: its error is far beyond a guess's
    beyond = grads_of(G, lambda: twin._G_main(z, c, gain=1, fast=False))
    assert all(torch.allclose(beyond[name], without[name], rtol=1e-5, atol=1e-7) for name in beyond)

def test_time_smooth_penalises_only_what_the_times_change(one_thread):
    """--time-smooth: G's regularisation phase runs for it alone (no path length), and the penalty is the change of
    G's pooled image when the times move a little at a fixed latent and noise: nothing (the RMS's epsilon) for a G
    whose styles ignore the times, and a few steps on it alone shrink what the times change while the latent still
    changes the image."""
    from torch_utils import training_stats
    from training.loss import StyleGAN2Loss
    G, D = time_head_nets()
    time_weights = [m.c_to_scales.weight for m in G.modules() if hasattr(m, 'c_to_scales')]
    with torch.no_grad(): # the styles' time columns (not the constant's) start near 0: give G times to draw
        for weight in time_weights:
            weight[:, 1:] = torch.randn_like(weight[:, 1:]) * 0.3
    z, c = torch.randn([8, 32]), torch.rand([8, 1])
    off = StyleGAN2Loss(torch.device('cpu'), G, D, r1_gamma=1)
    assert grads_of(G, lambda: off.accumulate_gradients('Greg', None, None, z, c, gain=4)) == {}
    smooth = StyleGAN2Loss(torch.device('cpu'), G, D, r1_gamma=1, time_smooth=10)
    assert torch.allclose(smooth.smooth_steps, torch.tensor(G.cond_xform.periods) / 24)
    stats = training_stats.Collector(regex='Loss/time_smooth')

    def change(): # (the penalty's mean, G's gradients), from the same draws every time
        grads = grads_of(G, lambda: smooth.accumulate_gradients('Greg', None, None, z, c, gain=4))
        stats.update()
        return stats.mean('Loss/time_smooth'), grads

    before, grads = change()
    assert before > 0 and any(g.abs().sum() > 0 for g in grads.values())
    opt = torch.optim.Adam(G.parameters(), lr=0.01, betas=(0.0, 0.99))
    for _ in range(20):
        change()
        opt.step()
    assert change()[0] < 0.5 * before
    img = G(torch.randn([2, 32]), torch.full([2, 1], 0.5), noise_mode='const')
    assert (img[0] - img[1]).abs().mean() > 0.01 # the latent still draws

    with torch.no_grad(): # G that ignores the times
        for weight in time_weights:
            weight[:, 1:] = 0
    assert change()[0] == pytest.approx(1e-4) # the square root's epsilon

class SplitG(torch.nn.Module):
    """A G for the centred penalty: its 16x16 image is a part from its latent plus (or times, with multiply) a part
    from its times, so that the times change every latent's image alike (or each latent's its own way)."""
    def __init__(self, G, multiply):
        super().__init__()
        self.cond_xform, self.num_ws, self.multiply = G.cond_xform, G.num_ws, multiply
        self.z_part = torch.nn.Linear(32, 3 * 16 * 16)
        self.c_part = torch.nn.Linear(G.cond_xform(torch.zeros([1, len(G.cond_xform.periods)])).shape[-1], 3 * 16 * 16)

    def mapping(self, z, c):
        return z[:, None].expand(-1, self.num_ws, -1)

    def synthesis(self, ws, cs, noise_mode):
        z_part, c_part = self.z_part(ws[:, 0]), self.c_part(cs[:, 0].float())
        return (z_part * c_part if self.multiply else z_part + c_part).unflatten(1, [3, 16, 16])

def test_time_smooth_centred_charges_only_each_latents_own_change(one_thread):
    """--time-smooth-centred: the latents of a group of 4 share their times and their step, and the penalty is each
    one's change minus its group's mean: nothing for times that change every latent alike (with two groups moved
    differently), something when the change depends on the latent (which the plain penalty charges in both cases);
    a half micro-batch of one latent cannot be centred."""
    from torch_utils import training_stats
    from training.loss import StyleGAN2Loss
    G, D = time_head_nets()
    z, c = torch.randn([16, 32]), torch.rand([16, 1]) # half the batch: two groups of 4
    stats = training_stats.Collector(regex='Loss/time_smooth')
    def penalty(multiply, centred, z=z, c=c):
        torch.manual_seed(2)
        loss = StyleGAN2Loss(torch.device('cpu'), SplitG(G, multiply), D, time_smooth=1, time_smooth_centred=centred)
        loss.accumulate_gradients('Greg', None, None, z, c, gain=1)
        stats.update()
        return stats.mean('Loss/time_smooth')
    assert penalty(multiply=False, centred=True) == pytest.approx(1e-4, rel=1e-3) # the square root's epsilon
    assert penalty(multiply=False, centred=False) > 0.01
    assert penalty(multiply=True, centred=True) > 0.01
    assert penalty(multiply=False, centred=True, z=z[:12], c=c[:12]) == pytest.approx(1e-4, rel=1e-3) # one group of 6
    with pytest.raises(ValueError, match='two latents or more'):
        penalty(multiply=False, centred=True, z=z[:2], c=c[:2])

def test_time_head_option_trains_and_resumes(tmp_path, dataset_zip):
    """--time-head=W builds D with its time head, sets the loss weight and names the run dir (--time-twin: and the
    twin; --time-smooth: its weight, with a c when centred); a tiny run with the twin and the centred smoothness
    penalty reports the head's errors on reals and fakes, the twin's and the penalty, its snapshot's D reads both, and
    a run resumed from its run dir keeps head, twin and penalty."""
    outdir = tmp_path / 'runs'
    default = dry_run_options(outdir, dataset_zip)
    assert 'time_head' not in default['D_kwargs'] and 'time_weight' not in default['loss_kwargs']
    options = dry_run_options(outdir, dataset_zip, ['--time-head=0.5'])
    assert options['D_kwargs']['time_head'] is True and options['loss_kwargs']['time_weight'] == 0.5
    assert 'time_twin' not in options['D_kwargs'] and 'time_twin' not in options['loss_kwargs']
    assert options['run_dir'].endswith('-th0.5') and 'time_smooth' not in options['loss_kwargs']
    result = CliRunner().invoke(train.main, ['--outdir', str(outdir), '--data', dataset_zip, '--kimg=0.008', '--time-head=0.5',
        '--time-twin', '--time-smooth=2', '--time-smooth-centred'] + TINY)
    assert result.exit_code == 0, result.output
    run_dir = run_dirs(outdir)[-1]
    assert run_dir.endswith('-th0.5twin-ts2c')
    stats = read_stats(run_dir)
    for name in ['Loss/time/real', 'Loss/time/fake', 'Loss/time/twin', 'Loss/time_smooth']:
        assert math.isfinite(stats[-1][name]['mean']), name
    kept = dry_run_options(outdir, dataset_zip, ['--resume', run_dir])
    assert kept['D_kwargs']['time_head'] is True and kept['loss_kwargs']['time_weight'] == 0.5
    assert kept['D_kwargs']['time_twin'] is True and kept['loss_kwargs']['time_twin'] is True
    assert kept['loss_kwargs']['time_smooth'] == 2 and kept['loss_kwargs']['time_smooth_centred'] is True

    from torch_utils import safe_pickle
    data = safe_pickle.load_network_pkl(sorted(glob.glob(os.path.join(run_dir, 'network-snapshot-*.pkl')))[-1])
    c = torch.tensor([[0.1], [0.9]])
    _, times = data.D(data.G_ema(torch.randn([2, data.G_ema.z_dim]), c), c, return_time=True)
    assert times.shape == (2, 10)

#----------------------------------------------------------------------------
# The loop in-process: metric hook (metrics imported lazily), best metrics in the state, abort_fn, progress_fn.

def dry_run_options(outdir, data, extra=(), tiny=True):
    """The config that train.py --dry-run prints."""
    result = CliRunner().invoke(train.main, ['--outdir', str(outdir), '--data', data, '--dry-run'] + (TINY if tiny else []) + list(extra))
    assert result.exit_code == 0 and 'Dry run; exiting.' in result.output, result.output
    return json.loads(result.output[result.output.index('{'):result.output.index('\nOutput directory')])

def test_metric_hook_and_callbacks(tmp_path, dataset_zip, monkeypatch, one_thread):
    import dnnlib
    import metrics
    from training import checkpoint, training_loop
    calls = []
    fake = types.ModuleType('metrics.metric_main')
    def calc_metric(metric, G, dataset_kwargs, num_gpus, rank, device):
        value = 10.0 - len(calls)
        calls.append((metric, type(G).__name__, next(G.parameters()).device.type, dataset_kwargs['path'], num_gpus, rank))
        return dnnlib.EasyDict(results=dnnlib.EasyDict(fid_fake=value), metric=metric)
    fake.calc_metric = calc_metric
    fake.report_metric = lambda result, run_dir, snapshot_pkl: calls.append(('report', os.path.basename(snapshot_pkl)))
    monkeypatch.setitem(sys.modules, 'metrics.metric_main', fake)
    monkeypatch.setattr(metrics, 'metric_main', fake, raising=False)

    c = dry_run_options(tmp_path / 'runs', dataset_zip, ['--kimg=1', '--snap=1'])
    run_dir = tmp_path / 'run'
    run_dir.mkdir()
    progress = []
    ticks = iter(range(100))
    c.update(run_dir=str(run_dir), metrics=['fid_fake'], progress_fn=lambda cur, total: progress.append((cur, total)),
             abort_fn=lambda: next(ticks) >= 1) # stop at the second tick (after tick 1)
    training_loop.training_loop(**c)

    assert calls == [('fid_fake', 'Generator', 'cpu', dataset_zip, 1, 0), ('report', 'network-snapshot-000000.004.pkl'),
                     ('fid_fake', 'Generator', 'cpu', dataset_zip, 1, 0), ('report', 'network-snapshot-000000.024.pkl')]
    assert progress == [(0, 1), (0, 1), (0, 1)] # at the start and at each of the two ticks
    state = checkpoint.load_state(checkpoint.latest_state(str(run_dir)))
    assert state['cur_nimg'] == 24 and state['best_metrics'] == {'fid_fake': dict(value=8.0, snapshot='network-snapshot-000000.024.pkl')}
    assert 'Stopping: abort_fn asked for it.' in open(run_dir / 'log.txt', encoding='utf-8').read()

#----------------------------------------------------------------------------
# --noise.


def test_stop_signal_skips_the_metrics(tmp_path, dataset_zip, monkeypatch, one_thread):
    # After SIGTERM the run must reach its training state quickly: metrics (minutes at full size) are skipped.
    import metrics
    from training import checkpoint, training_loop
    calls = []
    fake = types.ModuleType('metrics.metric_main')
    fake.calc_metric = lambda **kwargs: calls.append(kwargs['metric'])
    monkeypatch.setitem(sys.modules, 'metrics.metric_main', fake)
    monkeypatch.setattr(metrics, 'metric_main', fake, raising=False)
    c = dry_run_options(tmp_path / 'runs', dataset_zip, ['--kimg=1', '--snap=1'])
    run_dir = tmp_path / 'run'
    run_dir.mkdir()
    c.update(run_dir=str(run_dir), metrics=['fid_fake'], progress_fn=lambda cur, total: os.kill(os.getpid(), signal.SIGTERM))
    training_loop.training_loop(**c)
    assert calls == []
    assert checkpoint.latest_state(str(run_dir)) is not None
    assert 'Skipping the metrics' in open(run_dir / 'log.txt', encoding='utf-8').read()

def test_update_ema_lerps_parameters_and_copies_buffers():
    import torch
    from training.training_step import update_ema
    def net(value):
        m = torch.nn.Linear(2, 2)
        torch.nn.init.constant_(m.weight, value)
        torch.nn.init.constant_(m.bias, value)
        m.register_buffer('w_avg', torch.full([2], value))
        return m
    G, G_ema = net(1.0), net(0.0)
    update_ema(G_ema, G, cur_nimg=10**6, batch_size=32, ema_kimg=0.032, ema_rampup=None) # half-life = one batch
    assert torch.allclose(G_ema.weight, torch.full([2, 2], 0.5)) and torch.equal(G_ema.w_avg, G.w_avg)
    G_ema = net(0.0)
    update_ema(G_ema, G, cur_nimg=100, batch_size=32, ema_kimg=0.032, ema_rampup=0.05) # ramp-up: half-life 5 images
    assert torch.allclose(G_ema.bias, torch.full([2], 1 - 0.5 ** (32 / 5)))

def test_parse_noise_values():
    # (global span, per-slot spans, run-dir label) in days.
    assert train.parse_noise('auto', 730, 3) == (0.0, [146.0, 4.0, 0.0], '0.40years_4days_0')
    assert train.parse_noise('auto', 100, 2) == (0.0, [4.0, 0.0], '4days_0')
    assert train.parse_noise('none', 730, 3) == (0.0, [], 'none')
    assert train.parse_noise('4 days', 730, 3) == (4.0, [], '4days')        # one value: global noise
    assert train.parse_noise('2.5', 730, 3) == (2.5, [], '2.5')             # a plain number is days
    assert train.parse_noise('0', 730, 3) == (0.0, [], '0')
    assert train.parse_noise('12h', 730, 3)[0] == pytest.approx(0.5)
    assert train.parse_noise('1 week', 730, 3)[0] == 7.0
    spans = train.parse_noise('0.2years, 4days, 0', 730, 3)
    assert spans[1] == pytest.approx([0.2 * 365.25, 4.0, 0.0]) and spans[2] == '0.2years_4days_0'
    assert train.parse_noise('30,1', 100, 2)[1] == [30.0, 1.0]

@pytest.mark.parametrize('value, message', [
    ('soon', 'Cannot parse time span'),
    ('4 fortnights', 'Unknown time unit'),
    ('1,2', 'one span per frequency slot: 3 expected'),
    ('1,2,3', 'must not increase'),
    ('-3', 'Cannot parse'),
])
def test_parse_noise_errors(value, message):
    with pytest.raises(ValueError, match=message):
        train.parse_noise(value, 730, 3)

@pytest.mark.parametrize('noise, noise_days, noise_f_days', [
    ('auto', 0, [146, 4, 0]),
    ('none', 0, []),
    ('6h', 0.25, []),
    ('3', 3, []),
    ('30 days,2 days,1h', 0, [30, 2, 1 / 24]),
])
def test_noise_reaches_cond_args(tmp_path, dataset_zip, noise, noise_days, noise_f_days):
    options = dry_run_options(tmp_path, dataset_zip, ['--noise', noise])
    ca = options['G_kwargs']['cond_args']
    assert options['D_kwargs']['cond_args'] == ca
    # Spans are stored in frames (x t_delta = t); t = days / num_days.
    assert ca['noise'] * ca['t_delta'] == pytest.approx(noise_days / NUM_DAYS)
    assert [s * ca['t_delta'] for s in ca['noise_f']] == pytest.approx([d / NUM_DAYS for d in noise_f_days])

#----------------------------------------------------------------------------
# --dry-run and the other options.

def test_trend_scale_default_and_resumed_runs_keep_theirs(tmp_path, dataset_zip):
    """The default trend feature is t (--trend-lr=100); a run trained with the original's 0.01 t keeps it when resumed
    without --trend-lr (the default changed), and an explicit --trend-lr wins."""
    outdir = tmp_path / 'runs'
    lin_lr = lambda extra: dry_run_options(outdir, dataset_zip, extra)['G_kwargs']['cond_args']['lin_lr']
    assert lin_lr([]) == pytest.approx(1.0)
    result = CliRunner().invoke(train.main, ['--outdir', str(outdir), '--data', dataset_zip, '--kimg=0.008', '--trend-lr=1'] + TINY)
    assert result.exit_code == 0, result.output
    assert lin_lr(['--resume=latest']) == pytest.approx(0.01)
    options = dry_run_options(outdir, dataset_zip, ['--resume=latest'])
    assert options['D_kwargs']['cond_args']['lin_lr'] == pytest.approx(0.01)
    assert lin_lr(['--resume=latest', '--trend-lr=100']) == pytest.approx(1.0)

def test_cycle_res_reaches_cond_args_and_resumes(tmp_path, dataset_zip):
    """--cycle-res sets cond_args.cycle_min_res (default 0) and names the run dir; a run resumed from a pickle or from
    a run dir without --cycle-res keeps its own."""
    outdir = tmp_path / 'runs'
    options = dry_run_options(outdir, dataset_zip, ['--cycle-res=16'])
    assert options['G_kwargs']['cond_args']['cycle_min_res'] == 16 and options['run_dir'].endswith('-cyc16')
    assert dry_run_options(outdir, dataset_zip)['G_kwargs']['cond_args']['cycle_min_res'] == 0
    result = CliRunner().invoke(train.main, ['--outdir', str(outdir), '--data', dataset_zip, '--kimg=0.008', '--cycle-res=8'] + TINY)
    assert result.exit_code == 0, result.output
    run_dir = run_dirs(outdir)[-1]
    assert dry_run_options(outdir, dataset_zip, ['--resume', run_dir])['G_kwargs']['cond_args']['cycle_min_res'] == 8

    pkl = sorted(glob.glob(os.path.join(run_dir, 'network-snapshot-*.pkl')))[-1]
    options = dry_run_options(outdir, dataset_zip, ['--resume', pkl])
    assert options['G_kwargs']['cond_args']['cycle_min_res'] == 8 and options['run_dir'].endswith('-cyc8')

def test_augpipe_dequant_and_resume(tmp_path, dataset_zip):
    """--augpipe=bg leaves out ADA's colour transforms, --dequant sets the time labels' jitter (default: the original's
    gauss); a run resumed from its run dir keeps both unless they are given."""
    outdir = tmp_path / 'runs'
    assert dry_run_options(outdir, dataset_zip)['G_kwargs']['cond_args']['dequant'] == 'gauss'
    result = CliRunner().invoke(train.main, ['--outdir', str(outdir), '--data', dataset_zip, '--kimg=0.008',
        '--augpipe=bg', '--aug=fixed', '--p=0.5', '--dequant=none'] + TINY)
    assert result.exit_code == 0, result.output
    run_dir = run_dirs(outdir)[-1]
    kept = dry_run_options(outdir, dataset_zip, ['--resume', run_dir])
    assert kept['augment_kwargs']['rotate'] == 1 and 'contrast' not in kept['augment_kwargs']
    assert kept['G_kwargs']['cond_args']['dequant'] == kept['D_kwargs']['cond_args']['dequant'] == 'none'
    given = dry_run_options(outdir, dataset_zip, ['--resume', run_dir, '--augpipe=bgc', '--dequant=tent'])
    assert given['augment_kwargs']['contrast'] == 1 and given['G_kwargs']['cond_args']['dequant'] == 'tent'
    assert dry_run_options(outdir, dataset_zip, ['--resume', run_dir, '--aug=noaug'])['augment_kwargs'] is None

def test_d_conditioning_shape_options_and_resume(tmp_path, dataset_zip):
    """--d-map-depth, --d-cmap and --d-map-lr shape D's conditioning (defaults: the class's, as the original); a run
    resumed from its run dir or from a pickle without them keeps its own, and the resumed D loads."""
    outdir = tmp_path / 'runs'
    d_kwargs = dry_run_options(outdir, dataset_zip)['D_kwargs']
    assert d_kwargs['mapping_kwargs'] == {} and 'cmap_dim' not in d_kwargs
    options = dry_run_options(outdir, dataset_zip, ['--d-map-depth=2', '--d-cmap=24', '--d-map-lr=0.5'])
    assert options['D_kwargs']['mapping_kwargs'] == dict(num_layers=2, lr_multiplier=0.5)
    assert options['D_kwargs']['cmap_dim'] == 24
    result = CliRunner().invoke(train.main, ['--outdir', str(outdir), '--data', dataset_zip, '--kimg=0.008',
        '--d-map-depth=3', '--d-cmap=24', '--d-map-lr=0.25'] + TINY)
    assert result.exit_code == 0, result.output
    run_dir = run_dirs(outdir)[-1]
    for resume in [run_dir, sorted(glob.glob(os.path.join(run_dir, 'network-snapshot-*.pkl')))[-1]]:
        d_kwargs = dry_run_options(outdir, dataset_zip, ['--resume', resume])['D_kwargs']
        assert d_kwargs['mapping_kwargs'] == dict(num_layers=3, lr_multiplier=0.25), resume
        assert d_kwargs['cmap_dim'] == 24, resume
    result = CliRunner().invoke(train.main, ['--outdir', str(outdir), '--data', dataset_zip, '--kimg=0.016',
        '--resume', run_dir] + TINY)
    assert result.exit_code == 0, result.output

def test_dry_run_prints_config_and_writes_nothing(tmp_path, dataset_zip):
    outdir = tmp_path / 'runs'
    options = dry_run_options(outdir, dataset_zip, ['--cond_lr=2', '--trend_lr=5', '--no-d-time-noise', '--gamma=0.5',
        '--aug=fixed', '--p=0.3', '--days=800', '--desc=x', '--fp32=1', '--freezed=2', '--mirror=1', '--augpipe=bg'])
    assert not outdir.exists()
    ca = options['G_kwargs']['cond_args']
    assert ca['lr'] == 2 and ca['lin_lr'] == pytest.approx(0.05) and ca['d_time_noise'] is False
    assert ca['num_days'] == 800 and ca['num_frames'] == 24 and ca['t_delta'] == pytest.approx(1 / 24) # --mirror keeps t_delta
    assert options['loss_kwargs']['r1_gamma'] == 0.5 and options['augment_p'] == 0.3 and options['ada_target'] is None
    assert options['augment_kwargs']['rotate'] == 1 and 'contrast' not in options['augment_kwargs'] # --augpipe=bg
    assert options['G_kwargs']['num_fp16_res'] == 0 and options['G_kwargs']['conv_clamp'] is None
    assert options['D_kwargs']['block_kwargs']['freeze_layers'] == 2 and options['training_set_kwargs']['xflip']
    assert options['run_dir'].endswith('00000-sg2-a1-tiny_32-fman_lin_2_800-n_0.44years_4days_0-x')
    assert options['batch_gpu'] == 4 and options['ema_kimg'] == pytest.approx(4 * 10 / 32)

def test_defaults_follow_the_original(tmp_path, dataset_zip):
    options = dry_run_options(tmp_path, dataset_zip, ['--batch=32', '--metrics=none'], tiny=False)
    assert options['loss_kwargs']['r1_gamma'] == pytest.approx((32 / 256) ** 2)
    assert options['batch_gpu'] == 32 and options['total_kimg'] == 8000 and options['kimg_per_tick'] == 4
    assert options['G_opt_kwargs']['lr'] == 0.002 and options['G_kwargs']['channel_base'] == 32768
    assert options['ada_target'] == 0.6 and options['ada_kimg'] == 500 and options['G_reg_interval'] == 4
    assert options['loss_kwargs']['style_mixing_prob'] == 0.9 and options['loss_kwargs']['pl_weight'] == 2
    assert options['G_kwargs']['num_fp16_res'] == options['D_kwargs']['num_fp16_res'] == 4
    assert options['augment_kwargs']['contrast'] == options['augment_kwargs']['hue'] == 1 # the original's bgc
    options = dry_run_options(tmp_path, dataset_zip, ['--batch=32', '--metrics=none', '--fp16-res=5'], tiny=False)
    assert options['G_kwargs']['num_fp16_res'] == options['D_kwargs']['num_fp16_res'] == 5

def test_clear_errors(tmp_path, dataset_zip, monkeypatch):
    unlabeled = make_tiny_dataset(tmp_path / 'plain_32.zip', num=8, labels=False)
    odd = tmp_path / 'odd'
    odd.mkdir()
    PIL.Image.new('RGB', (48, 48)).save(odd / 'a.png')
    base = ['--outdir', str(tmp_path / 'runs'), '--dry-run', '--metrics=none']
    cases = [
        (['--data', dataset_zip, '--batch=4', '--kimg=-1'], "Invalid value for '--kimg'"),
        (['--data', dataset_zip, '--batch=6', '--batch-gpu=4'], 'must be a multiple of --gpus (1) x --batch-gpu (4)'),
        (['--data', dataset_zip, '--batch=12', '--batch-gpu=6'], 'minibatch-stddev group size'),
        (['--data', dataset_zip, '--batch=4', '--cond=cyclic'], "Invalid value for '--cond'"),
        (['--data', dataset_zip, '--batch=4', '--noise=1,2,3'], 'must not increase'),
        (['--data', dataset_zip, '--batch=4', '--noise=3 lightyears'], 'Unknown time unit'),
        (['--data', dataset_zip, '--batch=4', '--cond=concat', '--noise=3,2,1'], 'needs --cond=fourier'),
        (['--data', str(tmp_path / 'missing.zip'), '--batch=4'], 'does not exist'),
        (['--data', unlabeled, '--batch=4'], 'has no time labels'),
        (['--data', str(odd), '--batch=4'], 'power of two >= 32'),
        (['--data', dataset_zip, '--batch=4', '--bf16=1', '--fp32=1'], 'exclude each other'),
        (['--data', dataset_zip, '--batch=4', '--bf16=1', '--fp16-res=5'], 'which --bf16 turns off'),
        (['--data', dataset_zip, '--batch=4', '--resume=latest'], 'no run dir'),
        (['--data', dataset_zip, '--batch=4', '--resume', str(tmp_path / 'nothing.pkl')], 'neither a run dir'),
        (['--data', dataset_zip, '--batch=4', '--glr=0'], "Invalid value for '--glr'"),
        (['--data', dataset_zip, '--batch=4', '--cond=concat', '--cond-decay=1'], 'only --cond=fourier has'),
        (['--data', dataset_zip, '--batch=4', '--cond-decay=-1'], "Invalid value for '--cond-decay'"),
        (['--data', dataset_zip, '--batch=4', '--cycle-res=12'], 'power of two from 4 to the resolution (32), not 12'),
        (['--data', dataset_zip, '--batch=4', '--cycle-res=64'], 'power of two from 4 to the resolution (32), not 64'),
        (['--data', dataset_zip, '--batch=4', '--cond=none', '--cycle-res=8'], 'only --cond=fourier does'),
        (['--data', dataset_zip, '--batch=4', '--cond=concat', '--time-head=1'], 'reads Fourier time features'),
        (['--data', dataset_zip, '--batch=4', '--time-head=-1'], "Invalid value for '--time-head'"),
        (['--data', dataset_zip, '--batch=4', '--time-twin'], 'give --time-head=W'),
        (['--data', dataset_zip, '--batch=4', '--cond=none', '--time-smooth=1'], 'which --cond=none has not'),
        (['--data', dataset_zip, '--batch=4', '--time-smooth=-1'], "Invalid value for '--time-smooth'"),
        (['--data', dataset_zip, '--batch=4', '--time-smooth-centred'], 'give --time-smooth=W'),
        (['--data', dataset_zip, '--batch=4', '--batch-gpu=2', '--time-smooth=1', '--time-smooth-centred'], 'micro-batch of 4 or more, not 2'),
    ]
    for args, message in cases:
        result = CliRunner().invoke(train.main, base + args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    assert not (tmp_path / 'runs').exists()

    # Under a launcher, --gpus must match its world size.
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    result = CliRunner().invoke(train.main, base + ['--data', dataset_zip, '--batch=4', '--gpus=2'])
    assert result.exit_code == 2 and "does not match the launcher's 1 processes" in result.output, result.output

def test_unconditional_and_concat_configs(tmp_path, dataset_zip):
    for cond, dims, suffix in [('none', 0, '-uncond'), ('concat', 1, '-concat-n_none'), ('f_concat', 6, '-fcat-fman_lin_2_730')]:
        options = dry_run_options(tmp_path, dataset_zip, ['--cond', cond])
        assert options['G_kwargs']['cond_args']['dims'] == dims
        assert options['training_set_kwargs']['use_labels'] == (cond != 'none')
        assert suffix in options['run_dir']

#----------------------------------------------------------------------------

@pytest.mark.parametrize('memories_gib, res, per_gpu, expected', [
    (None, 256, 32, 16),           # CPU: the original's 4096/res
    ([80, 80], 256, 32, 32),       # large GPUs: one micro-batch of 32 (about 14 GiB)
    ([80, 16], 256, 32, 16),       # the smallest visible GPU decides
    ([24], 1024, 32, 8), ([16], 1024, 32, 4),
    ([80], 256, 8, 8),             # never more than the per-GPU batch
])
def test_default_batch_gpu_follows_gpu_memory(monkeypatch, memories_gib, res, per_gpu, expected):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: memories_gib is not None)
    if memories_gib is not None:
        monkeypatch.setattr(torch.cuda, 'device_count', lambda: len(memories_gib))
        monkeypatch.setattr(torch.cuda, 'get_device_properties',
                            lambda i: types.SimpleNamespace(total_memory=memories_gib[i] * 2**30 - 2**28))
    assert train.default_batch_gpu(res, per_gpu) == expected

def test_cuda_graphs_only_on_one_cuda_device(tmp_path, dataset_zip, monkeypatch):
    """--graphs (default on) turns on CUDA graphs and the sync-free loss together, only for one CUDA device and
    without --compile; the graph runner refuses a loss that may wait for the GPU."""
    assert not dry_run_options(tmp_path, dataset_zip)['cuda_graphs'] # the CPU
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setattr(torch.cuda, 'get_device_properties', lambda i: types.SimpleNamespace(total_memory=80 * 2**30))
    for extra, on in [([], True), (['--graphs=0'], False), (['--compile=1'], False), (['--gpus=2'], False)]:
        options = dry_run_options(tmp_path, dataset_zip, extra)
        assert options['cuda_graphs'] == options['loss_kwargs']['sync_free'] == on, extra
    from training.loss import StyleGAN2Loss
    from training.step_graphs import PhaseGraphs
    loss = StyleGAN2Loss(device=torch.device('cpu'), G=types.SimpleNamespace(synthesis=None), D=None)
    with pytest.raises(ValueError, match='sync_free'):
        PhaseGraphs(loss, batch_gpu=4)

def test_deterministic_option(tmp_path, dataset_zip, monkeypatch):
    """--deterministic turns cuDNN benchmarking off and asks the backends for deterministic kernels only; by default
    both stay as they were."""
    options = dry_run_options(tmp_path, dataset_zip, ['--deterministic=1'])
    assert options['deterministic'] and not options['cudnn_benchmark']
    options = dry_run_options(tmp_path, dataset_zip)
    assert not options['deterministic'] and options['cudnn_benchmark']
    monkeypatch.delenv('CUBLAS_WORKSPACE_CONFIG', raising=False)
    monkeypatch.setattr(torch.utils.deterministic, 'fill_uninitialized_memory', True)
    monkeypatch.setattr(torch.backends.cudnn, 'benchmark', torch.backends.cudnn.benchmark)
    try:
        training_step.setup_backends(deterministic=True)
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark and os.environ['CUBLAS_WORKSPACE_CONFIG'] == ':4096:8'
    finally:
        training_step.setup_backends()
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic

def test_graphed_steps_use_the_fused_kernels_at_every_size():
    """A step replayed as CUDA graphs pays no launch cost, so bias_act and scale_bias_act take their kernels at every
    size there; eager steps keep the size threshold (below it a kernel's launch costs more than the reference's)."""
    from torch_utils.ops import bias_act, scale_bias_act
    try:
        training_step.setup_backends(graphs=True)
        assert bias_act.FAST_MIN_BYTES == scale_bias_act.FAST_MIN_BYTES == 0
    finally:
        training_step.setup_backends()
    assert bias_act.FAST_MIN_BYTES == scale_bias_act.FAST_MIN_BYTES == bias_act.EAGER_MIN_BYTES > 0
