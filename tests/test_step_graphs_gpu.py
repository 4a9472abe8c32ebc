"""GPU tests of training.step_graphs: the training step replayed as CUDA graphs trains the same model as the eager
step from the same seed, and train.py runs and resumes with graphs."""

import json
import os
import sys

import numpy as np
import pytest
import torch

from torch_utils import training_stats
from training import step_graphs
from training import training_step

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks'))
import bench_train # pylint: disable=wrong-import-position
from training_helpers import TINY, make_tiny_dataset, run_train # pylint: disable=wrong-import-position

pytestmark = pytest.mark.gpu

STEPS = 48 # three regularisation cycles: every phase is captured and replayed
LOSSES = ['Loss/G/loss', 'Loss/D/loss', 'Loss/G/reg', 'Loss/D/reg']

#----------------------------------------------------------------------------

def _train(graphs, aug_p):
    """(per-step mean of each loss, final G and D parameters, the graphs) of STEPS steps at 64^2 from seed 0."""
    device = torch.device('cuda')
    training_step.setup_backends(cudnn_benchmark=False)
    torch.backends.cudnn.deterministic = True
    torch.manual_seed(0)
    G, G_ema, loss, phases = bench_train.build(64, 2048, 64, 16, fp32=False, bf16=False, channels_last=True,
        compile=False, aug_p=aug_p, graphs=True, device=device) # sync_free in both: the same augmentation
    runner = step_graphs.PhaseGraphs(loss, batch_gpu=16) if graphs else None
    step = bench_train.make_step(G, G_ema, loss, phases, 64, 32, 16, runner, device)
    collector = training_stats.Collector(regex='Loss/.*')
    history = {name: [] for name in LOSSES}
    for _ in range(STEPS):
        step()
        collector.update()
        for name in LOSSES:
            history[name].append(collector.mean(name))
    params = {f'{net}.{name}': p.detach().float().cpu() for net, module in [('G', G), ('D', loss.D)] for name, p in module.named_parameters()}
    return {k: np.array(v) for k, v in history.items()}, params, runner

@pytest.mark.parametrize('aug_p', [0.0, 0.4])
def test_graphed_steps_train_the_same_model(aug_p):
    """Tolerance: losses within 1e-3 (relative) at every step, parameters within 1e-3 of their own scale after 48
    steps. Both runs launch the same kernels on the same random numbers; only floating-point reassociation in
    kernels that use atomics may differ."""
    eager_losses, eager_params, _ = _train(False, aug_p)
    graph_losses, graph_params, runner = _train(True, aug_p)
    assert sorted(runner.graphs) == ['Dmain', 'Dreg', 'Gmain', 'Greg']
    for name in LOSSES:
        e, g = eager_losses[name], graph_losses[name]
        assert np.isfinite(e[~np.isnan(e)]).all()
        np.testing.assert_allclose(g, e, rtol=1e-3, atol=1e-5, err_msg=name)
    worst = max(float((graph_params[k] - eager_params[k]).abs().max() / (eager_params[k].abs().max() + 1e-8)) for k in eager_params)
    assert worst < 1e-3

def test_train_py_with_graphs_resumes_exactly(tmp_path):
    """train.py on the GPU with graphs (the default): a run stopped at a snapshot and resumed ends where an
    uninterrupted run does."""
    data = make_tiny_dataset(tmp_path / 'data.zip', res=32)
    args = TINY + [f'--data={data}', '--aug=ada', '--kimg=0.4', '--snap=5']
    run_train(args + [f'--outdir={tmp_path / "whole"}'])
    run_train(args + [f'--outdir={tmp_path / "split"}', '--kimg=0.2'])
    run_train(args + [f'--outdir={tmp_path / "split"}', '--resume=latest'])
    def last_stats(outdir):
        run_dir, = [os.path.join(outdir, d) for d in os.listdir(outdir)]
        assert json.load(open(os.path.join(run_dir, 'training_options.json'), encoding='utf-8'))['cuda_graphs']
        with open(os.path.join(run_dir, 'stats.jsonl'), encoding='utf-8') as f:
            return [json.loads(line) for line in f][-1]
    whole, split = last_stats(tmp_path / 'whole'), last_stats(tmp_path / 'split')
    assert whole['Progress/kimg']['mean'] == split['Progress/kimg']['mean']
    for name in ['Loss/G/loss', 'Loss/D/loss']:
        assert abs(whole[name]['mean'] - split[name]['mean']) <= 1e-3 * abs(whole[name]['mean']) + 1e-5, name

#----------------------------------------------------------------------------
