"""Tests for torch_utils.distributed, plus the multi-process parts of training_stats and misc (2 gloo processes)."""

import json
import math
import os

import pytest
import torch

from torch_utils import distributed
from torch_utils import misc
from torch_utils import training_stats

LAUNCH_VARS = ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT', 'SLURM_PROCID', 'SLURM_NTASKS',
    'SLURM_LOCALID', 'SLURM_JOB_ID', 'SLURM_NODELIST', 'SLURM_JOB_NODELIST', 'SLURM_LAUNCH_NODE_IPADDR']

@pytest.fixture
def clean_env(monkeypatch):
    for name in LAUNCH_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch

#----------------------------------------------------------------------------

def test_init_single_process(clean_env, capsys):
    distributed.init()
    assert not torch.distributed.is_initialized()
    assert (distributed.get_rank(), distributed.get_world_size(), distributed.get_local_rank()) == (0, 1, 0)
    assert distributed.device().type == ('cuda' if torch.cuda.is_available() else 'cpu')
    assert distributed.is_main() and distributed.broadcast_object({'a': 1}) == {'a': 1}
    distributed.barrier()
    distributed.print0('hello')
    assert capsys.readouterr().out == 'hello\n'
    distributed.shutdown()

def test_training_stats_single_process():
    device = distributed.device()
    collector = training_stats.Collector(regex='Single/.*', keep_previous=False)
    assert training_stats.report('Single/x', torch.tensor([2.0, 4.0], device=device)).device == device
    training_stats.report('Single/x', 6)
    collector.update()
    assert collector.names() == ['Single/x'] and collector.num('Single/x') == 3
    assert collector['Single/x'] == 4.0 and math.isclose(collector.std('Single/x'), math.sqrt(8 / 3))
    collector.update() # nothing new and keep_previous=False: the figures are gone
    assert collector.num('Single/x') == 0 and math.isnan(collector.mean('Single/x'))
    assert collector.as_dict() == {}

def test_training_stats_tap_sums_on_the_device():
    device = distributed.device()
    tap = training_stats.Tap('Single/tapped', device)
    collector = training_stats.Collector(regex='Single/tapped')
    training_stats.report('Single/tapped', torch.tensor([1.0, -1.0, 1.0], device=device))
    training_stats.report('Single/other', 5.0)
    assert tap.moments.device == device and tap.total().tolist() == [3, 1, 3]
    collector.update() # a Collector's sync leaves the tap alone, and sees the same reports
    assert collector.num('Single/tapped') == 3 and tap.total().tolist() == [3, 1, 3]
    tap.reset()
    training_stats.report('Single/tapped', [2.0])
    assert tap.total().tolist() == [1, 2, 4]
    del tap # taps are held weakly: a dropped one costs reports nothing
    training_stats.report('Single/tapped', [2.0])
    assert len(training_stats._taps['Single/tapped']) == 0

def test_launch_env_torchrun(clean_env):
    clean_env.setenv('RANK', '3')
    clean_env.setenv('WORLD_SIZE', '4')
    clean_env.setenv('LOCAL_RANK', '1')
    assert distributed._launch_env() == (3, 4, 1)
    assert os.environ['MASTER_ADDR'] == 'localhost' and os.environ['MASTER_PORT'] == '29500'
    clean_env.setenv('RANK', '4')
    with pytest.raises(ValueError, match='rank 4 for world size 4'):
        distributed._launch_env()

def test_launch_env_slurm(clean_env):
    clean_env.setenv('PATH', '') # no scontrol: fall back to the launch node's address
    for name, value in dict(SLURM_PROCID='5', SLURM_NTASKS='8', SLURM_LOCALID='1', SLURM_JOB_ID='1234',
            SLURM_NODELIST='node[01-02]', SLURM_LAUNCH_NODE_IPADDR='10.0.0.7').items():
        clean_env.setenv(name, value)
    assert distributed._launch_env() == (5, 8, 1)
    assert os.environ['MASTER_ADDR'] == '10.0.0.7' and os.environ['MASTER_PORT'] == '21234'

#----------------------------------------------------------------------------
# Two gloo processes, launched once for all checks below.

def _worker(out_dir):
    distributed.init()
    rank, device = distributed.get_rank(), distributed.device()
    result = dict(rank=rank, world_size=distributed.get_world_size(), local_rank=distributed.get_local_rank(),
        backend=torch.distributed.get_backend(), nvls=os.environ.get('NCCL_NVLS_ENABLE'),
        obj=distributed.broadcast_object(f'from rank {rank}'))

    collector = training_stats.Collector(regex='Loss/.*')
    tap = training_stats.Tap('Loss/a', device)
    training_stats.report('Loss/a', torch.tensor([1.0, 2.0], device=device) if rank == 0 else [3.0, 6.0])
    training_stats.report0('Loss/only0', 5.0)
    training_stats.report('Other/b', 1.0) # not matched by the regex
    collector.update()
    result['stats'] = collector.as_dict()
    result['names'] = collector.names()
    collector.update() # nothing new: keep_previous keeps the figures
    result['kept'] = collector.num('Loss/a')
    result['tap'] = [tap.total().tolist(), tap.moments.tolist()] # over the ranks; this rank's own

    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2).to(device)
    net.bias.data[0] = float('nan') # NaN on both ranks is consistent
    outcomes = dict()
    def check(name, **kwargs):
        try:
            misc.check_ddp_consistency(net, **kwargs)
            outcomes[name] = 'ok'
        except RuntimeError as err:
            outcomes[name] = str(err)
    check('same')
    if rank == 1:
        net.weight.data[0, 0] += 1
    check('differs')
    check('ignored', ignore_regex=r'.*\.weight')
    result['ddp'] = outcomes

    distributed.barrier()
    with open(os.path.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(result, f)
    distributed.shutdown()

@pytest.fixture(scope='module', params=['gloo', pytest.param('nccl', marks=pytest.mark.gpu)])
def two_ranks(request, tmp_path_factory):
    """Results of _worker on 2 ranks: gloo on CPU, or NCCL on 2 GPUs."""
    if request.param == 'nccl' and torch.cuda.device_count() < 2:
        pytest.skip('needs 2 CUDA devices')
    out_dir = tmp_path_factory.mktemp(request.param)
    with pytest.MonkeyPatch.context() as patch:
        if request.param == 'gloo':
            patch.setenv('CUDA_VISIBLE_DEVICES', '') # CPU processes even on a GPU machine
        distributed.launch_local(_worker, 2, str(out_dir))
    results = [json.loads((out_dir / f'rank{r}.json').read_text()) for r in range(2)]
    assert all(result['backend'] == request.param for result in results)
    return results

def test_launch_local_environment(two_ranks):
    for rank, result in enumerate(two_ranks):
        assert (result['rank'], result['world_size'], result['local_rank']) == (rank, 2, rank)
        assert result['nvls'] == '0' and result['obj'] == 'from rank 0'

def test_training_stats_reduce_across_ranks(two_ranks):
    for result in two_ranks:
        assert result['names'] == ['Loss/a', 'Loss/only0']
        a = result['stats']['Loss/a']
        assert a['num'] == 4 and a['mean'] == 3.0 and math.isclose(a['std'], math.sqrt(3.5))
        assert result['stats']['Loss/only0'] == dict(num=1, mean=5.0, std=0.0)
        assert result['kept'] == 4
    assert all(result['tap'][0] == [4, 12, 50] for result in two_ranks)
    assert two_ranks[0]['tap'][1] == [2, 3, 5] and two_ranks[1]['tap'][1] == [2, 9, 45]

def test_check_ddp_consistency_two_ranks(two_ranks):
    for result in two_ranks: # every rank raises, naming the tensor
        assert result['ddp']['same'] == 'ok' and result['ddp']['ignored'] == 'ok'
        assert 'Linear.weight' in result['ddp']['differs'] and 'Linear.bias' not in result['ddp']['differs']

#----------------------------------------------------------------------------
