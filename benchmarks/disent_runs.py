"""Controlled training runs for the disentanglement ablations of docs/TRAINING.md: every (configuration, seed) trains
train.py to the same kimg on the same dataset, then calc_metrics.py evaluates its last snapshot; one table row per
run and one per configuration (mean over seeds).

    python benchmarks/disent_runs.py --data=datasets/demo_128x128_730hz.zip --outdir=ablation \\
        --config orig=--trend-lr=1 --config default= --seeds=0,1 --kimg=70 --parallel=4 --time-limit=540

Runs are resumable: a run dir with a training state continues (train.py --resume=latest), a finished run is not
trained again and an evaluated one not evaluated again, so a sequence of short calls (a GPU lent for minutes at a
time) adds up to the whole experiment. --time-limit stops the training of this call (SIGTERM: each run saves a
state) so that the call ends in time; evaluation runs only for runs that reached --kimg. --parallel runs share the
GPUs round-robin without changing what each one trains (every step is seeded from the seed and the image counter, not
from the wall clock). With the graphed step one 128² run keeps an H100 busy: two side by side took 2.9 s/kimg each,
about the pace of one alone (1.4), so sharing saves start-ups, not time (docs/TRAINING.md).
"""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import click
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from training import checkpoint # pylint: disable=wrong-import-position

COLUMNS = ['err_hour', 'err_season_days', 'err_trend', 'leakage', 'z_weather', 'move_year_trend', 'move_lin_trend', 'fd']
STOP_GRACE_S = 60 # a stopped run finishes its step and writes a snapshot and a state

#----------------------------------------------------------------------------

def parse_configs(items, seeds):
    """['NAME[:SEEDS]=OPTIONS', ...] -> {NAME: ([options], [seeds])} in the given order; SEEDS default to `seeds`."""
    configs = {}
    for item in items:
        head, sep, opts = item.partition('=')
        name, _, own_seeds = head.partition(':')
        if not sep or not name or not name.replace('-', '').replace('_', '').isalnum():
            raise click.BadParameter(f'{item!r}: expected NAME[:SEEDS]=OPTIONS with NAME in letters, digits, - and _', param_hint='--config')
        configs[name] = (opts.split(), parse_seeds(own_seeds) if own_seeds else seeds)
    return configs

def parse_seeds(text):
    try:
        return [int(s) for s in text.split(',') if s.strip()]
    except ValueError:
        raise click.BadParameter(f'{text!r}: expected a comma list of integers', param_hint='seeds') from None

def all_runs(configs):
    """(name, seed) of every run, first seeds first, so that a shortened experiment still covers every config."""
    runs = [(name, seed) for name, (_, seeds) in configs.items() for seed in seeds]
    return sorted(runs, key=lambda run: configs[run[0]][1].index(run[1]))

def run_dir(outdir, name, seed):
    return os.path.join(outdir, f'{name}-s{seed}')

def snapshots(path):
    return sorted(glob.glob(os.path.join(path, '*', 'network-snapshot-*.pkl')))

def reached_kimg(path):
    """The kimg of the newest training state of a run dir (0 if none): what a resumed run continues from."""
    states = glob.glob(os.path.join(path, '*', 'training-state-*.pt'))
    if not states:
        return 0.0
    return checkpoint.load_state(max(states, key=os.path.getmtime), mmap=True)['cur_nimg'] / 1000

def sec_per_kimg(path):
    """Median of the runs' per-tick s/kimg, ticks after the first (which holds the start-up)."""
    values = []
    for stats in glob.glob(os.path.join(path, '*', 'stats.jsonl')):
        with open(stats, encoding='utf-8') as f:
            values += [json.loads(line).get('Timing/sec_per_kimg', {}).get('mean') for line in f][1:]
    values = [v for v in values if v]
    return float(np.median(values)) if values else float('nan')

#----------------------------------------------------------------------------
# Training.

def train_command(args, name, opts, seed):
    path = run_dir(args.outdir, name, seed)
    cmd = [sys.executable, os.path.join(ROOT, 'train.py'), f'--outdir={path}', f'--data={args.data}', f'--seed={seed}',
        f'--kimg={args.kimg}', '--metrics=none', '--tick=4', f'--snap={args.snap}', f'--workers={args.workers}']
    cmd += args.base.split() + opts
    if glob.glob(os.path.join(path, '*', 'training-state-*.pt')):
        cmd.append('--resume=latest')
    return cmd

def train_all(args, configs):
    """Train every unfinished run, args.parallel at a time, until done or the deadline."""
    todo = [(name, seed) for name, seed in all_runs(configs) if reached_kimg(run_dir(args.outdir, name, seed)) < args.kimg]
    gpus = os.environ.get('CUDA_VISIBLE_DEVICES', '').split(',') if args.gpus is None else args.gpus.split(',')
    deadline = time.time() + args.time_limit - STOP_GRACE_S if args.time_limit else float('inf')
    running, slot, stopping = {}, 0, False
    while todo or running:
        while todo and len(running) < args.parallel and time.time() < deadline:
            name, seed = todo.pop(0)
            os.makedirs(run_dir(args.outdir, name, seed), exist_ok=True)
            env = dict(os.environ, PYTHONUNBUFFERED='1')
            if gpus != ['']:
                env['CUDA_VISIBLE_DEVICES'] = gpus[slot % len(gpus)]
            slot += 1
            log = open(os.path.join(run_dir(args.outdir, name, seed), 'train.out'), 'a', encoding='utf-8') # pylint: disable=consider-using-with
            proc = subprocess.Popen(train_command(args, name, configs[name][0], seed), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True) # pylint: disable=consider-using-with
            running[(name, seed)] = (proc, log)
            print(f'started {name} seed {seed} (pid {proc.pid})', flush=True)
        if not running:
            break
        if time.time() >= deadline and not stopping: # once: a second SIGTERM after the state is saved kills the run
            for proc, _ in running.values():
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            todo, stopping = [], True
        time.sleep(2)
        for key, (proc, log) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                del running[key]
                print(f'{key[0]} seed {key[1]}: exit {proc.returncode} at {reached_kimg(run_dir(args.outdir, *key)):.1f} kimg', flush=True)

#----------------------------------------------------------------------------
# Evaluation and the table.

def metrics_command(args, name, seed):
    """calc_metrics.py on the run's newest snapshot, or None if the run is unfinished or already evaluated."""
    path = run_dir(args.outdir, name, seed)
    if os.path.exists(os.path.join(path, 'results.json')) or reached_kimg(path) < args.kimg or not snapshots(path):
        return None
    cmd = [sys.executable, os.path.join(ROOT, 'calc_metrics.py'), f'--network={snapshots(path)[-1]}',
        f'--metrics={args.metrics}', f'--out={os.path.join(path, "results.json")}', '--no-progress']
    return cmd + ([f'--inception={args.inception}'] if args.inception else [])

def evaluate_all(args, configs):
    """Evaluate the finished runs: the first alone (it fills the caches: factor probe, real-image statistics), then
    args.parallel at a time."""
    jobs = [(name, seed) for name, seed in all_runs(configs) if metrics_command(args, name, seed) is not None]
    for batch in [jobs[:1]] + [jobs[i:i + args.parallel] for i in range(1, len(jobs), args.parallel)]:
        procs = []
        for name, seed in batch:
            log = open(os.path.join(run_dir(args.outdir, name, seed), 'metrics.out'), 'a', encoding='utf-8') # pylint: disable=consider-using-with
            procs.append((name, seed, log, subprocess.Popen(metrics_command(args, name, seed), stdout=log, stderr=subprocess.STDOUT))) # pylint: disable=consider-using-with
        for name, seed, log, proc in procs:
            if proc.wait() != 0:
                print(f'{name} seed {seed}: calc_metrics.py failed, see {log.name}', flush=True)
            log.close()

def results_row(args, name, seed):
    """The run's metrics (one dict; 'fd' is the FID/KID value), kimg and speed, or None if not evaluated."""
    path = run_dir(args.outdir, name, seed)
    if not os.path.exists(os.path.join(path, 'results.json')):
        return None
    with open(os.path.join(path, 'results.json'), encoding='utf-8') as f:
        data = json.load(f)
    row = {}
    for metric, res in data.items():
        row.update(res['results'])
        if metric.startswith(('fid', 'kid')):
            row['fd'] = next(iter(res['results'].values()))
    row.update(kimg=reached_kimg(path), sec_per_kimg=sec_per_kimg(path), snapshot=os.path.basename(snapshots(path)[-1]))
    return row

def format_row(label, row):
    cells = [f'{row.get(key, float("nan")):.3f}' for key in COLUMNS]
    return f'| {label} | {row.get("kimg", float("nan")):.1f} | ' + ' | '.join(cells) + ' |'

def report(args, configs):
    rows = {(name, seed): results_row(args, name, seed) for name, seed in all_runs(configs)}
    lines = ['| run | kimg | ' + ' | '.join(COLUMNS) + ' |', '|---' * (len(COLUMNS) + 2) + '|']
    for (name, seed), row in rows.items():
        if row is not None:
            lines.append(format_row(f'{name} seed {seed}', row))
    for name, (_, seeds) in configs.items():
        done = [rows[(name, seed)] for seed in seeds if rows[(name, seed)] is not None]
        if len(done) > 1:
            mean = {key: float(np.mean([r.get(key, np.nan) for r in done])) for key in COLUMNS + ['kimg']}
            lines.append(format_row(f'**{name}, mean of {len(done)}**', mean))
    print('\n'.join(lines), flush=True)
    with open(os.path.join(args.outdir, 'table.md'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    with open(os.path.join(args.outdir, 'results.json'), 'w', encoding='utf-8') as f:
        json.dump({f'{name}-s{seed}': row for (name, seed), row in rows.items()}, f, indent=1)

#----------------------------------------------------------------------------

@click.command(context_settings=dict(help_option_names=['-h', '--help'], max_content_width=120))
@click.option('--data', required=True, type=click.Path(exists=True), help='Dataset zip of a synthetic sequence.')
@click.option('--outdir', required=True, help='Folder of the runs (one sub-folder per configuration and seed).')
@click.option('--config', 'config_items', multiple=True, required=True, help="NAME[:SEEDS]=TRAIN.PY OPTIONS, e.g. orig='--trend-lr=1' or 'x:0=--cond-lr=4'; repeat.")
@click.option('--seeds', default='0', show_default=True, help='Comma list of seeds of configs that name none.')
@click.option('--kimg', type=click.FloatRange(min=0, min_open=True), default=70, show_default=True, help='Length of every run.')
@click.option('--base', default='--batch=32 --cbase=16384 --cmax=128', show_default=True, help='Options of every run.')
@click.option('--snap', type=click.IntRange(min=1), default=5, show_default=True, help='train.py --snap (ticks of 4 kimg).')
@click.option('--workers', type=click.IntRange(min=1), default=3, show_default=True, help='Data workers per run.')
@click.option('--parallel', type=click.IntRange(min=1), default=1, show_default=True, help='Runs at a time.')
@click.option('--gpus', help='Comma list of GPU ids for the runs, round-robin [default: CUDA_VISIBLE_DEVICES].')
@click.option('--time-limit', type=click.IntRange(min=0), default=0, help='Seconds for the training of this call (0: none).')
@click.option('--metrics', default='disent_synth,fid10k_full', show_default=True, help='calc_metrics.py metrics.')
@click.option('--inception', help='Inception network file for the FD.')
@click.option('--eval/--no-eval', 'do_eval', default=True, show_default=True, help='Evaluate finished runs.')
def main(**kwargs):
    """Train and evaluate every configuration at every seed; print the table (also DIR/table.md, DIR/results.json)."""
    args = type('Args', (), kwargs)
    configs = parse_configs(args.config_items, parse_seeds(args.seeds))
    os.makedirs(args.outdir, exist_ok=True)
    train_all(args, configs)
    if args.do_eval:
        evaluate_all(args, configs)
    report(args, configs)

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter
