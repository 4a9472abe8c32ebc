"""Tests of calc_metrics.py: a network pickle in, a table, metric-<name>.jsonl next to the pickle and a JSON file out."""

import json
import pickle

from click.testing import CliRunner

import calc_metrics
from metric_helpers import smooth_images, tiny_G, write_zip

#----------------------------------------------------------------------------

def make_run(tmp_path, **nets):
    kwargs = write_zip(tmp_path / 'data.zip', smooth_images(40, seed=1))
    run_dir = tmp_path / 'run'
    run_dir.mkdir()
    pkl = run_dir / 'network-snapshot-000000.pkl'
    with open(pkl, 'wb') as f:
        pickle.dump(dict(nets or dict(G_ema=tiny_G()), training_set_kwargs=dict(kwargs, use_labels=True, xflip=True)), f)
    return pkl

def test_cli_reports(tmp_path, monkeypatch):
    monkeypatch.setenv('DNNLIB_CACHE_DIR', str(tmp_path / 'cache'))
    pkl = make_run(tmp_path)
    out = tmp_path / 'results.json'
    args = [f'--network={pkl}', '--metrics=fid1k_debug', '--inception=standin', f'--out={out}', '--no-progress']
    result = CliRunner().invoke(calc_metrics.main, args)
    assert result.exit_code == 0, result.output
    assert 'fid1k_debug' in result.output.splitlines()[-1]
    entry = json.loads((pkl.parent / 'metric-fid1k_debug.jsonl').read_text())
    assert entry['snapshot_pkl'] == pkl.name and entry['results']['fid1k_debug'] > 0
    assert json.loads(out.read_text())['fid1k_debug']['results'] == entry['results']
    again = CliRunner().invoke(calc_metrics.main, args) # --out exists: refused, nothing overwritten
    assert again.exit_code == 2 and 'exists' in again.output

def test_cli_evaluates_the_raw_generator_on_request(tmp_path, monkeypatch):
    monkeypatch.setenv('DNNLIB_CACHE_DIR', str(tmp_path / 'cache'))
    pkl = make_run(tmp_path, G=tiny_G(seed=1), G_ema=tiny_G(seed=0))
    def fd(*options):
        result = CliRunner().invoke(calc_metrics.main, [f'--network={pkl}', '--metrics=fid1k_debug', '--inception=standin',
            '--no-progress', *options])
        assert result.exit_code == 0, result.output
        return float(result.output.splitlines()[-1].split()[2])
    assert fd() == fd('--generator=G_ema') != fd('--generator=G')
    (pkl.parent / 'ema_only').mkdir()
    ema_only = make_run(pkl.parent / 'ema_only')
    result = CliRunner().invoke(calc_metrics.main, [f'--network={ema_only}', '--metrics=fid1k_debug', '--generator=G'])
    assert result.exit_code == 1 and f'{ema_only} holds no raw generator (G) (keys: G_ema, training_set_kwargs)' in result.output

def test_cli_errors(tmp_path):
    pkl = make_run(tmp_path)
    result = CliRunner().invoke(calc_metrics.main, [f'--network={pkl}', '--metrics=fid50k'])
    assert result.exit_code == 2 and 'Unknown metric(s) fid50k; valid: fid50k_full' in result.output
    result = CliRunner().invoke(calc_metrics.main, [f'--network={pkl}', '--metrics=fid1k_debug', f'--data={tmp_path}/nope.zip'])
    assert result.exit_code == 1 and 'Dataset not found' in result.output

#----------------------------------------------------------------------------
