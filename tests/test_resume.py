"""Resuming: a CPU run killed with SIGKILL continues from its last training state with --resume=latest (counter,
optimisers, ADA p and the run dir carry on, nothing is overwritten); SIGTERM stops gracefully with a state; the
checkpoint helpers (atomic writes, state files, --resume targets, RNG states)."""

import hashlib
import json
import os
import random
import signal

import numpy as np
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

def test_sigkill_then_resume_latest(tmp_path):
    data = make_tiny_dataset(tmp_path / 'tiny_32x32_730hz.zip')
    outdir = str(tmp_path / 'runs')
    args = ['--outdir', outdir, '--data', data, '--snap=2', '--keep-states=0', '--aug=ada', '--target=0', '--ada-kimg=0.2'] + TINY

    # Kill a long run right after its second training state (ticks 0 and 2) appeared.
    proc = start_train(args + ['--kimg=5'], tmp_path / 'first.log')
    wait_for(lambda: num_states(outdir) >= 2, proc, tmp_path / 'first.log')
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (run_dir,) = run_dirs(outdir)
    before = {name: md5(os.path.join(run_dir, name)) for name in os.listdir(run_dir) if not name.startswith('.tmp-')}
    appended = {name: open(os.path.join(run_dir, name), 'rb').read() for name in ['log.txt', 'stats.jsonl']}
    saved_path = checkpoint.latest_state(run_dir)
    saved = checkpoint.load_state(saved_path)
    assert saved['cur_nimg'] > 0

    # Resume the newest run of the same configuration; run 0.06 kimg more.
    target_nimg = saved['cur_nimg'] + 60
    proc = run_train(args + [f'--kimg={target_nimg / 1000}', '--resume=latest'])
    assert run_dirs(outdir) == [run_dir] # continued in the same run dir
    assert f'Resuming training state "{saved_path}" at {saved["cur_nimg"] / 1000:.3f} kimg' in proc.stdout
    assert f'Augment p restored: {saved["augment_p"]:.6f}' in proc.stdout

    # Nothing was overwritten; log and stats were appended to.
    for name, digest in before.items():
        if name in appended:
            assert open(os.path.join(run_dir, name), 'rb').read().startswith(appended[name]), name
        else:
            assert md5(os.path.join(run_dir, name)) == digest, f'{name} was overwritten'
    assert not [name for name in os.listdir(run_dir) if name.startswith('.tmp-')]

    # The kimg counter and the tick continue where the state left off.
    stats = read_stats(run_dir)
    num_old = appended['stats.jsonl'].count(b'\n')
    first_new = stats[num_old]
    assert first_new['Progress/tick']['mean'] == saved['tick'] + 1
    assert first_new['Progress/kimg']['mean'] * 1000 == pytest.approx(saved['cur_nimg'] + 20, abs=1e-3)
    final = checkpoint.load_state(checkpoint.latest_state(run_dir))
    assert final['cur_nimg'] == target_nimg
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
    max_drift = adjustments * (4 * 4 / 200) + 1e-6
    assert abs(final['augment_p'] - saved['augment_p']) <= max_drift
    assert final['elapsed_sec'] > saved['elapsed_sec']
    assert final['options']['resume_state'] == saved_path

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
    assert proc.wait(timeout=120) == 0
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

def test_state_roundtrip_with_rng(tmp_path):
    """A state holds plain data only (weights_only load) and restores all RNG streams exactly."""
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.randn() # leaves a cached gaussian in numpy's state
    module = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(module.parameters(), betas=(0.0, 0.99))
    module(torch.randn(4, 3)).sum().backward()
    opt.step()
    rng = checkpoint.get_rng_state(torch.device('cpu'))
    path = checkpoint.save_state(str(tmp_path / 'training-state-000000.pt'),
        dict(G=checkpoint.cpu_state_dict(module), G_opt=opt.state_dict(), rng=[rng], best_metrics={}, options={'a': [1, 'b']}))
    expected = (torch.rand(3), np.random.rand(3), np.random.randn(), random.random())

    state = checkpoint.load_state(path) # torch.load(weights_only=True) inside
    checkpoint.set_rng_state(state['rng'][0], torch.device('cpu'))
    again = (torch.rand(3), np.random.rand(3), np.random.randn(), random.random())
    assert torch.equal(expected[0], again[0]) and np.array_equal(expected[1], again[1]) and expected[2:] == again[2:]
    opt2 = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    opt2.load_state_dict(state['G_opt'])
    assert float(opt2.state_dict()['state'][0]['step']) == 1 and state['options'] == {'a': [1, 'b']}

    (tmp_path / 'bad.pt').write_bytes(b'not a state')
    with pytest.raises(ValueError, match='Cannot read training state'):
        checkpoint.load_state(str(tmp_path / 'bad.pt'))

#----------------------------------------------------------------------------

def test_changed_options_are_named():
    from training.training_loop import changed_options
    saved = dict(batch_size=32, loss_kwargs=dict(r1_gamma=1.0, pl_weight=2), run_dir='a', resume_state=None)
    current = dict(batch_size=32, loss_kwargs=dict(r1_gamma=4.0, pl_weight=2), run_dir='b', resume_state='x.pt', kimg=9)
    assert changed_options(saved, current) == ['kimg', 'loss_kwargs.r1_gamma']
    assert changed_options(None, current) == []
