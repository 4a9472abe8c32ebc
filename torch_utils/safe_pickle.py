"""The safe loader for network pickles (StyleGAN2-ADA/StyleGAN3/TLGAN format and ours): no code from the file runs.

A restricted unpickler admits only the globals that network pickles need (tensors, numpy scalars, dicts and the
persistence entry point). Each persistent object becomes a PersistentStub holding its class name and state, and
its embedded source is never executed. Stubs are then rebuilt into this project's classes, registered with
register_safe_class(): construct from the pickled init arguments, then copy every parameter and buffer by name.
allow_source_exec=True loads with plain pickle instead, exec'ing the embedded source: only for trusted files.
"""

import collections
import functools
import importlib
import io
import os
import pickle

import numpy as np
import torch

import dnnlib
from dnnlib.cli import UserError
from torch_utils import misc
from torch_utils import persistence

#----------------------------------------------------------------------------

SAFE_CLASS_MODULES = ['training.networks_stylegan2', 'training.augment'] # import-time register_safe_class() callers

class UnsafePickleError(pickle.UnpicklingError, UserError):
    """The pickle names a global outside the safe loader's allow-list."""

class NetworkPickleError(ValueError, UserError):
    """Not a network pickle that the safe loader can rebuild: another file, a damaged pickle, unknown classes."""

#----------------------------------------------------------------------------

class PersistentStub:
    """Stands in for a persistent object while loading: the pickled class name and state; no source is run."""

    def __init__(self, meta):
        if meta.get('type') != 'class' or meta.get('version') != persistence._version:
            raise pickle.UnpicklingError(f'Unsupported persistent object: type {meta.get("type")!r}, '
                f'version {meta.get("version")!r}')
        self.class_name = meta['class_name']
        self.state = meta['state']

    @property
    def init_args(self):
        return tuple(self.state.get('_init_args', ()))

    @property
    def init_kwargs(self):
        return dnnlib.EasyDict(self.state.get('_init_kwargs', {}))

    def named_tensors(self):
        """{dotted name: tensor} for the parameters and buffers of this module stub and its children."""
        tensors = {}
        for key in ['_parameters', '_buffers']:
            tensors.update((name, t) for name, t in self.state.get(key, {}).items() if t is not None)
        for child_name, child in self.state.get('_modules', {}).items():
            if child is None:
                continue
            if not isinstance(child, PersistentStub):
                raise NetworkPickleError(f'Pickled "{self.class_name}" has a non-persistent submodule "{child_name}"')
            tensors.update((f'{child_name}.{name}', t) for name, t in child.named_tensors().items())
        return tensors

    def __repr__(self):
        return f'PersistentStub({self.class_name})'

def _load_storage_from_bytes(data):
    # torch.storage._load_from_bytes calls torch.load unrestricted; weights_only admits only tensor data.
    return torch.load(io.BytesIO(data), weights_only=True, map_location='cpu')

@functools.cache
def _allowed_globals():
    """(module, name) -> object that the restricted unpickler hands out for that global."""
    allowed = {
        ('torch_utils.persistence', '_reconstruct_persistent_obj'): PersistentStub,
        ('dnnlib.util', 'EasyDict'): dnnlib.EasyDict,
        ('collections', 'OrderedDict'): collections.OrderedDict,
        ('torch._utils', '_rebuild_tensor_v2'): torch._utils._rebuild_tensor_v2,
        ('torch._utils', '_rebuild_parameter'): torch._utils._rebuild_parameter,
        ('torch.storage', '_load_from_bytes'): _load_storage_from_bytes,
        ('torch', 'device'): torch.device,
        ('torch', 'Size'): torch.Size,
        ('numpy', 'dtype'): np.dtype,
        ('numpy', 'ndarray'): np.ndarray,
        ('builtins', 'set'): set, # protocols < 4 pickle sets through these
        ('builtins', 'frozenset'): frozenset,
    }
    for core in ['numpy.core', 'numpy._core']: # NumPy 1.x and 2.x spellings
        allowed[(f'{core}.multiarray', 'scalar')] = np.float64(0).__reduce__()[0]
        allowed[(f'{core}.multiarray', '_reconstruct')] = np.zeros(1).__reduce__()[0]
        allowed[(f'{core}.numeric', '_frombuffer')] = np.zeros(1).__reduce_ex__(5)[0] # arrays in pickle protocol 5
    for name in dir(torch):
        if isinstance(getattr(torch, name), torch.dtype):
            allowed[('torch', name)] = getattr(torch, name)
    return allowed

class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        obj = _allowed_globals().get((module, name))
        if obj is None:
            raise UnsafePickleError(f'Refusing to load "{module}.{name}": the safe loader admits only tensors, '
                'numbers, dicts and network objects. If you trust this file, load it with allow_source_exec=True '
                '(this runs code contained in the file).')
        return obj

#----------------------------------------------------------------------------
# Rebuilding stubs into our classes.

_registry = dict() # pickled class name -> (our class, rebuild(stub) or None for rebuild_module)

def register_safe_class(cls, names=None, rebuild=None):
    """Rebuild pickled objects whose class name is in `names` (default [cls.__name__]) as `cls`; returns cls.

    rebuild(stub) -> module replaces the default rebuild_module(cls, stub), e.g. to translate init arguments.
    Classes defined by source that a pickle carried (exec'd by allow_source_exec=True) are never registered: the
    safe loader must keep rebuilding with this project's own code.
    """
    if cls.__module__.startswith(persistence.EXEC_MODULE_PREFIX):
        return cls
    for name in [cls.__name__] if names is None else names:
        _registry[name] = (cls, rebuild)
    return cls

def load_stub_tensors(module, stub):
    """Copy all of the stub's parameters and buffers into `module` (names and shapes must match exactly), and
    take over requires_grad and train/eval mode as pickled."""
    tensors = stub.named_tensors()
    try:
        misc.copy_params_and_buffers(tensors, module, require_all=True, allow_extra=False)
    except ValueError as err:
        raise NetworkPickleError(f'Pickled "{stub.class_name}" does not fit {type(module).__name__}: {err}') from None
    for name, param in module.named_parameters():
        param.requires_grad_(tensors[name].requires_grad)
    module.train(bool(stub.state.get('training', False)))

def rebuild_module(cls, stub):
    """Default rebuild: cls(*init_args, **init_kwargs), then load_stub_tensors()."""
    if '_parameters' not in stub.state or not issubclass(cls, torch.nn.Module):
        raise TypeError(f'Pickled "{stub.class_name}" is not a torch module: the safe loader rebuilds modules only')
    module = cls(*stub.init_args, **stub.init_kwargs)
    load_stub_tensors(module, stub)
    return module

def _rebuild(stub, import_errors):
    if stub.class_name not in _registry:
        message = (f'The safe loader has no class for pickled "{stub.class_name}" (known: {sorted(_registry)}). '
            'If you trust this file, load it with allow_source_exec=True (this runs code contained in the file).')
        message += ''.join(f'\n  could not import {name}: {err}' for name, err in import_errors.items())
        raise NetworkPickleError(message)
    cls, rebuild = _registry[stub.class_name]
    obj = rebuild_module(cls, stub) if rebuild is None else rebuild(stub)
    if not isinstance(obj, torch.nn.Module):
        raise TypeError(f'Rebuilding pickled "{stub.class_name}" gave {type(obj).__name__}, not a torch module')
    return obj

def _finish(obj, device, import_errors):
    """Rebuild stubs, move modules and tensors to `device`, turn dicts into EasyDicts (recursively)."""
    if isinstance(obj, PersistentStub):
        obj = _rebuild(obj, import_errors)
    if isinstance(obj, (torch.nn.Module, torch.Tensor)):
        return obj.to(device)
    if isinstance(obj, dict):
        return dnnlib.EasyDict({key: _finish(value, device, import_errors) for key, value in obj.items()})
    if isinstance(obj, (list, tuple)):
        return type(obj)(_finish(value, device, import_errors) for value in obj)
    return obj

#----------------------------------------------------------------------------

def _safe_load(f):
    """The restricted unpickler's result; any other file than a pickle is a NetworkPickleError."""
    try:
        return _SafeUnpickler(f).load()
    except UnsafePickleError:
        raise
    except Exception as err: # pylint: disable=broad-except # arbitrary bytes trip the unpickler in many ways
        raise NetworkPickleError(f'not a network pickle, or a damaged one ({type(err).__name__}: {err})') from err

def load_network_pkl(f, *, allow_source_exec=False, device='cpu'):
    """Load a network pickle (path, URL or binary file object) as an EasyDict, e.g. with keys G, D, G_ema,
    augment_pipe, training_set_kwargs. Safe by default; allow_source_exec=True runs the file's embedded source."""
    if isinstance(f, (str, os.PathLike)):
        with dnnlib.util.open_url(os.fspath(f)) as fp:
            try:
                return load_network_pkl(fp, allow_source_exec=allow_source_exec, device=device)
            except (NetworkPickleError, UnsafePickleError) as err: # name the file
                raise type(err)(f'{os.fspath(f)}: {err}') from err
    import_errors = {}
    if allow_source_exec:
        data = pickle.load(f)
    else:
        data = _safe_load(f)
        for name in SAFE_CLASS_MODULES:
            try:
                importlib.import_module(name)
            except ImportError as err:
                import_errors[name] = err
    if not isinstance(data, dict):
        raise NetworkPickleError(f'Not a network pickle: it holds a {type(data).__name__}, not a dict of networks')
    return _finish(data, torch.device(device), import_errors)

GENERATORS = ('G_ema', 'G') # the averaged generator that every tool uses; the raw one that training steps

def generator_of(data, which='G_ema', source='the pickle'):
    """The generator `which` of a loaded network pickle. 'G_ema' falls back to 'G' for files that hold only that (such
    as a raw generator packed by scripts/pack_network.py); 'G', the raw generator, is in training snapshots only."""
    G = data.get('G') if which == 'G' else data.get('G_ema', data.get('G'))
    if G is None:
        wanted = 'raw generator (G)' if which == 'G' else 'generator'
        raise NetworkPickleError(f'{source} holds no {wanted} (keys: {", ".join(map(str, data)) or "none"})')
    return G

#----------------------------------------------------------------------------
