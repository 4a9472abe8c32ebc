"""benchmarks/bench_train.py on the CPU: the FLOP counter, a smoke run of the step, and timing train.py on a zip; and
benchmarks/same_results.py, which trains the bench_train step twice and compares."""

import os
import sys

import pytest
import torch
from click.testing import CliRunner

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks'))
import bench_train # pylint: disable=wrong-import-position
import same_results # pylint: disable=wrong-import-position
from training_helpers import make_tiny_dataset # pylint: disable=wrong-import-position

def test_flop_count_of_a_convolution_and_its_double_backward():
    x = torch.randn([2, 3, 8, 8], requires_grad=True)
    w = torch.randn([4, 3, 3, 3], requires_grad=True)
    forward = 2 * 2 * 4 * 3 * 9 * 8 * 8 # 2 FLOPs per multiply-add, per output pixel and tap
    with bench_train.FlopCount() as counter:
        y = torch.nn.functional.conv2d(x, w, padding=1)
    assert counter.total == forward
    with bench_train.FlopCount() as counter: # R1-style: the regularisers' autograd.grad is counted too
        grad, = torch.autograd.grad(torch.nn.functional.conv2d(x, w, padding=1).square().sum(), x, create_graph=True)
        grad.square().sum().backward()
    assert counter.total > 3 * forward

def test_net_options_take_only_their_own_keys():
    net = bench_train.net_options(res=32, graphs=False)
    assert (net.res, net.graphs, net.cmax) == (32, False, bench_train.NET.cmax)
    with pytest.raises(TypeError, match='unknown network options: batch'):
        bench_train.net_options(batch=32)

@pytest.mark.slow
def test_smoke_run_and_real_data_mode(tmp_path, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    result = CliRunner().invoke(bench_train.main, ['--res=32', '--cbase=256', '--cmax=32', '--seconds=0',
        '--warmup=1', '--flops', '--profile=2'])
    assert result.exit_code == 0, result.output
    row = [line for line in result.output.splitlines() if line.startswith('| 32 |')][-1].split('|') # the profile goes to stderr
    assert float(row[5]) > 0 and float(row[9]) > 0 # s/kimg, TFLOP/img
    assert 'Profile over 2 steps' in result.output and 'profile tables:' in result.output
    data = make_tiny_dataset(tmp_path / 'tiny_32.zip', num=24, res=32)
    result = CliRunner().invoke(bench_train.main, [f'--real-data={data}', '--cbase=256', '--cmax=32', '--kimg-real=0.32',
        '--', '--workers=0', '--aug=noaug', '--map-depth=2'])
    assert result.exit_code == 0, result.output
    assert 'train.py on tiny_32.zip' in result.output and 's/kimg' in result.output and 'median of 7 ticks' in result.output
    assert 'graphs False)' in result.output # read from the run's options: no CUDA graphs on the CPU

def test_same_results_measures_the_drift_from_the_reference():
    """Two reference runs agree exactly on the CPU; weights rounded once by 5e-4 start 5e-4 away (as one vector) and
    move the losses from the first step; the table has a row per configuration that the CPU can run."""
    ref, ref_params, runner = same_results.train(32, 2)
    again, again_params, _ = same_results.train(32, 2)
    moved, moved_params, _ = same_results.train(32, 2, perturb=5e-4)
    assert runner is None and same_results.loss_drift(again, ref, 2) == 0 and same_results.param_drift(again_params, ref_params) == 0
    assert 1e-5 < same_results.loss_drift(moved, ref, 1) < 0.1
    assert 2e-4 < same_results.param_drift(moved_params, ref_params) < 2e-3
    result = CliRunner().invoke(same_results.main, ['--res=32', '--steps=2'])
    assert result.exit_code == 0, result.output
    assert '| reference again | 0 | 0 | 0 |' in result.output and '| weights rounded once by 5e-4 |' in result.output
    assert 'TF32' not in result.output # GPU-only rows are left out on the CPU
