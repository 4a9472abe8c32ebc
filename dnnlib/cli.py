"""Expected failures of the command-line tools as one-line messages, so that a traceback always means a bug.

Every click CLI of the toolkit puts @cli.user_errors() between @click.command (with its options) and the function:

    import click
    from dnnlib import cli

    @click.command()
    @click.option('--network', required=True)
    @click.option('--outdir', required=True)
    @cli.user_errors(ValueError)        # optional: more exception types that this tool's library raises for bad input
    def main(network, outdir):
        cli.check_folder(outdir, '--outdir')           # a file where a folder belongs: one line, exit status 1
        G = safe_pickle.load_network_pkl(network).G_ema # missing, unreadable or refused pickle: one line, status 1
        if G.c_dim == 0:
            raise cli.UserError(f'{network}: an unconditional generator has no time to vary')

What the decorator does:
  - UserError (library code raises it, or a class that also derives from it, for any failure the user can fix:
    DatasetError, NetworkPickleError, UnsafePickleError, DetectorUnavailableError, ...), OSError (a missing file, a
    file where a folder belongs, a full disk, a failed download) and the extra types become click's
    `Error: <message>` on stderr with exit status 1. OSErrors read `<path>: <reason>`.
  - Ctrl-C (KeyboardInterrupt) prints `Interrupted.` and exits with status 130.
  - On any failure, child processes started through multiprocessing (DataLoader workers, process pools, spawned
    ranks) are killed first: they may ignore SIGTERM or wait for work, and the process must end, not hang.
  - With the environment variable TLGAN_TRACEBACK=1 expected failures show their traceback too (for bug reports).
Other exceptions keep their traceback: they are bugs. click's usage errors keep exit status 2.
"""

import functools
import multiprocessing
import os
import signal
import threading

import click

TRACEBACK_ENV = 'TLGAN_TRACEBACK'

#----------------------------------------------------------------------------

class UserError(Exception):
    """A failure that the user can fix (bad input, missing file or network weights); CLIs print only its message."""

def check_folder(path, option):
    """UserError unless `path` is a folder or does not exist yet (`option` names it in the message)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f'{option}: {path} is a file, not a folder')

def message(err):
    """One line (or a few, if the message has them) describing an expected failure."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        target = f' -> {err.filename2}' if err.filename2 is not None else ''
        return f'{err.filename}{target}: {err.strerror}'
    text = str(err)
    if '\nOriginal Traceback' in text: # re-raised from a DataLoader worker: keep the worker's own message
        text = text.rstrip().rsplit('\n', 1)[-1].split(': ', 1)[-1]
    return text

def end_child_processes(timeout=5):
    """Kill the processes this one started through multiprocessing and wait for them (at most `timeout` s each).
    First the default SIGCHLD action: PyTorch's DataLoader handler would turn their end into another error."""
    children = multiprocessing.active_children()
    if children and hasattr(signal, 'SIGCHLD') and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for child in children:
        child.kill()
        child.join(timeout)

#----------------------------------------------------------------------------

def user_errors(*extra_types):
    """Decorator for a click command's function: see the module docstring."""
    expected = (UserError, OSError) + extra_types
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except BaseException as err:
                end_child_processes()
                if isinstance(err, KeyboardInterrupt):
                    click.echo('Interrupted.', err=True)
                    raise click.exceptions.Exit(130) from None
                if isinstance(err, click.ClickException) or not isinstance(err, expected) or os.environ.get(TRACEBACK_ENV):
                    raise
                raise click.ClickException(message(err)) from None
        return wrapper
    return decorate

#----------------------------------------------------------------------------
