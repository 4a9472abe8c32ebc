"""The explorer (visualize.py): a batch of seeds of a time-conditioned generator at chosen slot times, with per-layer
time overrides (Linear or Fourier editing), truncation, style mixing, playback of a time slot, latent directions
(IPCA computed in the background and cached next to the pickle, SVD U / SeFa from the style weights), saved
directions, the nearest training frame and the run's training curves. Built on viz.apps.base.Viewer: rendering,
inputs, drop, image pane, export and log are the base's."""

import dataclasses
import json
import os
import time

import numpy as np
from imgui_bundle import imgui, implot

import gui_utils
from gui_utils import widgets as gw
from training import timeline
from viz import dataset as vdataset
from viz import directions, render, training_log, widgets
from viz import export as vexport
from viz import state as vstate
from viz.apps.base import Viewer
from viz.worker import Worker

MODE_NAMES = dict(ipca='IPCA', svd_u='SVD U', sefa_unscaled='SeFa unscaled', sefa='SeFa')
SLOT_LABELS = dict(lin='Trend', year='Year', day='Day')
PCA_RANGE, CFF_RANGE, SAVED_RANGE = 8.0, 20.0, 5.0
_CLAMP = imgui.SliderFlags_.always_clamp
_REFRESH_S = 1.0 # How often the saved directions and the training logs are looked at again.

#----------------------------------------------------------------------------
# Helpers on a network (None before the first render).

def slot_info(net):
    """(slot names, {slot: frequency}) of a network; all three slots before one is loaded."""
    if net is None:
        return vstate.PLAY_SLOTS, {}
    return tuple(net.slot_names), dict(zip(net.slot_names, net.G.frequencies))

def global_t(net, times):
    """The date t of (lin, year, day) slot times (stack_to_global_t of the network's slots)."""
    return float(timeline.stack_to_global_t(render.slot_times(net, [times])[0], net.G.frequencies))

def _set_slot(times, k, value):
    return tuple(float(value) if j == k else float(v) for j, v in enumerate(times))

def _padded(values, n):
    return list(values[:n]) + [0.0] * max(n - len(values), 0)

def _trimmed(values):
    values = [float(v) for v in values]
    while values and values[-1] == 0:
        values.pop()
    return tuple(values)

#----------------------------------------------------------------------------
# Controls: each takes a state and returns the new one.

def settings_controls(st, soft, net):
    L = net.G.num_ws if net is not None else 16
    r = {}
    _, seed = imgui.input_int('Seed', st.seed, 1, st.batch)
    r['seed'] = min(max(seed, 0), 2**31 - 1)
    _, r['batch'] = imgui.slider_int('Batch size', st.batch, 1, 16, '%d', _CLAMP)
    _, r['trunc'] = imgui.slider_float('Trunc.', st.trunc, 0.0, 1.0, '%.3f', _CLAMP)
    cutoff = L if st.cutoff < 0 else min(st.cutoff, L)
    changed, cutoff = imgui.slider_int('Cutoff', cutoff, 0, L, '%d', _CLAMP)
    if imgui.is_item_hovered():
        imgui.set_tooltip('The first Cutoff layers are truncated')
    r['cutoff'] = (-1 if cutoff == L else cutoff) if changed else st.cutoff
    _, freeze_seed = imgui.checkbox('Freeze seed', soft.freeze_seed)
    imgui.same_line()
    _, r['freeze_noise'] = imgui.checkbox('Freeze noise', st.freeze_noise)
    imgui.same_line()
    _, show = imgui.checkbox('Training frame', soft.show_dataset)
    return dataclasses.replace(st, **r), dataclasses.replace(soft, freeze_seed=freeze_seed, show_dataset=show)

def _cycle_row(name, tag, times, k, t, f):
    """-/+ (one period) and a slider in cycles within one cycle of the anchor t. Returns (times, shift of t)."""
    style = imgui.get_style()
    button = imgui.get_frame_height()
    label = SLOT_LABELS.get(name, name)
    shift = 0.0
    for sign, text in ((-1, '-'), (1, '+')):
        if imgui.button(f'{text}##{name}{tag}', imgui.ImVec2(button, button)):
            shift = sign / f
        if imgui.is_item_hovered():
            imgui.set_tooltip(f'{"Back" if sign < 0 else "On"} by one {label.lower()}: moves global t (and this slot)')
        imgui.same_line(0, style.item_inner_spacing.x)
    if shift:
        times = _set_slot(times, k, times[k] + shift)
    imgui.set_next_item_width(max(imgui.calc_item_width() - 2 * (button + style.item_inner_spacing.x), button))
    changed, cycles = imgui.slider_float(f'{label}##{tag}', times[k] * f, t * f - 1, t * f + 1, '%.4f cycles')
    if changed:
        times = _set_slot(times, k, cycles / f)
    return times, shift

def fourier_block(tag, times, t, net):
    """Trend slider over [0, 1] and a cycles slider per cyclic slot. Returns (times, shift of the anchor t)."""
    slots, freqs = slot_info(net)
    shift = 0.0
    for name in slots:
        k = vstate.PLAY_SLOTS.index(name) if name in vstate.PLAY_SLOTS else 0
        if name == 'lin':
            changed, v = imgui.slider_float(f'Trend##{tag}', times[k], 0.0, 1.0, '%.4f')
            if changed:
                times = _set_slot(times, k, v)
        elif name in freqs:
            times, s = _cycle_row(name, tag, times, k, t, freqs[name])
            shift = shift or s
    return times, shift

def linear_block(tag, times):
    changed, v = imgui.slider_float(f't##{tag}', times[0], 0.0, 1.0, '%.4f')
    return (float(v),) * 3 if changed else times

def layer_slider(label, lo_hi, n):
    """Layers lo..hi-1 of 0..n-1, shown inclusive (first, last); returns the new (lo, hi)."""
    lo, hi = lo_hi
    _, a, b = gw.range_slider_int(label, min(lo, n - 1), min(hi, n) - 1, 0, n - 1)
    return a, b + 1

def _date(net, times):
    if net is not None:
        widgets.date_line(net.timeline, global_t(net, times))

def conditioning_controls(st, net):
    L = net.G.num_ws if net is not None else 16
    slots, _ = slot_info(net)
    fourier_ok = len(slots) > 1
    r = dataclasses.asdict(st)
    if fourier_ok:
        _, r['cond_mode'] = gw.combo('Edit mode', st.cond_mode, vstate.COND_MODES, str.capitalize)
    mode = r['cond_mode'] if fourier_ok else 'linear'
    changed, t = imgui.slider_float('Global t', st.t, 0.0, 1.0, '%.4f')
    if imgui.is_item_hovered():
        imgui.set_tooltip('Sets every slot of every layer (removes the overrides)')
    if changed:
        return dataclasses.replace(st, t=float(t), times=(float(t),) * 3, overrides=())
    imgui.separator_text('All layers')
    if mode == 'fourier':
        times, shift = fourier_block('g', st.times, st.t, net)
        r['t'] = st.t + shift
    else:
        times = linear_block('g', st.times)
    r['times'] = times
    _date(net, times)
    overrides = []
    for j, (lo, hi, ot) in enumerate(st.overrides):
        imgui.push_id(f'ovr{j}')
        imgui.separator_text(f'Layers {lo}-{hi - 1}')
        style = imgui.get_style()
        imgui.set_next_item_width(max(imgui.calc_item_width() - imgui.get_frame_height() - style.item_inner_spacing.x, 20))
        lo2, hi2 = layer_slider('##layers', (lo, hi), L)
        imgui.same_line(0, style.item_inner_spacing.x)
        remove = imgui.button('x', imgui.ImVec2(imgui.get_frame_height(), 0))
        if imgui.is_item_hovered():
            imgui.set_tooltip('Remove this override')
        imgui.same_line(0, style.item_inner_spacing.x)
        imgui.text_unformatted('Layers')
        if mode == 'fourier':
            ot, shift = fourier_block(f'o{j}', ot, r['t'], net)
            r['t'] += shift
        else:
            ot = linear_block(f'o{j}', ot)
        _date(net, ot)
        imgui.pop_id()
        if not remove:
            overrides.append((int(lo2), int(hi2), tuple(ot)))
    if imgui.button('Add layer override'):
        overrides.append((0, L, tuple(r['times'])))
    r['overrides'] = tuple(overrides)
    return dataclasses.replace(st, **r)

def playback_row(soft, net, playing, s):
    """Play / pause, the slot it animates and the speed (a row under the image). Returns (soft, playing)."""
    slots, _ = slot_info(net)
    playable = [slot for slot in vstate.PLAY_SLOTS if slot in slots]
    if imgui.button('Pause' if playing else 'Play', imgui.ImVec2(60 * s, 0)):
        playing = not playing
    if imgui.is_item_hovered():
        imgui.set_tooltip('Animate one time slot (Space)')
    imgui.same_line()
    imgui.set_next_item_width(90 * s)
    _, slot = gw.combo('##slot', soft.play_slot, playable, lambda name: SLOT_LABELS.get(name, name))
    imgui.same_line()
    imgui.set_next_item_width(200 * s)
    _, speed = imgui.slider_float('##speed', soft.play_speed, 0.01, 10.0, '%.3f periods/s', _CLAMP | imgui.SliderFlags_.logarithmic)
    return dataclasses.replace(soft, play_slot=slot, play_speed=speed), playing

def mixing_controls(st, soft, net):
    """Style mixing, and the exported video's frame rate and quality. Returns (state, soft)."""
    L = net.G.num_ws if net is not None else 16
    mix_seed = st.mix_seed
    changed, on = imgui.checkbox('Mix the styles of a second seed', st.mix_seed >= 0)
    if changed:
        mix_seed = (st.seed + st.batch) % 2**31 if on else -1
    imgui.begin_disabled(mix_seed < 0)
    _, mix = imgui.input_int('Mix seed', max(mix_seed, 0))
    mix_seed = min(max(mix, 0), 2**31 - 1) if mix_seed >= 0 else -1
    _, mix_layer = imgui.slider_int('From layer', min(st.mix_layer, L), 0, L, '%d', _CLAMP)
    imgui.end_disabled()
    imgui.separator_text('Video export (one period of the animated slot)')
    _, fps = imgui.slider_float('Video fps', soft.fps, 1.0, 120.0, '%.0f', _CLAMP)
    _, crf = imgui.slider_int('Video CRF', soft.crf, 0, 51, '%d', _CLAMP)
    return dataclasses.replace(st, mix_seed=mix_seed, mix_layer=mix_layer), dataclasses.replace(soft, fps=fps, crf=crf)

def _sliders(tag, values, n, limit, labels=None):
    """n sliders of +-limit; returns the new values (trailing zeros trimmed)."""
    values = _padded(values, n)
    for k in range(n):
        _, values[k] = imgui.slider_float(f'{labels[k] if labels else k}##{tag}{k}', values[k], -limit, limit, '%.2f')
    return _trimmed(values)

def infos(net):
    """What the Info panel shows: the generator's construction arguments and what the tools read from the pickle."""
    G = net.G
    info = dict(pickle=net.path, sha256=net.ref.sha256, dataset=net.dataset_name or None,
        timeline=dict(start=net.timeline.format(0), num_days=net.timeline.num_days), slots=list(net.slot_names),
        frequencies=[float(f) for f in G.frequencies], num_ws=int(G.num_ws), w_dim=int(G.w_dim), z_dim=int(G.z_dim),
        out_rect=list(net.out_rect), G_init_kwargs=net.init_kwargs)
    return json.dumps(info, indent=2, default=str)

#----------------------------------------------------------------------------

class ExplorerApp(Viewer):
    APP = 'visualize'
    TITLE = 'TLGAN explorer'
    TOOLS = ('explorer',)
    PANEL_WIDTH = 420

    def __init__(self, doc=None, *, pca_samples=directions.PCA_SAMPLES, **kwargs):
        self.pca_samples = pca_samples
        self.dir_version = 0                # Bumped when a direction file appears: part of the render key.
        self.saved_names, self._saved_for, self._saved_time = [], None, 0.0
        self.direction_name = ''
        self.train_log, self._log_sig = None, None
        self.playing, self._play_clock = False, None
        self.open_sections = {}             # Section name -> open (True) or closed (False) on the next frame (scripts).
        self.plotted = {}                   # Series drawn by the Training panel in the last frame: name -> points.
        super().__init__(doc, **kwargs)
        self.pca_worker = Worker('viz-pca')
        self._pca_job, self._pca_for, self.pca_progress = 0, None, 0.0
        self.frame_worker = Worker('viz-dataset')
        self.frame_texture = gui_utils.Texture(nearest=False)
        self._frame_job, self._frame_key, self.frame_text = 0, None, ''
        self._open_dialog = None
        self.plot_ctx = implot.create_context()

    @classmethod
    def default_doc(cls):
        return vstate.Document(tool='explorer', state=vstate.ExplorerState(), soft=vstate.ExplorerSoft())

    def close(self):
        self.pca_worker.close(timeout=0.5)
        self.frame_worker.close(timeout=0.5)
        if self.win.handle is not None:
            self.frame_texture.close()
        implot.destroy_context(self.plot_ctx)
        super().close()

    #---
    # Rendering.

    def render_key(self, doc):
        return (*super().render_key(doc), self.dir_version)

    def render_job(self, doc, net):
        yield vexport.render_explorer(self.renderer, doc, net), 1.0

    def export_stem(self, doc):
        stem = os.path.splitext(doc.network.name)[0] or 'net'
        return f'explorer_{stem}_{doc.state.seed}'

    def export_disabled(self, doc):
        net = self.net
        if net is not None and doc.soft.play_slot not in net.slot_names:
            return {'mp4': f'The network has no {doc.soft.play_slot} slot to animate'}
        return {}

    #---
    # Every frame: background results, playback, fresh seeds.

    def before_frame(self):
        self._poll_pca()
        self._poll_frame()
        self._advance_playback()
        soft = self.doc.soft
        if not soft.freeze_seed and self.shown is not None and self.shown_done and not self.worker.busy:
            self.doc = self.doc.with_state(seed=int(np.random.randint(0, 2**31 - 1)))
        if self.win.key_pressed('space'):
            self.playing = not self.playing
        now = time.perf_counter()
        net = self.net
        if net is not None and (self._saved_for != net.path or now - self._saved_time > _REFRESH_S):
            self._refresh_files(net, now)
        if soft.show_dataset and net is not None:
            self._request_frame(net)
        if self._open_dialog is not None and self._open_dialog.ready():
            paths, self._open_dialog = self._open_dialog.result(), None
            if paths:
                self.load(paths[0])

    def _refresh_files(self, net, now):
        names = directions.list_directions(net.path)
        if names != self.saved_names and self._saved_for == net.path:
            self.dir_version += 1 # a direction file may have changed under a name in use
        self.saved_names, self._saved_for, self._saved_time = names, net.path, now
        run_dir = os.path.dirname(net.path)
        sig = (run_dir, training_log.signature(run_dir))
        if sig != self._log_sig:
            self.train_log, self._log_sig = training_log.read(run_dir), sig

    def _advance_playback(self):
        now, last = time.perf_counter(), self._play_clock
        self._play_clock = now
        doc, net = self.doc, self.net
        if not self.playing or net is None or last is None:
            return
        slot = doc.soft.play_slot
        try:
            period = vexport.slot_period(net, slot)
        except vexport.ExportError as e:
            self.playing = False
            self.say(str(e), 'error')
            return
        st = doc.state
        k = vstate.PLAY_SLOTS.index(slot)
        v = st.times[k] + (now - last) * doc.soft.play_speed * period
        if slot == 'lin':
            v = v % 1.0
        elif v >= st.t + period: # a whole period later looks the same: stay within the sliders' range
            v -= period
        self.doc = doc.with_state(times=_set_slot(st.times, k, v))

    #---
    # IPCA in the background.

    def start_pca(self):
        net = self.net
        if net is None:
            return
        G, path, n = net.G, net.path, self.pca_samples
        def job():
            for value, progress in directions.iter_pca(G, num_samples=n):
                if value is not None:
                    directions.save_pca(path, *value)
                yield value, progress
        self._pca_for = path
        self._pca_job = self.pca_worker.submit(job, tag=path)
        self.pca_progress = 0.0
        self.say(f'Computing the IPCA of {os.path.basename(path)} ({n} samples)')

    def cancel_pca(self):
        self.pca_worker.cancel()
        self._pca_job, self._pca_for = 0, None

    @property
    def pca_running(self):
        return self._pca_job != 0

    def _poll_pca(self):
        net = self.net
        if self.pca_running and net is not None and net.path != self._pca_for:
            self.cancel_pca() # the network changed: the half-done PCA is of the old one
            self.say('IPCA cancelled: the network changed')
            return
        update = self.pca_worker.poll()
        if update is None or update.job != self._pca_job:
            return
        self.pca_progress = update.progress
        if update.done:
            self._pca_job = 0
            if update.error:
                self.say(f'IPCA failed: {update.error}', 'error')
            else:
                self.dir_version += 1
                self.say(f'IPCA saved to {directions.pca_path(update.tag)}')

    #---
    # The nearest training frame, fetched in the background.

    def _request_frame(self, net):
        times = self.doc.state.times
        key = (net.path, tuple(times))
        if key == self._frame_key:
            return
        self._frame_key = key
        datasets = self.renderer.datasets
        def job():
            lookup = datasets.lookup(net) if datasets is not None else None
            if lookup is None:
                yield (None, f'Training data {net.dataset_name or "(unnamed)"} not found (--dataset_root)'), 1.0
                return
            req = render.Request(network=net.path, seeds=(0,), times=(times,), source='dataset', gt_tol_hours=float('inf'))
            frame = vdataset.render_frames(lookup, net, req, render.scaled_size(net.out_rect, 1.0))[0] # cropped as G's
            idx, dt = lookup.nearest(vdataset.global_times(net, req))
            t_frame = float(lookup.dataset.labels[int(idx[0]), 0])
            yield (frame, f'Frame {int(idx[0])}: {lookup.timeline.format(t_frame)} UTC '
                f'({dt[0] * lookup.timeline.num_days * 24:.1f} h away)'), 1.0
        self._frame_job = self.frame_worker.submit(job, tag=key)

    def _poll_frame(self):
        update = self.frame_worker.poll()
        if update is None or update.job != self._frame_job or not update.done:
            return
        if update.error:
            self.frame_text = update.error
            return
        image, self.frame_text = update.value
        if image is not None:
            self.frame_texture.upload(image)

    #---
    # Keys.

    def on_home(self):
        """Home: the current mode's sliders, the saved-direction sliders and Sum back to zero / one (and the fitted
        view)."""
        super().on_home()
        st = self.doc.state
        sliders = dict(pca_sliders=()) if st.latent_mode == 'ipca' else dict(cff_sliders=())
        self.doc = self.doc.with_state(saved=(), latent_sum=1.0, **sliders)

    #---
    # Controls.

    def draw_controls(self):
        doc, net, s = self.doc, self.net, self.win.ui_scale
        name = doc.network.name or '(none: drop a network pickle)'
        imgui.text_unformatted(f'PKL: {name}')
        if imgui.is_item_hovered() and doc.network.path:
            imgui.set_tooltip(f'{doc.network.path}\nsha256 {doc.network.sha256 or "?"}')
        imgui.begin_disabled(self._open_dialog is not None)
        if imgui.button('Open...'):
            self.open_dialog()
        imgui.end_disabled()
        st, soft = doc.state, doc.soft
        if self._header('Settings', True):
            st, soft = settings_controls(st, soft, net)
        if self._header('Conditioning', True):
            st = conditioning_controls(st, net)
        if self._header('Style mixing and video'):
            st, soft = mixing_controls(st, soft, net)
        if soft.show_dataset and self._header('Training data', True):
            st = self._training_data(st, net, s)
        if self._header('Latent explorer'):
            st = self._latent_explorer(st, net, s)
        if self._header('Direction export'):
            self._direction_export(st, net)
        if self._header('Saved directions'):
            st = self._saved_directions(st)
        if self._header('Training curves'):
            self._training_plots(s)
        if self._header('Info') and net is not None:
            imgui.begin_child('info', imgui.ImVec2(0, 200 * s), imgui.ChildFlags_.borders, imgui.WindowFlags_.horizontal_scrollbar)
            imgui.text_unformatted(infos(net))
            imgui.end_child()
        if (st, soft) != (doc.state, doc.soft):
            self.doc = doc.replace(state=st, soft=soft)
        self.draw_json_editor()

    def below_rows(self):
        return 1

    def draw_below_image(self):
        soft, self.playing = playback_row(self.doc.soft, self.net, self.playing, self.win.ui_scale)
        net = self.net
        if net is not None:
            imgui.same_line()
            k = vstate.PLAY_SLOTS.index(soft.play_slot)
            imgui.text_disabled(f'{SLOT_LABELS[soft.play_slot]} at t = {self.doc.state.times[k]:.5f}; '
                f'date {net.timeline.format(global_t(net, self.doc.state.times))} UTC')
        if soft != self.doc.soft:
            self.doc = self.doc.with_soft(play_slot=soft.play_slot, play_speed=soft.play_speed)

    def _header(self, name, default_open=False):
        """A collapsing section; open_sections (e.g. set by a script) opens or closes it on the next frame."""
        if name in self.open_sections:
            imgui.set_next_item_open(self.open_sections.pop(name))
        return imgui.collapsing_header(name, imgui.TreeNodeFlags_.default_open if default_open else 0)

    def open_dialog(self):
        folder = os.path.dirname(self.doc.network.path) if self.doc.network.path else os.getcwd()
        try:
            from imgui_bundle import portable_file_dialogs as pfd # pylint: disable=import-outside-toplevel
            self._open_dialog = pfd.open_file('Open a network pickle or an exported view', folder,
                ['Networks and exported views', '*.pkl *.png *.jpg *.jpeg *.mp4 *.json', 'All files', '*'])
        except Exception as e: # pylint: disable=broad-except # no dialog backend (e.g. no zenity): drop files instead
            self.say(f'No file dialog here ({e}); drop the file on the window instead', 'error')

    def _training_data(self, st, net, s):
        if net is None:
            return st
        changed, t = imgui.slider_float('T', global_t(net, st.times), 0.0, 1.0, '%.4f')
        if imgui.is_item_hovered():
            imgui.set_tooltip('Sets global t')
        if changed:
            st = dataclasses.replace(st, t=float(t), times=(float(t),) * 3, overrides=())
        gw.status_text(self.frame_text)
        if self.frame_texture.size != (0, 0) and self._frame_key is not None:
            w, h = self.frame_texture.size
            avail = imgui.get_content_region_avail().x
            self.frame_texture.draw(avail=(avail, min(avail * h / w, 240 * s)), center=False)
        return st

    def _latent_explorer(self, st, net, s):
        r = {}
        _, r['latent_mode'] = gw.combo('Mode', st.latent_mode, vstate.LATENT_MODES, lambda m: MODE_NAMES[m])
        _, r['latent_sum'] = imgui.slider_float('Sum', st.latent_sum, -1.0, 1.0, '%.3f', _CLAMP)
        if net is None:
            return dataclasses.replace(st, **r)
        L = net.G.num_ws
        if r['latent_mode'] == 'ipca':
            try:
                pca = directions.load_pca(net.path)
            except directions.DirectionError as e:
                gw.status_text(str(e), 'error')
                pca = None
            if self.pca_running:
                gw.progress(self.pca_progress, f'IPCA {self.pca_progress * 100:.0f}%', width=imgui.calc_item_width())
                imgui.same_line()
                if imgui.button('Cancel'):
                    self.cancel_pca()
            elif pca is None:
                if imgui.button('Compute'):
                    self.start_pca()
                imgui.same_line()
                imgui.text_disabled(f'IPCA of {self.pca_samples} samples, cached next to the pickle')
            lo, hi = layer_slider('Layers', directions.layer_range(st.pca_layers, L), L)
            r['pca_layers'] = (lo, -1 if hi == L else hi)
            if pca is not None:
                imgui.begin_child('pca', imgui.ImVec2(0, 260 * s))
                r['pca_sliders'] = _sliders('p', st.pca_sliders, len(pca[0]), PCA_RANGE)
                imgui.end_child()
        else:
            lo, hi = layer_slider('Layers', directions.layer_range(st.cff_layers, L - 1), L - 1)
            r['cff_layers'] = (lo, -1 if hi == L - 1 else hi)
            imgui.begin_child('cff', imgui.ImVec2(0, 260 * s))
            r['cff_sliders'] = _sliders('c', st.cff_sliders, min(directions.CFF_COMPONENTS, net.G.w_dim), CFF_RANGE)
            imgui.end_child()
        return dataclasses.replace(st, **r)

    def _direction_export(self, st, net):
        _, self.direction_name = imgui.input_text('Name', self.direction_name)
        name = self.direction_name.strip()
        why = ''
        if net is None:
            why = 'No network loaded'
        elif not any(st.pca_sliders) and not (st.latent_mode != 'ipca' and any(st.cff_sliders)):
            why = 'The latent explorer\'s sliders are all zero: nothing to save'
        elif not name:
            why = 'Give the direction a name'
        elif not vstate.direction_name_ok(name):
            why = 'A name must be a plain file name'
        elif name in self.saved_names:
            why = f'{name!r} exists already'
        imgui.begin_disabled(bool(why))
        if imgui.button('Save direction'):
            self.save_direction(name)
        imgui.end_disabled()
        if why and imgui.is_item_hovered(imgui.HoveredFlags_.allow_when_disabled):
            imgui.set_tooltip(why)

    def save_direction(self, name):
        """Save the latent explorer's current edit as a direction of the network on screen."""
        net, st = self.net, self.doc.state
        try:
            edit = directions.latent_edit(net, st)
            if edit is None:
                raise directions.DirectionError('The latent explorer\'s sliders are all zero: nothing to save')
            path = directions.save_direction(net.path, name, edit.astype(np.float32), st.seed)
        except (directions.DirectionError, OSError) as e:
            self.say(f'Could not save the direction: {e}', 'error')
            return None
        self._refresh_files(net, time.perf_counter())
        self.say(f'Saved direction {name} to {path}')
        return path

    def _saved_directions(self, st):
        if not self.saved_names:
            imgui.text_disabled('None yet: save one under Direction export')
            return st
        weights = dict(st.saved)
        for name in self.saved_names:
            _, weights[name] = imgui.slider_float(name, weights.get(name, 0.0), -SAVED_RANGE, SAVED_RANGE, '%.2f')
        saved = tuple((n, float(w)) for n, w in weights.items() if w != 0)
        return dataclasses.replace(st, saved=saved)

    def _training_plots(self, s):
        log = self.train_log
        self.plotted = {}
        if log is None or log.empty:
            imgui.text_disabled('No stats.jsonl / metric-*.jsonl next to the pickle')
            return
        imgui.text_disabled(os.path.basename(log.run_dir))
        implot.set_current_context(self.plot_ctx)
        for title, names, height in (('Losses', training_log.LOSSES, 220), ('Regularisation', training_log.PENALTIES, 160)):
            names = [n for n in names if n in log.stats]
            if names and implot.begin_plot(title, imgui.ImVec2(-1, height * s)):
                implot.setup_axes('kimg', '', implot.AxisFlags_.auto_fit, implot.AxisFlags_.auto_fit)
                implot.setup_legend(implot.Location_.south, implot.LegendFlags_.outside | implot.LegendFlags_.horizontal)
                for name in names:
                    series = log.stats[name]
                    implot.plot_line(name.replace('Loss/', ''), series.x, series.y)
                    self.plotted[name] = len(series.x)
                implot.end_plot()
        for key, series in sorted(log.metrics.items()):
            if implot.begin_plot(key, imgui.ImVec2(-1, 160 * s)):
                implot.setup_axes('kimg', '', implot.AxisFlags_.auto_fit, implot.AxisFlags_.auto_fit)
                implot.plot_line(key, series.x, series.y)
                self.plotted[key] = len(series.x)
                implot.end_plot()

#----------------------------------------------------------------------------
