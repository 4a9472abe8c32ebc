"""baselines/side_by_side.py (raw | Martin-Brualla 2015 | TLGAN re-render) and scripts/pack_network.py, with a tiny
generator on the CPU: the video's three columns hold the raw frames, the smoothed frames and the generator's renders
at the frames' times; flicker is reported; nothing is overwritten. The packed generator renders as the original."""

import json
import os
import pickle
import sys

import numpy as np
import torch
from click.testing import CliRunner

from test_baseline_mb15 import RES, make_flicker_dataset
from viz_helpers import save_pickle, tiny_generator
from baselines import side_by_side as sbs
from torch_utils import safe_pickle
from viz import video

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'scripts'))
import pack_network # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def test_three_columns_flicker_and_no_overwrite(tmp_path):
    zip_path, _ = make_flicker_dataset(tmp_path / 'seq.zip')
    pkl = save_pickle(tmp_path / 'G.pkl', tiny_generator(res=RES), zip_path)
    out = tmp_path / 'side.mp4'
    args = ['--dataset', zip_path, '--network', pkl, '--out', str(out), '--frames', '12', '--skip', '3', '--iters', '5',
        '--still', '4', '--device', 'cpu']
    res = CliRunner().invoke(sbs.main, args)
    assert res.exit_code == 0, res.output
    assert 'raw frames' in res.output and 'TLGAN re-render' in res.output
    meta = json.loads(video.read_metadata(out)['comment'])
    assert meta['frames'] == 12 and set(meta['flicker']) == set(sbs.LABELS)
    frames = video.read_frames(out)
    assert len(frames) == 12
    assert (tmp_path / 'side-still.png').exists()
    res = CliRunner().invoke(sbs.main, args)
    assert res.exit_code == 1 and 'already exists' in res.output

def test_columns_are_raw_smoothed_and_rendered(tmp_path):
    zip_path, _ = make_flicker_dataset(tmp_path / 'seq.zip')
    from baselines import martin_brualla15 as mb # pylint: disable=import-outside-toplevel
    raw, t = mb.load_frames(zip_path, count=6, skip=2)
    G = tiny_generator(res=RES)
    pkl = save_pickle(tmp_path / 'G.pkl', G, zip_path)
    gan = sbs.tlgan_frames(pkl, t, raw.shape[1:3], seed=0, day_hour=12.0, device='cpu')
    assert gan.shape == raw.shape and gan.dtype == np.uint8
    assert np.abs(gan[1:].astype(int) - gan[:-1]).mean() > 0 # the season and trend follow the frames' times
    frames = sbs.side_by_side([raw, raw, gan])
    header = frames.shape[1] - RES
    assert header > 0 and frames.shape[2] == 3 * RES + 2 * 4
    assert np.array_equal(frames[:, header:, :RES], raw) and np.array_equal(frames[:, header:, -RES:], gan)

def test_pack_network_halves_and_loads_safely(tmp_path):
    G = tiny_generator(res=RES)
    pkl = save_pickle(tmp_path / 'G.pkl', G, tmp_path / 'data' / 'seq_16x16_1hz.zip')
    out = tmp_path / 'packed.pkl'
    res = CliRunner().invoke(pack_network.main, [pkl, str(out)])
    assert res.exit_code == 0, res.output
    data = safe_pickle.load_network_pkl(str(out))
    assert data.training_set_kwargs['path'] == 'seq_16x16_1hz.zip'
    z, c = torch.randn(2, G.z_dim), torch.rand(2, 1)
    with torch.no_grad():
        assert torch.allclose(data.G_ema(z, c, noise_mode='const'), G(z, c, noise_mode='const'), atol=0.05)
    assert CliRunner().invoke(pack_network.main, [pkl, str(out)]).exit_code != 0 # never replaces a file

def test_pack_network_keeps_the_raw_generator_as_G(tmp_path):
    G, G_ema = tiny_generator(res=RES, seed=1), tiny_generator(res=RES, seed=0)
    pkl = tmp_path / 'snapshot.pkl'
    with open(pkl, 'wb') as f:
        pickle.dump(dict(G=G, G_ema=G_ema, training_set_kwargs=dict(path='seq.zip')), f)
    out = tmp_path / 'raw.pkl'
    res = CliRunner().invoke(pack_network.main, ['--generator=G', str(pkl), str(out)])
    assert res.exit_code == 0 and 'G of' in res.output, res.output
    data = safe_pickle.load_network_pkl(str(out))
    assert set(data) == {'G', 'training_set_kwargs'} # labelled as what it is; the tools' default falls back to it
    z, c = torch.randn(2, G.z_dim), torch.rand(2, 1)
    with torch.no_grad():
        packed = safe_pickle.generator_of(data)(z, c, noise_mode='const')
        assert torch.allclose(packed, G(z, c, noise_mode='const'), atol=0.05)
        assert not torch.allclose(packed, G_ema(z, c, noise_mode='const'), atol=0.05)
