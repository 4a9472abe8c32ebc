"""Tests of training.dequantizer: the jitter statistics of each mode, sorting, equal times and type preservation."""

import numpy as np
import pytest
import torch

from training.dequantizer import Dequantizer

TIMES = np.array([0.0, 0.1, 0.3, 0.35, 1.0])
GAPS_BEFORE = np.array([0.0, 0.1, 0.2, 0.05, 0.65])
GAPS_AFTER = np.array([0.1, 0.2, 0.05, 0.65, 0.0])
SAMPLES = 20000

#----------------------------------------------------------------------------

def _offsets(deq, k, seed=0):
    """Jitter of SAMPLES copies of frame k's time, float64 numpy."""
    c = torch.full([SAMPLES, 1], TIMES[k], dtype=torch.float64)
    return (deq(c, generator=torch.Generator().manual_seed(seed)) - c).numpy()[:, 0]

def test_gauss_statistics():
    deq = Dequantizer(TIMES[:, None], mode='gauss')
    for k in range(len(TIMES)):
        off = _offsets(deq, k)
        sigma = 0.5 * max(GAPS_BEFORE[k], GAPS_AFTER[k])
        assert abs(off.std() - sigma) < 0.03 * sigma
        assert abs(off.mean()) < 5 * sigma / np.sqrt(SAMPLES)

def test_tent_stays_within_neighbours():
    deq = Dequantizer(TIMES[:, None], mode='tent')
    for k in range(len(TIMES)):
        off = _offsets(deq, k)
        assert np.all(off >= -GAPS_BEFORE[k]) and np.all(off <= GAPS_AFTER[k])
        # Triangle: half the draws on each side, mean |offset| a third of that side's gap, the neighbour reached.
        for side, gap in ((off < 0, GAPS_BEFORE[k]), (off > 0, GAPS_AFTER[k])):
            if gap == 0: # end frames: nothing on the missing side
                assert not side.any()
                continue
            assert abs(side.mean() - 0.5) < 0.02
            assert abs(np.abs(off[side]).mean() - gap / 3) < 0.03 * gap
            assert np.abs(off[side]).max() > 0.95 * gap

def test_end_frames_one_sided():
    gauss = Dequantizer(TIMES[:, None], mode='gauss')
    assert abs(_offsets(gauss, 0).std() - 0.5 * GAPS_AFTER[0]) < 0.03 * 0.5 * GAPS_AFTER[0]
    tent = Dequantizer(TIMES[:, None], mode='tent')
    assert _offsets(tent, 0).min() >= 0 and _offsets(tent, len(TIMES) - 1).max() <= 0

def test_none_is_identity():
    c = torch.rand([7, 1])
    assert torch.equal(Dequantizer(TIMES[:, None], mode='none')(c), c)

def test_unsorted_duplicates_and_xflip_copies():
    c = torch.as_tensor(TIMES[[3, 0, 4, 1, 1, 2]][:, None])
    ref = Dequantizer(TIMES[:, None])(c, generator=torch.Generator().manual_seed(5))
    perm = np.random.RandomState(0).permutation(len(TIMES))
    variants = [TIMES[perm], np.tile(TIMES, 2), np.concatenate([TIMES, TIMES[::-1], TIMES[:2]])]
    for times in variants:
        deq = Dequantizer(times[:, None])
        np.testing.assert_array_equal(deq.times, TIMES)
        np.testing.assert_allclose(deq.gaps, np.r_[0, np.diff(TIMES), 0])
        assert torch.equal(deq(c, generator=torch.Generator().manual_seed(5)), ref)

def test_types_shapes_and_determinism():
    deq = Dequantizer(TIMES[:, None].astype(np.float32))
    for dtype in (torch.float32, torch.float64, torch.float16):
        c = torch.as_tensor(TIMES[:, None], dtype=dtype)
        out = deq(c)
        assert out.dtype == dtype and out.shape == (5, 1) and out.device == c.device and not torch.equal(out, c)
    c = TIMES[:, None].astype(np.float32)
    out = deq(c, generator=torch.Generator().manual_seed(1))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (5, 1)
    np.testing.assert_array_equal(out, deq(c, generator=torch.Generator().manual_seed(1)))
    torch.manual_seed(2)
    a = deq(torch.as_tensor(c))
    torch.manual_seed(2)
    assert torch.equal(a, deq(torch.as_tensor(c)))

def test_errors():
    with pytest.raises(ValueError, match='mode'):
        Dequantizer(TIMES[:, None], mode='uniform')
    with pytest.raises(ValueError, match=r'\[N, 1\]'):
        Dequantizer(np.zeros([4, 3]))
    with pytest.raises(ValueError, match='NaN'):
        Dequantizer(np.array([[0.0], [np.nan]]))
    with pytest.raises(ValueError, match=r'\[B, 1\]'):
        Dequantizer(TIMES[:, None])(torch.zeros([4, 3]))

@pytest.mark.gpu
def test_cuda_device_preserved():
    deq = Dequantizer(TIMES[:, None])
    c = torch.as_tensor(TIMES[:, None], dtype=torch.float32, device='cuda')
    out = deq(c)
    assert out.device == c.device and out.dtype == torch.float32
    cpu = deq(c, generator=torch.Generator().manual_seed(3)) # a CPU generator may serve CUDA times
    assert cpu.device == c.device
    torch.testing.assert_close(cpu.cpu(), deq(c.cpu(), generator=torch.Generator().manual_seed(3)))

#----------------------------------------------------------------------------
