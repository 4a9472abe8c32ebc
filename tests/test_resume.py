"""Resuming: a CPU run killed with SIGKILL continues from its last training state with --resume=latest (counter,
optimisers, ADA p and the run dir carry on, nothing is overwritten) and ends bit-identical to a run without the kill;
SIGTERM stops gracefully with a state; the checkpoint helpers (atomic writes, state files, --resume targets)."""

import hashlib
import json
import os
import signal
import types

import pytest
import torch

from training_helpers import TINY, make_tiny_dataset, read_stats, run_dirs, run_train, start_train, wait_for
import dnnlib
from training import checkpoint

#----------------------------------------------------------------------------

def num_states(outdir):
    dirs = run_dirs(outdir) if os.path.isdir(outdir) else []
    return len(checkpoint.list_states(dirs[0])) if dirs else 0

def md5(path):
    with open(path, 'rb') as f:
        return hashlib.md5(f.read()).hexdigest()

def opt_steps(opt_state):
    """Adam step counts of all parameters with state."""
    return {int(k): float(v['step']) for k, v in opt_state['state'].items()}

#----------------------------------------------------------------------------

@pytest.fixture(scope='module')
def killed_and_resumed(tmp_path_factory):
    """A run killed with SIGKILL right after its second training state (ticks 0 and 2), then resumed with
    --resume=latest for 0.06 kimg more: what was there before, the state resumed from, and the resumed run."""
    tmp_path = tmp_path_factory.mktemp('resume')
    data = make_tiny_dataset(tmp_path / 'tiny_32x32_730hz.zip')
    outdir = str(tmp_path / 'runs')
    args = ['--outdir', outdir, '--data', data, '--snap=2', '--keep-states=0', '--aug=ada', '--target=0', '--ada-kimg=0.2'] + TINY
    proc = start_train(args + ['--kimg=5'], tmp_path / 'first.log')
    wait_for(lambda: num_states(outdir) >= 2, proc, tmp_path / 'first.log')
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (run_dir,) = run_dirs(outdir)
    r = dnnlib.EasyDict(run_dir=run_dir, args=args, tmp_path=tmp_path)
    r.before = {name: md5(os.path.join(run_dir, name)) for name in os.listdir(run_dir) if not name.startswith('.tmp-')}
    r.appended = {name: open(os.path.join(run_dir, name), 'rb').read() for name in ['log.txt', 'stats.jsonl']}
    r.saved_path = checkpoint.latest_state(run_dir)
    r.saved = checkpoint.load_state(r.saved_path)
    r.target_nimg = r.saved['cur_nimg'] + 60
    r.stdout = run_train(args + [f'--kimg={r.target_nimg / 1000}', '--resume=latest']).stdout
    r.final = checkpoint.load_state(checkpoint.latest_state(run_dir))
    return r

def test_sigkill_then_resume_latest(killed_and_resumed):
    r = killed_and_resumed
    run_dir, saved, final = r.run_dir, r.saved, r.final
    assert saved['cur_nimg'] > 0
    assert run_dirs(os.path.dirname(run_dir)) == [run_dir] # continued in the same run dir
    assert f'Resuming training state "{r.saved_path}" at {saved["cur_nimg"] / 1000:.3f} kimg' in r.stdout
    assert f'Augment p restored: {saved["augment_p"]:.6f}' in r.stdout

    # Nothing was overwritten; log and stats were appended to.
    for name, digest in r.before.items():
        if name in r.appended:
            assert open(os.path.join(run_dir, name), 'rb').read().startswith(r.appended[name]), name
        else:
            assert md5(os.path.join(run_dir, name)) == digest, f'{name} was overwritten'
    assert not [name for name in os.listdir(run_dir) if name.startswith('.tmp-')]

    # The kimg counter and the tick continue where the state left off.
    stats = read_stats(run_dir)
    first_new = stats[r.appended['stats.jsonl'].count(b'\n')]
    assert first_new['Progress/tick']['mean'] == saved['tick'] + 1
    assert first_new['Progress/kimg']['mean'] * 1000 == pytest.approx(saved['cur_nimg'] + 20, abs=1e-3)
    assert final['cur_nimg'] == r.target_nimg
    assert final['batch_idx'] == saved['batch_idx'] + 60 // 4

    # Optimiser states continued: Adam step counts grew by exactly the steps taken since the state: every step, plus
    # the regularisation steps (G: every 4th, D: every 16th) for the parameters that the regulariser reaches.
    for name, interval in [('G_opt', 4), ('D_opt', 16)]:
        main = final['batch_idx'] - saved['batch_idx']
        both = main + sum(b % interval == 0 for b in range(saved['batch_idx'], final['batch_idx']))
        steps_before, steps_after = opt_steps(saved[name]), opt_steps(final[name])
        assert steps_before and steps_after.keys() == steps_before.keys()
        increments = {steps_after[k] - steps_before[k] for k in steps_before}
        assert increments <= {main, both} and both in increments, (name, increments, main, both)

    # ADA p continued from the saved value: it moves by 16 / 200 per adjustment (after every 4th step).
    adjustments = sum(b % 4 == 0 for b in range(saved['batch_idx'] + 1, final['batch_idx'] + 1))
    assert abs(final['augment_p'] - saved['augment_p']) <= adjustments * (4 * 4 / 200) + 1e-6
    assert final['elapsed_sec'] > saved['elapsed_sec']
    assert final['options']['resume_state'] == r.saved_path

def test_resumed_run_ends_bit_identical_to_an_uninterrupted_one(killed_and_resumed):
    """Same data order (here with a data-loader worker, there without), dequantisation, latents, augmentation and
    ADA p: the weights, optimiser states and p of a run of the same length without the kill are bit-identical."""
    r = killed_and_resumed
    outdir = str(r.tmp_path / 'uninterrupted')
    args = [outdir if a == os.path.dirname(r.run_dir) else a for a in r.args]
    run_train([a for a in args if a != '--workers=0'] + ['--workers=1', f'--kimg={r.target_nimg / 1000}'])
    expected = checkpoint.load_state(checkpoint.latest_state(run_dirs(outdir)[0]))
    assert expected['cur_nimg'] == r.final['cur_nimg'] and r.final['augment_p'] > 0
    for name in ['G', 'D', 'G_ema']:
        assert expected[name].keys() == r.final[name].keys()
        for key, value in expected[name].items():
            assert torch.equal(value, r.final[name][key]), f'{name}.{key} differs'
    for name in ['G_opt', 'D_opt']:
        for index, slots in expected[name]['state'].items():
            for key, value in slots.items():
                assert torch.equal(value, r.final[name]['state'][index][key]), f'{name} state {index}.{key} differs'
    assert expected['augment_p'] == r.final['augment_p'] and torch.equal(expected['pl_mean'], r.final['pl_mean'])

def test_ada_counts_the_signs_from_before_a_resume():
    """A training state saved between two moves of ADA's p keeps the signs of D(real) seen since the last move: the
    resumed tuner moves p exactly as an uninterrupted one (here the signs before the state cancel those after it)."""
    from torch_utils import training_stats
    from training.training_step import AdaTuner
    def tuner(p=0.0):
        return AdaTuner(types.SimpleNamespace(p=torch.tensor(p)), target=0.0, interval=4, kimg=1, batch_size=10)
    def steps(tuners, signs, first_idx):
        for batch_idx, sign in enumerate(signs, first_idx):
            training_stats.report('Loss/signs/real', [sign] * 3)
            for t in tuners:
                t.step(batch_idx)
    straight, killed = tuner(), tuner()
    steps([straight, killed], [-1, -1], 1)
    straight.state_dict() # the uninterrupted run saves its state at the same step
    resumed = tuner()
    resumed.load_state_dict(killed.state_dict())
    steps([straight, resumed], [1] * 6, 3)
    assert float(straight.augment_pipe.p) == float(resumed.augment_pipe.p) == pytest.approx(0.04) # one move of 10 * 4 / 1000

@pytest.mark.parametrize('target', ['process', 'group'])
def test_sigterm_stops_gracefully_with_a_state(tmp_path, target):
    # 'group': the signal reaches the data-loader workers too, as with `timeout`, SLURM or Ctrl-C; the workers must
    # leave the stop to the main process instead of dying under it.
    data = make_tiny_dataset(tmp_path / 'tiny_32x32_730hz.zip')
    outdir = str(tmp_path / 'runs')
    log_path = tmp_path / 'run.log'
    args = ['--outdir', outdir, '--data', data, '--kimg=5', '--snap=10'] + TINY + (['--workers=1'] if target == 'group' else [])
    proc = start_train(args, log_path, start_new_session=(target == 'group'))
    wait_for(lambda: num_states(outdir) >= 1 and 'tick 1 ' in open(log_path, encoding='utf-8').read(), proc, log_path)
    if target == 'group':
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM # saved and stopped early: the shell's status for SIGTERM
    (run_dir,) = run_dirs(outdir)
    states = checkpoint.list_states(run_dir)
    assert len(states) == 2 and states[-1][0] > 20 # tick 0 and the stop
    log = open(os.path.join(run_dir, 'log.txt'), encoding='utf-8').read()
    assert 'Received SIGTERM' in log and 'Stopped by a signal' in log
    name = os.path.basename(states[-1][1]).replace('training-state-', 'network-snapshot-').replace('.pt', '.pkl')
    assert os.path.isfile(os.path.join(run_dir, name))

#----------------------------------------------------------------------------
# Checkpoint helpers.

def test_atomic_write_never_overwrites(tmp_path):
    path = str(tmp_path / 'a.json')
    assert dnnlib.util.write_json(path, {'x': 1}) == path
    assert dnnlib.util.write_json(path, {'x': 2}) == str(tmp_path / 'a-r1.json')
    assert dnnlib.util.write_json(path, {'x': 3}) == str(tmp_path / 'a-r2.json')
    assert json.load(open(path, encoding='utf-8')) == {'x': 1}
    assert dnnlib.util.write_json(path, {'x': 4}, overwrite=True) == path
    assert json.load(open(path, encoding='utf-8')) == {'x': 4}

    def fail(f):
        f.write(b'partial')
        raise RuntimeError('disk full')
    with pytest.raises(RuntimeError):
        dnnlib.util.atomic_write(str(tmp_path / 'b.bin'), fail)
    assert sorted(os.listdir(tmp_path)) == ['a-r1.json', 'a-r2.json', 'a.json'] # no partial file left

def test_tags_states_and_pruning(tmp_path):
    assert checkpoint.kimg_tag(123456) == '000123' and checkpoint.kimg_tag(123456, fine=True) == '000123.456'
    for tag in ['000000.004', '000000.044-r2', '000001.000', '000000.044-r1', '000000.044']:
        (tmp_path / f'training-state-{tag}.pt').write_bytes(b'')
    (tmp_path / 'training-state-bogus.pt').write_bytes(b'')
    assert [os.path.basename(p)[15:-3] for _, p in checkpoint.list_states(str(tmp_path))] == \
        ['000000.004', '000000.044', '000000.044-r1', '000000.044-r2', '000001.000']
    assert [nimg for nimg, _ in checkpoint.list_states(str(tmp_path))] == [4, 44, 44, 44, 1000]
    assert checkpoint.latest_state(str(tmp_path)).endswith('training-state-000001.000.pt')
    checkpoint.prune_states(str(tmp_path), keep=2)
    assert [os.path.basename(p) for _, p in checkpoint.list_states(str(tmp_path))] == \
        ['training-state-000000.044-r2.pt', 'training-state-000001.000.pt']

def test_resolve_resume(tmp_path):
    outdir = str(tmp_path)
    for name in ['00000-sg2-x', '00001-sg2-x', '00002-sg2-y', '00003-sg2-x']:
        os.makedirs(os.path.join(outdir, name))
    for name in ['00000-sg2-x', '00001-sg2-x', '00002-sg2-y']:
        (tmp_path / name / 'training-state-000004.pt').write_bytes(b'')
    assert checkpoint.next_run_dir(outdir, 'sg2-x') == os.path.join(outdir, '00004-sg2-x')
    # 'latest': the newest run dir of that name that has a state (00003 has none).
    latest = checkpoint.resolve_resume('latest', outdir, 'sg2-x')
    assert latest == dict(kind='state', path=os.path.join(outdir, '00001-sg2-x', 'training-state-000004.pt'),
                          run_dir=os.path.join(outdir, '00001-sg2-x'))
    assert checkpoint.resolve_resume(os.path.join(outdir, '00002-sg2-y'), outdir, 'sg2-x')['run_dir'].endswith('00002-sg2-y')
    state = str(tmp_path / '00000-sg2-x' / 'training-state-000004.pt')
    assert checkpoint.resolve_resume(state, outdir, 'sg2-x') == dict(kind='state', path=state, run_dir=os.path.dirname(state))
    pkl = tmp_path / 'net.pkl'
    pkl.write_bytes(b'')
    assert checkpoint.resolve_resume(str(pkl), outdir, 'sg2-x') == dict(kind='pkl', path=str(pkl), run_dir=None)
    assert checkpoint.resolve_resume('https://host/net.pkl', outdir, 'sg2-x')['kind'] == 'pkl'
    with pytest.raises(FileNotFoundError, match='no run dir'):
        checkpoint.resolve_resume('latest', outdir, 'sg2-z')
    with pytest.raises(FileNotFoundError, match='contains no training-state'):
        checkpoint.resolve_resume(os.path.join(outdir, '00003-sg2-x'), outdir, 'sg2-x')

def test_state_roundtrip(tmp_path):
    """A state holds plain data only (weights_only load); optimiser states come back exactly."""
    module = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(module.parameters(), betas=(0.0, 0.99))
    module(torch.randn(4, 3)).sum().backward()
    opt.step()
    path = checkpoint.save_state(str(tmp_path / 'training-state-000000.pt'),
        dict(G=checkpoint.cpu_state_dict(module), G_opt=opt.state_dict(), best_metrics={}, options={'a': [1, 'b']}))
    state = checkpoint.load_state(path) # torch.load(weights_only=True) inside
    assert state['version'] == checkpoint.STATE_VERSION and torch.equal(state['G']['weight'], module.weight)
    opt2 = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    opt2.load_state_dict(state['G_opt'])
    assert float(opt2.state_dict()['state'][0]['step']) == 1 and state['options'] == {'a': [1, 'b']}

    (tmp_path / 'bad.pt').write_bytes(b'not a state')
    with pytest.raises(ValueError, match='Cannot read training state'):
        checkpoint.load_state(str(tmp_path / 'bad.pt'))
    torch.save(dict(version=99), tmp_path / 'future.pt')
    with pytest.raises(ValueError, match='not a training state of version 1 or 2'):
        checkpoint.load_state(str(tmp_path / 'future.pt'))

#----------------------------------------------------------------------------

def test_changed_options_are_named():
    from training.loop_state import changed_options
    saved = dict(batch_size=32, loss_kwargs=dict(r1_gamma=1.0, pl_weight=2), run_dir='a', resume_state=None)
    current = dict(batch_size=32, loss_kwargs=dict(r1_gamma=4.0, pl_weight=2), run_dir='b', resume_state='x.pt', kimg=9)
    assert changed_options(saved, current) == ['kimg', 'loss_kwargs.r1_gamma']
    assert changed_options(None, current) == []
