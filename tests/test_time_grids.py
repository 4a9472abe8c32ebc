"""scripts/time_grids.py: per-factor grids of a generator, through the safe loader, on the CPU."""

import os
import pickle
import sys

import numpy as np
import torch
from click.testing import CliRunner
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'scripts'))
import time_grids # pylint: disable=wrong-import-position
from training import timeline # pylint: disable=wrong-import-position
from training.networks_stylegan2 import Generator # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def test_grids_vary_only_the_requested_slot(tmp_path):
    torch.manual_seed(0)
    cond_args = dict(type='fourier', f_manual=timeline.cycle_frequencies(730), start_ts=1614556800.0, num_days=730)
    G = Generator(z_dim=16, w_dim=16, c_dim=1, img_resolution=32, img_channels=3, cond_args=cond_args,
                  mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=16).eval()
    with torch.no_grad(): # make time visible in the output: random time modulation instead of the near-identity init
        for name, param in G.named_parameters():
            if name.endswith('c_to_scales.weight'):
                param.normal_()
    with open(tmp_path / 'G.pkl', 'wb') as f:
        pickle.dump(dict(G_ema=G), f)
    result = CliRunner().invoke(time_grids.main, ['--network', str(tmp_path / 'G.pkl'), '--outdir', str(tmp_path / 'g'), '--rows=2'])
    assert result.exit_code == 0, result.output
    # (columns, least mean change between two columns): the trend enters as 0.01 t, so it moves the image only a little.
    sizes = {'day_grid': (8, 1), 'season_grid': (12, 1), 'trend_grid': (8, 0.1)}
    for name, (cols, change) in sizes.items():
        img = np.asarray(Image.open(tmp_path / 'g' / f'{name}.png'))
        header = img.shape[0] - 2 * 32 # the column labels, wrapped to the column width
        assert img.shape[1] == cols * 32 and 14 <= header <= 40
        cells = img[header:header + 32].reshape(32, cols, 32, 3).transpose(1, 0, 2, 3).astype(int)
        assert np.abs(cells[0] - cells[cols // 2]).mean() > change, name # the requested time changes the image

    # The slots: only the day slot changes across the day grid, and it lands on the requested hours.
    tl = timeline.Timeline.from_cond_args(G.cond_args)
    labels, slots = time_grids.grid_columns(G, lon=0.0)['day_grid']
    assert np.all(slots[:, 0] == slots[0, 0]) and np.all(slots[:, 1] == slots[0, 1])
    hours = [tl.t_to_datetime(t).hour for t in slots[:, 2]]
    assert hours == list(range(0, 24, 3)) and labels[1] == '03:00 UTC'
    assert np.all(slots[:, 0] == 0.5) # the trend at the middle, unless --trend says otherwise
    columns = time_grids.grid_columns(G, lon=0.0, trend=0.9)
    assert np.all(columns['day_grid'][1][:, 0] == 0.9) and np.all(columns['season_grid'][1][:, 0] == 0.9)
    assert np.array_equal(columns['trend_grid'][1], time_grids.grid_columns(G, lon=0.0)['trend_grid'][1])

def test_labels_stay_in_their_columns_and_grids_are_never_overwritten(tmp_path):
    images = np.zeros([1, 8, 32, 32, 3], dtype=np.uint8)
    labels = [f'{h:02d}:00 UTC' for h in range(0, 24, 3)]
    path = str(tmp_path / 'day_grid.png')
    assert time_grids.save_labelled_grid(images, labels, path) == path
    img = np.asarray(Image.open(path).convert('L'))
    header = img.shape[0] - 32
    assert header > 14 # '00:00 UTC' is wider than a 32-pixel column: wrapped onto two lines
    for c in range(8): # each label has ink, and none reaches the next column
        cell = img[:header, c * 32:(c + 1) * 32]
        assert cell.min() < 128 and cell[:, -1].min() == 255, c
    assert time_grids.save_labelled_grid(images, labels, path) == str(tmp_path / 'day_grid-r1.png')
    assert sorted(os.listdir(tmp_path)) == ['day_grid-r1.png', 'day_grid.png']

#----------------------------------------------------------------------------
