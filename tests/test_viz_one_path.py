"""One path for making images: the training loop's grids, scripts/time_grids.py and the exporter give identical pixels
for the same request (seeds, times, constant noise, out_rect crop, uint8 conversion)."""

import numpy as np

from training_helpers import make_tiny_dataset
from viz_helpers import save_pickle, tiny_generator
from training import dataset as training_dataset
from training import reporting
from viz import compose, render
from viz import export as vexport
from viz import network
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
