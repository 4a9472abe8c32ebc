"""Tests for persistent pickles (exec path, StyleGAN3 format) and the safe loader (no code from the file runs)."""

import copy
import importlib
import io
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from torch_utils import persistence
from torch_utils import safe_pickle

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Source of the networks under test; written to a temp dir and imported from there.
NET_SRC = textwrap.dedent('''
    """Tiny persistent networks for the tests."""
    import torch
    from torch_utils import persistence

    @persistence.persistent_class
    class Affine(torch.nn.Module):
        def __init__(self, in_features, out_features):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(out_features, in_features))
            self.register_buffer('bias', torch.randn(out_features))

        def forward(self, x):
            return x @ self.weight.t() + self.bias

    @persistence.persistent_class
    class Tiny(torch.nn.Module):
        def __init__(self, in_features, out_features, gain=1.0):
            super().__init__()
            self.fc = Affine(in_features, out_features)
            self.gain = gain
            self.scale = torch.nn.Parameter(torch.randn([]))

        def forward(self, x):
            return self.fc(x) * self.scale * self.gain
''')

@pytest.fixture(scope='module')
def netmod(tmp_path_factory):
    """The NET_SRC module, importable as persist_test_net in this process only."""
    folder = tmp_path_factory.mktemp('netsrc')
    (folder / 'persist_test_net.py').write_text(NET_SRC)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module('persist_test_net')
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop('persist_test_net', None)

class Persisted:
    """Pickles exactly like a StyleGAN3 persistent object, but with meta fields chosen by the test."""

    def __init__(self, class_name, state, module_src):
        self.meta = dict(type='class', version=6, module_src=module_src, class_name=class_name, state=state)

    def __reduce__(self):
        return (persistence._reconstruct_persistent_obj, (self.meta,))

def hand_made(module, module_src):
    """A persistent-object tree built by hand from a module: each submodule becomes a Persisted of its class name."""
    state = dict(module.__dict__, _parameters=dict(module._parameters), _buffers=dict(module._buffers))
    state['_modules'] = {name: hand_made(child, module_src) for name, child in module._modules.items()}
    return Persisted(type(module).__name__, state, module_src)

def save(obj, path):
    with open(path, 'wb') as f:
        pickle.dump(obj, f)
    return str(path)

#----------------------------------------------------------------------------
# Persistence (exec path).

def test_pickle_format(netmod):
    torch.manual_seed(0)
    net = netmod.Tiny(3, 2, gain=2.0)
    assert persistence.is_persistent(net) and persistence.is_persistent(netmod.Tiny)
    assert net.init_args == (3, 2) and net.init_kwargs == dict(gain=2.0) and net.init_kwargs.gain == 2.0
    metas = []
    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ('torch_utils.persistence', '_reconstruct_persistent_obj'):
                return lambda meta: metas.append(meta) or meta
            return super().find_class(module, name)
    Recorder(io.BytesIO(pickle.dumps(net))).load()
    outer = metas[-1] # children finish first
    assert set(outer) == {'type', 'version', 'module_src', 'class_name', 'state'}
    assert (outer['type'], outer['version'], outer['class_name']) == ('class', 6, 'Tiny')
    assert outer['module_src'] == NET_SRC
    assert outer['state']['_init_args'] == (3, 2) and outer['state']['_init_kwargs'] == dict(gain=2.0)
    assert outer['state']['_modules']['fc']['class_name'] == 'Affine'

def test_deepcopy_keeps_class(netmod):
    net = netmod.Tiny(3, 2)
    clone = copy.deepcopy(net)
    assert type(clone) is type(net) # same source text maps back to the importable module
    x = torch.randn(4, 3)
    assert torch.equal(clone(x), net(x))

def test_loads_in_fresh_process_without_module(netmod, tmp_path):
    torch.manual_seed(1)
    net = netmod.Tiny(3, 2, gain=0.5)
    x = torch.randn(5, 3)
    pkl = save(dict(G=net, x=x, y=net(x).detach()), tmp_path / 'net.pkl')
    code = textwrap.dedent(f'''
        import importlib.util, torch
        from torch_utils import safe_pickle
        assert importlib.util.find_spec('persist_test_net') is None
        data = safe_pickle.load_network_pkl({pkl!r}, allow_source_exec=True)
        assert type(data.G).__module__.startswith('_imported_module_'), type(data.G).__module__
        assert torch.equal(data.G(data.x), data.y)
        assert data.G.init_kwargs.gain == 0.5
        print('fresh-ok')
    ''')
    env = dict(os.environ, PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, '-c', code], cwd=str(tmp_path), env=env, capture_output=True, text=True)
    assert result.returncode == 0 and 'fresh-ok' in result.stdout, result.stderr

def test_hand_made_stylegan3_pickle_execs(netmod, tmp_path):
    torch.manual_seed(2)
    ref = netmod.Tiny(3, 2, gain=3.0)
    src = NET_SRC + '\n# a different text, so it is exec\'d afresh\n'
    pkl = save(dict(G=hand_made(ref, src)), tmp_path / 'sg3.pkl')
    data = safe_pickle.load_network_pkl(pkl, allow_source_exec=True)
    assert type(data.G).__name__ == 'Tiny' and type(data.G).__module__.startswith('_imported_module_')
    assert type(data.G).__module__ == type(data.G.fc).__module__ # one module per distinct source text
    x = torch.randn(4, 3)
    assert torch.equal(data.G(x), ref(x))
    assert persistence.is_persistent(data.G) and data.G.init_kwargs == dict(gain=3.0)

def test_import_hook_rewrites_meta(netmod, tmp_path, monkeypatch):
    monkeypatch.setattr(persistence, '_meta_hooks', [])
    def hook(meta):
        if meta.class_name == 'Tiny':
            meta.state.gain = 10.0
        return meta
    persistence.import_hook(hook)
    net = netmod.Tiny(3, 2, gain=1.0)
    loaded = pickle.loads(pickle.dumps(net))
    assert loaded.gain == 10.0

#----------------------------------------------------------------------------
# Safe loader.

class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'echo pwned > {self.marker}',))

def test_safe_loader_refuses_code(tmp_path):
    marker = tmp_path / 'pwned.txt'
    pkl = save(dict(G=Evil(marker)), tmp_path / 'evil.pkl')
    with pytest.raises(safe_pickle.UnsafePickleError, match=r'system.*allow_source_exec=True'):
        safe_pickle.load_network_pkl(pkl)
    assert not marker.exists()
    assert issubclass(safe_pickle.UnsafePickleError, pickle.UnpicklingError)

@pytest.fixture
def safe_net(netmod):
    """(reference Tiny, pickled class name) with Tiny registered for the safe loader under that name."""
    safe_pickle.register_safe_class(netmod.Tiny, names=['SafeTestTiny'])
    torch.manual_seed(3)
    return netmod.Tiny(3, 2, gain=1.5), 'SafeTestTiny'

def hostile_src(marker):
    return f'open({str(marker)!r}, "w").write("ran")\nraise RuntimeError("embedded source must not run")\n'

def test_safe_loader_rebuilds_without_exec(safe_net, tmp_path):
    ref, class_name = safe_net
    ref.eval().requires_grad_(False) # as in snapshots
    marker = tmp_path / 'ran.txt'
    blob = hand_made(ref, hostile_src(marker))
    blob.meta['class_name'] = class_name
    pkl = save(dict(G=blob, training_set_kwargs=dict(path='x.zip', resolution=32)), tmp_path / 'net.pkl')
    data = safe_pickle.load_network_pkl(pkl)
    assert not marker.exists()
    assert type(data.G) is type(ref) and data.training_set_kwargs.resolution == 32
    x = torch.randn(4, 3)
    assert torch.equal(data.G(x), ref(x))
    assert data.G.init_kwargs == dict(gain=1.5)
    assert not data.G.training and not any(p.requires_grad for p in data.G.parameters())

def test_safe_loader_reads_own_pickles(safe_net, netmod, tmp_path):
    ref, _ = safe_net
    safe_pickle.register_safe_class(netmod.Tiny) # our own pickles carry the plain class name
    pkl = save(dict(G_ema=ref), tmp_path / 'own.pkl')
    x = torch.randn(2, 3)
    assert torch.equal(safe_pickle.load_network_pkl(pkl).G_ema(x), ref(x))

@pytest.mark.parametrize('protocol', [3, 4, 5])
def test_safe_loader_admits_plain_data(safe_net, netmod, tmp_path, protocol):
    _, class_name = safe_net
    net = netmod.Tiny(3, 2, gain=np.float64(0.25)) # numpy scalars: the originals' gains are float64
    blob = hand_made(net, 'raise RuntimeError')
    blob.meta['class_name'] = class_name
    blob.meta['state'].update(extras=dict(arr=np.arange(3), dtype=np.dtype('f4'), size=torch.Size([2]),
        device=torch.device('cpu'), tdtype=torch.float16, tags={'a'}, frozen=frozenset([1]), half=torch.ones(2).half()))
    with open(tmp_path / 'net.pkl', 'wb') as f:
        pickle.dump(dict(G=blob), f, protocol=protocol)
    x = torch.randn(2, 3)
    assert torch.equal(safe_pickle.load_network_pkl(str(tmp_path / 'net.pkl')).G(x), net(x))

@pytest.mark.parametrize('damage, message', [
    (lambda state: state['_parameters'].update(bogus=torch.nn.Parameter(torch.zeros(1))), r'unexpected.*bogus'),
    (lambda state: state['_modules']['fc'].meta['state']['_buffers'].pop('bias'), r'missing.*fc\.bias'),
    (lambda state: state['_modules']['fc'].meta['state']['_parameters'].update(
        weight=torch.nn.Parameter(torch.zeros(5, 3))), r'shape mismatch.*fc\.weight \(5, 3\) vs \(2, 3\)'),
])
def test_safe_loader_checks_tensors(safe_net, tmp_path, damage, message):
    ref, class_name = safe_net
    blob = hand_made(ref, 'raise RuntimeError')
    blob.meta['class_name'] = class_name
    damage(blob.meta['state'])
    pkl = save(dict(G=blob), tmp_path / 'bad.pkl')
    with pytest.raises(ValueError, match=f'SafeTestTiny.*{message}'):
        safe_pickle.load_network_pkl(pkl)

def test_safe_loader_unknown_and_non_module(tmp_path):
    pkl = save(dict(G=Persisted('NoSuchNet', dict(_parameters={}), 'raise RuntimeError')), tmp_path / 'unknown.pkl')
    with pytest.raises(ValueError, match='no class for pickled "NoSuchNet".*allow_source_exec=True'):
        safe_pickle.load_network_pkl(pkl)
    safe_pickle.register_safe_class(torch.nn.Identity, names=['NotAModuleTest'])
    pkl = save(dict(G=Persisted('NotAModuleTest', dict(value=1), '')), tmp_path / 'nonmodule.pkl')
    with pytest.raises(TypeError, match='not a torch module'):
        safe_pickle.load_network_pkl(pkl)
    with pytest.raises(ValueError, match='Not a network pickle'):
        safe_pickle.load_network_pkl(save([1, 2], tmp_path / 'list.pkl'))

#----------------------------------------------------------------------------

def test_exec_loaded_source_never_replaces_registered_classes(tmp_path):
    # A pickle loaded with allow_source_exec runs its own copy of a module's source, which calls register_safe_class
    # again; the safe loader must keep rebuilding with the project's own classes afterwards.
    from training import networks_stylegan2
    from torch_utils import persistence
    foreign = type('Generator', (torch.nn.Module,), {'__module__': persistence.EXEC_MODULE_PREFIX + 'test'})
    safe_pickle.register_safe_class(foreign)
    assert safe_pickle._registry['Generator'][0] is networks_stylegan2.Generator
