"""viz.state: the versioned state document, its validation, and the original toolkit's files."""

import json

import numpy as np
import PIL.Image
import pytest
from PIL import PngImagePlugin

from viz_helpers import decode, expected_w0, standin_network, use_standin
from viz import export as vexport
from viz import layout, metadata, render
from viz import state as vstate

# What the original grid tool embedded (original_viz.md §2): every UIState / UIStateSoft field, enums as ints,
# tuples as lists, the pickle as a path, export flags set, and the legacy seed1/seed2 of older files.
ORIGINAL = {
    'state': {'B': 4, 'H': 2, 'W': 3, 'axis_x': 'day', 'axis_y': 'z', 'crop_hor': [0, 0], 'crop_ver': [0, 0],
        'dataset_noise': False, 'date_str': '01.03.2021 12:00:00', 'export_img': True, 'export_vid': False,
        'gt_tol_hours': 1.5, 'pkl': 'C:/runs/network-snapshot-002000.pkl', 'rand_seed': 'fixed', 'res_scale': 1.0,
        'seed1': 11, 'seed2': 12, 'show_dataset': False, 'sliders': [0.5, 0.25, 0.5], 'spatial_noise': 'const',
        't': 0.5, 't_range': [0, 1], 'trunc': 0.7, 'trunc_cutoff': 0, 'use_AA': True, 'viz_mode': 0},
    'state_soft': {'cycles': 2, 'num_strips': 0, 'video_i': 5, 'video_mode': 2},
}

#----------------------------------------------------------------------------

def test_round_trip_keeps_every_field():
    doc = vstate.Document(network=vstate.NetworkRef('n.pkl', 'ab' * 32, '/x/n.pkl'),
        state=vstate.GridState(seeds='1,2', viz_mode=vstate.VizMode.STACK_Y, sliders=(0.1, -0.5, 0.9), W=4),
        soft=vstate.GridSoft(video_mode=vstate.VideoMode.FULL, fps=12.5))
    text = doc.dumps()
    assert json.loads(text)['version'] == vstate.VERSION and '"viz_mode":"STACK_Y"' in text
    assert vstate.loads(text) == doc
    seq = vstate.Document(tool='sequence', state=vstate.SequenceState(day_hour=12.0, times='even', num_frames=5),
        soft=vstate.SequenceSoft())
    assert vstate.loads(seq.dumps()) == seq

def test_original_keys_load():
    doc = vstate.from_json(ORIGINAL)
    assert doc.tool == 'grid' and doc.network == vstate.NetworkRef(name='network-snapshot-002000.pkl',
        path='C:/runs/network-snapshot-002000.pkl')
    assert doc.state.seeds == '11' and doc.state.viz_mode == vstate.VizMode.GRID and doc.state.trunc == 0.7
    assert doc.soft.video_mode == vstate.VideoMode.SINGLE and doc.soft.cycles == 2 and doc.soft.video_i == 5
    assert doc.state.sliders == (0.5, 0.25, 0.5) and doc.state.t_range == (0.0, 1.0)

def test_original_png_renders_what_it_records(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text('description', json.dumps(ORIGINAL, sort_keys=True, separators=(',', ':')))
    PIL.Image.new('RGBA', (4, 4)).save(tmp_path / 'grid_X_day_z_11_gan_0.PNG', pnginfo=info)
    doc = vstate.from_json(metadata.read_doc(tmp_path / 'grid_X_day_z_11_gan_0.PNG'))
    net = standin_network()
    image = vexport.render_still(use_standin(render.Renderer('cpu'), net), doc, net)
    assert image.shape == (2 * 16, 3 * 16, 4)
    t = layout.slider_t((0.5, 0.25, 0.5), net.G.frequencies)
    for r, seed in enumerate([11, 12]): # y axis z: seed1, then consecutive seeds
        vals = decode(image[16 * r:16 * (r + 1), :16])
        assert vals['w0'][0] == expected_w0(seed, 0.7) and vals['lin'][0] == pytest.approx(t)

@pytest.mark.parametrize('change,field', [
    (dict(W=0), 'state.W'), (dict(seeds='1,-2'), 'seeds'), (dict(axis_y='t'), 'axis_y'), (dict(trunc='x'), 'trunc'),
    (dict(viz_mode=7), 'viz_mode'), (dict(crop_hor=[3, 0]), 'crop_hor'), (dict(sliders=[0.5]), 'sliders'),
    (dict(use_AA=1), 'use_AA'), (dict(res_scale=float('nan')), 'res_scale'),
])
def test_invalid_values_name_the_field(change, field):
    raw = vstate.Document().to_json()
    raw['state'].update(change)
    with pytest.raises(vstate.StateError, match=field):
        vstate.from_json(raw, 'x.json')

def test_newer_version_and_unknown_tool_are_refused():
    raw = vstate.Document().to_json()
    with pytest.raises(vstate.StateError, match='newer'):
        vstate.from_json(dict(raw, version=vstate.VERSION + 1))
    with pytest.raises(vstate.StateError, match='unknown tool'):
        vstate.from_json(dict(raw, tool='paint'))
    with pytest.raises(vstate.StateError, match='not valid JSON'):
        vstate.loads('{"state": ')

def test_slider_t_picks_the_cycles_containing_lin():
    freqs = [-1.0, 730 / 365.25, 730.0]
    t = layout.slider_t((0.5, 0.0, 0.0), freqs)
    year = 365.25 / 730
    assert t == pytest.approx(np.floor(0.5 / year) * year) # start of the year cycle, then of the day containing it
    assert layout.slider_t((0.5, 0.0, 0.5), freqs) == pytest.approx(t + 0.5 / 730)

#----------------------------------------------------------------------------
