"""viz on a CUDA device: CUDA-graph replays give the same pixels as plain calls, and the renderer's device images
equal its host images."""

import numpy as np
import pytest
import torch

from viz_helpers import save_pickle, tiny_generator
from viz import render

pytestmark = pytest.mark.gpu

#----------------------------------------------------------------------------

def test_graph_replays_equal_plain_renders(tmp_path):
    pkl = save_pickle(tmp_path / 'G.pkl', tiny_generator(res=32))
    plain = render.Renderer('cuda', cuda_graphs=False)
    graphed = render.Renderer('cuda')
    for k in range(4): # the first call captures, the others replay with new inputs
        req = render.Request(network=pkl, seeds=(k, k + 7), times=((0.5, 0.1 * k, 0.3 * k),) * 2,
            layer_times=((2, 4, (0.5, 0.5, 0.9)),) if k % 2 else ())
        np.testing.assert_array_equal(graphed.render(req).images, plain.render(req).images)
    assert len(graphed.graphs._items) == 2 # pylint: disable=protected-access # one graph per input shape

def test_random_noise_is_never_graphed(tmp_path):
    pkl = save_pickle(tmp_path / 'G.pkl', tiny_generator(res=32))
    renderer = render.Renderer('cuda')
    req = render.Request(network=pkl, seeds=(1,), times=((0.5, 0.5, 0.5),), noise_mode='random', noise_seed=3)
    np.testing.assert_array_equal(renderer.render(req).images, renderer.render(req).images) # seeded, reproducible
    assert not renderer.graphs._items # pylint: disable=protected-access
    assert torch.equal(renderer.render(req, to_host=False).images.cpu(), torch.from_numpy(renderer.render(req).images))

#----------------------------------------------------------------------------
