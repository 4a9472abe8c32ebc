"""Headless parts of the explorer: PCA / SVD / SeFa directions and their cache, saved directions (restricted
unpickling), the w offset of an explorer state, style mixing, explorer exports and the training-log reader."""

import dataclasses
import json
import os
import pickle

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from viz_helpers import save_pickle, tiny_generator
import export
from viz import compose, directions, metadata, render, training_log, video
from viz import export as vexport
from viz import state as vstate

#----------------------------------------------------------------------------

@pytest.fixture(scope='module')
def pkl(tmp_path_factory):
    return save_pickle(tmp_path_factory.mktemp('net') / 'net-a.pkl', tiny_generator())

@pytest.fixture(scope='module')
def renderer():
    return render.Renderer('cpu')

@pytest.fixture(scope='module')
def net(renderer, pkl):
    return renderer.network(pkl)

def explorer_doc(pkl, **state):
    return vstate.Document(tool='explorer', network=vstate.NetworkRef(name=os.path.basename(pkl), path=str(pkl)),
        state=vstate.ExplorerState(**state), soft=vstate.ExplorerSoft())

#----------------------------------------------------------------------------
# PCA.

def test_pca_matches_a_direct_pca_and_reports_progress(net):
    G = net.G
    steps = list(directions.iter_pca(G, num_samples=500, batch=128))
    progress = [p for _, p in steps]
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(steps) == 5
    comp, std = steps[-1][0]
    assert comp.shape == (G.w_dim, G.w_dim) and comp.dtype == np.float32 and np.all(np.diff(std) <= 0)
    # The same samples, all at once.
    z = torch.from_numpy(np.random.RandomState(0).standard_normal([500, G.z_dim])).float()
    with torch.no_grad():
        w = G.mapping(z, G.cond_xform(torch.full([500, 1], 0.5))[:, 0])[:, 0].double().numpy()
    values, vectors = np.linalg.eigh(np.cov(w.T))
    np.testing.assert_allclose(std, np.sqrt(values[::-1]), rtol=1e-4)
    np.testing.assert_allclose(np.abs(np.sum(comp[:5] * vectors[:, ::-1][:, :5].T, axis=1)), 1, atol=1e-4)
    assert np.all(comp[np.arange(len(comp)), np.argmax(np.abs(comp), axis=1)] > 0) # deterministic signs

def test_pca_cache_round_trip_and_cancel(net, pkl):
    it = directions.iter_pca(net.G, num_samples=10_000, batch=100)
    next(it)
    it.close() # cancelling stops after one batch
    assert directions.load_pca(pkl) is None
    comp, std = directions.compute_pca(net.G, num_samples=300)
    path = directions.save_pca(pkl, comp, std)
    assert path == os.path.join(os.path.dirname(pkl), '.comp', 'pca', 'net-a.npz')
    assert [f for f in os.listdir(os.path.dirname(path)) if f.startswith('.tmp')] == []
    with np.load(path) as data:
        assert sorted(data.files) == ['pca_comp', 'pca_std']
    got = directions.load_pca(pkl)
    np.testing.assert_array_equal(got[0], comp)
    np.testing.assert_array_equal(got[1], std)
    os.remove(path)

#----------------------------------------------------------------------------
# SVD U / SeFa.

def test_weight_directions(net):
    G = net.G
    assert len(directions.affine_weights(G)) == G.num_ws - 1
    svd = directions.cff_directions(G, 'svd_u', (0, -1))
    unscaled = directions.cff_directions(G, 'sefa_unscaled', (0, -1))
    sefa = directions.cff_directions(G, 'sefa', (0, -1))
    for d in (svd, unscaled, sefa):
        assert d.shape == (G.w_dim, G.w_dim)
        np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.abs(np.sum(svd * unscaled, axis=1))[:8], 1, atol=1e-4) # the same subspace order
    assert not np.allclose(np.abs(sefa), np.abs(unscaled), atol=1e-3)
    assert not np.allclose(directions.cff_directions(G, 'svd_u', (0, 2)), svd)
    with pytest.raises(directions.DirectionError):
        directions.cff_directions(G, 'svd_u', (3, 3))

#----------------------------------------------------------------------------
# Saved directions.

class _Evil:
    def __reduce__(self):
        return (os.system, ('touch EVIL',))

def test_saved_directions_round_trip_and_refuse_code(net, pkl, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = np.random.RandomState(1).standard_normal([net.G.num_ws, net.G.w_dim]).astype(np.float32)
    path = directions.save_direction(pkl, 'smile', d, known_good_seed=7)
    assert path == os.path.join(os.path.dirname(pkl), '.comp', 'dirs', 'net-a', 'smile.pkl')
    assert 'smile' in directions.list_directions(pkl)
    got = directions.read_direction(path, (net.G.num_ws, net.G.w_dim))
    np.testing.assert_array_equal(got['dir'], d)
    assert (got['name'], got['known_good_seed'], got['network']) == ('smile', 7, 'net-a.pkl')
    with pytest.raises(directions.DirectionError, match='exists'):
        directions.save_direction(pkl, 'smile', d, 0)
    for bad in ('', '../x', 'a/b', '.hidden'):
        with pytest.raises(directions.DirectionError):
            directions.save_direction(pkl, bad, d, 0)
    # The original's files: a torch tensor of [w_dim] (broadcast to every layer) loads; code never runs.
    folder = directions.dirs_folder(pkl)
    with open(os.path.join(folder, 'orig.pkl'), 'wb') as f:
        pickle.dump(dict(name='orig', dir=torch.ones(net.G.w_dim), known_good_seed=3, network='x.pkl'), f)
    assert directions.read_direction(os.path.join(folder, 'orig.pkl'), (net.G.num_ws, net.G.w_dim))['dir'].shape == d.shape
    with open(os.path.join(folder, 'evil.pkl'), 'wb') as f:
        pickle.dump(dict(name='evil', dir=_Evil()), f)
    with pytest.raises(directions.DirectionError, match='refused'):
        directions.read_direction(os.path.join(folder, 'evil.pkl'))
    assert not os.path.exists(tmp_path / 'EVIL')
    with pytest.raises(directions.DirectionError, match='does not fit'):
        directions.read_direction(path, (3, 5))
    for name in ('orig', 'evil', 'smile'):
        os.remove(os.path.join(folder, f'{name}.pkl'))

#----------------------------------------------------------------------------
# The offset of w, style mixing, and renders that stay as they were.

def test_offset_of_a_state(net, pkl):
    G = net.G
    st = vstate.ExplorerState(latent_mode='sefa', cff_layers=(1, 3), cff_sliders=(2.0, 0.0, -1.0), latent_sum=0.5)
    dirs = directions.cff_directions(G, 'sefa', (1, 3))
    expect = np.zeros([G.num_ws, G.w_dim])
    expect[1:3] = 0.5 * (2 * dirs[0].astype(np.float64) - dirs[2])
    np.testing.assert_allclose(directions.w_offset(net, st), expect, rtol=1e-6, atol=1e-7)
    assert directions.w_offset(net, vstate.ExplorerState()) is None
    with pytest.raises(directions.DirectionError, match='not computed'):
        directions.w_offset(net, vstate.ExplorerState(pca_sliders=(1.0,)))
    with pytest.raises(directions.DirectionError, match='not found'):
        directions.w_offset(net, vstate.ExplorerState(saved=(('nosuch', 1.0),)))

def test_mixing_and_offset_in_the_renderer(renderer, net):
    base = render.Request(network=net.path, seeds=(3, 4), times=((0.5, 0.5, 0.5),) * 2)
    plain = renderer.render(base).images
    np.testing.assert_array_equal(renderer.render(dataclasses.replace(base, mix_seed=9, mix_layer=net.G.num_ws)).images, plain)
    np.testing.assert_array_equal(renderer.render(dataclasses.replace(base, mix_seed=9, mix_layer=0)).images,
        renderer.render(dataclasses.replace(base, seeds=(9, 9))).images)
    zero = tuple(tuple(0.0 for _ in range(net.G.w_dim)) for _ in range(net.G.num_ws))
    np.testing.assert_array_equal(renderer.render(dataclasses.replace(base, w_offset=zero)).images, plain)
    one = tuple(tuple(0.5 for _ in range(net.G.w_dim)) for _ in range(net.G.num_ws))
    assert not np.array_equal(renderer.render(dataclasses.replace(base, w_offset=one)).images, plain)

#----------------------------------------------------------------------------
# Explorer documents: state, batches, exports.

def test_explorer_state_round_trip_and_validation():
    st = vstate.ExplorerState(seed=5, batch=3, overrides=((1, 4, (0.1, 0.2, 0.3)),), pca_sliders=(1.0, -2.5),
        saved=(('up', 1.5),), mix_seed=8, mix_layer=3, cond_mode='linear', latent_mode='sefa')
    doc = vstate.Document(tool='explorer', state=st, soft=vstate.ExplorerSoft(play_slot='year', play_speed=2.0))
    assert vstate.loads(doc.dumps()) == doc
    raw = json.loads(doc.dumps())
    for key, value, field in [('overrides', [[4, 1, [0, 0, 0]]], 'overrides'), ('overrides', [[0, 1]], 'overrides'),
            ('cond_mode', 'polar', 'cond_mode'), ('saved', [['../x', 1]], 'saved'), ('batch', 0, 'batch'),
            ('pca_layers', [3, 2], 'pca_layers'), ('pca_sliders', ['a'], 'pca_sliders')]:
        bad = json.loads(json.dumps(raw))
        bad['state'][key] = value
        with pytest.raises(vstate.StateError, match=field):
            vstate.from_json(bad)

def test_batch_tiling():
    assert [vexport.batch_grid(n) for n in (1, 2, 3, 4, 5, 6, 8, 9, 12, 16)] == \
        [(1, 1), (2, 1), (3, 1), (2, 2), (5, 1), (3, 2), (4, 2), (3, 3), (4, 3), (4, 4)]

def test_explorer_export_png_is_bit_identical_and_video_plays_one_period(net, pkl, renderer, tmp_path):
    doc = explorer_doc(pkl, seed=2, batch=3, overrides=((0, 2, (0.2, 0.3, 0.4)),), latent_mode='svd_u',
        cff_sliders=(3.0,), mix_seed=11, mix_layer=4, trunc=0.7, cutoff=3)
    out = vexport.export(renderer, doc, str(tmp_path / 'e.png'))
    image = np.asarray(PIL.Image.open(out))
    assert image.shape == (32, 96, 4)
    req = vexport.explorer_request(net, doc.state, directions.w_offset(net, doc.state))
    assert req.trunc_cutoff == net.G.num_ws - 3 and req.layer_times == ((0, 2, (0.2, 0.3, 0.4)),)
    np.testing.assert_array_equal(image, compose.tile(renderer.render(req).images, 3, 1))
    result = CliRunner().invoke(export.main, [out, '--out', str(tmp_path / 'again.png')], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / 'again.png').read_bytes() == (tmp_path / 'e.png').read_bytes()
    # Video: one day, 8 frames at 4 fps and 0.5 periods per second, its last frame one step before the first.
    vdoc = doc.with_state(batch=1).with_soft(fps=4.0, play_speed=0.5)
    times = vexport.playback_times(vdoc, net)
    day = 1 / net.timeline.num_days
    assert len(times) == 8 and times[0][2] == 0.5 and times[-1][2] == pytest.approx(0.5 + 7 / 8 * day)
    assert all(t[:2] == (0.5, 0.5) for t in times)
    mp4 = vexport.export(renderer, vdoc, str(tmp_path / 'e.mp4'))
    frames = video.read_frames(mp4)
    assert frames.shape[0] == 8 and vstate.from_json(metadata.read_doc(mp4)) == vexport.resolve(vdoc)[0]
    result = CliRunner().invoke(export.main, [str(tmp_path / 'e.png'), '--out', str(tmp_path / 'x.png'), '--set',
        'pca_sliders=[1]'])
    assert result.exit_code != 0 and 'not computed' in result.output and len(result.output.strip().splitlines()) == 1

#----------------------------------------------------------------------------
# Training logs.

def test_training_log_reader(tmp_path):
    lines = [json.dumps({'Progress/kimg': dict(num=1, mean=k * 0.2, std=0), 'Loss/G/loss': dict(num=4, mean=1.0 + k, std=0.1),
        'timestamp': 1.0}) for k in range(4)]
    (tmp_path / 'stats.jsonl').write_text('\n'.join(lines) + '\n{"Progress/kimg": {"num": 1, "me')
    (tmp_path / 'metric-fid50k_full.jsonl').write_text('\n'.join(json.dumps(dict(results=dict(fid50k_full=v),
        metric='fid50k_full', snapshot_pkl=f'network-snapshot-{s}.pkl')) for v, s in ((30.0, '000000.400'), (20.0, '000001'))) + '\n')
    log = training_log.read(str(tmp_path))
    np.testing.assert_allclose(log.stats['Loss/G/loss'].x, [0, 0.2, 0.4, 0.6])
    np.testing.assert_allclose(log.stats['Loss/G/loss'].y, [1, 2, 3, 4])
    np.testing.assert_allclose(log.metrics['fid50k_full'].x, [0.4, 1.0])
    assert log.skipped == 1 and not log.empty
    assert training_log.read(str(tmp_path / 'nothing')).empty
    sig = training_log.signature(str(tmp_path))
    with open(tmp_path / 'stats.jsonl', 'a', encoding='utf-8') as f:
        f.write('more\n')
    assert training_log.signature(str(tmp_path)) != sig

#----------------------------------------------------------------------------
