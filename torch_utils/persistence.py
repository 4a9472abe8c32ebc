"""Pickles that carry their own source code, in the exact format of StyleGAN2-ADA/StyleGAN3 network pickles.

An object of a class decorated with @persistent_class pickles as a call of _reconstruct_persistent_obj(meta), where
meta holds the full source text of the class's defining module, the class name and the object's state. Loading execs
that source (once per distinct text) into a fresh module, so the defining module need not be importable then; only
torch_utils and dnnlib must be. Exec'ing embedded source runs arbitrary code: load untrusted files with
torch_utils.safe_pickle instead.
"""

import copy
import inspect
import sys
import types
import uuid

import dnnlib

#----------------------------------------------------------------------------

_version = 6             # meta['version'] written by StyleGAN2-ADA and StyleGAN3; the only one understood here
EXEC_MODULE_PREFIX = '_imported_module_' # name prefix of the modules made from embedded source
_persistent_classes = set()      # the classes returned by persistent_class()
_meta_hooks = []       # callbacks that may rewrite meta before loading
_source_of_module = {} # module object -> source text
_module_of_source = {} # source text -> module object

#----------------------------------------------------------------------------

def persistent_class(orig_class):
    """Class decorator: instances pickle together with the source of the module that defines the class.

    The decorated class also records its constructor arguments (deep-copied) in `_init_args` and `_init_kwargs`,
    readable through the `init_args` and `init_kwargs` properties, so a loader can rebuild it from scratch.
    """
    if not isinstance(orig_class, type):
        raise TypeError('persistent_class() decorates classes only')
    if is_persistent(orig_class):
        return orig_class
    module_src = _source_from_module(sys.modules[orig_class.__module__])

    class Decorator(orig_class):
        _orig_module_src = module_src
        _orig_class_name = orig_class.__name__

        def __init__(self, *args, **kwargs):
            init_args = copy.deepcopy(args) # copied before __init__ can modify them
            init_kwargs = copy.deepcopy(kwargs)
            super().__init__(*args, **kwargs)
            self._init_args = init_args
            self._init_kwargs = init_kwargs

        @property
        def init_args(self):
            return copy.deepcopy(self._init_args)

        @property
        def init_kwargs(self):
            return dnnlib.EasyDict(copy.deepcopy(self._init_kwargs))

        def __reduce__(self):
            fields = list(super().__reduce__()) + [None] * 3
            state = fields[2]
            if fields[0] is _reconstruct_persistent_obj: # a persistent base class already wrapped the state
                state = fields[1][0]['state']
            meta = dict(type='class', version=_version, module_src=self._orig_module_src,
                class_name=self._orig_class_name, state=state)
            return (_reconstruct_persistent_obj, (meta,), None)

    Decorator.__name__ = orig_class.__name__
    Decorator.__qualname__ = orig_class.__qualname__
    Decorator.__module__ = orig_class.__module__
    _persistent_classes.add(Decorator)
    return Decorator

#----------------------------------------------------------------------------

def is_persistent(obj):
    """True for a class returned by persistent_class() and for its instances."""
    if isinstance(obj, type) and obj in _persistent_classes:
        return True
    return type(obj) in _persistent_classes

def import_hook(hook):
    """Register `hook(meta) -> meta`, called on every persistent object before it is loaded (e.g. to patch source)."""
    if not callable(hook):
        raise TypeError('import_hook() needs a callable')
    _meta_hooks.append(hook)

#----------------------------------------------------------------------------

def _reconstruct_persistent_obj(meta):
    """Unpickling entry point: rebuild one persistent object from its meta dict (execs the embedded source)."""
    meta = dnnlib.EasyDict(meta)
    meta.state = dnnlib.EasyDict(meta.state)
    for hook in _meta_hooks:
        meta = hook(meta)
        if meta is None:
            raise TypeError(f'persistence import hook {hook!r} returned None instead of meta')
    if meta.get('version') != _version or meta.get('type') != 'class':
        raise ValueError(f'Unsupported persistent object: type {meta.get("type")!r}, version {meta.get("version")!r} '
            f'(expected type "class", version {_version})')

    module = _module_from_source(meta.module_src)
    if meta.class_name not in module.__dict__:
        raise ValueError(f'Embedded source defines no class "{meta.class_name}"')
    cls = persistent_class(module.__dict__[meta.class_name])
    obj = cls.__new__(cls)
    setstate = getattr(obj, '__setstate__', None)
    if callable(setstate):
        setstate(meta.state) # torch.nn.Module.__setstate__ also fills attributes added by newer PyTorch versions
    else:
        obj.__dict__.update(meta.state)
    return obj

def _source_from_module(module):
    """Full source text of a module (cached; the fresh modules made by _module_from_source are pre-registered)."""
    src = _source_of_module.get(module)
    if src is None:
        src = inspect.getsource(module)
        _source_of_module[module] = src
        _module_of_source.setdefault(src, module)
    return src

def _module_from_source(src):
    """Module made by exec'ing `src`; the same text always maps to the same module (so classes stay identical)."""
    module = _module_of_source.get(src)
    if module is None:
        module_name = EXEC_MODULE_PREFIX + uuid.uuid4().hex
        module = types.ModuleType(module_name)
        sys.modules[module_name] = module # persistent_class() looks the module up by name while the source runs
        _source_of_module[module] = src
        _module_of_source[src] = module
        try:
            exec(src, module.__dict__)
        except BaseException:
            del sys.modules[module_name], _source_of_module[module], _module_of_source[src] # no half-built module
            raise
    return module

#----------------------------------------------------------------------------
