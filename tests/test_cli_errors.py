"""The bad-input catalogue: every CLI turns an expected failure into one `Error:` line with a non-zero exit status,
leaves nothing behind and never hangs (dnnlib.cli), and the fixes that came with it (stop status, left-over workers,
the demo script). The CLIs run in subprocesses, as a user runs them."""

import os
import pickle
import signal
import subprocess
import sys
import time
import types
import zipfile

import click
import psutil
import pytest
from click.testing import CliRunner

from metric_helpers import offline
from training_helpers import ROOT, TINY, make_tiny_dataset, run_dirs, train_env
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
from dnnlib import cli
from training import checkpoint
from training import networks_stylegan2

#----------------------------------------------------------------------------

def run_cli(args, env=None, timeout=120, **kwargs):
    """Run a CLI of the repository (script path and arguments) in a fresh Python process."""
    return subprocess.run([sys.executable] + args, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=dict(train_env(), **(env or {})), **kwargs)

def invoke(main, args):
    """Run a click command in this process, as run_cli() would in another one (a bug would end it with an exception)."""
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return types.SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)

def assert_one_error(proc, text, status=1):
    """Exit status `status`, no traceback, and exactly one 'Error:' line, which contains `text`."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == status and 'Traceback' not in output, output[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith('Error:')]
    assert len(errors) == 1 and text in errors[0], proc.stderr[-3000:]
    return errors[0]

class Evil:
    """Pickles into a call of os.system: the safe loader must refuse it before anything runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f'echo pwned > {self.marker}',))

@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A tiny dataset, a text file, a refused pickle (and the file it would create), a snapshot of other networks and
    a pickle with G_ema only."""
    folder = tmp_path_factory.mktemp('files')
    (folder / 'notes.txt').write_text('not a pickle\n' * 20)
    with open(folder / 'evil.pkl', 'wb') as f:
        pickle.dump(dict(G=Evil(folder / 'pwned'), D=0, G_ema=0), f)
    kwargs = dict(c_dim=1, img_resolution=32, img_channels=3, channel_base=256, channel_max=16, # TINY has cmax 32
                  cond_args=dict(type='fourier', f_manual=[2.0, 730.0], include_lin=True, num_days=730))
    G = networks_stylegan2.Generator(z_dim=512, w_dim=512, mapping_kwargs=dict(num_layers=2), **kwargs)
    with open(folder / 'other.pkl', 'wb') as f:
        pickle.dump(dict(G=G, D=networks_stylegan2.Discriminator(**kwargs), G_ema=G), f)
    with open(folder / 'g_ema.pkl', 'wb') as f:
        pickle.dump(dict(G_ema=G), f)
    return dict(data=make_tiny_dataset(folder / 'tiny_32x32_730hz.zip'), text=str(folder / 'notes.txt'),
                evil=str(folder / 'evil.pkl'), pwned=folder / 'pwned', other=str(folder / 'other.pkl'),
                g_ema=str(folder / 'g_ema.pkl'))

#----------------------------------------------------------------------------
# dnnlib.cli

def test_user_errors_decorator(tmp_path):
    @click.command()
    @click.argument('what')
    @cli.user_errors(KeyError)
    def main(what):
        if what == 'user':
            raise cli.UserError('--x: something the user can fix')
        if what == 'missing':
            open(tmp_path / 'missing.txt', encoding='utf-8')
        if what == 'extra':
            raise KeyError('a declared extra type')
        if what == 'interrupt':
            raise KeyboardInterrupt
        if what == 'worker': # as a DataLoader re-raises a worker's exception
            raise cli.UserError('Caught DatasetError in DataLoader worker process 0.\nOriginal Traceback (most recent call '
                                'last):\n  File "x.py", line 1\ntraining.dataset.DatasetError: Cannot decode image a.png')
        raise RuntimeError('a bug')
    cases = [('user', 1, 'Error: --x: something the user can fix'), ('extra', 1, "Error: 'a declared extra type'"),
             ('missing', 1, f'Error: {tmp_path / "missing.txt"}: No such file or directory'), ('interrupt', 130, 'Interrupted.'),
             ('worker', 1, 'Error: Cannot decode image a.png')]
    for what, status, line in cases:
        result = CliRunner().invoke(main, [what])
        assert result.exit_code == status and result.output.strip() == line, (what, result.output)
    result = CliRunner().invoke(main, ['bug'])
    assert isinstance(result.exception, RuntimeError) # a bug keeps its traceback
    result = CliRunner(env={cli.TRACEBACK_ENV: '1'}).invoke(main, ['user'])
    assert isinstance(result.exception, cli.UserError)

def test_failure_ends_child_processes_that_ignore_sigterm(tmp_path):
    code = ('import multiprocessing, signal, sys, time; sys.path.insert(0, sys.argv[1]); from dnnlib import cli\n'
            'def child(): signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)\n'
            'def main():\n'
            '    p = multiprocessing.get_context("spawn").Process(target=child, daemon=True); p.start(); time.sleep(1)\n'
            '    raise cli.UserError("failed")\n'
            'if __name__ == "__main__": cli.user_errors()(main)()\n')
    script = tmp_path / 'child.py' # spawn imports __main__ from a file
    script.write_text(code)
    start = time.time()
    proc = run_cli([str(script), ROOT], timeout=60)
    assert proc.returncode == 1 and time.time() - start < 30, proc.stderr # multiprocessing's exit handler would wait

def test_pool_workers_exit_with_a_killed_parent():
    code = ('import os, sys, time; sys.path.insert(0, sys.argv[1]); import dnnlib\n'
            'pool = dnnlib.util.process_pool(2)\n'
            'print(sorted({f.result() for f in [pool.submit(os.getpid) for _ in range(8)]}), flush=True)\n'
            'time.sleep(60)\n')
    proc = subprocess.Popen([sys.executable, '-c', code, ROOT], stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    children = psutil.Process(proc.pid).children(recursive=True) # the workers and multiprocessing's resource tracker
    proc.kill()
    proc.wait()
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert children and not alive, alive

#----------------------------------------------------------------------------
# train.py

def test_train_refuses_bad_inputs_before_writing(tmp_path, monkeypatch, files):
    import train # pylint: disable=import-outside-toplevel
    outdir = tmp_path / 'runs'
    (tmp_path / 'a_file').write_text('x')
    (tmp_path / 'state.pt').write_text('not a training state') # its run dir would be tmp_path
    monkeypatch.setenv('TLGAN_INCEPTION_PATH', '/no/such/inception.pkl')
    base = ['train.py', f'--data={files["data"]}', '--kimg=0.02'] + TINY
    cases = [ # (in a subprocess?, options, expected in the error line, exit status)
        (True, [f'--resume={files["text"]}', '--workers=1'], f'--resume: {files["text"]}: not a network pickle', 1),
        (True, ['--metrics=fid50k_full,kid1k_debug,var_ratio_mc_1k_debug'], 'TLGAN_INCEPTION_PATH=/no/such/inception.pkl does not exist', 1),
        (False, [f'--resume={files["evil"]}'], 'Refusing to load "posix.system"', 1),
        (False, [f'--resume={files["g_ema"]}'], f'--resume: {files["g_ema"]} has no G, D (it holds G_ema)', 1),
        (False, [f'--outdir={tmp_path / "a_file"}'], f'--outdir: {tmp_path / "a_file"} is a file, not a folder', 1),
        (False, [f'--resume={tmp_path / "nothing.pkl"}'], f'Error: --resume: "{tmp_path / "nothing.pkl"}" is neither', 2),
        (False, [f'--resume={tmp_path / "state.pt"}'], 'Cannot read training state', 1),
    ]
    lines = []
    for subprocess_run, options, text, status in cases:
        args = base + [f'--outdir={outdir}'] + options
        lines.append(assert_one_error(run_cli(args) if subprocess_run else invoke(train.main, args[1:]), text, status))
        assert lines[-1].count('--resume') <= 1 and not os.path.exists(outdir), (options, lines[-1])
    assert '--metrics=fid50k_full,kid1k_debug:' in lines[1] and '--metrics=none' in lines[1]
    assert not files['pwned'].exists() and sorted(os.listdir(tmp_path)) == ['a_file', 'state.pt']

def test_train_names_the_ways_to_a_missing_feature_network(tmp_path, monkeypatch, files):
    import train # pylint: disable=import-outside-toplevel
    offline(monkeypatch)
    monkeypatch.setenv('DNNLIB_CACHE_DIR', str(tmp_path))
    monkeypatch.delenv('TLGAN_INCEPTION_PATH', raising=False)
    with pytest.raises(cli.UserError) as err:
        train.parse_metrics('var_ratio_mc_1k_debug,fid50k_full', dict(path=files['data']))
    message = str(err.value)
    for text in ['--metrics=fid50k_full:', "pip install -e '.[metrics]'", 'TLGAN_INCEPTION_PATH', '--metrics=none']:
        assert text in message, text

def test_a_failure_after_the_workers_started_ends_the_process(tmp_path, files):
    # All images but the first are broken: the run fails once its data loader runs, whose worker ignores SIGTERM.
    with zipfile.ZipFile(files['data']) as source, zipfile.ZipFile(tmp_path / 'broken_32x32_730hz.zip', 'w') as broken:
        for k, name in enumerate(source.namelist()):
            broken.writestr(name, source.read(name) if k == 0 or name == 'dataset.json' else b'broken')
    args = ['train.py', f'--outdir={tmp_path}', f'--data={tmp_path / "broken_32x32_730hz.zip"}', '--workers=1']
    proc = subprocess.Popen([sys.executable] + args + [a for a in TINY if a != '--workers=0'], cwd=ROOT, env=train_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        proc.stdout, proc.stderr = proc.communicate(timeout=60)
    finally:
        left = [p for p in psutil.process_iter() if _session_of(p) == proc.pid] # its session: it and its workers
        for process in left:
            process.kill()
    assert_one_error(proc, 'Cannot decode image 00000/img000000')
    assert not left, left

def _session_of(process):
    try:
        return os.getsid(process.pid)
    except OSError: # gone meanwhile
        return None

#----------------------------------------------------------------------------
# calc_metrics.py, scripts/time_grids.py, preproc/process_sequence.py

@pytest.mark.parametrize('tool', ['calc_metrics.py', 'scripts/time_grids.py'])
def test_network_pickle_tools(tmp_path, files, tool):
    import calc_metrics # pylint: disable=import-outside-toplevel
    import time_grids # pylint: disable=import-outside-toplevel
    (tmp_path / 'a_file').write_text('x')
    main = calc_metrics.main if tool == 'calc_metrics.py' else time_grids.main
    extra = ['--metrics=fid1k_debug'] if tool == 'calc_metrics.py' else [f'--outdir={tmp_path / "grids"}']
    assert_one_error(run_cli([tool, f'--network={files["text"]}'] + extra), f'{files["text"]}: not a network pickle')
    assert_one_error(invoke(main, [f'--network={files["evil"]}'] + extra), 'Refusing to load "posix.system"')
    if tool == 'calc_metrics.py':
        args, text = ['--inception=/no/such.pkl', f'--data={files["data"]}'], '--inception=/no/such.pkl does not exist'
    else:
        args, text = [f'--outdir={tmp_path / "a_file"}'], 'is a file, not a folder'
    assert_one_error(invoke(main, [f'--network={files["other"]}'] + args), text)
    assert not (tmp_path / 'grids').exists() and not files['pwned'].exists()

def test_export_into_a_file(tmp_path):
    (tmp_path / 'frames').mkdir()
    (tmp_path / 'out').write_text('keep me')
    proc = run_cli(['preproc/process_sequence.py', str(tmp_path / 'frames'), f'--export={tmp_path / "out"}'])
    assert_one_error(proc, f'--export: {tmp_path / "out"} is a file, not a folder')
    assert (tmp_path / 'out').read_text() == 'keep me'

#----------------------------------------------------------------------------
# Stopping: train.py's exit status, scripts/demo.sh.

def test_demo_script_reports_a_stop_and_continues_the_run(tmp_path):
    out = tmp_path / 'demo'
    (out / 'sequence').mkdir(parents=True)
    (out / 'sequence' / 'factors.json').write_text('{}') # the demo's sequence, datasets and re-renders exist: training only
    (out / 'data').mkdir()
    make_tiny_dataset(out / 'data' / 'demo_32x32_730hz.zip')
    make_tiny_dataset(out / 'data' / 'demo_128x128_730hz.zip')
    (out / 'rerender').mkdir()
    for name in ['stabilised_noon.mp4', 'grid_day_season.jpg', 'grid_day_season_real.jpg', 'strip_year.jpg']:
        (out / 'rerender' / name).write_text('made before')
    env = dict(train_env(), PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    demo = ['bash', 'scripts/demo.sh', str(out), '--snap=1'] + TINY

    # SIGTERM to train.py alone, after its first state: the script must not say "Done" or exit 0.
    proc = subprocess.Popen(demo + ['--kimg=5'], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (os.path.isdir(out / 'runs') and any(checkpoint.list_states(d) for d in run_dirs(out / 'runs'))):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.2)
    (trainer,) = [p for p in psutil.Process(proc.pid).children() if 'train.py' in ' '.join(p.cmdline())]
    trainer.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM and 'Done' not in stdout, stdout + stderr
    assert 'run the same command again to continue' in stderr

    # The same command with more options continues that run to the end.
    (run_dir,) = run_dirs(out / 'runs')
    state = checkpoint.load_state(checkpoint.latest_state(run_dir))
    proc = subprocess.run(demo + [f'--kimg={(state["cur_nimg"] + 8) / 1000}'], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0 and 'Continuing the demo run' in proc.stdout and 'Done.' in proc.stdout, proc.stderr[-3000:]
    assert run_dirs(out / 'runs') == [run_dir] and f'at {state["cur_nimg"] / 1000:.3f} kimg' in proc.stdout

#----------------------------------------------------------------------------
