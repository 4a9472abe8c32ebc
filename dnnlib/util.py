"""Framework-free helpers: attribute dicts, stdout/stderr teeing, name lookup, time formatting, cached URL access,
atomic file output, process pools."""

import collections
import concurrent.futures
import errno
import hashlib
import importlib
import io
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

#----------------------------------------------------------------------------
# Dict with attribute access; network pickles reference it as dnnlib.util.EasyDict.

class EasyDict(dict):
    """A dict whose keys can also be read and written as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

#----------------------------------------------------------------------------
# Tee stdout and stderr into a log file.

class _TeeStream:
    """Stands in for sys.stdout or sys.stderr: writes go to the original stream and to the logger's file."""

    def __init__(self, stream, logger):
        self.stream = stream
        self.logger = logger

    def write(self, text):
        self.logger.write_file(text)
        self.stream.write(text)
        if self.logger.should_flush:
            self.flush()

    def flush(self):
        self.logger.flush_file()
        self.stream.flush()

    def __getattr__(self, name): # isatty(), encoding, fileno() ... of the original stream
        return getattr(self.stream, name)

class Logger:
    """Copies everything printed to stdout and stderr into `file_name` (if given) until close()."""

    def __init__(self, file_name=None, file_mode='w', should_flush=True):
        self.file = open(file_name, file_mode, encoding='utf-8') if file_name is not None else None
        self.should_flush = should_flush
        self.stdout = sys.stdout
        self.stderr = sys.stderr
        sys.stdout = _TeeStream(self.stdout, self)
        sys.stderr = _TeeStream(self.stderr, self)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def write(self, text):
        sys.stdout.write(text)

    def flush(self):
        sys.stdout.flush()

    def write_file(self, text):
        if self.file is not None and text:
            self.file.write(text)

    def flush_file(self):
        if self.file is not None:
            self.file.flush()

    def close(self):
        """Restore the original streams (unless someone replaced ours meanwhile) and close the file."""
        if isinstance(sys.stdout, _TeeStream) and sys.stdout.logger is self:
            sys.stdout = self.stdout
        if isinstance(sys.stderr, _TeeStream) and sys.stderr.logger is self:
            sys.stderr = self.stderr
        if self.file is not None:
            self.file.close()
            self.file = None

#----------------------------------------------------------------------------

def format_time(seconds):
    """Human-readable duration: '42s', '5m 07s', '1h 02m 03s', '2d 03h 04m'."""
    s = int(round(seconds))
    if s < 60:
        return f'{s}s'
    if s < 60 * 60:
        return f'{s // 60}m {s % 60:02d}s'
    if s < 24 * 60 * 60:
        return f'{s // 3600}h {s // 60 % 60:02d}m {s % 60:02d}s'
    return f'{s // 86400}d {s // 3600 % 24:02d}h {s // 60 % 60:02d}m'

#----------------------------------------------------------------------------
# Look up Python objects by their dotted name, e.g. 'training.networks_stylegan2.Generator'.

def get_obj_by_name(name):
    """Import the longest importable module prefix of `name` and follow the rest as attributes."""
    parts = name.split('.')
    for split in range(len(parts), 0, -1):
        module_name = '.'.join(parts[:split])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name or module_name.startswith(f'{err.name}.'): # not a module: try a shorter prefix
                continue
            raise # the module exists but one of its own imports is missing
        for attr in parts[split:]:
            if not hasattr(obj, attr):
                raise AttributeError(f'Cannot find "{name}": module "{module_name}" has no attribute path '
                    f'"{".".join(parts[split:])}"')
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f'Cannot find "{name}": no prefix of it is an importable module')

def call_func_by_name(*args, func_name=None, **kwargs):
    """Call the function (or class) named `func_name` with the given arguments."""
    if func_name is None:
        raise ValueError('call_func_by_name() needs func_name')
    func = get_obj_by_name(func_name)
    if not callable(func):
        raise TypeError(f'"{func_name}" is not callable')
    return func(*args, **kwargs)

def construct_class_by_name(*args, class_name=None, **kwargs):
    """Instantiate the class named `class_name` with the given arguments."""
    if class_name is None:
        raise ValueError('construct_class_by_name() needs class_name')
    return call_func_by_name(*args, func_name=class_name, **kwargs)

#----------------------------------------------------------------------------
# URLs and the download cache.

class DownloadError(OSError):
    """A URL could not be fetched and no cached copy exists."""

def make_cache_dir_path(*paths):
    """Path below the cache root: $DNNLIB_CACHE_DIR if set, else ~/.cache/dnnlib (temp dir without a home)."""
    root = os.environ.get('DNNLIB_CACHE_DIR')
    if not root:
        home = os.path.expanduser('~')
        root = os.path.join(tempfile.gettempdir() if home == '~' else home, '.cache', 'dnnlib')
    return os.path.join(root, *paths)

def is_url(obj, allow_file_urls=False):
    """True for 'scheme://host/...' strings; file:// URLs count only with allow_file_urls."""
    if not isinstance(obj, str) or '://' not in obj:
        return False
    if obj.startswith('file://'):
        return allow_file_urls
    parsed = urllib.parse.urlparse(obj)
    return bool(parsed.scheme and parsed.netloc)

def url_cache_file(url, cache_dir=None):
    """Where open_url() keeps (and looks for) its copy of `url`."""
    base = re.sub(r'[^0-9A-Za-z._-]', '_', os.path.basename(urllib.parse.urlparse(url).path))
    name = hashlib.md5(url.encode('utf-8')).hexdigest() + ('_' + base if base else '')
    return os.path.join(cache_dir or make_cache_dir_path('downloads'), name)

def _download(url, dst, num_attempts, verbose, cache_file):
    """Copy the body of `url` into the binary file object `dst`, retrying transient failures."""
    for attempt in range(num_attempts):
        if verbose:
            print(f'Downloading {url} ...', end='', flush=True)
        try:
            dst.seek(0)
            dst.truncate()
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, dst)
            if verbose:
                print(' done', flush=True)
            return
        except (urllib.error.URLError, OSError) as err:
            if verbose:
                print(' failed', flush=True)
            permanent = isinstance(err, urllib.error.HTTPError) and err.code < 500
            offline = isinstance(getattr(err, 'reason', None), socket.gaierror)
            if permanent or offline or attempt == num_attempts - 1:
                hint = f'. If this machine is offline, fetch the file elsewhere and put it at {cache_file}'
                raise DownloadError(f'Cannot download {url} ({err}){hint if cache_file else ""}') from err
            time.sleep(min(attempt + 1, 5))

def open_url(url, cache_dir=None, num_attempts=10, verbose=True, return_filename=False, cache=True):
    """Open an http(s) URL, file:// URL or local path for binary reading (or return its local file name).

    Downloads are cached under `cache_dir` (default make_cache_dir_path('downloads')); a cached copy is used
    without touching the network, so offline machines work once the file is placed there.
    """
    if num_attempts < 1:
        raise ValueError('num_attempts must be at least 1')
    if not is_url(url, allow_file_urls=True):
        return url if return_filename else open(url, 'rb')
    if url.startswith('file://'):
        path = urllib.request.url2pathname(urllib.parse.urlparse(url).path)
        return path if return_filename else open(path, 'rb')
    if return_filename and not cache:
        raise ValueError('open_url(return_filename=True) needs cache=True')

    cache_file = url_cache_file(url, cache_dir)
    if cache and os.path.isfile(cache_file):
        return cache_file if return_filename else open(cache_file, 'rb')

    if not cache:
        data = io.BytesIO()
        _download(url, data, num_attempts, verbose, cache_file=None)
        data.seek(0)
        return data
    atomic_write(cache_file, lambda f: _download(url, f, num_attempts, verbose, cache_file), overwrite=True) # a partial download never looks cached
    return cache_file if return_filename else open(cache_file, 'rb')

#----------------------------------------------------------------------------
# Atomic, never-overwriting file output.

_UMASK = os.umask(0o022) # Read once: mkstemp makes private files, and written files should get the usual permissions.
os.umask(_UMASK)

def env_paths(var):
    """The folders listed in environment variable `var` (os.pathsep-separated), empty entries dropped."""
    return [p for p in os.environ.get(var, '').split(os.pathsep) if p]

def find_below(root, name, folders=False, limit=20000):
    """Paths of files (and folders, if `folders`) called `name` anywhere below `root`, in a sorted walk that skips
    hidden folders and gives up after `limit` files, so that a mistaken root like / cannot hang a tool."""
    seen = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        if name in files or (folders and name in dirs):
            yield os.path.join(folder, name)
        seen += len(files)
        if seen > limit:
            return

def unique_path(path):
    """`path` if free, else the first free `<stem>-r<k><ext>`."""
    stem, ext = os.path.splitext(path)
    k = 0
    while os.path.exists(path):
        k += 1
        path = f'{stem}-r{k}{ext}'
    return path

def move_into_place(src, dst):
    """Rename src to dst unless dst exists (FileExistsError), with no window in which another process's dst could be
    replaced: a hard link claims the name atomically. File systems without hard links get an exists-check first."""
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError: # no hard links here (some network and FAT file systems)
        if os.path.exists(dst):
            raise FileExistsError(errno.EEXIST, 'File exists', dst) from None
        os.replace(src, dst)
        return
    os.remove(src)

def atomic_write(path, write_fn, overwrite=False):
    """Call write_fn(binary file) on a temp file in the target folder, then rename it into place.

    A crash leaves either the old state of the folder or the complete file, never a partial one. Unless `overwrite`,
    a taken name (also one taken while writing) is replaced by unique_path(path). Returns the path written.
    """
    path = path if overwrite else unique_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-', suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, 'wb') as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        if overwrite:
            os.replace(tmp, path)
        else:
            while True:
                try:
                    move_into_place(tmp, path)
                    break
                except FileExistsError: # taken while we wrote: the next free name
                    path = unique_path(path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path

def open_jsonl_for_append(path):
    """Binary append handle of a JSON-lines file. If a kill cut its last line short, a newline first, so that the
    broken line stays alone and the next record starts on a line of its own."""
    f = open(path, 'a+b')
    if f.tell() > 0:
        f.seek(-1, os.SEEK_END)
        if f.read(1) != b'\n':
            f.write(b'\n')
    return f

def write_json(path, obj, overwrite=False):
    """atomic_write() of obj as indented UTF-8 JSON."""
    return atomic_write(path, lambda f: f.write((json.dumps(obj, indent=2) + '\n').encode('utf-8')), overwrite=overwrite)

#----------------------------------------------------------------------------
# Worker processes.

def _worker_init(parent_pid):
    """Pool worker setup: Ctrl-C is the parent's to handle, and a worker whose parent was killed exits (instead of
    waiting for work forever, which also keeps multiprocessing's resource tracker alive)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    def watch():
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()

def process_pool(workers):
    """A ProcessPoolExecutor of fresh ('spawn') processes: the parent may hold threads (torch, tqdm) that make fork
    unsafe. Its workers leave Ctrl-C to the parent and exit when the parent dies."""
    return concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('spawn'),
        initializer=_worker_init, initargs=(os.getpid(),))

def ordered_map(fn, jobs, workers):
    """Yields fn(*job) for each job, in order: in this process if workers <= 1, else in a process_pool with at most
    2 * workers jobs in flight (so that a consumer that stops early, e.g. on cancel, stops the work soon). Closing the
    generator shuts the pool down, dropping the jobs not started."""
    jobs = list(jobs)
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield fn(*job)
        return
    pool = process_pool(min(workers, len(jobs)))
    try:
        pending = collections.deque()
        for job in jobs:
            pending.append(pool.submit(fn, *job))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(cancel_futures=True)

#----------------------------------------------------------------------------
