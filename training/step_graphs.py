"""The training phases replayed as CUDA graphs.

At 128^2 one step launches about 4000 kernels of a few microseconds each, and the GPU spends most of the step waiting
for Python to launch them (docs/PERFORMANCE.md). A CUDA graph records one phase (forward and backward passes over all
micro-batches, the gradient reduction and the optimiser step) once and replays it as a single launch.

What makes a phase replayable, and how it is kept so:
- Fixed addresses. The inputs are copied into buffers owned here before each replay. Everything else a phase reads
  or writes outlives it and is updated in place: parameters, optimiser state, buffers (w_avg, pl_mean), the
  augmentation probability and training_stats' accumulators.
- No host synchronisation inside a phase: the loss must be built with sync_free=True (the augment pipe then pads by
  a fixed amount instead of reading back how much it needs).
- The same random numbers. Every draw inside a phase comes from the CUDA generator, and a replay draws from the seed
  and offset the generator has at replay time, advancing it as the eager phase would: a graphed step draws exactly
  what an eager one does, and the per-step reseeding (training_step.seed_step) keeps working.
- Warm-up. Each phase first runs eagerly `warmup` times (real training steps): cuDNN picks its algorithms, Triton
  tunes, and the optimiser state and the statistics accumulators get created outside any graph.

All graphs share one memory pool. That is safe in any replay order because nothing allocated inside a graph is read
outside it: gradients are made and consumed within their phase.
"""

import torch

from training import training_step

#----------------------------------------------------------------------------

def usable(device, world_size=1, compile=False):
    """Whether the phases can run as CUDA graphs: one process on one CUDA device, without torch.compile (whose own
    graphs would be captured again). train.py, the training loop and bench_train decide with this."""
    return device.type == 'cuda' and world_size == 1 and not compile

class PhaseGraphs:
    """Runs training phases (training_step.build_phases) eagerly for their first `warmup` calls, then captures each
    as a CUDA graph and replays it. One process, one CUDA device."""

    def __init__(self, loss, batch_gpu, warmup=2):
        if not loss.sync_free:
            raise ValueError('CUDA graphs need a loss built with sync_free=True')
        if loss.compile:
            raise ValueError('CUDA graphs and torch.compile are exclusive')
        self.loss = loss
        self.batch_gpu = batch_gpu
        self.warmup = warmup
        self.eager_runs = {}   # phase name -> eager runs so far
        self.graphs = {}       # phase name -> torch.cuda.CUDAGraph
        self.inputs = None     # the static (real_img, real_c, gen_z, gen_c) every graph reads
        self.pool = torch.cuda.graph_pool_handle()

    def run(self, phase, real_img, real_c, gen_z, gen_c):
        """Run `phase` on these inputs: eagerly while warming up, else by replaying its graph."""
        inputs = (real_img, real_c, gen_z, gen_c)
        if phase.name not in self.graphs and self.eager_runs.get(phase.name, 0) < self.warmup:
            training_step.run_phase(phase, self.loss, *inputs, self.batch_gpu, world_size=1)
            self.eager_runs[phase.name] = self.eager_runs.get(phase.name, 0) + 1
            return
        self._load(inputs)
        if phase.name not in self.graphs:
            self.graphs[phase.name] = self._capture(phase)
        self.graphs[phase.name].replay()

    def _load(self, inputs):
        if self.inputs is None:
            self.inputs = tuple(torch.empty_like(x) for x in inputs)
        for static, x in zip(self.inputs, inputs):
            if static.shape != x.shape or static.dtype != x.dtype:
                raise ValueError(f'CUDA graphs need inputs of one shape: {list(x.shape)} {x.dtype} instead of '
                    f'{list(static.shape)} {static.dtype}')
            static.copy_(x)

    def _capture(self, phase):
        """Record the phase on the static inputs (nothing runs yet)."""
        for group in phase.opt.param_groups:
            group['capturable'] = True # the step count stays on the device (resumed states load it as saved)
        graph = torch.cuda.CUDAGraph()
        # thread_local: the DataLoader's pin-memory thread may call CUDA while this thread captures.
        with torch.cuda.graph(graph, pool=self.pool, capture_error_mode='thread_local'):
            training_step.run_phase(phase, self.loss, *self.inputs, self.batch_gpu, world_size=1)
        return graph

#----------------------------------------------------------------------------
