"""Finding and loading the network a state refers to: by file name and content hash through search roots, through
the safe loader, with a small cache.

Search order for a NetworkRef: the path it records, then `name` directly in each search root, then `name` anywhere
below each root (a bounded walk). A candidate with the wrong content hash is skipped, so a retrained snapshot of the
same name is never taken for the one a document was made with. Roots: the caller's (the document's folder, the
`--network_root` options), then $TLGAN_NETWORK_ROOT (os.pathsep-separated), then the working directory.
"""

import collections
import dataclasses
import hashlib
import os
import threading

import dnnlib
from dnnlib.cli import UserError
from torch_utils import safe_pickle
from training import timeline
from viz.state import NetworkRef

class NetworkError(ValueError):
    """A network that cannot be found or loaded, with what was tried."""

#----------------------------------------------------------------------------
# Content hashes, cached by (path, size, mtime).

_hash_cache = {}
_hash_lock = threading.Lock()

def sha256_of(path):
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key in _hash_cache:
            return _hash_cache[key]
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    with _hash_lock:
        _hash_cache[key] = h.hexdigest()
    return _hash_cache[key]

def ref_for(path):
    """NetworkRef of a file on disk."""
    return NetworkRef(name=os.path.basename(path), sha256=sha256_of(path), path=os.path.abspath(path))

#----------------------------------------------------------------------------
# Resolution through search roots.

def search_roots(extra=()):
    roots = []
    for root in list(extra) + dnnlib.util.env_paths('TLGAN_NETWORK_ROOT') + [os.getcwd()]:
        root = os.path.abspath(root)
        if root not in roots:
            roots.append(root)
    return roots

def _candidates(ref, roots):
    if ref.path:
        yield ref.path
    name = ref.name or os.path.basename(ref.path)
    if not name:
        return
    for root in roots:
        yield os.path.join(root, name)
    for root in roots:
        yield from dnnlib.util.find_below(root, name)

def resolve(ref, roots=()):
    """Path of the file a NetworkRef names (matching its hash, when it has one); NetworkError if none is found."""
    if ref.empty:
        raise NetworkError('The state names no network: give one (e.g. --network=PKL)')
    mismatched = []
    for path in _candidates(ref, search_roots(roots)):
        if not os.path.isfile(path):
            continue
        if not ref.sha256 or sha256_of(path) == ref.sha256:
            return os.path.abspath(path)
        mismatched.append(path)
    what = f'{ref.name or ref.path}' + (f' (sha256 {ref.sha256[:12]}…)' if ref.sha256 else '')
    hint = f'; same name, other content: {", ".join(mismatched[:3])}' if mismatched else ''
    raise NetworkError(f'Network {what} not found in {", ".join(search_roots(roots))}{hint}. '
        'Give its folder with --network_root (or $TLGAN_NETWORK_ROOT), or the file with --network')

#----------------------------------------------------------------------------
# Loading, with a small LRU cache keyed by content.

@dataclasses.dataclass(frozen=True)
class Network:
    """A loaded generator and what the tools need to know about it."""
    G: object                    # G_ema, in eval mode, on the renderer's device.
    ref: NetworkRef
    path: str
    timeline: timeline.Timeline  # From the pickle's own cond_args (no dataset needed for dates).
    slot_names: tuple            # Names of G's time slots, e.g. ('lin', 'year', 'day').
    dataset_name: str            # Basename of the training data, for the dataset lookup ('' if unknown).
    init_kwargs: dict            # G's construction arguments, for the viewers' info panels.

    @property
    def out_rect(self):
        return tuple(getattr(self.G.synthesis, 'out_rect', None) or (0, 0, self.G.img_resolution, self.G.img_resolution))

class NetworkCache:
    def __init__(self, device, size=3):
        self.device = device
        self.size = size
        self._items = collections.OrderedDict()
        self._lock = threading.Lock()

    def load(self, path):
        ref = ref_for(path)
        with self._lock:
            if ref.sha256 in self._items:
                self._items.move_to_end(ref.sha256)
                return dataclasses.replace(self._items[ref.sha256], ref=ref, path=ref.path)
        net = load_network(path, self.device, ref)
        with self._lock:
            self._items[ref.sha256] = net
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return net

def load_network(path, device, ref=None):
    """Network of a pickle through the safe loader; NetworkError with the reason for anything else."""
    try:
        data = safe_pickle.load_network_pkl(path, device=device)
        G = safe_pickle.generator_of(data, source=path)
    except (OSError, EOFError) as e:
        raise NetworkError(f'{path}: cannot read the network pickle: {e}') from None
    except UserError as e: # not a pickle, a refused one, or none under G_ema or G: the message names the file
        raise NetworkError(str(e)) from None
    except Exception as e: # pylint: disable=broad-except # unpickling raises anything from a wrong or refused file
        raise NetworkError(f'{path}: not a usable network pickle ({type(e).__name__}: {e})') from None
    if not hasattr(G, 'synthesis'):
        raise NetworkError(f'{path}: the pickle holds no generator (keys: {", ".join(map(str, data.keys()))})')
    G = G.eval().requires_grad_(False)
    data_path = (data.get('training_set_kwargs') or {}).get('path') or ''
    return Network(G=G, ref=ref or ref_for(path), path=os.path.abspath(path),
        timeline=timeline.Timeline.from_cond_args(G.cond_args), slot_names=tuple(timeline.frequency_names(G.frequencies)),
        dataset_name=os.path.basename(os.path.normpath(data_path)) if data_path else '',
        init_kwargs=dict(getattr(G, 'init_kwargs', {}) or {}))

#----------------------------------------------------------------------------
