"""Two-process training on CPU (gloo), launched by torchrun and by train.py --gpus=2: every rank ends with the same
weights (the loop checks the ranks at each snapshot and prints each rank's own weight checksums at the end), and
SIGTERM to the --gpus launcher stops both processes gracefully."""

import math
import os
import signal

import pytest

from training_helpers import TINY, make_tiny_dataset, rank_checksums, read_stats, run_dirs, run_train, start_train, wait_for
from training import checkpoint

TORCHRUN = ['-m', 'torch.distributed.run', '--standalone', '--nproc-per-node=2']

#----------------------------------------------------------------------------

@pytest.fixture(scope='module')
def dataset_zip(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('data') / 'tiny_32x32_730hz.zip')

@pytest.mark.parametrize('launch', ['torchrun', 'gpus'])
def test_two_processes_stay_in_sync(tmp_path, dataset_zip, launch):
    outdir = str(tmp_path / 'runs')
    args = ['--outdir', outdir, '--data', dataset_zip, '--kimg=0.05', '--snap=1'] + [a for a in TINY if a != '--batch=4']
    args += ['--batch=8', '--aug=ada', '--ada-kimg=0.2'] # 4 images per rank; ADA p must agree across ranks too
    if launch == 'torchrun':
        run_train(args, launcher=TORCHRUN)
    else:
        run_train(args + ['--gpus=2'])
    (run_dir,) = run_dirs(outdir)
    assert '-sg2-a2-' in os.path.basename(run_dir)

    # Each rank computed its own checksums of G, D and G_ema: all equal.
    sums = rank_checksums(run_dir)
    assert len(sums) == 2 and sums[0] == sums[1], sums

    # The ranks trained together: stats are averaged over both (8 scores per step), losses finite.
    stats = read_stats(run_dir)
    assert stats[-1]['Progress/kimg']['mean'] == pytest.approx(0.056)
    assert all(math.isfinite(line['Loss/G/loss']['mean']) and math.isfinite(line['Loss/D/loss']['mean']) for line in stats)
    assert stats[1]['Loss/scores/real']['num'] % 8 == 0
    assert os.path.isfile(os.path.join(run_dir, 'network-snapshot-000000.056.pkl'))

def test_gpus_forwards_sigterm(tmp_path, dataset_zip):
    """SIGTERM to train.py --gpus=2 reaches both training processes, which stop together after saving a state."""
    outdir = str(tmp_path / 'runs')
    log_path = tmp_path / 'run.log'
    args = ['--outdir', outdir, '--data', dataset_zip, '--kimg=5', '--snap=10', '--gpus=2'] + [a for a in TINY if a != '--batch=4']
    proc = start_train(['--batch=8'] + args, log_path)
    wait_for(lambda: 'tick 1 ' in open(log_path, encoding='utf-8').read(), proc, log_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM, open(log_path, encoding='utf-8').read()[-3000:]
    (run_dir,) = run_dirs(outdir)
    states = checkpoint.list_states(run_dir)
    assert len(states) == 2 and states[-1][0] > 48 # tick 0 and the stop after tick 1
    sums = rank_checksums(run_dir)
    assert len(sums) == 2 and sums[0] == sums[1]
    assert 'Stopped by a signal' in open(os.path.join(run_dir, 'log.txt'), encoding='utf-8').read()

#----------------------------------------------------------------------------
