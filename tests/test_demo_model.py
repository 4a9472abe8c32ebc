"""The shipped demo model (models/demo_128.pkl, docs/DEMO_MODEL.md): it loads through the safe loader within its size
budget, and on the CPU its images answer each time slot as the synthetic scene does: the day slot turns night into
day, the year slot turns the winter meadow green in summer, the trend slot changes the scene (the tower)."""

import datetime
import os

import numpy as np
import pytest
import torch

from torch_utils import safe_pickle
from training import timeline

MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'models', 'demo_128.pkl')

#----------------------------------------------------------------------------

@pytest.fixture(scope='module')
def demo():
    data = safe_pickle.load_network_pkl(MODEL)
    G = data.G_ema
    tl = timeline.Timeline.from_cond_args(G.cond_args)
    z = torch.from_numpy(np.random.RandomState(0).randn(8, G.z_dim).astype(np.float32))

    def render(day, hour, trend_day=None):
        """Images [8, 3, 128, 128] in [-1, 1] of the scene on `day` (y, m, d) at `hour` UTC, the trend at `trend_day`."""
        unix = lambda d, h: timeline.to_unix(datetime.datetime(*d, h, tzinfo=datetime.timezone.utc))
        c = tl.unix_to_slots(np.full(len(z), unix(day, hour)), np.full(len(z), unix(trend_day or day, hour)), ['lin', 'year', 'day'])
        with torch.no_grad():
            return G(z, torch.from_numpy(c), noise_mode='const').clamp(-1, 1)
    return data, render

def test_small_safe_generator_only(demo):
    data, _ = demo
    assert os.path.getsize(MODEL) <= 10 * 2**20
    assert set(data) == {'G_ema', 'training_set_kwargs'} and data.training_set_kwargs['path'] == 'demo_128x128_730hz.zip'
    G = data.G_ema
    assert G.img_resolution == 128 and G.frequencies == [timeline.TREND, pytest.approx(730 / 365.25), 730.0]
    assert all(p.dtype == torch.float32 for p in G.parameters()) # stored as float16, loaded as the float32 model

def test_day_slot_turns_night_into_day(demo):
    _, render = demo
    noon, midnight = render((2021, 7, 1), 11), render((2021, 7, 1), 23)
    assert noon.mean() - midnight.mean() > 0.5 # of a range of 2

def test_year_slot_greens_the_meadow_in_summer(demo):
    _, render = demo
    greenness = lambda x: (x[:, 1, 64:] - (x[:, 0, 64:] + x[:, 2, 64:]) / 2).mean() # lower half: the meadow
    assert greenness(render((2021, 7, 1), 11)) - greenness(render((2022, 1, 15), 11)) > 0.15

def test_trend_slot_changes_the_scene(demo):
    _, render = demo
    early, late = render((2022, 3, 1), 11, trend_day=(2021, 3, 5)), render((2022, 3, 1), 11, trend_day=(2023, 2, 20))
    assert (early - late).abs().mean() > 0.1

def test_training_log_ships_beside_the_model():
    """models/stats.jsonl, the run's per-tick statistics that visualize's Training curves section plots, covers the
    whole run and reads without a skipped line."""
    from viz import training_log # pylint: disable=import-outside-toplevel
    log = training_log.read(os.path.dirname(MODEL))
    assert log.skipped == 0
    kimg = log.stats['Loss/G/loss'].x
    assert kimg[0] < 1 and kimg[-1] == pytest.approx(430, abs=0.1)
