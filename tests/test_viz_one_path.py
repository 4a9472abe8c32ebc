"""One path for making images: the training loop's grids, scripts/time_grids.py and the exporter give identical pixels
for the same request (seeds, times, constant noise, out_rect crop, uint8 conversion)."""

import os
import sys

import numpy as np
from click.testing import CliRunner
from PIL import Image

from training_helpers import make_tiny_dataset
from viz_helpers import ROOT, save_pickle, tiny_generator
from training import dataset as training_dataset
from training import reporting
from viz import compose, render
from viz import export as vexport
from viz import layout, network
from viz import state as vstate

#----------------------------------------------------------------------------

def test_training_grid_equals_the_exporter(tmp_path):
    G = tiny_generator(res=32, out_rect=(0, 4, 32, 28))
    pkl = save_pickle(tmp_path / 'G.pkl', G)
    ds = training_dataset.ImageFolderDataset(make_tiny_dataset(tmp_path / 'data.zip', num=12, res=32, pad_v=4))
    grid = reporting.SnapshotGrid(ds, G.z_dim, random_seed=3, batch=4, device='cpu')
    fakes = grid.fakes(G, grid.sweep_c) # cell i: seed 3 + i at t = i / (N - 1) in every slot
    n = len(fakes)
    assert fakes.shape == (n, 24, 32, 4)
    # The same cells as an exporter grid: the 'c' axis puts u = linspace(0, 1, N) in every slot; seeds per column.
    doc = vstate.Document(network=network.ref_for(pkl), state=vstate.GridState(seeds='3', axis_x='c', W=n, H=1, B=4,
        rand_seed='per col'))
    image = vexport.render_still(render.Renderer('cpu'), doc, render.Renderer('cpu').network(pkl))
    np.testing.assert_array_equal(image, compose.tile(fakes, n, 1))

#----------------------------------------------------------------------------

def test_time_grids_equal_the_exporter(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, 'scripts'))
    import time_grids # pylint: disable=import-outside-toplevel
    G = tiny_generator(res=32)
    pkl = save_pickle(tmp_path / 'G.pkl', G)
    assert CliRunner().invoke(time_grids.main, ['--network', pkl, '--outdir', str(tmp_path / 'g'), '--rows=2',
        '--seed=4']).exit_code == 0
    png = np.asarray(Image.open(tmp_path / 'g' / 'trend_grid.png'))
    _labels, times = time_grids.grid_columns(G, lon=8.5)['trend_grid'] # lin sweeps 0..1 at a fixed summer noon
    # The exporter's grid: a lin axis over 8 columns, the z axis down (seeds 4, 5), at the date of that summer noon.
    renderer = render.Renderer('cpu')
    net = renderer.network(pkl)
    sliders = layout.sliders_for(times[0], net.G.frequencies)
    doc = vstate.Document(network=network.ref_for(pkl), state=vstate.GridState(seeds='4', axis_x='lin', axis_y='z',
        W=8, H=2, B=8, sliders=sliders))
    image = vexport.render_still(renderer, doc, net)
    np.testing.assert_array_equal(png[-64:], image[..., :3]) # the cells under the labels
