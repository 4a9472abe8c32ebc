"""Time-label dequantization: jitter each capture time within the gaps to its neighbouring frames, so that the
generator and discriminator see a continuous time axis instead of the dataset's discrete capture times.

Modes (those of the original TLGAN): for a time c whose frame has gaps `prev` and `next` to the neighbouring distinct
capture times (0 beyond the first and last frame),
  gauss: c + 0.5 * max(prev, next) * N(0, 1)
  tent:  c + sign(u) * gap * (1 - sqrt|u|),  u ~ U(-1, 1), gap = prev if u < 0 else next  (a triangle reaching the
         neighbours exactly)
  none:  c unchanged.
Unlike the original, the times are sorted and deduplicated first, so unsorted labels, equal times and x-flip copies
all give the gaps between distinct neighbouring times. The frame of c is the first distinct time >= c.
"""

import numpy as np
import torch

MODES = ('gauss', 'tent', 'none')

#----------------------------------------------------------------------------

class Dequantizer:
    def __init__(self, labels, mode='gauss'):
        if mode not in MODES:
            raise ValueError(f'Unknown dequantization mode {mode!r}; use one of {", ".join(MODES)}')
        labels = np.asarray(labels, dtype=np.float64)
        if labels.ndim != 2 or labels.shape[1] != 1 or labels.shape[0] == 0:
            raise ValueError(f'Dequantizer needs time labels of shape [N, 1] with N >= 1, got {list(labels.shape)}')
        if not np.all(np.isfinite(labels)):
            raise ValueError('Dequantizer: the time labels contain NaN or infinity')
        self.mode = mode
        self.times = np.unique(labels[:, 0])                           # sorted distinct times [M]
        self.gaps = np.concatenate([[0], np.diff(self.times), [0]])   # gaps[k] = times[k] - times[k-1], 0 at the ends [M+1]
        self._tables = {}                                              # device -> (times, gaps) tensors

    def _get_tables(self, device):
        if device not in self._tables:
            self._tables[device] = (torch.as_tensor(self.times, device=device), torch.as_tensor(self.gaps, device=device))
        return self._tables[device]

    def __call__(self, c, generator=None):
        """Jittered copy of times c [B, 1] (torch tensor on any device, or numpy array); same type, shape, dtype and
        device. The result is detached; mode 'none' returns c itself."""
        if isinstance(c, np.ndarray):
            return self(torch.tensor(c), generator=generator).numpy()
        if not isinstance(c, torch.Tensor) or c.ndim != 2 or c.shape[1] != 1:
            raise ValueError(f'Dequantizer expects times of shape [B, 1], got {getattr(c, "shape", type(c))}')
        if not c.is_floating_point():
            raise ValueError(f'Dequantizer expects floating-point times, got {c.dtype}')
        if self.mode == 'none':
            return c

        # Neighbour gaps of each time's frame, in float64 on c's device.
        times, gaps = self._get_tables(c.device)
        c64 = c.detach().to(torch.float64)
        k = torch.searchsorted(times, c64.contiguous()).clamp(0, times.numel() - 1)
        before, after = gaps[k], gaps[k + 1]

        # Random numbers on the generator's device (a CPU generator may serve CUDA times).
        rand_device = generator.device if generator is not None else c.device
        if self.mode == 'gauss':
            n = torch.randn(c.shape, generator=generator, device=rand_device, dtype=torch.float64).to(c.device)
            offset = 0.5 * torch.maximum(before, after) * n
        else: # tent
            u = (torch.rand(c.shape, generator=generator, device=rand_device, dtype=torch.float64) * 2 - 1).to(c.device)
            offset = torch.sign(u) * torch.where(u < 0, before, after) * (1 - u.abs().sqrt())
        return (c64 + offset).to(c.dtype)

#----------------------------------------------------------------------------
