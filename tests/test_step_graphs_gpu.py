"""GPU tests of training.step_graphs: the training step replayed as CUDA graphs trains the same model as the eager
step from the same seed (with ADA: as closely as eager runs agree with each other), and train.py runs and resumes with graphs."""

import json
import os
import sys

import numpy as np
import pytest
import torch

from training.augment import AugmentPipe, BGC
from training import checkpoint

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks'))
import same_results # pylint: disable=wrong-import-position
from training_helpers import TINY, make_tiny_dataset, read_stats, run_train # pylint: disable=wrong-import-position

pytestmark = pytest.mark.gpu

STEPS = 48 # three regularisation cycles: every phase is captured and replayed
LOSSES = same_results.LOSSES

#----------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _deterministic_cudnn():
    """_train (same_results.train) makes cuDNN deterministic and sets TF32 off; put their flags back afterwards."""
    saved = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic, torch.backends.cudnn.allow_tf32,
        torch.backends.cuda.matmul.allow_tf32)
    yield
    (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic, torch.backends.cudnn.allow_tf32,
        torch.backends.cuda.matmul.allow_tf32) = saved

def _train(graphs, aug_p, **options):
    """(per-step mean of each loss, final G and D parameters, the graphs) of STEPS steps at 64^2 from seed 0."""
    return same_results.train(64, STEPS, graphs=graphs, aug_p=aug_p, **options)

@pytest.mark.parametrize('options', [{}, dict(cond_decay=0.5), dict(time_weight=1), dict(time_weight=1, time_twin=True),
    dict(time_smooth=5), dict(time_smooth=5, time_smooth_centred=True)],
    ids=['plain', 'cond_decay', 'time_head', 'time_twin', 'time_smooth', 'time_smooth_centred'])
def test_graphed_steps_train_the_same_model(options):
    """Without augmentation both runs launch the same kernels on the same random numbers: losses agree within 1e-3
    (relative) at every one of the 48 steps, parameters within 1e-3 of their own scale at the end. With --cond-decay
    the decay is part of the graphs (without it, the time weights would end about 5% apart); with --time-head, D's
    time head and its losses (with --time-twin, the twin's too); with --time-smooth, its pass in G's regularisation
    phase (centred too)."""
    eager_losses, eager_params, _ = _train(False, aug_p=0, **options)
    graph_losses, graph_params, runner = _train(True, aug_p=0, **options)
    assert sorted(runner.graphs) == ['Dmain', 'Dreg', 'Gmain', 'Greg']
    for name in LOSSES:
        np.testing.assert_allclose(graph_losses[name], eager_losses[name], rtol=1e-3, atol=1e-5, err_msg=name)
    worst = max(float((graph_params[k] - eager_params[k]).abs().max() / (eager_params[k].abs().max() + 1e-8)) for k in eager_params)
    assert worst < 1e-3

def test_graphed_steps_with_ada_stay_within_eager_run_to_run_noise():
    """With ADA, grid_sample's backward adds with atomics, so even two eager runs drift apart (about 1e-4 after one
    step, growing with the GAN's dynamics). The graphed run must stay as close to an eager run as other eager runs
    do: within 3x the largest difference between three eager runs at every step, plus 1e-3 (relative); and its first
    step within 1e-3 of theirs, before the dynamics have amplified anything. (With the noise of one pair of eager
    runs, one step of 192 came out 9% beyond the bound on an H100, on 2026-12-06.)"""
    eager = [_train(False, aug_p=0.4)[0] for _ in range(3)]
    graphed, _, _ = _train(True, aug_p=0.4)
    for name in LOSSES:
        noise = max(np.nanmax(np.abs(a[name] - b[name])) for i, a in enumerate(eager) for b in eager[:i])
        np.testing.assert_allclose(graphed[name], eager[0][name], rtol=1e-3, atol=3 * noise + 1e-5, err_msg=name)
        np.testing.assert_allclose(graphed[name][:1], eager[0][name][:1], rtol=1e-3, atol=1e-5, err_msg=name)

def test_augmentation_replayed_in_a_graph_draws_like_the_eager_pipe():
    """The augment pipe (fixed padding) captured in a CUDA graph and replayed after reseeding gives exactly what it
    gives eagerly from the same seed: fresh draws at every replay, none baked into the graph."""
    pipe = AugmentPipe(**BGC).cuda()
    pipe.p.fill_(0.5)
    x = torch.randn([8, 3, 64, 64], device='cuda')
    pipe(x, fixed_padding=True) # warm-up: lazily built constants
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = pipe(x, fixed_padding=True)
    for seed in [1, 2]:
        torch.cuda.manual_seed(seed)
        eager = pipe(x, fixed_padding=True)
        torch.cuda.manual_seed(seed)
        graph.replay()
        assert torch.equal(out, eager), seed
    assert not torch.equal(out, x)

def test_ada_tuner_moves_p_without_waiting_for_the_gpu():
    """ADA's tuner reads D's signs and moves p on the GPU: no host synchronisation (which would stall the graphed
    step every `interval` steps), and the move it makes is the one the signs ask for."""
    from torch_utils import training_stats
    from training.training_step import AdaTuner
    pipe = AugmentPipe(**BGC).cuda()
    pipe.p.zero_() # as train.py starts
    tuner = AdaTuner(pipe, target=0.6, interval=4, kimg=1, batch_size=10)
    torch.cuda.set_sync_debug_mode('error')
    try:
        for batch_idx in range(1, 9):
            training_stats.report(AdaTuner.STAT, torch.ones(5, device='cuda').sign()) # mean 1 > 0.6: p rises
            tuner.step(batch_idx)
    finally:
        torch.cuda.set_sync_debug_mode('default')
    assert float(pipe.p) == pytest.approx(2 * 10 * 4 / 1000)

def test_train_py_with_graphs_resumes_exactly_when_deterministic(tmp_path):
    """train.py on the GPU with graphs (the default) and --deterministic: a rerun repeats every tick's losses exactly,
    and a run stopped at a snapshot and resumed ends with the weights of one never interrupted, bit for bit. (Earlier
    versions compared the last tick's mean losses of the resumed and the whole run, but the resumed run's ticks start
    at the resume, so the two last ticks averaged different steps: 2.74 against 3.01 on an H100.)"""
    data = make_tiny_dataset(tmp_path / 'data.zip', res=32)
    args = TINY + [f'--data={data}', '--aug=noaug', '--kimg=0.4', '--snap=5', '--deterministic=True']
    run_train(args + [f'--outdir={tmp_path / "whole"}'])
    run_train(args + [f'--outdir={tmp_path / "again"}'])
    run_train(args + [f'--outdir={tmp_path / "split"}', '--kimg=0.2'])
    run_train(args + [f'--outdir={tmp_path / "split"}', '--resume=latest'])
    def final(outdir):
        run_dir, = [os.path.join(outdir, d) for d in os.listdir(outdir)]
        options = json.load(open(os.path.join(run_dir, 'training_options.json'), encoding='utf-8'))
        assert options['cuda_graphs'] and options['deterministic']
        state = checkpoint.load_state(checkpoint.latest_state(run_dir))
        weights = {f'{net}.{k}': v for net in ['G', 'D', 'G_ema'] for k, v in state[net].items()}
        return [{k: v['mean'] for k, v in line.items() if k.startswith('Loss/')} for line in read_stats(run_dir)], weights
    (whole, whole_w), (again, _), (split, split_w) = (final(tmp_path / name) for name in ['whole', 'again', 'split'])
    assert again == whole, 'two deterministic runs differ: a nondeterministic kernel is left'
    assert split[:10] == whole[:10] # the ticks before the stop (after it, ticks count from the resume)
    for name, value in whole_w.items():
        assert torch.equal(split_w[name], value), name

#----------------------------------------------------------------------------
