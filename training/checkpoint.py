"""Run directories, atomic output files and the resumable training state.

A training state (`training-state-<tag>.pt`, written next to every network snapshot) holds everything needed to
continue a run exactly where it stopped (training/loop_state.py says what). It contains only tensors, dicts, lists,
numbers and strings, so torch.load(weights_only=True) reads it without executing anything.

File tags: `<kimg:06d>` (thousands of images, rounded down) as in StyleGAN; runs whose snapshot interval is below one
kimg use `<kimg:06d>.<rest:03d>` so that every snapshot of such a run has its own name. Nothing is ever overwritten:
when a name is taken (a resumed run re-reaching a tick that the interrupted run had already saved), the new file gets
the suffix `-r1`, `-r2`, ...
"""

import glob
import os
import re
import zipfile

import torch

import dnnlib
from dnnlib.cli import UserError
from torch_utils import misc

STATE_VERSION = 2      # 2: no generator states (the random streams derive from the image counter), ADA's pending signs
READABLE_VERSIONS = (1, 2)

class StateError(ValueError, UserError):
    """A training state that cannot be read, or that does not fit the configured networks."""

_TAG_RE = r'(\d{6})(?:\.(\d{3}))?(?:-r(\d+))?'

#----------------------------------------------------------------------------
# File names.

def remove_stale_temp_files(folder):
    """Delete the partial files that dnnlib.util.atomic_write left behind when its process was killed."""
    for path in glob.glob(os.path.join(glob.escape(folder), '.tmp-*')):
        os.remove(path)

def kimg_tag(nimg, fine=False):
    """File-name tag of a position in training: '000123' (kimg) or, with `fine`, '000123.456'."""
    return f'{nimg // 1000:06d}.{nimg % 1000:03d}' if fine else f'{nimg // 1000:06d}'

#----------------------------------------------------------------------------
# Run directories: <outdir>/<NNNNN>-<desc>.

def next_run_dir(outdir, desc):
    """A new, not yet existing run dir: 1 + the largest numeric prefix among the entries of outdir."""
    ids = [int(m.group(1)) for name in (os.listdir(outdir) if os.path.isdir(outdir) else [])
           if (m := re.match(r'^(\d+)', name))]
    run_id = max(ids, default=-1) + 1
    path = os.path.join(outdir, f'{run_id:05d}-{desc}')
    while os.path.exists(path):
        run_id += 1
        path = os.path.join(outdir, f'{run_id:05d}-{desc}')
    return path

def run_dirs_with_desc(outdir, desc):
    """Run dirs under outdir named <NNNNN>-<desc>, newest (highest number) first."""
    found = []
    for name in (os.listdir(outdir) if os.path.isdir(outdir) else []):
        m = re.fullmatch(r'(\d+)-(.+)', name)
        if m and m.group(2) == desc and os.path.isdir(os.path.join(outdir, name)):
            found.append((int(m.group(1)), os.path.join(outdir, name)))
    return [path for _, path in sorted(found, reverse=True)]

#----------------------------------------------------------------------------
# Finding states.

def list_states(run_dir):
    """[(nimg, path)] of the training states in run_dir, oldest first; nimg as far as the tag tells. A state that
    found its name taken (-r<k>) was written later than the one of the plain name."""
    found = []
    for path in glob.glob(os.path.join(glob.escape(run_dir), 'training-state-*.pt')):
        m = re.fullmatch(r'training-state-' + _TAG_RE + r'\.pt', os.path.basename(path))
        if m:
            found.append((int(m.group(1)) * 1000 + int(m.group(2) or 0), int(m.group(3) or 0), path))
    return [(nimg, path) for nimg, _, path in sorted(found)]

def latest_state(run_dir):
    """Path of the most advanced training state in run_dir, or None."""
    states = list_states(run_dir)
    return states[-1][1] if states else None

def prune_states(run_dir, keep):
    """Delete all but the `keep` most advanced training states (keep <= 0: keep all)."""
    if keep > 0:
        for _, path in list_states(run_dir)[:-keep]:
            os.remove(path)

def is_network_pickle(resume):
    """Whether a --resume value names a network pickle (path or URL), not 'latest', a run dir or a training state."""
    return resume is not None and resume != 'latest' and not os.path.isdir(resume) and not resume.endswith('.pt')

def network_pickle(resume):
    """A --resume network pickle (path or URL) as given; FileNotFoundError for a missing local file."""
    if '://' not in resume and not os.path.isfile(resume):
        raise FileNotFoundError(f'--resume: "{resume}" is neither a run dir, a training state, nor a network pickle')
    return resume

def resolve_resume(resume, outdir, desc):
    """What --resume means: EasyDict-like dict(kind='state'|'pkl', path, run_dir).

    'latest'              -> the latest state of the newest run dir <outdir>/<NNNNN>-<desc> that has one;
    a run dir             -> its latest state;
    a training-state file -> that state (the run continues in the state's folder);
    anything else         -> a network pickle (path or URL) to take the weights from; a new run dir is made.
    """
    if is_network_pickle(resume):
        return dict(kind='pkl', path=network_pickle(resume), run_dir=None)
    if resume == 'latest':
        for run_dir in run_dirs_with_desc(outdir, desc):
            state = latest_state(run_dir)
            if state is not None:
                return dict(kind='state', path=state, run_dir=run_dir)
        raise FileNotFoundError(f'--resume=latest: no run dir "{os.path.join(outdir, "NNNNN-" + desc)}" contains a training '
            'state (the name depends on the options, e.g. --gpus); give the run dir itself: --resume=<outdir>/<NNNNN-...>')
    if os.path.isdir(resume):
        state = latest_state(resume)
        if state is None:
            raise FileNotFoundError(f'--resume: run dir "{resume}" contains no training-state-*.pt')
        return dict(kind='state', path=state, run_dir=resume)
    if not os.path.isfile(resume):
        raise FileNotFoundError(f'--resume: training state "{resume}" does not exist')
    return dict(kind='state', path=resume, run_dir=os.path.dirname(os.path.abspath(resume)))

#----------------------------------------------------------------------------
# Saving and loading.

def cpu_state_dict(module):
    return {name: t.detach().cpu().clone() for name, t in module.state_dict().items()}

def _to_cpu(obj):
    """Optimiser state dicts with every tensor moved to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj

def save_state(path, state):
    """Write a state dict (see loop_state.training_state) atomically; returns the path written."""
    state = dict(_to_cpu(state), version=STATE_VERSION)
    return dnnlib.util.atomic_write(path, lambda f: torch.save(state, f))

def load_state(path, mmap=False):
    """Read a training state without executing code (weights_only); mmap=True leaves the tensors on disk (a check)."""
    if not zipfile.is_zipfile(path): # what torch.save writes; torch.load's own message would be about mmap or pickle
        raise StateError(f'Cannot read training state "{path}": it is no file written by torch.save')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True, mmap=mmap)
    except Exception as err:
        raise StateError(f'Cannot read training state "{path}": {err}') from err
    if not isinstance(state, dict) or state.get('version') not in READABLE_VERSIONS:
        raise StateError(f'"{path}" is not a training state of version {" or ".join(map(str, READABLE_VERSIONS))}')
    return state

def load_pickled_weights(modules, data, path):
    """Copy the weights of a network pickle's `data` into `modules` ({'G': G, ...}), with an error that says which
    network does not fit (train.py builds them in the pickle's shape, but not at its resolution)."""
    for name, module in modules.items():
        try:
            misc.copy_params_and_buffers(data[name], module, require_all=False)
        except ValueError as err:
            raise StateError(f'The {name} of "{path}" does not fit the configured network (resume with the options of '
                             f'the run that wrote it): {err}') from err

def load_module_state(module, state_dict, what):
    """load_state_dict with an error that says which network does not fit the state."""
    try:
        module.load_state_dict(state_dict)
    except RuntimeError as err:
        raise StateError(f'The {what} of the training state does not match the configured network '
                         f'(resume with the options of the original run): {err}') from err

#----------------------------------------------------------------------------
