"""The preprocessing tool: browse a sequence of frames, check its dates, trim, skip, align (manually, from a warps
file or automatically), crop and pad, and export the training dataset. Everything it edits is one
preproc.export.ExportConfig, the same the command line takes, and the export runs preproc.export.export_dataset: a
UI export and a CLI export of the same settings are the same dataset. The preview is preproc.geometry.render of the
current frame, the pixels the export writes before JPEG.

Layout: controls on the left; the frame on the right, with the frame slider, Lock and the date under it, and the
timeline strip (capture density, gaps in red, the current frame, the trim range). Mouse over the frame: wheel zooms,
middle drag pans; with Manual warps a left click adds a point and a right click deletes the nearest. Keys: Up / Down
step one frame; with Manual warps Space adds a range at the current frame and Left / Right jump between the ranges'
keyframes.
"""

import collections
import contextlib
import dataclasses
import glob
import json
import os
import threading

import numpy as np
from imgui_bundle import imgui

import gui_utils
from gui_utils import widgets as gw
from preproc import autoalign, badframes, browse, discovery, export, geometry, manual_align, selection, timestamps, ui_state
from training import timeline
from viz import widgets
from viz.apps.base import App
from viz.worker import Worker, one_line

RESOLUTIONS = [2**k for k in range(5, 12)]
PREVIEW_CACHE = 32          # Rendered frames kept (scrubbing back is instant).
WHEEL_ZOOM = 0.85           # The original's zoom factor per wheel notch (inverted: a notch up zooms in).
THUMB_SIZE = 96             # Timeline hover thumbnails.
_CLAMP = imgui.SliderFlags_.always_clamp

#----------------------------------------------------------------------------
# What the worker produces.

@dataclasses.dataclass
class Opened:
    """An opened input and its frame times."""
    key: tuple                  # (input, time options) it was opened with.
    source: discovery.Source
    timed: timestamps.TimedFrames
    stack: contextlib.ExitStack # Keeps a video's extracted frames until closed.

@dataclasses.dataclass(frozen=True)
class Preview:
    key: tuple                  # The render key it was made for.
    rgb: np.ndarray             # [R, R, 3] uint8: geometry.render of the frame (or its gradient image).
    job: export.Job             # The export plan it was rendered with.
    warp: np.ndarray            # The row the frame was warped with (user transform included), or None.

def time_keys(cfg):
    """The options that decide the frames and their times: a change reopens the input."""
    return (cfg.input, cfg.time_format, cfg.timezone, cfg.skip_bad_times, cfg.check_order, cfg.video_start,
            cfg.video_interval)

def format_date(unix):
    return timeline.unix_to_datetime(unix).strftime('%d-%b-%Y %H:%M')

def warp_files(folder):
    """The warps_*.npy files of a folder, sorted."""
    return sorted(glob.glob(os.path.join(glob.escape(folder), 'warps_*.npy'))) if folder else []

def default_export_folder(input_path):
    """The original's place: `out` beside the input."""
    return os.path.join(os.path.dirname(os.path.abspath(input_path)), 'out')

#----------------------------------------------------------------------------

class PreprocApp(App):
    APP = 'preproc'
    TITLE = 'TLGAN preprocessing'
    PANEL_WIDTH = 390
    EXPORT_CLOSE_S = 2          # The export stops at its next frame once cancelled.
    EMPTY_TEXT = 'Drop a folder, zip or video of frames, or a saved state (.json), here'

    def __init__(self, state=None, *, state_path=None, **kwargs):
        """state: a ui_state.UIState (its export.input is opened); state_path: where Save state writes."""
        super().__init__(**kwargs)
        self.state = state or ui_state.UIState()
        self.state_path = state_path
        self.opened = None
        self.analyst = Worker('preproc-analysis')
        self.shown = None                   # The Preview on screen.
        self._open_job, self._open_key = 0, None
        self._job, self._job_key, self._received = 0, None, 0 # the preview job, its key, the last job received
        self._cache = collections.OrderedDict()
        self._manual = (None, None)         # (key, rows or the reason they cannot be solved)
        self._cancel = threading.Event()    # Stops the export in flight.
        self._analysis_job, self._analysis_name, self._analysis_progress = 0, '', 0.0
        self._analysis_cancel = threading.Event()
        self.flags = []                     # badframes.Flag of the last "Flag bad frames".
        self._thumbs = browse.Previews(THUMB_SIZE)
        self._thumb_tex, self._thumb_index = gui_utils.Texture(), None
        self._density = (None, None)        # (key, (counts, gaps))
        self._pan_drag = None
        self._restore_pan = True            # Scroll to the state's pan once the image is drawn.
        self._input_text = self.state.export.input or ''
        self._n_ranges = 4
        self.zoom = self.state.view.zoom

    #---------------------------------------------------------------------
    # State.

    @property
    def cfg(self):
        return self.state.export

    @property
    def view(self):
        return self.state.view

    def edit(self, **changes):
        """Change ExportConfig fields."""
        self.state = dataclasses.replace(self.state, export=dataclasses.replace(self.cfg, **changes))

    def edit_view(self, **changes):
        self.state = dataclasses.replace(self.state, view=dataclasses.replace(self.view, **changes))

    @property
    def num_frames(self):
        return len(self.opened.timed.frames) if self.opened is not None else 0

    @property
    def unix(self):
        return self.opened.timed.unix

    def export_config(self):
        """The ExportConfig an export runs with: the state's, with the UI's runtime settings."""
        cfg = self.cfg
        return dataclasses.replace(cfg, export=cfg.export or (default_export_folder(cfg.input) if cfg.input else None),
                                   progress=False)

    def load(self, path):
        """Open frames (folder, zip, video) or a saved state. False (with the reason in the status bar) if unusable."""
        path = os.path.abspath(os.fspath(path))
        if path.lower().endswith('.json'):
            try:
                state = ui_state.load(path)
            except ValueError as e:
                self.say(one_line(e), 'error')
                return False
            self.set_state(state)
            self.state_path = path
            self.say(f'Loaded the state {os.path.basename(path)}')
            return True
        if not os.path.exists(path):
            self.say(f'{path}: no such file or folder', 'error')
            return False
        self._open_key = None # open again, also the same input
        self.set_state(ui_state.UIState(export=dataclasses.replace(ui_state.UIState().export, input=path)))
        return True

    def set_state(self, state):
        self.state = state
        self.zoom = state.view.zoom
        self._restore_pan = True
        self._input_text = state.export.input or ''
        self.flags = []

    def drop(self, paths):
        for path in paths:
            self.load(path)

    def save_state(self, path=None):
        path = path or self.state_path or os.path.join(self.export_config().export or '.', 'preproc_state.json')
        state = dataclasses.replace(self.state, view=dataclasses.replace(self.view, zoom=self.zoom))
        try:
            self.state_path = ui_state.save(path, state)
        except OSError as e:
            self.say(f'Cannot save the state to {path}: {e.strerror or e}', 'error')
            return None
        self.say(f'Saved the state to {self.state_path}')
        return self.state_path

    #---------------------------------------------------------------------
    # Opening and rendering, in the worker.

    def _submit_open(self):
        cfg = self.cfg
        key = time_keys(cfg)
        workdir = self.export_config().export
        def job():
            stack = contextlib.ExitStack()
            try:
                if workdir is not None:
                    os.makedirs(workdir, exist_ok=True)
                source = stack.enter_context(discovery.open_input(cfg.input, exclude=[workdir] if workdir else [],
                                                                  workdir=workdir))
                timed = timestamps.assign_times(source, cfg.time_format, cfg.timezone, cfg.video_start,
                                                cfg.video_interval, cfg.skip_bad_times, cfg.check_order)
            except BaseException:
                stack.close()
                raise
            yield Opened(key=key, source=source, timed=timed, stack=stack), 1.0
        self._close_opened()
        self._open_key = key
        self._open_job = self.worker.submit(job, tag='open')
        self.say(f'Opening {cfg.input}')

    def _close_opened(self):
        if self.opened is not None:
            self.opened.stack.close()
        self.opened, self.shown, self.image, self._job_key = None, None, None, None
        self._cache.clear()

    def manual_rows(self):
        """Manual warps of every frame (slider order, no user transform), or the reason they cannot be solved."""
        key = (self.view.ranges, self.view.target, self.view.warp_mode, self.num_frames, self._ref_size())
        if self._manual[0] != key:
            try:
                value = manual_align.warps(self.view.ranges, self.view.target, self.view.warp_mode, key[4], key[3])
            except ValueError as e:
                value = str(e)
            self._manual = (key, value)
        return self._manual[1]

    def _ref_size(self):
        return self.shown.job.plan.ref_size if self.shown is not None else (1, 1)

    def _preview_config(self):
        return dataclasses.replace(self.export_config(), warps=None if self.view.manual else self.cfg.warps)

    def render_key(self):
        """What decides the preview's pixels."""
        cfg = self._preview_config()
        options = json.dumps({k: v for k, v in dataclasses.asdict(cfg).items() if k not in export.RUNTIME_FIELDS},
                             sort_keys=True, default=list)
        manual = None
        if self.view.manual and self.shown is not None:
            rows = self.manual_rows()
            manual = None if isinstance(rows, str) else tuple(rows[self.view.index])
        return options, self.view.index, manual, self.view.gradient

    def _submit_preview(self):
        key = self.render_key()
        self._job_key = key
        if key in self._cache: # nothing to wait for: a preview still in flight is dropped when it arrives
            self._cache.move_to_end(key)
            self._show(self._cache[key])
            self._job = self._received = 0
            return
        _, index, manual, gradient = key
        cfg, opened = self._preview_config(), self.opened
        def job():
            plan = export.plan_export(cfg, opened.source, opened.timed)
            warp = None if plan.warps is None else plan.warps[index]
            if manual is not None: # the frame's manual row under the user transform
                user = geometry.user_matrix(plan.plan.ref_size, cfg.rotate, cfg.zoom, cfg.translate)
                warp = geometry.apply_user(user, np.array([manual]), 1)[0]
            frame = opened.timed.frames[index]
            img = discovery.load_image(frame, geometry.decode_size(plan.plan, warp))
            rgb = np.asarray(geometry.render(img, plan.plan, warp))
            yield Preview(key=key, rgb=browse.gradient_image(rgb) if gradient else rgb, job=plan, warp=warp), 1.0
        self._job = self.worker.submit(job, tag='preview')

    def _show(self, preview):
        self.shown = preview
        self.image = np.concatenate([preview.rgb, np.full(preview.rgb.shape[:2] + (1,), 255, np.uint8)], -1)
        self.texture.upload(self.image)

    def receive(self):
        update = self.worker.poll()
        if update is not None and update.done:
            if update.job == self._open_job:
                self._open_job = 0
                if update.error: # no retry until the input or its time options change (or Open is pressed)
                    self.say(update.error, 'error')
                else:
                    self.opened = update.value
                    self.edit_view(index=min(self.view.index, self.num_frames - 1))
                    self.say(f'Opened {self.cfg.input}: {self.num_frames} frames')
            elif update.job == self._job:
                self._received = update.job
                if update.error:
                    self.say(update.error, 'error')
                else:
                    self._cache[update.value.key] = update.value
                    while len(self._cache) > PREVIEW_CACHE:
                        self._cache.popitem(last=False)
                    self._show(update.value)
        self._receive_export()
        self._receive_analysis()

    def after_draw(self):
        if not self.cfg.input:
            return
        if time_keys(self.cfg) != self._open_key:
            self._submit_open()
        elif self.opened is not None and self.render_key() != self._job_key:
            self._submit_preview()

    def settled(self):
        opening = self._open_job or (self.cfg.input and time_keys(self.cfg) != self._open_key)
        previewing = self.opened is not None and (self.render_key() != self._job_key or self._job != self._received)
        return not (opening or previewing)

    def status(self):
        if self.exporting:
            return self.export_status()
        if self.analyst.busy:
            return self._analysis_progress, f'{self._analysis_name} {self._analysis_progress * 100:.0f}%'
        return (0.0, 'opening') if self._open_job else (0.0, 'rendering' if self.worker.busy else '')

    def frame_rate(self):
        # While exporting, drawing the UI (a software renderer on some machines) would take CPU from the export's
        # processes: a progress bar needs no more than a few frames per second.
        return 10 if self.exporting else 60

    def quit_question(self):
        return 'An export is running. Quit anyway?' if self.exporting else 'Quit?'

    def close(self):
        self._cancel.set()
        self._analysis_cancel.set()
        self.analyst.close(timeout=2)
        self._thumb_tex.close()
        super().close()
        self._close_opened()

    #---------------------------------------------------------------------
    # Navigation.

    def go(self, index, lock=None):
        """Show frame `index`; with Lock on, the frame at the current time of day nearest to it."""
        if not self.num_frames:
            return
        index = int(np.clip(index, 0, self.num_frames - 1))
        if (self.view.lock if lock is None else lock) and index != self.view.index:
            index = browse.lock_index(self.unix, self.view.index, index)
        self.edit_view(index=index)

    def go_time(self, unix):
        """The frame nearest to a moment (the timeline strip)."""
        self.go(int(np.abs(self.unix - unix).argmin()))

    def _keys(self):
        if self.win.key_pressed('up', repeat=True):
            self.go(self.view.index - 1, lock=False)
        if self.win.key_pressed('down', repeat=True):
            self.go(self.view.index + 1, lock=False)
        if not self.view.manual:
            return
        if self.win.key_pressed('space'):
            self.add_range()
        for key, step in (('left', -1), ('right', 1)):
            if self.win.key_pressed(key, repeat=True):
                keys = manual_align.keyframes(self.view.ranges)
                nxt = [k for k in keys if (k - self.view.index) * step > 0]
                if nxt:
                    self.go(nxt[-1] if step < 0 else nxt[0], lock=False)

    def before_frame(self):
        if self.opened is not None:
            self._keys()

    #---------------------------------------------------------------------
    # Manual alignment.

    def add_range(self):
        self.edit_view(ranges=manual_align.add_range(self.view.ranges, self.view.index))

    def image_to_frame(self, sx, sy):
        """Screen position -> normalised coordinates on the shown frame (through pad, crop and its warp)."""
        plan = self.shown.job.plan
        x, y, w, h = self.image_rect
        R = plan.resolution
        ox, oy = (sx - x) / w * R, (sy - y) / h * R
        fx, fy = (ox - plan.pad[0]) / plan.size[0], (oy - plan.pad[1]) / plan.size[1]
        x0, y0, x1, y1 = plan.box
        ref = np.array([x0 + fx * (x1 - x0), y0 + fy * (y1 - y0), 1.0])
        return tuple(np.linalg.solve(self._warp_matrix(), ref)[:2])

    def frame_to_image(self, fx, fy):
        """Normalised frame coordinates -> screen position (inverse of image_to_frame)."""
        plan = self.shown.job.plan
        rx, ry, _ = self._warp_matrix() @ np.array([fx, fy, 1.0])
        x0, y0, x1, y1 = plan.box
        ox = plan.pad[0] + (rx - x0) / (x1 - x0) * plan.size[0]
        oy = plan.pad[1] + (ry - y0) / (y1 - y0) * plan.size[1]
        x, y, w, h = self.image_rect
        return x + ox / plan.resolution * w, y + oy / plan.resolution * h

    def _warp_matrix(self):
        m = np.eye(3)
        if self.shown.warp is not None:
            m[:2] = geometry.rows_to_matrices(self.shown.warp)[0]
        return m

    def export_warps(self):
        """Write the manual ranges as warps_manual.npy in the export folder (one row per input frame in discovery
        order) and select it. Returns the path, or None with the reason in the status bar."""
        rows = self.manual_rows()
        if isinstance(rows, str):
            self.say(f'Nothing written: {rows}', 'error')
            return None
        folder = self.export_config().export
        rows = manual_align.to_discovery_order(rows, self.opened.timed.source_index, len(self.opened.source.frames))
        try:
            path = autoalign.save_warps(os.path.join(folder, 'warps_manual.npy'), rows)
        except OSError as e:
            self.say(f'Cannot write warps_manual.npy into {folder}: {e.strerror or e}', 'error')
            return None
        self.edit(warps=path)
        self.edit_view(manual=False)
        self.say(f'Wrote {path} and selected it')
        return path

    #---------------------------------------------------------------------
    # Export, in its own worker.

    def start_export(self):
        """Export the dataset with the current settings (the CLI's export_dataset); returns the job id or None."""
        if self.exporting or self.opened is None:
            self.say('An export is running' if self.exporting else 'Open a sequence first', 'error')
            return None
        if self.view.manual:
            self.say('Warps are Manual: press "Export warps" to write and select warps_manual.npy first', 'error')
            return None
        cfg = self.export_config()
        self._cancel.clear()
        def job():
            yield export.export_dataset(cfg, on_progress=self.export_progress, cancel=self._cancel.is_set), 1.0
        self.say(f'Exporting into {cfg.export}')
        return self.submit_export(job, tag='export')

    def cancel_export(self):
        self._cancel.set()

    def export_finished(self, value):
        super().export_finished(value)
        self.edit(resume=False, overwrite=False)

    #---------------------------------------------------------------------
    # Automatic alignment and bad-frame flags (preproc.autoalign, preproc.badframes), in their own worker.
    # A re-run replaces warps_auto.npy / bad_frames.json: derived files; hand corrections live in warps_manual.npy.

    def _analyse(self, name, fn):
        """Run fn(progress, cancel) in the analysis worker; its result goes to _receive_analysis."""
        if self.opened is None or self.analyst.busy:
            self.say('Open a sequence first' if self.opened is None else 'An analysis is running', 'error')
            return None
        def progress(k, n):
            self._analysis_progress = k / max(n, 1)
        def job():
            yield fn(progress, self._analysis_cancel.is_set), 1.0
        self._analysis_cancel.clear()
        self._analysis_name, self._analysis_progress = name, 0.0
        self._analysis_job = self.analyst.submit(job, tag=name)
        self.say(f'{name}...')
        return self._analysis_job

    def auto_align(self):
        """preproc.autoalign.estimate on every frame -> warps_auto.npy in the export folder, selected."""
        opened, folder = self.opened, self.export_config().export
        def run(progress, cancel):
            result = autoalign.estimate(opened.timed.frames, progress=progress, cancel=cancel)
            rows = manual_align.to_discovery_order(result.warps, opened.timed.source_index, len(opened.source.frames))
            path = os.path.join(folder, 'warps_auto.npy')
            autoalign.save_warps(path, rows)
            return 'align', path, result
        return self._analyse('Auto-align', run)

    def flag_bad_frames(self):
        """preproc.badframes.flag_frames on every frame (with the selected warps) -> the flagged list and
        bad_frames.json in the export folder (the CLI's report)."""
        opened, path, cfg = self.opened, self.cfg.warps, self.export_config()
        def run(progress, cancel):
            timed = opened.timed
            warps = None if path is None else geometry.load_warps(path, len(opened.source.frames))[timed.source_index]
            flags = badframes.flag_frames(timed.frames, warps=warps, times=timed.unix, progress=progress, cancel=cancel)
            report = os.path.join(cfg.export, 'bad_frames.json')
            badframes.write_report(report, timed.frames, flags, input_path=cfg.input, times=timed.unix)
            return 'flags', report, flags
        return self._analyse('Flag bad frames', run)

    def skip_flagged(self):
        """Append the flagged frames to the skipped ranges."""
        text = badframes.skip_text(self.flags)
        if text:
            old = (self.cfg.skip or '').strip().strip(',')
            self.edit(skip=f'{old},{text}' if old else text)
            self.say(f'Skipped the {len(self.flags)} flagged frames')

    def _receive_analysis(self):
        update = self.analyst.poll()
        if update is None or update.job != self._analysis_job or not update.done:
            return
        if update.error:
            self.say(f'{self._analysis_name} failed: {update.error}', 'error')
            return
        kind, path, value = update.value
        if kind == 'align':
            self.edit(warps=path)
            self.edit_view(manual=False)
            low = int(np.sum(value.interpolated))
            self.say(f'Wrote {path} (reference frame {value.reference}, {low} frames interpolated) and selected it')
        else:
            self.flags = list(value)
            self.say(f'{len({f.index for f in self.flags})} frames flagged ({len(self.flags)} flags) -> {path}')

    #---------------------------------------------------------------------
    # Controls.

    def draw_controls(self):
        self._draw_input()
        if self.opened is None:
            return
        self._draw_view()
        self._draw_selection()
        self._draw_geometry()
        self._draw_warps()
        if self.view.manual:
            self._draw_manual()
        self._draw_flags()
        self._draw_export()

    def _header(self, name, default_open=True):
        return imgui.collapsing_header(name, imgui.TreeNodeFlags_.default_open if default_open else 0)

    def _draw_input(self):
        if not self._header('Sequence'):
            return
        style = imgui.get_style()
        imgui.set_next_item_width(max(imgui.calc_item_width() - imgui.calc_text_size('Open').x - 2 * style.frame_padding.x
                                      - style.item_inner_spacing.x, 40))
        entered, self._input_text = imgui.input_text('##input', self._input_text, imgui.InputTextFlags_.enter_returns_true)
        imgui.same_line(0, style.item_inner_spacing.x)
        if imgui.button('Open') or entered:
            self.load(self._input_text)
        imgui.same_line(0, style.item_inner_spacing.x)
        imgui.text_unformatted('Input')
        if self.opened is None:
            return
        t = self.opened.timed
        imgui.text_unformatted(f'{len(t.frames)} frames, {format_date(t.unix[0])} .. {format_date(t.unix[-1])}')
        dropped = sum(len(v) for v in t.dropped.values())
        if dropped:
            gw.status_text(f'{dropped} frames without a usable time were dropped', 'warning')

    def _draw_view(self):
        if not self._header('View'):
            return
        v = self.view
        _, gradient = imgui.checkbox('Gradient img', v.gradient)
        imgui.same_line()
        _, show_date = imgui.checkbox('Show date', v.show_date)
        self.edit_view(gradient=gradient, show_date=show_date)

    def _draw_selection(self):
        if not self._header('Trim and skip'):
            return
        n = self.num_frames
        start, end = selection.parse_trim(self.cfg.trim, n) if self._valid(selection.parse_trim, self.cfg.trim) else (0, n - 1)
        changed, a, b = gw.range_slider_int('Trim', start, end, 0, n - 1)
        if changed:
            self.edit(trim=None if (a, b) == (0, n - 1) else f'{a}:{b}')
        if imgui.button('Start here'):
            self.edit(trim=f'{self.view.index}:{end}' if self.view.index <= end else f'{self.view.index}:')
        imgui.same_line()
        if imgui.button('End here'):
            self.edit(trim=f'{min(start, self.view.index)}:{self.view.index}')
        imgui.same_line()
        if imgui.button('Skip this'):
            old = (self.cfg.skip or '').strip().strip(',')
            self.edit(skip=f'{old},{self.view.index}' if old else str(self.view.index))
        self._text_field('Skipped', 'skip', selection.parse_skip, hint='e.g. 10,25,100-200')

    def _valid(self, parse, text):
        try:
            parse(text, self.num_frames)
        except ValueError:
            return False
        return True

    def _text_field(self, label, field, parse, hint=''):
        """A text option checked with parse(text, n) (ValueError: shown under it, the text is still kept)."""
        value = getattr(self.cfg, field) or ''
        changed, text = imgui.input_text_with_hint(label, hint, value)
        if changed:
            self.edit(**{field: text.strip() or None})
        if value and not self._valid(parse, value):
            try:
                parse(value, self.num_frames)
            except ValueError as e:
                gw.status_text(str(e), 'error')

    def _draw_geometry(self):
        if not self._header('Geometry'):
            return
        cfg = self.cfg
        _, resolution = gw.combo('Resolution', cfg.resolution, RESOLUTIONS)
        fit = widgets.enum_combo('Fit', cfg.fit, geometry.FIT_MODES)
        kernel = widgets.enum_combo('Resize kernel', cfg.kernel, list(geometry.KERNELS))
        rotate = widgets.slider_float('Rotation', cfg.rotate, -180.0, 180.0, '%.2f deg')
        zoom = widgets.slider_float('Zoom', cfg.zoom, 0.2, 5.0, '%.3f', log=True)
        translate = widgets.slider_float2('Transl X,Y', cfg.translate, -1.0, 1.0, '%.4f')
        self.edit(resolution=resolution, fit=fit, kernel=kernel, rotate=rotate, zoom=zoom, translate=translate)
        self._text_field('Crop L,T,R,B', 'crop', lambda text, n: None if text == 'fit' else
                         geometry.crop_box(text, self._ref_size()), hint='0.1,0,0.1,0 / 64,0,64,0 / fit')
        self._text_field('Pad X,Y', 'pad', lambda text, n: geometry.parse_pad(text, cfg.resolution), hint='0.1,0 / 16,0')
        if self.shown is not None:
            plan = self.shown.job.plan
            imgui.text_disabled(f'{plan.ref_size[0]}x{plan.ref_size[1]} -> content {plan.size[0]}x{plan.size[1]}, '
                                f'pad {plan.pad[0]},{plan.pad[1]} -> {plan.resolution}x{plan.resolution}')
            if imgui.is_item_hovered():
                imgui.set_tooltip('Sides are always even: pads are equal on both sides of an R x R output')
        if imgui.button('Reset geometry'):
            default = export.ExportConfig()
            self.edit(rotate=default.rotate, zoom=default.zoom, translate=default.translate, crop=None, pad=None,
                      fit=default.fit, kernel=default.kernel)

    def _draw_warps(self):
        if not self._header('Alignment'):
            return
        files = warp_files(self.export_config().export)
        if self.cfg.warps and self.cfg.warps not in files:
            files.append(self.cfg.warps)
        current = 'Manual' if self.view.manual else (self.cfg.warps or 'Off')
        changed, choice = gw.combo('Warps', current, ['Off', 'Manual'] + files,
                                   lambda v: os.path.basename(v) if v not in ('Off', 'Manual') else v)
        if changed:
            self.edit_view(manual=choice == 'Manual')
            if choice != 'Manual':
                self.edit(warps=None if choice == 'Off' else choice)
        if imgui.is_item_hovered():
            imgui.set_tooltip('Every warps_*.npy in the export folder is listed (warps_auto.npy, warps_manual.npy, ...)')
        _, smoothing = imgui.slider_int('Avg. window', self.cfg.warp_smoothing, 1, 100, '%d', _CLAMP)
        self.edit(warp_smoothing=smoothing)
        job = self.shown.job if self.shown is not None else None
        imgui.begin_disabled(job is None or job.raw_warps is None)
        if imgui.button('Fit window'):
            self.edit(crop='fit')
        for side, k in zip('LTRB', range(4)):
            imgui.same_line()
            if imgui.button(side) and job is not None and job.raw_warps is not None:
                self.go(geometry.fit_limits(job.raw_warps, job.sel.indices)[k], lock=False)
            if imgui.is_item_hovered(imgui.HoveredFlags_.allow_when_disabled):
                imgui.set_tooltip(f'Jump to the frame that limits the window on the {dict(L="left", T="top", R="right", B="bottom")[side]}')
        imgui.end_disabled()
        imgui.same_line()
        imgui.begin_disabled(self.analyst.busy)
        if imgui.button('Auto-align'):
            self.auto_align()
        imgui.end_disabled()

    def _draw_manual(self):
        if not self._header('Manual alignment'):
            return
        v = self.view
        mode = widgets.enum_combo('Mode', v.warp_mode, manual_align.MODES)
        self.edit_view(warp_mode=mode)
        imgui.text_unformatted(f'Target: {v.target}')
        imgui.same_line()
        if imgui.button('Set'):
            self.edit_view(target=v.index)
        imgui.same_line()
        if imgui.button('Add (Space)'):
            self.add_range()
        imgui.same_line()
        if imgui.button('Export warps'):
            self.export_warps()
        imgui.set_next_item_width(80 * self.win.ui_scale)
        _, self._n_ranges = imgui.input_int('##n_ranges', self._n_ranges)
        imgui.same_line()
        if imgui.button('Add ranges'):
            start, end = selection.parse_trim(self.cfg.trim, self.num_frames) if self._valid(selection.parse_trim, self.cfg.trim) \
                else (0, self.num_frames - 1)
            self.edit_view(ranges=manual_align.add_ranges(v.ranges, max(self._n_ranges, 1), start, max(end - 1, start)))
        rows = self.manual_rows()
        if isinstance(rows, str):
            gw.status_text(rows, 'warning')
        imgui.begin_child('ranges', imgui.ImVec2(0, 130 * self.win.ui_scale), imgui.ChildFlags_.borders)
        current = manual_align.range_of(v.ranges, v.index)
        for k, r in enumerate(v.ranges):
            end = v.ranges[k + 1].start - 1 if k + 1 < len(v.ranges) else self.num_frames - 1
            for label, action in (('DEL', 'del'), ('CLR', 'clr'), ('JMP', 'jmp')):
                if imgui.small_button(f'{label}##{k}'):
                    if action == 'del':
                        self.edit_view(ranges=manual_align.delete_range(v.ranges, k))
                    elif action == 'clr':
                        self.edit_view(ranges=manual_align.clear_points(v.ranges, k))
                    else:
                        self.go(r.keyframe, lock=False)
                imgui.same_line()
            text = f'[{r.start}-{end}] ({len(r.points)} pts)'
            if k == current:
                imgui.text_colored(imgui.ImVec4(1.0, 0.85, 0.3, 1.0), text)
            else:
                imgui.text_unformatted(text)
        imgui.end_child()

    def _draw_flags(self):
        if not self._header('Bad frames', default_open=bool(self.flags)):
            return
        if self.analyst.busy:
            if imgui.button(f'Cancel {self._analysis_name}'):
                self._analysis_cancel.set()
        elif imgui.button('Flag bad frames'):
            self.flag_bad_frames()
        imgui.same_line()
        imgui.begin_disabled(not self.flags)
        if imgui.button('Skip these'):
            self.skip_flagged()
        imgui.end_disabled()
        if not self.flags:
            return
        imgui.begin_child('flags', imgui.ImVec2(0, 120 * self.win.ui_scale), imgui.ChildFlags_.borders)
        for k, flag in enumerate(self.flags):
            if imgui.selectable(f'{flag.index:6d}  {flag.reason:<12s} {flag.score:6.2f}##{k}', flag.index == self.view.index)[0]:
                self.go(flag.index, lock=False)
            if flag.detail and imgui.is_item_hovered():
                imgui.set_tooltip(flag.detail)
        imgui.end_child()

    def _draw_export(self):
        if not self._header('Export dataset'):
            return
        cfg = self.export_config()
        changed, folder = imgui.input_text('Folder', cfg.export or '')
        if changed:
            self.edit(export=folder.strip() or None)
        changed, name = imgui.input_text_with_hint('Name', self.opened.source.name, self.cfg.name or '')
        if changed:
            self.edit(name=name.strip() or None)
        _, resume = imgui.checkbox('Resume', self.cfg.resume)
        imgui.same_line()
        _, overwrite = imgui.checkbox('Overwrite', self.cfg.overwrite)
        if overwrite != self.cfg.overwrite: # mutually exclusive, as the original's Resume / Delete
            resume = False
        elif resume != self.cfg.resume:
            overwrite = False
        self.edit(resume=resume, overwrite=overwrite)
        if self.shown is not None:
            imgui.text_disabled(os.path.basename(self.shown.job.final) + f'  ({len(self.shown.job.sel.indices)} frames)')
        if self.exporting:
            if imgui.button('Cancel'):
                self.cancel_export()
        elif imgui.button('Export frames'):
            self.start_export()
        imgui.same_line()
        if imgui.button('Save state'):
            self.save_state()
        if imgui.is_item_hovered():
            imgui.set_tooltip(self.state_path or 'preproc_state.json in the export folder')

    #---------------------------------------------------------------------
    # The image: date overlay, manual points, mouse.

    IMAGE_FLAGS = imgui.WindowFlags_.horizontal_scrollbar | imgui.WindowFlags_.no_scroll_with_mouse

    def draw_image_overlay(self):
        if self.shown is None or self.opened is None:
            return
        draw = imgui.get_window_draw_list()
        x, y, w, h = self.image_rect
        if self.view.show_date:
            text = f'{format_date(self.unix[self.view.index])}  #{self.view.index}'
            draw.add_rect_filled(imgui.ImVec2(x, y), imgui.ImVec2(x + imgui.calc_text_size(text).x + 8, y + imgui.get_text_line_height() + 4),
                                 imgui.get_color_u32(imgui.ImVec4(0, 0, 0, 0.6)))
            draw.add_text(imgui.ImVec2(x + 4, y + 2), imgui.get_color_u32(imgui.ImVec4(1, 1, 1, 1)), text)
        if self.view.manual:
            r = self.view.ranges[manual_align.range_of(self.view.ranges, self.view.index)]
            for k, p in enumerate(r.points):
                sx, sy = self.frame_to_image(*p)
                color = imgui.get_color_u32(imgui.ImVec4(1.0, 0.85, 0.2, 1.0) if r.keyframe == self.view.index else imgui.ImVec4(0.6, 0.6, 0.6, 1.0))
                draw.add_circle(imgui.ImVec2(sx, sy), 5, color, 0, 2)
                draw.add_text(imgui.ImVec2(sx + 6, sy - 6), color, str(k + 1))
        self._mouse(x, y, w, h)
        self._track_pan(w)

    def _track_pan(self, w):
        """The view's pan is the image pane's scroll, in image pixels: restored once after a state was set."""
        scale = w / self.image.shape[1] # window units per image pixel
        if self._restore_pan:
            imgui.set_scroll_x(self.view.pan[0] * scale)
            imgui.set_scroll_y(self.view.pan[1] * scale)
            self._restore_pan = False
        else:
            self.edit_view(pan=(imgui.get_scroll_x() / scale, imgui.get_scroll_y() / scale))

    def _mouse(self, x, y, w, h):
        io = imgui.get_io()
        mx, my = io.mouse_pos.x, io.mouse_pos.y
        hovered = imgui.is_window_hovered() and x <= mx < x + w and y <= my < y + h
        if hovered and io.mouse_wheel:
            self._wheel_zoom(io.mouse_wheel, mx, my)
        if hovered and imgui.is_mouse_clicked(imgui.MouseButton_.middle):
            self._pan_drag = (mx, my, imgui.get_scroll_x(), imgui.get_scroll_y())
        if self._pan_drag is not None:
            if imgui.is_mouse_down(imgui.MouseButton_.middle):
                x0, y0, sx, sy = self._pan_drag
                imgui.set_scroll_x(sx - (mx - x0))
                imgui.set_scroll_y(sy - (my - y0))
            else:
                self._pan_drag = None
        if not (hovered and self.view.manual):
            return
        if imgui.is_mouse_clicked(imgui.MouseButton_.left):
            self.edit_view(ranges=manual_align.add_point(self.view.ranges, self.view.index, self.image_to_frame(mx, my)))
        elif imgui.is_mouse_clicked(imgui.MouseButton_.right): # within 1 % of the image width
            radius = abs(self.image_to_frame(mx + 0.01 * w, my)[0] - self.image_to_frame(mx, my)[0])
            self.edit_view(ranges=manual_align.delete_point(self.view.ranges, self.view.index, self.image_to_frame(mx, my), radius))

    def _wheel_zoom(self, notches, mx, my):
        """Zoom by WHEEL_ZOOM per notch about the mouse position."""
        x, y, w, _ = self.image_rect
        fb = imgui.get_io().display_framebuffer_scale.x or 1.0
        old = w * fb / self.image.shape[1]
        new = float(np.clip(old / WHEEL_ZOOM**notches, 0.1, 32))
        self.zoom = new
        # keep the image point under the mouse in place (takes effect with the next frame's layout)
        imgui.set_scroll_x(imgui.get_scroll_x() + (mx - x) * (new / old - 1))
        imgui.set_scroll_y(imgui.get_scroll_y() + (my - y) * (new / old - 1))

    def settings_prefs(self):
        return dict(nearest=self.nearest)

    #---------------------------------------------------------------------
    # Under the image: frame slider, Lock, date; the timeline strip.

    def below_rows(self):
        return 2 if self.opened is not None else 0

    def draw_below_image(self):
        if self.opened is None:
            return
        s = self.win.ui_scale
        n = self.num_frames
        date = format_date(self.unix[self.view.index])
        imgui.set_next_item_width(-imgui.calc_text_size(f'Lock  {date}').x - 60 * s)
        changed, index = imgui.slider_int('##frame', self.view.index, 0, n - 1, '%d', _CLAMP)
        if changed:
            self.go(index)
        imgui.same_line()
        _, lock = imgui.checkbox('Lock', self.view.lock)
        if imgui.is_item_hovered():
            imgui.set_tooltip('Keep the time of day: a new date shows the frame nearest to the same time on that day')
        self.edit_view(lock=lock)
        imgui.same_line()
        imgui.text_unformatted(date)
        self._draw_strip()

    def _draw_strip(self):
        """Capture density (bars), gaps (red), the trim range (bright) and the current frame (yellow line); a
        click jumps to the frame nearest to that moment, hovering shows its thumbnail."""
        pos, width = imgui.get_cursor_screen_pos(), imgui.get_content_region_avail().x
        height = imgui.get_frame_height()
        bins = max(int(width // 2), 1)
        key = (id(self.opened), bins)
        if self._density[0] != key:
            self._density = (key, browse.density(self.unix, bins))
        counts, gaps = self._density[1]
        imgui.invisible_button('##timeline', imgui.ImVec2(max(width, 1), height))
        draw = imgui.get_window_draw_list()
        u0, u1 = self.unix[0], max(self.unix[-1], self.unix[0] + 1)
        to_x = lambda u: pos.x + (u - u0) / (u1 - u0) * width
        draw.add_rect_filled(pos, imgui.ImVec2(pos.x + width, pos.y + height), imgui.get_color_u32(imgui.ImVec4(0.15, 0.15, 0.17, 1)))
        ok = self._valid(selection.parse_trim, self.cfg.trim)
        start, end = selection.parse_trim(self.cfg.trim, self.num_frames) if ok else (0, self.num_frames - 1)
        top = max(counts.max(), 1)
        for b, c in enumerate(counts):
            if c:
                bx = pos.x + b * width / bins
                u = u0 + (b + 0.5) / bins * (u1 - u0)
                inside = self.unix[start] <= u <= self.unix[end]
                color = imgui.ImVec4(0.45, 0.65, 0.9, 1) if inside else imgui.ImVec4(0.35, 0.38, 0.45, 1)
                draw.add_rect_filled(imgui.ImVec2(bx, pos.y + height * (1 - c / top)), imgui.ImVec2(bx + max(width / bins - 0.5, 1), pos.y + height),
                                     imgui.get_color_u32(color))
        for a, b in gaps:
            draw.add_rect_filled(imgui.ImVec2(to_x(self.unix[a]), pos.y + height - 3), imgui.ImVec2(to_x(self.unix[b]), pos.y + height),
                                 imgui.get_color_u32(imgui.ImVec4(0.9, 0.3, 0.25, 1)))
        cx = to_x(self.unix[self.view.index])
        draw.add_line(imgui.ImVec2(cx, pos.y), imgui.ImVec2(cx, pos.y + height), imgui.get_color_u32(imgui.ImVec4(1, 0.85, 0.2, 1)), 2)
        if imgui.is_item_hovered() and width > 0:
            u = u0 + (imgui.get_io().mouse_pos.x - pos.x) / width * (u1 - u0)
            k = int(np.abs(self.unix - u).argmin())
            if imgui.is_item_clicked():
                self.go(k)
            self._thumbnail_tooltip(k)

    def _thumbnail_tooltip(self, k):
        imgui.begin_tooltip()
        imgui.text_unformatted(f'#{k}  {format_date(self.unix[k])}')
        try:
            if self._thumb_index != k: # decoded small and cached: hovering along the strip stays fluid
                self._thumb_tex.upload(gui_utils.to_rgba8(self._thumbs.get(self.opened.timed.frames[k])))
                self._thumb_index = k
            s = self.win.ui_scale
            imgui.image(imgui.ImTextureRef(self._thumb_tex.tex_id), imgui.ImVec2(self._thumb_tex.width * s, self._thumb_tex.height * s))
        except Exception as e: # pylint: disable=broad-except # an unreadable frame: say why, keep going
            self._thumb_index = None
            gw.status_text(one_line(e), 'error')
        imgui.end_tooltip()

#----------------------------------------------------------------------------
