"""Tests for dnnlib: EasyDict, Logger, name lookup, time formatting, open_url and its cache."""

import functools
import http.server
import os
import pickle
import sys
import threading

import pytest

import dnnlib
from dnnlib import util

#----------------------------------------------------------------------------

def test_easydict():
    assert dnnlib.EasyDict is util.EasyDict # original pickles name dnnlib.util.EasyDict
    d = dnnlib.EasyDict(a=1)
    d.b = 2
    assert d.a == 1 and d['b'] == 2
    del d.a
    assert 'a' not in d
    with pytest.raises(AttributeError):
        d.missing
    assert pickle.loads(pickle.dumps(d)) == d and type(pickle.loads(pickle.dumps(d))) is dnnlib.EasyDict

def test_format_time():
    assert util.format_time(5) == '5s'
    assert util.format_time(7 * 60 + 3) == '7m 03s'
    assert util.format_time(3723) == '1h 02m 03s'
    assert util.format_time(2 * 86400 + 3 * 3600 + 4 * 60 + 5) == '2d 03h 04m'

def test_construct_by_name():
    od = util.construct_class_by_name([('x', 1)], class_name='collections.OrderedDict')
    assert type(od).__name__ == 'OrderedDict' and od['x'] == 1
    assert util.call_func_by_name(16, func_name='math.sqrt') == 4
    assert util.get_obj_by_name('os.path.join') is os.path.join
    with pytest.raises(AttributeError, match='no attribute path'):
        util.get_obj_by_name('os.path.no_such_function')
    with pytest.raises(ImportError, match='no_such_module_xyz'):
        util.get_obj_by_name('no_such_module_xyz.Thing')

def test_logger_tees_and_restores(tmp_path, capsys):
    log_file = tmp_path / 'log.txt'
    stdout, stderr = sys.stdout, sys.stderr
    with util.Logger(str(log_file)):
        print('to stdout')
        print('to stderr', file=sys.stderr)
    assert sys.stdout is stdout and sys.stderr is stderr
    print('after close')
    assert log_file.read_text() == 'to stdout\nto stderr\n'
    captured = capsys.readouterr()
    assert captured.out == 'to stdout\nafter close\n' and captured.err == 'to stderr\n'

#----------------------------------------------------------------------------

def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv('DNNLIB_CACHE_DIR', str(tmp_path))
    assert util.make_cache_dir_path('downloads', 'x') == os.path.join(str(tmp_path), 'downloads', 'x')
    monkeypatch.delenv('DNNLIB_CACHE_DIR')
    assert util.make_cache_dir_path() == os.path.join(os.path.expanduser('~'), '.cache', 'dnnlib')

def test_is_url():
    assert util.is_url('https://host/a.pkl') and util.is_url('http://host:8000/a')
    assert not util.is_url('/local/a.pkl') and not util.is_url('C:\\a.pkl') and not util.is_url(None)
    assert not util.is_url('file:///a.pkl') and util.is_url('file:///a.pkl', allow_file_urls=True)

def test_open_local(tmp_path):
    path = tmp_path / 'data.bin'
    path.write_bytes(b'abc')
    with util.open_url(str(path)) as f:
        assert f.read() == b'abc'
    with util.open_url(path.as_uri()) as f:
        assert f.read() == b'abc'
    assert util.open_url(path.as_uri(), return_filename=True) == str(path)

@pytest.fixture
def http_root(tmp_path):
    """A folder served over http on a free local port: (folder, base URL)."""
    root = tmp_path / 'served'
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True).start()
    yield root, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()

def test_open_url_downloads_once(http_root, tmp_path):
    root, base = http_root
    (root / 'net.pkl').write_bytes(b'payload')
    cache_dir = tmp_path / 'cache'
    url = f'{base}/net.pkl'
    with util.open_url(url, cache_dir=str(cache_dir), verbose=False) as f:
        assert f.read() == b'payload'
    cached = util.open_url(url, cache_dir=str(cache_dir), return_filename=True)
    assert cached == util.url_cache_file(url, str(cache_dir)) and os.listdir(cache_dir) == [os.path.basename(cached)]
    (root / 'net.pkl').unlink() # now served no more: the cache must answer
    with util.open_url(url, cache_dir=str(cache_dir)) as f:
        assert f.read() == b'payload'
    (root / 'other.bin').write_bytes(b'uncached')
    uncached = util.open_url(f'{base}/other.bin', cache_dir=str(cache_dir), cache=False, verbose=False)
    assert uncached.read() == b'uncached'
    with pytest.raises(util.DownloadError, match='404'):
        util.open_url(f'{base}/missing.pkl', cache_dir=str(cache_dir), verbose=False)
    assert os.listdir(cache_dir) == [os.path.basename(cached)] # no partial file left behind

def test_open_url_offline_names_cache_path(monkeypatch, tmp_path):
    monkeypatch.setenv('DNNLIB_CACHE_DIR', str(tmp_path))
    url = 'https://example.invalid/metrics/inception.pkl'
    with pytest.raises(util.DownloadError) as info:
        util.open_url(url, num_attempts=1, verbose=False)
    assert url in str(info.value) and util.url_cache_file(url) in str(info.value)
    assert util.url_cache_file(url).startswith(str(tmp_path))

#----------------------------------------------------------------------------

def test_jsonl_append_after_a_cut_line(tmp_path):
    path = tmp_path / 'stats.jsonl'
    path.write_bytes(b'{"a": 1}\n{"b": 2, "cut sh') # a kill in the middle of a write
    with dnnlib.util.open_jsonl_for_append(str(path)) as f:
        f.write(b'{"c": 3}\n')
    lines = path.read_bytes().decode().splitlines()
    assert lines == ['{"a": 1}', '{"b": 2, "cut sh', '{"c": 3}']
    with dnnlib.util.open_jsonl_for_append(str(tmp_path / 'new.jsonl')) as f: # a new file gets no leading newline
        f.write(b'{}\n')
    assert (tmp_path / 'new.jsonl').read_bytes() == b'{}\n'

def test_atomic_write_never_replaces_a_name_taken_meanwhile(tmp_path):
    # Another process creates the target while we write: our file goes to the next free name, theirs stays.
    target = tmp_path / 'out.json'
    def write(f):
        target.write_bytes(b'theirs')
        f.write(b'ours')
    written = util.atomic_write(str(target), write)
    assert target.read_bytes() == b'theirs'
    assert written == str(tmp_path / 'out-r1.json') and open(written, 'rb').read() == b'ours'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out-r1.json', 'out.json'] # no temp file left
    util.atomic_write(str(target), lambda f: f.write(b'new'), overwrite=True)
    assert target.read_bytes() == b'new'

@pytest.mark.parametrize('hard_links', [True, False])
def test_move_into_place(tmp_path, monkeypatch, hard_links):
    if not hard_links:
        def no_links(*_args):
            raise PermissionError('hard links not supported')
        monkeypatch.setattr(os, 'link', no_links)
    src, dst = tmp_path / 'a.partial', tmp_path / 'a.zip'
    src.write_bytes(b'1')
    dst.write_bytes(b'2')
    with pytest.raises(FileExistsError):
        util.move_into_place(str(src), str(dst))
    assert src.read_bytes() == b'1' and dst.read_bytes() == b'2'
    dst.unlink()
    util.move_into_place(str(src), str(dst))
    assert not src.exists() and dst.read_bytes() == b'1'
