"""PyTorch helpers used by the networks and the training loop: cached constants, shape checks, profiling labels,
the infinite data sampler, parameter copying, DDP checks and a module summary table."""

import contextlib
import functools
import itertools
import re
import warnings

import numpy as np
import torch

#----------------------------------------------------------------------------
# Constant tensors, cached per value/shape/dtype/device so that hot code does not rebuild them.

_constants = {}

def constant(value, shape=None, dtype=None, device=None, memory_format=None):
    """A cached, read-only tensor of `value` broadcast to `shape`: hot code asks for the same small constants over and
    over, and building each anew would cost an allocation and a host-to-device copy every time."""
    array = np.asarray(value)
    shape = None if shape is None else tuple(shape)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    device = torch.device('cpu') if device is None else torch.device(device)
    memory_format = torch.contiguous_format if memory_format is None else memory_format
    key = (array.dtype.str, array.shape, array.tobytes(), shape, dtype, str(device), memory_format)
    if key not in _constants:
        tensor = torch.tensor(array, dtype=dtype, device=device) # torch.tensor copies: the cache owns its data
        if shape is not None:
            tensor = tensor.expand(shape)
        _constants[key] = tensor.contiguous(memory_format=memory_format)
    return _constants[key]

def is_channels_last(x):
    """x is a 4-D tensor stored channels-last and not also plain contiguous (size-1 dims can make it both)."""
    return x.ndim == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)

def in_layout_of(tensor, ref):
    """`tensor` (of ref's shape) itself if it is laid out in memory like ref, else a copy that is (for code that
    indexes both with the same offsets, or insists on one layout, as fused Adam does)."""
    return tensor if tensor.stride() == ref.stride() else torch.empty_like(ref, dtype=tensor.dtype).copy_(tensor)

#----------------------------------------------------------------------------
# Shape checks that also hold while torch.jit.trace records the graph.

class suppress_tracer_warnings(warnings.catch_warnings):
    """Context manager silencing TracerWarnings, e.g. about Python-side shape comparisons during tracing."""

    def __enter__(self):
        super().__enter__()
        warnings.simplefilter('ignore', category=torch.jit.TracerWarning)
        return self

def assert_shape(tensor, ref_shape):
    """Raise AssertionError unless tensor.shape matches ref_shape; None entries match any size."""
    if tensor.ndim != len(ref_shape):
        raise AssertionError(f'assert_shape: the tensor has {tensor.ndim} dimensions, {len(ref_shape)} expected ({list(ref_shape)})')
    for idx, (size, ref_size) in enumerate(zip(tensor.shape, ref_shape)):
        if ref_size is None:
            continue
        if isinstance(size, torch.Tensor) or isinstance(ref_size, torch.Tensor): # traced sizes: record the check
            with suppress_tracer_warnings():
                same = torch.equal(torch.as_tensor(size), torch.as_tensor(ref_size))
                torch._assert(same, f'assert_shape: dimension {idx} should be {ref_size}')
        elif size != ref_size:
            raise AssertionError(f'assert_shape: dimension {idx} is {size}, {ref_size} expected')

#----------------------------------------------------------------------------

def profiled_function(fn):
    """Decorator: label every call of `fn` in the PyTorch profiler's trace."""
    @functools.wraps(fn)
    def decorator(*args, **kwargs):
        with torch.autograd.profiler.record_function(fn.__name__):
            return fn(*args, **kwargs)
    return decorator

#----------------------------------------------------------------------------

class InfiniteSampler(torch.utils.data.Sampler):
    """Endless stream of dataset indices, split between ranks by interleaving, that can start at any position.

    Position p of the global stream is item order_e[p mod n] of pass e = p // n, where order_e is a permutation
    seeded by (seed, e) (the identity without shuffle). Rank r takes the positions start_idx + r, start_idx + r +
    num_replicas, ... A stream started at start_idx (the images a resumed run has already seen) therefore continues
    exactly as one started at 0, without replaying anything.
    """

    def __init__(self, dataset, rank=0, num_replicas=1, shuffle=True, seed=0, start_idx=0):
        if len(dataset) == 0:
            raise ValueError('InfiniteSampler needs a non-empty dataset')
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f'Invalid rank {rank} for num_replicas {num_replicas}')
        if start_idx < 0:
            raise ValueError(f'start_idx must be >= 0, got {start_idx}')
        super().__init__() # PyTorch 2.x: Sampler.__init__ takes no data source
        self.dataset = dataset
        self.rank = rank
        self.num_replicas = num_replicas
        self.shuffle = shuffle
        self.seed = seed
        self.start_idx = start_idx

    def pass_order(self, epoch):
        """The item order of one pass over the data."""
        n = len(self.dataset)
        return np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)

    def __iter__(self):
        n = len(self.dataset)
        epoch, order = None, None
        for pos in itertools.count(self.start_idx + self.rank, self.num_replicas):
            if pos // n != epoch:
                epoch = pos // n
                order = self.pass_order(epoch)
            yield int(order[pos % n])

#----------------------------------------------------------------------------
# Parameters and buffers.

def params_and_buffers(module):
    return list(module.parameters()) + list(module.buffers())

def named_params_and_buffers(module):
    return list(module.named_parameters()) + list(module.named_buffers())

def _few(items, limit=5):
    """'a, b, c' or 'a, b, c, ... (12 in all)' for error messages."""
    items = list(items)
    text = ', '.join(str(item) for item in items[:limit])
    return text + (f', ... ({len(items)} in all)' if len(items) > limit else '')

@torch.no_grad()
def copy_params_and_buffers(src_module, dst_module, require_all=False, allow_extra=True):
    """Copy same-named parameters and buffers from `src_module` (a module or a dict name -> tensor) into `dst_module`.

    Destination tensors missing from the source stay as they are unless require_all; source tensors with no
    destination are ignored if allow_extra. Otherwise, and on shape mismatches, raise ValueError listing the names.
    """
    src = src_module if isinstance(src_module, dict) else dict(named_params_and_buffers(src_module))
    dst = dict(named_params_and_buffers(dst_module))
    problems = []
    missing = [name for name in dst if name not in src]
    if require_all and missing:
        problems.append(f'missing from the source: {_few(missing)}')
    extra = [name for name in src if name not in dst]
    if not allow_extra and extra:
        problems.append(f'unexpected in the source: {_few(extra)}')
    mismatched = [f'{name} {tuple(src[name].shape)} vs {tuple(tensor.shape)}'
        for name, tensor in dst.items() if name in src and src[name].shape != tensor.shape]
    if mismatched:
        problems.append(f'shape mismatch (source vs destination): {_few(mismatched)}')
    if problems:
        raise ValueError(f'Cannot copy parameters/buffers into {type(dst_module).__name__}: ' + '; '.join(problems))
    for name, tensor in dst.items():
        if name in src:
            tensor.copy_(src[name].detach())

#----------------------------------------------------------------------------
# DistributedDataParallel helpers.

@contextlib.contextmanager
def ddp_sync(module, sync):
    """Within the context, skip DDP's gradient all-reduce unless `sync` (for gradient accumulation)."""
    if sync or not isinstance(module, torch.nn.parallel.DistributedDataParallel):
        yield
    else:
        with module.no_sync():
            yield

def check_ddp_consistency(module, ignore_regex=None):
    """Raise RuntimeError on every rank unless all ranks hold identical parameters and buffers (NaN equals NaN).

    Names are '<ModuleClass>.<tensor name>'; those matching `ignore_regex` are skipped. No-op without a process group.
    """
    if not torch.distributed.is_available() or not torch.distributed.is_initialized():
        return
    named = [(f'{type(module).__name__}.{name}', tensor.detach()) for name, tensor in named_params_and_buffers(module)]
    named = [(name, tensor) for name, tensor in named if ignore_regex is None or not re.fullmatch(ignore_regex, name)]
    if not named:
        return
    differs = torch.zeros(len(named), device=named[0][1].device)
    for idx, (name, tensor) in enumerate(named):
        other = tensor.clone()
        torch.distributed.broadcast(other, src=0)
        same = (tensor == other) | (tensor.isnan() & other.isnan()) if tensor.is_floating_point() else tensor == other
        differs[idx] = (~same).any() # stays on the device: no sync per tensor
    torch.distributed.all_reduce(differs, op=torch.distributed.ReduceOp.MAX) # every rank learns of any difference
    bad = [name for (name, _), flag in zip(named, differs.tolist()) if flag]
    if bad:
        raise RuntimeError(f'DDP ranks disagree (differs from rank 0 on some rank): {_few(bad)}')

#----------------------------------------------------------------------------

def _flat_tensors(outputs):
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, (tuple, list)):
        return [t for item in outputs for t in _flat_tensors(item)]
    if isinstance(outputs, dict):
        return [t for item in outputs.values() for t in _flat_tensors(item)]
    return []

def print_module_summary(module, inputs, max_nesting=3, skip_redundant=True):
    """Run module(*inputs) and print a table of submodule outputs, parameters and buffers; return the outputs.

    Parameters/buffers of modules deeper than `max_nesting` are counted in their nearest listed ancestor.
    With skip_redundant, rows that add no tensors and no new outputs are left out.
    """
    if not isinstance(module, torch.nn.Module) or not isinstance(inputs, (tuple, list)):
        raise TypeError('print_module_summary(module, inputs) needs an nn.Module and a tuple/list of inputs')
    root_name = type(module).__name__
    entries = [] # (name, submodule, output tensors) in completion order: children before parents
    def hook(name, mod, _inputs, outputs):
        entries.append((name, mod, _flat_tensors(outputs)))
    handles = [mod.register_forward_hook(functools.partial(hook, name or root_name))
        for name, mod in module.named_modules() if (name.count('.') + 1 if name else 0) <= max_nesting]
    try:
        outputs = module(*inputs)
    finally:
        for handle in handles:
            handle.remove()

    seen = set()
    rows = [['Module', 'Parameters', 'Buffers', 'Output shape', 'Datatype'], None] # None = separator line
    total_params = total_buffers = 0
    for name, mod, tensors in entries:
        params = [t for t in mod.parameters() if id(t) not in seen]
        buffers = [t for t in mod.buffers() if id(t) not in seen]
        new_outputs = [t for t in tensors if id(t) not in seen]
        seen.update(id(t) for t in params + buffers + new_outputs)
        if skip_redundant and not (params or buffers or new_outputs) and mod is not module:
            continue
        num_params = sum(t.numel() for t in params)
        num_buffers = sum(t.numel() for t in buffers)
        total_params += num_params
        total_buffers += num_buffers
        shapes = [str(list(t.shape)) for t in tensors] or ['-']
        dtypes = [str(t.dtype).split('.')[-1] for t in tensors] or ['-']
        rows.append([name, str(num_params or '-'), str(num_buffers or '-'), shapes[0], dtypes[0]])
        rows += [['', '', '', shape, dtype] for shape, dtype in zip(shapes[1:], dtypes[1:])]
    rows += [None, ['Total', str(total_params), str(total_buffers), '', '']]

    widths = [max(len(row[col]) for row in rows if row is not None) for col in range(5)]
    print()
    for row in rows:
        cells = ['-' * width if row is None else row[col].ljust(width) for col, width in enumerate(widths)]
        print('  '.join(cells).rstrip())
    print()
    return outputs

#----------------------------------------------------------------------------
