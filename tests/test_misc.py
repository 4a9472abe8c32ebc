"""Tests for torch_utils.misc (single process; the multi-process DDP check is in test_distributed.py)."""

import re

import numpy as np
import pytest
import torch

from torch_utils import misc

#----------------------------------------------------------------------------

def test_constant_is_cached():
    a = misc.constant([1, 2, 3], shape=[2, 3], dtype=torch.float32)
    assert a.shape == (2, 3) and a.tolist() == [[1, 2, 3], [1, 2, 3]] and a.is_contiguous()
    assert misc.constant([1, 2, 3], shape=[2, 3], dtype=torch.float32) is a
    assert misc.constant([1, 2, 3], shape=[2, 3], dtype=torch.float64) is not a
    assert misc.constant(np.float32(0.5)).dtype == torch.get_default_dtype()

def test_assert_shape():
    x = torch.zeros(2, 3, 4)
    misc.assert_shape(x, [2, None, 4])
    with pytest.raises(AssertionError, match='has 3 dimensions, 2 expected'):
        misc.assert_shape(x, [2, 3])
    with pytest.raises(AssertionError, match='dimension 1 is 3, 5 expected'):
        misc.assert_shape(x, [None, 5, 4])

@pytest.mark.filterwarnings('ignore::DeprecationWarning') # torch.jit.trace is deprecated but still used
def test_assert_shape_under_tracing():
    def fn(x):
        misc.assert_shape(x, [None, 3])
        return x * 2
    traced = torch.jit.trace(fn, torch.zeros(2, 3), check_trace=False)
    assert traced(torch.ones(5, 3)).sum() == 30

@pytest.mark.filterwarnings('ignore:.*Profiler clears events') # harmless notice of newer PyTorch versions
def test_profiled_function_labels_calls():
    @misc.profiled_function
    def my_op(x):
        return x + 1
    assert my_op.__name__ == 'my_op'
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        assert my_op(torch.zeros(1)).item() == 1
    assert 'my_op' in [event.name for event in prof.events()]

#----------------------------------------------------------------------------

def take(iterator, count):
    return [next(iterator) for _ in range(count)]

def test_infinite_sampler_cycles_and_partitions():
    data = list(range(6))
    assert take(iter(misc.InfiniteSampler(data, shuffle=False)), 13) == list(range(6)) * 2 + [0]
    assert take(iter(misc.InfiniteSampler(data, rank=1, num_replicas=3, shuffle=False)), 4) == [1, 4, 1, 4]
    assert isinstance(misc.InfiniteSampler(data), torch.utils.data.Sampler)

def test_infinite_sampler_shuffled_ranks():
    data = list(range(10))
    stream = take(iter(misc.InfiniteSampler(data, seed=7)), 60)
    assert stream != data * 6 and stream[:10] != stream[10:20] # shuffled, and reshuffled between passes
    for start in range(0, 60, 10):
        assert sorted(stream[start:start + 10]) == data # every pass is a permutation
    ranks = [take(iter(misc.InfiniteSampler(data, rank=r, num_replicas=2, seed=7)), 30) for r in range(2)]
    assert ranks[0] == stream[0::2] and ranks[1] == stream[1::2] # ranks interleave one global stream
    assert take(iter(misc.InfiniteSampler(data, seed=8)), 60) != stream

@pytest.mark.parametrize('start', [0, 4, 10, 26])
def test_infinite_sampler_resumes_the_stream(start):
    """Started at position `start` (e.g. the images seen before a resume), every rank continues the stream exactly."""
    data = list(range(10))
    stream = take(iter(misc.InfiniteSampler(data, seed=3)), 80)
    assert take(iter(misc.InfiniteSampler(data, seed=3, start_idx=start)), 40) == stream[start:start + 40]
    ranks = [take(iter(misc.InfiniteSampler(data, rank=r, num_replicas=2, seed=3, start_idx=start)), 20) for r in range(2)]
    assert ranks[0] == stream[start:start + 40:2] and ranks[1] == stream[start + 1:start + 40:2]

def test_infinite_sampler_in_dataloader():
    loader = torch.utils.data.DataLoader(list(range(5)), batch_size=4, sampler=misc.InfiniteSampler(list(range(5))))
    batches = take(iter(loader), 5)
    assert sorted(torch.cat(batches).tolist()) == sorted(list(range(5)) * 4)

def test_infinite_sampler_rejects_bad_args():
    with pytest.raises(ValueError, match='non-empty'):
        misc.InfiniteSampler([])
    with pytest.raises(ValueError, match='rank 2'):
        misc.InfiniteSampler([1], rank=2, num_replicas=2)
    with pytest.raises(ValueError, match='start_idx'):
        misc.InfiniteSampler([1], start_idx=-1)

#----------------------------------------------------------------------------

class Net(torch.nn.Module):
    def __init__(self, width=3):
        super().__init__()
        self.fc1 = torch.nn.Linear(2, width)
        self.fc2 = torch.nn.Linear(width, 1)
        self.register_buffer('count', torch.zeros([]))

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))

def test_params_and_buffers():
    net = Net()
    names = [name for name, _ in misc.named_params_and_buffers(net)]
    assert names == ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'count']
    assert len(misc.params_and_buffers(net)) == 5

def test_copy_params_and_buffers():
    src, dst = Net(), Net()
    src.count.fill_(7)
    misc.copy_params_and_buffers(src, dst, require_all=True)
    assert all(torch.equal(a, b) for a, b in zip(misc.params_and_buffers(src), misc.params_and_buffers(dst)))
    assert dst.fc1.weight.requires_grad
    partial = {'fc1.bias': torch.ones(3), 'extra': torch.zeros(1)}
    misc.copy_params_and_buffers(partial, dst) # missing and extra tolerated by default
    assert dst.fc1.bias.tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match='missing from the source: fc1.weight'):
        misc.copy_params_and_buffers(partial, dst, require_all=True)
    with pytest.raises(ValueError, match='unexpected in the source: extra'):
        misc.copy_params_and_buffers(partial, dst, allow_extra=False)
    with pytest.raises(ValueError, match=r'shape mismatch.*fc1.weight \(4, 2\) vs \(3, 2\)'):
        misc.copy_params_and_buffers(Net(width=4), dst)

def test_ddp_helpers_without_process_group():
    net = Net()
    with misc.ddp_sync(net, sync=False):
        net(torch.zeros(1, 2))
    misc.check_ddp_consistency(net) # no process group: nothing to compare

def test_print_module_summary(capsys):
    net = Net()
    out = misc.print_module_summary(net, [torch.zeros(4, 2)])
    assert out.shape == (4, 1)
    lines = capsys.readouterr().out.splitlines()
    rows = [re.split(r'\s{2,}', line) for line in lines if line.strip() and not line.startswith('-')]
    rows = {row[0]: row for row in rows}
    assert rows['fc1'][1:] == ['9', '-', '[4, 3]', 'float32']
    assert rows['fc2'][1:3] == ['4', '-']
    assert rows['Net'][1:3] == ['-', '1'] and rows['Total'][1:] == ['13', '1']

#----------------------------------------------------------------------------

def test_in_layout_of():
    ref = torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last)
    t = torch.randn(2, 3, 4, 5)
    out = misc.in_layout_of(t, ref)
    assert out.stride() == ref.stride() and torch.equal(out, t) and out.dtype == t.dtype
    same = torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last)
    assert misc.in_layout_of(same, ref) is same

def test_is_channels_last():
    x = torch.randn(2, 3, 4, 5)
    assert not misc.is_channels_last(x) and misc.is_channels_last(x.to(memory_format=torch.channels_last))
    assert not misc.is_channels_last(torch.randn(2, 1, 4, 5).to(memory_format=torch.channels_last)) # also contiguous
    assert not misc.is_channels_last(torch.randn(3, 4, 5))
