"""Choosing between an op's fast GPU path and its pure-PyTorch reference.

A fast path that cannot import, compile or run must never stop a user: its first failure is reported with ONE
warning per op and process, and the op uses the reference from then on.
"""

import contextlib
import warnings
import torch

#----------------------------------------------------------------------------

FAST_DTYPES = (torch.float32, torch.float16, torch.bfloat16)  # the kernels compute in fp32 registers

_disabled = dict()  # op name -> exception that turned its fast path off
_probed = set()     # (op name, key) of fast-path configurations already checked against the reference

def check_impl(impl):
    if impl not in ('cuda', 'ref'):
        raise ValueError(f"impl must be 'cuda' or 'ref', got {impl!r}")

def on_fast_device(x):
    return x.is_cuda

def kernel_device(x):
    """Context making x's GPU the current one for a kernel launch; nothing for the CPU tensors that Triton's
    interpreter (TRITON_INTERPRET=1) runs kernels on, which lets the tests check the kernels without a GPU."""
    return torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext()

def wants_fast(name, impl, x, min_bytes=0):
    """True if `name` should try its fast path for tensor `x`. Under torch.compile the reference is used: inductor
    fuses the plain ops itself and would have to break the graph at a hand-written kernel. Below `min_bytes` the
    reference is used too: there the run time is the CPU's launch overhead, which is higher for a Triton kernel."""
    check_impl(impl)
    return impl == 'cuda' and on_fast_device(x) and x.dtype in FAST_DTYPES and x.numel() > 0 and \
        x.numel() * x.element_size() >= min_bytes and name not in _disabled and not torch.compiler.is_compiling()

def disable(name, err):
    if name not in _disabled:
        _disabled[name] = err
        warnings.warn(f'{name}: the fast GPU path failed ({type(err).__name__}: {err}); '
                      f'falling back to the slower pure-PyTorch reference for the rest of this process.',
                      RuntimeWarning, stacklevel=3)

def fallbacks():
    """One line naming every op whose fast path has fallen back in this process, or '' if none: for benchmarks, whose
    figures would otherwise silently be the reference's."""
    if not _disabled:
        return ''
    return 'WARNING: fast paths fell back to the reference: ' + '; '.join(
        f'{name} ({type(err).__name__}: {err})' for name, err in _disabled.items())

#----------------------------------------------------------------------------

def check_close(fast, ref, what, tol=0.02):
    """For probes: raise if any of the fast path's results is further from the reference's than tol times the
    reference's largest magnitude (plus 1e-3); `what` names the configuration in the message."""
    for a, b in zip(fast, ref):
        if not (a - b).abs().max() <= tol * b.abs().max() + 1e-3:
            raise RuntimeError(f'self-check failed for {what}: fast path and reference differ')

def call(name, impl, x, fast, ref, probe=None, probe_key=None, min_bytes=0):
    """Return fast() if the fast path is wanted and works, else ref(). `probe(key)`, run once per key before the first
    fast call, exercises the fast path's backward passes too (whose failures would otherwise surface only later,
    outside this try block) and raises if they fail or disagree with the reference."""
    if wants_fast(name, impl, x, min_bytes):
        checked = (name, probe_key) # ops may choose the same keys (device, dtype)
        try:
            if probe is not None and checked not in _probed:
                # Marked before the probe runs: a fast path whose backward calls the op again (reflect_warp's double
                # backward) reaches this function from inside the probe, and must then take the fast path that the
                # probe is checking rather than start the probe again. A failed probe disables the whole op; one
                # that ran out of memory is run again at the next call, as before the mark.
                _probed.add(checked)
                try:
                    # The probe differentiates, whatever mode the caller is in (metrics run under no_grad, autocast).
                    with torch.inference_mode(False), torch.enable_grad(), torch.autocast(x.device.type, enabled=False):
                        probe(probe_key)
                except BaseException:
                    _probed.discard(checked)
                    raise
            return fast()
        except torch.cuda.OutOfMemoryError:
            raise
        except Exception as err: # pylint: disable=broad-except
            disable(name, err)
    return ref()

#----------------------------------------------------------------------------
