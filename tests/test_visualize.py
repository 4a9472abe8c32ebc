"""visualize.py, the explorer: a real window (under `xvfb-run -a`) on a generator trained in this module on a tiny
scene that is bright at noon and dark at midnight. Screenshots are compared with the headless renderer's pixels."""

import json
import os
import zipfile

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

from gui_helpers import own_config_folder, require_display, rgb
from training_helpers import ROOT, read_stats, run_dirs, run_train
from viz_helpers import save_pickle, tiny_generator
from training import timeline
from viz import compose, directions, metadata, network, render
from viz import export as vexport
from viz import state as vstate

NUM_DAYS = 8                  # A short, densely sampled sequence: the day cycle is learnt in well under a minute.
DATE_START = 1600041600.0     # 2020-09-14 00:00 UTC.
TRAIN = ['--kimg=1.2', '--batch=8', '--cbase=256', '--cmax=32', '--map-depth=2', '--metrics=none', '--workers=0',
    '--tick=0.1', '--snap=100', '--aug=noaug', '--cond-lr=10', '--glr=0.005', '--dlr=0.005', '--gamma=1']

#----------------------------------------------------------------------------
# A tiny trained model.

def make_day_dataset(path, num=128, res=32, pad_v=4, seed=0):
    """A zip of `num` frames over NUM_DAYS days whose brightness follows the time of day (UTC): dark at midnight,
    bright at noon, plus noise; letter-box pads of pad_v rows."""
    rng = np.random.RandomState(seed)
    t = np.concatenate([[0.0], np.sort(rng.uniform(0, 1, num - 1))])
    level = 80 - 80 * np.cos(2 * np.pi * t * NUM_DAYS) # t = 0 is a midnight
    images = np.clip(rng.rand(num, res, res, 3) * 64 + level[:, None, None, None], 0, 255).astype(np.uint8)
    images[:, :pad_v] = 0
    images[:, res - pad_v:] = 0
    names = [f'00000/img{i:08d}.png' for i in range(num)]
    with zipfile.ZipFile(path, 'w') as z:
        for name, image in zip(names, images):
            with z.open(name, 'w') as f:
                PIL.Image.fromarray(image).save(f, format='PNG')
        meta = dict(num_days=NUM_DAYS, date_start=DATE_START, pad_horizontal=0, pad_vertical=pad_v)
        z.writestr('dataset.json', json.dumps(dict(labels=[[n, [float(v)]] for n, v in zip(names, t)], meta=meta)))
    return str(path)

@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """(snapshot pickle, run folder, dataset folder) of a 1.2 kimg run (~25 s on 2 cores)."""
    require_display()
    data = make_day_dataset(tmp_path_factory.mktemp('data') / 'day_32x32.zip')
    outdir = str(tmp_path_factory.mktemp('runs'))
    run_train(['--outdir', outdir, '--data', data] + TRAIN)
    (run_dir,) = run_dirs(outdir)
    pkl = sorted(os.path.join(run_dir, f) for f in os.listdir(run_dir) if f.startswith('network-snapshot-'))[-1]
    return pkl, run_dir, os.path.dirname(data)

@pytest.fixture(scope='module')
def renderer():
    return render.Renderer('cpu')

@pytest.fixture
def app(run):
    from viz.apps.explorer import ExplorerApp # pylint: disable=import-outside-toplevel
    pkl, _, data_root = run
    with own_config_folder(), ExplorerApp(explorer_doc(pkl), settings=False, size=(1100, 800), device='cpu',
            dataset_roots=[data_root], pca_samples=300) as viewer:
        viewer.zoom, viewer.nearest = 1, True # pixel-exact
        yield viewer

def explorer_doc(pkl, **state):
    return vstate.Document(tool='explorer', network=vstate.NetworkRef(name=os.path.basename(pkl), path=pkl),
        state=vstate.ExplorerState(**state), soft=vstate.ExplorerSoft())

def show(app, **state):
    app.doc = app.doc.with_state(**state)
    assert app.wait(60), app.message
    assert app.message_kind != 'error', app.message
    return app.screenshot_image()

def headless(renderer, app):
    """What the headless renderer makes of the document on screen (RGB)."""
    doc, net = app.rendered_doc(), app.net
    return rgb(vexport.render_explorer(renderer, doc, renderer.network(net.path)))

def hour_t(net, t, hour):
    """The day-slot time of `hour` UTC on the day of t."""
    u = net.timeline.t_to_unix(t)
    return float(net.timeline.unix_to_t(timeline.midnight(u) + hour * 3600))

#----------------------------------------------------------------------------

def test_day_slot_from_noon_to_midnight_darkens_the_scene(app, renderer):
    app.wait()
    net = app.net
    assert net.slot_names == ('lin', 'day') and net.timeline.date_start == DATE_START # dates from the pickle
    noon, midnight = hour_t(net, 0.5, 12), hour_t(net, 0.5, 0)
    at_noon = show(app, batch=4, times=(0.5, 0.5, noon)).astype(float)
    np.testing.assert_array_equal(at_noon, headless(renderer, app))
    at_midnight = show(app, times=(0.5, 0.5, midnight)).astype(float)
    assert at_noon.shape == at_midnight.shape == (2 * 24, 2 * 32, 3) # 2 x 2, letter-box pads cropped
    tiles = lambda im: im.reshape(2, 24, 2, 32, 3).mean(axis=(1, 3, 4)) # mean of each image of the batch
    assert (tiles(at_noon) - tiles(at_midnight) > 30).all(), (tiles(at_noon), tiles(at_midnight))

def test_layer_override_changes_only_what_it_should(app, renderer):
    base = show(app, batch=2, seed=5)
    L = app.net.G.num_ws
    override = ((L - 3, L, (0.5, 0.5, hour_t(app.net, 0.5, 3))),)
    shot = show(app, overrides=override)
    req = vexport.explorer_request(app.net, app.doc.state)
    assert req.layer_times == override
    expect = compose.tile(renderer.render(req).images, 2, 1)
    np.testing.assert_array_equal(shot, rgb(expect)) # exactly a headless render of the same request
    assert not np.array_equal(shot, base)
    early = show(app, overrides=((0, 1, (0.9, 0.9, 0.9)),)) # the first layer only: another change again
    assert not np.array_equal(early, shot)

def test_saved_direction_changes_the_image(app, renderer):
    base = show(app, seed=3, latent_mode='sefa', cff_sliders=(6.0, -4.0))
    assert app.save_direction('brighter') is not None
    assert 'brighter' in app.saved_names
    plain = show(app, cff_sliders=())
    assert not np.array_equal(plain, base)
    edited = show(app, saved=(('brighter', 1.0),))
    assert not np.array_equal(edited, plain)
    np.testing.assert_array_equal(edited, headless(renderer, app))
    np.testing.assert_array_equal(edited, base) # the saved direction is exactly the edit it was saved from
    assert app.dir_version >= 0

def test_ipca_computed_in_the_background_and_cached(app):
    app.wait()
    pca_file = directions.pca_path(app.net.path)
    assert not os.path.exists(pca_file)
    app.start_pca()
    while app.pca_running:
        app.step()
        app.pca_worker.wait(0.05)
    app.step()
    assert os.path.isfile(pca_file) and 'IPCA saved' in app.message
    plain = show(app, seed=1)
    edited = show(app, latent_mode='ipca', pca_sliders=(3.0,))
    assert not np.array_equal(plain, edited)

def test_exported_png_reloads_into_the_same_view(app, tmp_path, run):
    from viz.apps.explorer import ExplorerApp # pylint: disable=import-outside-toplevel
    shot = show(app, seed=7, batch=3, trunc=0.8, overrides=((0, 2, (0.3, 0.4, 0.45)),), mix_seed=20, mix_layer=5,
        cond_mode='linear', latent_mode='svd_u', cff_sliders=(0.0, 5.0))
    out = app.export('png', str(tmp_path))
    assert app.wait_export() == out, app.message
    doc = vstate.from_json(metadata.read_doc(out))
    assert doc.tool == 'explorer' and doc.state == app.doc.state and doc.network.sha256 == network.sha256_of(run[0])
    np.testing.assert_array_equal(rgb(np.asarray(PIL.Image.open(out))), shot)
    with ExplorerApp(settings=False, size=(1100, 800), device='cpu') as other:
        other.zoom, other.nearest = 1, True
        assert other.load(out)
        assert other.wait(60)
        assert other.doc.state == doc.state
        np.testing.assert_array_equal(other.screenshot_image(), shot)

def test_dropping_another_pickle_swaps_the_model(app, tmp_path):
    before = show(app, seed=0, batch=1)
    other = save_pickle(tmp_path / 'other.pkl', tiny_generator(res=32, seed=1))
    app.win.drop([other])
    assert app.wait(60)
    assert app.net.path == os.path.abspath(other) and app.doc.network.name == 'other.pkl'
    assert app.doc.state.seed == 0 # the view is kept
    assert not np.array_equal(app.screenshot_image(), before)

def test_training_panel_shows_the_runs_curves(app, run):
    _, run_dir, _ = run
    app.wait()
    app.open_sections['Training curves'] = True
    app.step()
    app.step()
    stats = read_stats(run_dir)
    assert app.plotted['Loss/G/loss'] == len(stats) and app.plotted['Loss/D/loss'] == len(stats)
    np.testing.assert_allclose(app.train_log.stats['Loss/G/loss'].y, [s['Loss/G/loss']['mean'] for s in stats])

def test_training_frame_and_playback(app):
    app.doc = app.doc.with_soft(show_dataset=True)
    app.wait()
    for _ in range(50):
        app.step()
        app.frame_worker.wait(0.05)
        if app.frame_text:
            break
    assert app.frame_text.startswith("Frame ") and app.frame_texture.size == (32, 24), app.frame_text # cropped as G
    day0 = app.doc.state.times[2]
    app.doc = app.doc.with_soft(play_slot='day', play_speed=2.0)
    app.playing = True
    for _ in range(5):
        app.step()
    assert app.doc.state.times[2] != day0 and app.doc.state.times[:2] == (0.5, 0.5)
    app.win.feed_key('space', True) # Space pauses
    app.step()
    app.win.feed_key('space', False)
    assert not app.playing

def test_keys_home_and_escape(app):
    app.doc = app.doc.with_state(latent_mode='sefa', cff_sliders=(1.0,), pca_sliders=(2.0,), saved=(('x', 1.0),), latent_sum=0.3)
    app.win.feed_key('home', True)
    app.step()
    app.win.feed_key('home', False)
    st = app.doc.state
    assert (st.cff_sliders, st.pca_sliders, st.saved, st.latent_sum) == ((), (2.0,), (), 1.0) # the current mode's
    app.win.feed_key('escape', True)
    app.step()
    app.step()
    assert app.win.close_requested and not app.win.should_close # asks first
    app.win.cancel_close()
    app.step()

def test_cli_errors_are_one_line(tmp_path):
    import visualize # pylint: disable=import-outside-toplevel
    for args, message in [(['nosuch.pkl'], 'no such file'), (['{"state": 1}'], 'not a state document')]:
        result = CliRunner().invoke(visualize.main, args)
        assert result.exit_code != 0 and message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    grid_png = tmp_path / 'grid.png'
    metadata.save_image(grid_png, np.zeros([4, 4, 4], np.uint8), vstate.Document().to_json())
    result = CliRunner().invoke(visualize.main, [str(grid_png)])
    assert result.exit_code != 0 and "'grid' view" in result.output, result.output
    assert os.path.isfile(os.path.join(ROOT, 'visualize.py'))

#----------------------------------------------------------------------------
