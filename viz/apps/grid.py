"""The grid tool: grids over two axes and time-lapse images (STACK_X / STACK_Y) of a time-conditioned generator, with
the original grid_viz's controls, progressive rendering in the spiral (grids) or coarse-to-fine (sweeps) order,
a frame slider with play / pause for the time-lapse views, and exports that embed the state."""

import dataclasses
import time

from imgui_bundle import imgui

from training import timeline
from viz import export as vexport
from viz import layout, render, widgets
from viz import state as vstate
from viz.apps.base import Viewer

LOOP_SECONDS = 45.0 # One pass through a time-lapse while playing, as the original.
_CLAMP = imgui.SliderFlags_.always_clamp

#----------------------------------------------------------------------------
# Controls: each takes a state and returns the new one.

def _crop(label, crop, n):
    """(first, last) whole cells removed out of n; at least one stays."""
    _, (a, b) = imgui.slider_int2(label, list(crop), 0, max(n - 1, 0), '%d', _CLAMP)
    if a + b >= n: # the end that moved gives way
        a, b = (n - 1 - b, b) if a != crop[0] else (a, n - 1 - a)
    return max(a, 0), max(b, 0)

def _fit_crop(gs):
    """Crop of a state whose W or H shrank below it."""
    hor = (min(gs.crop_hor[0], gs.W - 1), min(gs.crop_hor[1], gs.W - 1 - min(gs.crop_hor[0], gs.W - 1)))
    ver = (min(gs.crop_ver[0], gs.H - 1), min(gs.crop_ver[1], gs.H - 1 - min(gs.crop_ver[0], gs.H - 1)))
    return dataclasses.replace(gs, crop_hor=hor, crop_ver=ver)

def state_controls(gs, net):
    """Every control of the original toolbar that changes pixels, in its order. `net` (or None) gives the date and
    the layer count."""
    r = dict(seeds=widgets.seed_list('Seeds', gs.seeds))
    r['viz_mode'] = widgets.enum_combo('Mode', gs.viz_mode, list(vstate.VizMode))
    for name, hi in (('W', 20), ('H', 20), ('B', 16)):
        _, r[name] = imgui.slider_int(name, getattr(gs, name), 1, hi, '%d', _CLAMP)
    r['crop_hor'] = _crop('Crop hor.', gs.crop_hor, r['W'])
    r['crop_ver'] = _crop('Crop ver.', gs.crop_ver, r['H'])
    imgui.separator_text('Time')
    slots = net.slot_names if net is not None else ('lin', 'year', 'day')
    lin = widgets.slider_float('Lin', gs.sliders[0], 0.0, 1.0, '%.4f')
    imgui.begin_disabled('year' not in slots)
    year = widgets.phase_slider('Year', gs.sliders[1])
    imgui.end_disabled()
    imgui.begin_disabled('day' not in slots)
    day = widgets.phase_slider('Day', gs.sliders[2])
    imgui.end_disabled()
    r['sliders'] = (lin, year, day)
    r['t_range'] = widgets.slider_float2('T range', gs.t_range, 0.0, 1.0)
    t = layout.slider_t(r['sliders'], net.G.frequencies) if net is not None else None
    widgets.date_line(net.timeline if net is not None else None, t)
    imgui.separator_text('Generator')
    r['trunc'] = widgets.slider_float('Trunc.', gs.trunc, 0.0, 1.0)
    num_ws = int(net.G.num_ws) if net is not None else max(gs.trunc_cutoff, 16)
    _, r['trunc_cutoff'] = imgui.slider_int('Cutoff', gs.trunc_cutoff, 0, num_ws, '%d', _CLAMP)
    if imgui.is_item_hovered():
        imgui.set_tooltip('How many of the last layers stay untruncated (0: all are truncated)')
    r['axis_x'] = widgets.enum_combo('X-axis', gs.axis_x, vstate.AXES)
    r['axis_y'] = widgets.enum_combo('Y-axis', gs.axis_y, vstate.AXES)
    r['rand_seed'] = widgets.enum_combo('Rand seed', gs.rand_seed, vstate.SEED_MODES)
    r['spatial_noise'] = widgets.enum_combo('Spatial noise', gs.spatial_noise, vstate.NOISE_MODES)
    r['res_scale'] = widgets.slider_float('Scale', gs.res_scale, 0.1, 10.0, log=True)
    _, r['use_AA'] = imgui.checkbox('Anti-alias', gs.use_AA)
    imgui.separator_text('Dataset')
    _, r['show_dataset'] = imgui.checkbox('Visualize dataset', gs.show_dataset)
    imgui.same_line()
    _, r['dataset_noise'] = imgui.checkbox('Dataset noise', gs.dataset_noise)
    r['gt_tol_hours'] = widgets.slider_float('GT tol. (h)', gs.gt_tol_hours, 0.1, 24.0, '%.2f')
    return _fit_crop(dataclasses.replace(gs, **r))

def view_controls(soft, gs):
    """The presentation of a time-lapse (no re-render): video type, cycles, strips; and the video export's fps and
    quality. Nothing in GRID mode, where they mean nothing."""
    if gs.viz_mode == vstate.VizMode.GRID:
        return soft
    imgui.separator_text('Time-lapse')
    r = dict(video_mode=widgets.enum_combo('Video type', soft.video_mode, list(vstate.VideoMode)))
    _, r['cycles'] = imgui.slider_int('Cycles', soft.cycles, 1, 5, '%d', _CLAMP)
    _, r['num_strips'] = imgui.slider_int('Strips', soft.num_strips, 0, 50, '%d', _CLAMP)
    r['fps'] = widgets.slider_float('Video fps', soft.fps, 0.0, 120.0, '%.1f' if soft.fps else '10 s')
    _, r['crf'] = imgui.slider_int('Video CRF', soft.crf, 0, 51, '%d', _CLAMP)
    return dataclasses.replace(soft, **r)

#----------------------------------------------------------------------------

def cell_inputs(doc, net):
    """Lines 'col, row: seed, t, date' of every cell (or sweep sample) of a document."""
    gs = doc.state
    freqs, num_days = net.G.frequencies, net.timeline.num_days
    if gs.viz_mode == vstate.VizMode.GRID:
        cells = layout.grid_cells(gs, freqs, num_days)
    else:
        cells = layout.sweep_cells(gs, freqs, num_days, vexport.sweep_length(doc, net))
    ts = timeline.stack_to_global_t(render.slot_times(net, [c.times for c in cells]), freqs)
    lerp = lambda c: f' (w_lerp to {c.lerp[0]}: {c.lerp[1]:.3f})' if c.lerp else ''
    return [f'{c.col}, {c.row}: {c.seed}, {t:.6f}, {net.timeline.format(t)}{lerp(c)}' for c, t in zip(cells, ts)]

def explorer_to_grid(doc, roots, renderer):
    """An explorer view as a grid view (viz.layout.explorer_as_grid), for the network it names."""
    if doc.tool != 'explorer':
        return doc
    doc, path = vexport.resolve(doc, roots)
    net = renderer.network(path)
    return layout.explorer_as_grid(doc, net.G.frequencies, net.G.num_ws)

class GridApp(Viewer):
    APP = 'grid_viz'
    TITLE = 'TLGAN grid viewer'
    TOOLS = ('grid',)

    def convert(self, doc, roots):
        if doc.tool == 'explorer':
            self.load_note = 'an explorer view: a row of its seeds at its date; per-layer times and latent edits left out'
        return explorer_to_grid(doc, roots + self.network_roots, self.renderer)

    def __init__(self, doc=None, **kwargs):
        self.playing = False
        self.loop_seconds = LOOP_SECONDS
        self._play_start = (0.0, 0) # (wall clock, video_i) when play was pressed
        self._dataset_for, self._dataset_text = None, ''
        super().__init__(doc, **kwargs)
        self.loop_seconds = float(self.prefs.get('loop_seconds', LOOP_SECONDS))

    @classmethod
    def default_doc(cls):
        return vstate.Document(state=vstate.GridState(W=5, H=5, B=5))

    #---
    # Rendering.

    def render_job(self, doc, net):
        if doc.state.viz_mode == vstate.VizMode.GRID:
            for done, total, canvas in vexport.iter_grid(self.renderer, doc, net):
                yield canvas, done / total
        else: # every sample stays on the host: the view scrubs through them without re-rendering
            for done, n, samples, mask in vexport.iter_sweep(self.renderer, doc, net):
                yield (samples, mask), done / n

    def compose(self, value, doc):
        if doc.state.viz_mode == vstate.VizMode.GRID:
            return value
        samples, mask = value
        return vexport.stack_frame(doc, samples, mask, doc.soft.video_i)

    @property
    def num_frames(self):
        """Frames of the time-lapse on screen (0 for a grid)."""
        if self.shown is None or self.shown.doc.state.viz_mode == vstate.VizMode.GRID:
            return 0
        return len(self.shown.value[0])

    #---
    # Playback: video_i follows the wall clock, one loop every loop_seconds.

    def play(self, on=True):
        self.playing = bool(on)
        self._play_start = (time.perf_counter(), self.doc.soft.video_i)

    def before_frame(self):
        n = self.num_frames
        if self.playing and n:
            t0, i0 = self._play_start
            i = (i0 + int((time.perf_counter() - t0) / self.loop_seconds * n)) % n
            if i != self.doc.soft.video_i:
                self.doc = self.doc.with_soft(video_i=i)
        if self.win.key_pressed('space') and n:
            self.play(not self.playing)

    #---
    # Controls.

    def draw_controls(self):
        doc, net = self.doc, self.net
        imgui.text_unformatted(f'PKL: {doc.network.name or "(none: drop a network pickle)"}')
        if imgui.is_item_hovered() and doc.network.path:
            imgui.set_tooltip(f'{doc.network.path}\nsha256 {doc.network.sha256 or "?"}')
        gs = state_controls(doc.state, net)
        if gs.show_dataset and net is not None:
            imgui.text_disabled(self.dataset_note(net))
        soft = view_controls(doc.soft, gs)
        if (gs, soft) != (doc.state, doc.soft):
            self.doc = doc.replace(state=gs, soft=soft)
        imgui.separator()
        imgui.begin_disabled(net is None)
        if imgui.button('Print inputs'):
            self.print_inputs()
        imgui.end_disabled()
        self.draw_json_editor()

    def dataset_note(self, net):
        """Which training data dataset mode shows (looked up once per network)."""
        key = (net.path, tuple(getattr(self.renderer.datasets, 'roots', ())))
        if self._dataset_for != key:
            try:
                found = self.renderer.datasets is not None and self.renderer.datasets.lookup(net) is not None
                note = '' if found else ' not found: cells are grey (give --dataset_root)'
            except (OSError, ValueError) as e: # a dataset that cannot be read, e.g. one without time labels
                note = f': {e}'
            self._dataset_for, self._dataset_text = key, f'Data {net.dataset_name or "(unnamed)"}{note}'
        return self._dataset_text

    def print_inputs(self):
        if self.net is None:
            self.say('No network loaded yet', 'error')
            return
        self.log(f'Inputs of {self.doc.network.name} (col, row: seed, t, date UTC):')
        for line in cell_inputs(self.doc, self.net):
            self.log(line)
        self.say('Printed the inputs of every cell to the log and the console')

    def below_rows(self):
        return 1 if self.num_frames else 0

    def draw_below_image(self):
        n = self.num_frames
        if not n:
            return
        s = self.win.ui_scale
        width = -imgui.calc_text_size('Loop (s)').x - 150 * s
        i, playing = widgets.frame_row(self.doc.soft.video_i, n, self.playing, width=width)
        if playing != self.playing:
            self.play(playing)
        if i != self.doc.soft.video_i:
            self.doc = self.doc.with_soft(video_i=int(i))
        imgui.same_line()
        imgui.set_next_item_width(60 * s)
        changed, loop = imgui.drag_float('Loop (s)', self.loop_seconds, 0.5, 1.0, 600.0, '%.0f', _CLAMP)
        if changed:
            self.loop_seconds = loop
            self.prefs['loop_seconds'] = loop
            self.play(self.playing)

    #---
    # Exports.

    def export_disabled(self, doc):
        if doc.state.viz_mode == vstate.VizMode.GRID:
            return {'mp4': 'A GRID view is an image: use png or jpg, or a STACK_X / STACK_Y mode for a video'}
        return {}

    def export_stem(self, doc):
        """The original's names: {mode}_{pkl stem}_{axis_x}_{axis_y}_{seeds}_{gan|dset}."""
        gs = doc.state
        seeds = '_'.join(str(s) for s in vstate.parse_seeds(gs.seeds)[:8])
        stem = doc.network.name.rsplit('.', 1)[0] or 'net'
        return f'{gs.viz_mode.name.lower()}_{stem}_{gs.axis_x}_{gs.axis_y}_{seeds}_{"dset" if gs.show_dataset else "gan"}'

    def on_home(self):
        super().on_home()
        self.play(False)

#----------------------------------------------------------------------------
