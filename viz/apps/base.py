"""The base of the viewers. `App` is the shell every desktop tool shares (grid tool, explorer, preprocessing): the
window with its settings, the RGBA8 texture of the image pane, a worker thread, the status bar with progress and
messages, the log, the Window section, Home / F11 / Esc, and frame stepping for tests. `Viewer` adds what the two
network viewers share: one live state document rendered in the worker.

What a Viewer holds:
  doc           the live Document: what the controls show and edit
  shown         the Rendered result on screen: its document (network resolved), network and value; `rendered_doc()`
                is what an export embeds (the shown document with the live presentation state)
  win, texture  the gui_utils Window and the RGBA8 Texture of the image pane
  worker        renders the live document (a new state cancels the render in flight)
  renderer      viz.render.Renderer, shared by the display and exports one call at a time
What it does: loading of any input (network pickle, exported png / jpg / mp4 in any case, JSON state file or text),
drag and drop, the image pane (fit or a fixed zoom, nearest or linear filtering) with the window-size buttons, a
status bar with progress, a log, the Export panel (viz.export.export, never overwriting), F11, Home, Esc asks
before quitting, window settings in the user's config folder.

A subclass sets APP / TITLE / TOOLS, returns its default document from `default_doc`, renders in `render_job`
(runs on the worker thread: no GUI calls), turns a rendered value into the image to show in `compose`, and draws
its controls in `draw_controls` (and optionally rows under the image in `draw_below_image`). Nothing read from disk
is executed: inputs are parsed as JSON (viz.state) or loaded with the safe network loader.
"""

import collections
import dataclasses
import os
import sys
import threading
import time
import warnings

import click

from imgui_bundle import imgui

import gui_utils
from gui_utils import widgets as gw
from viz import export as vexport
from viz import metadata, network, render, widgets
from viz import state as vstate
from viz.dataset import DatasetFinder
from viz.worker import Worker, one_line

#----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Rendered:
    """A value rendered for a document: what the worker publishes."""
    doc: vstate.Document        # The document rendered, its network reference resolved (name, hash and path).
    net: network.Network
    value: object               # What the app's render_job yielded.

class SharedRenderer:
    """A Renderer used by several threads (display and export): one render call at a time, so that seeded noise and
    the device are never shared mid-call. Everything else is the Renderer's."""

    def __init__(self, renderer):
        self._renderer = renderer
        self._lock = threading.Lock()

    def render(self, req, to_host=True):
        with self._lock:
            return self._renderer.render(req, to_host)

    def __getattr__(self, name):
        return getattr(self._renderer, name)

def read_input(source, current, tools, convert=None):
    """(document, network search roots) of an input: a network pickle (keeps the state of `current`), an exported
    png / jpg / jpeg / mp4 (any case), a .json state file, or JSON text starting with '{'. A view of another tool
    goes through convert(doc, roots) when given. ValueError (MetadataError, StateError, NetworkError) with a one-line
    reason for anything unusable."""
    source = os.fspath(source)
    if not os.path.exists(source) and source.lstrip().startswith('{'):
        doc, roots = vstate.loads(source, 'JSON state'), []
    elif os.path.splitext(source)[1].lower() == '.pkl':
        if not os.path.isfile(source):
            raise ValueError(f'{source}: no such file')
        path = os.path.abspath(source)
        return current.replace(network=vstate.NetworkRef(name=os.path.basename(path), path=path)), [os.path.dirname(path)]
    else:
        doc = vstate.from_json(metadata.read_doc(source), source)
        roots = [os.path.dirname(os.path.abspath(source))]
    if doc.tool not in tools and convert is not None:
        doc = convert(doc, roots)
    if doc.tool not in tools:
        raise vstate.StateError(f'{source[:80]}: holds a {doc.tool!r} view; this tool opens {" / ".join(tools)} views')
    return doc, roots

def free_path(folder, stem, ext):
    """folder/stem_K.ext with the smallest K >= 0 that is not taken."""
    k = 0
    while os.path.exists(os.path.join(folder, f'{stem}_{k}.{ext}')):
        k += 1
    return os.path.join(folder, f'{stem}_{k}.{ext}')

#----------------------------------------------------------------------------

class _Tee:
    """A stream that also hands each complete line to `sink` (stderr into an app's Log)."""

    def __init__(self, stream, sink):
        self.stream, self.sink, self.buf = stream, sink, ''

    def write(self, text):
        self.stream.write(text)
        self.buf += text
        *lines, self.buf = self.buf.split('\n')
        for line in lines:
            self.sink(line)
        return len(text)

    def flush(self):
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)

#----------------------------------------------------------------------------

class App:
    """The shell: a subclass draws its controls in `draw_controls` (more sections in `draw_sections`), receives the
    worker's results in `receive` (before drawing; it uploads self.image to self.texture), acts on the new state in
    `after_draw`, and says when it has nothing left to do in `settled` (what `wait` waits for)."""
    APP = 'viewer'              # Settings file: <config>/tlgan/<APP>.json.
    TITLE = 'TLGAN viewer'
    PANEL_WIDTH = 350           # Width of the controls at UI scale 1.
    LOG_LINES = 2000
    EXPORT_CLOSE_S = 0.5        # How long closing waits for an export in flight.
    EMPTY_TEXT = 'Drop a file here'
    IMAGE_FLAGS = imgui.WindowFlags_.horizontal_scrollbar # Of the image pane.

    def __init__(self, *, settings=True, size=(1280, 800), visible=True):
        """settings: read and save the window settings (False: defaults, nothing written; for tests and scripts)."""
        self.save_settings = settings
        prefs = gui_utils.load_settings(self.APP) if settings else gui_utils.WindowSettings(size=tuple(size))
        self.prefs = dict(prefs.app)
        self.win = gui_utils.Window(self.TITLE, settings=prefs, visible=visible, confirm_quit=True)
        self.texture = gui_utils.Texture(nearest=True)
        self.worker = Worker('viz-render')
        self.exporter = Worker('viz-export') # Exports run beside the renders, one at a time.
        self._export_job, self._export_frames = 0, (0, 0)
        self.image = None                   # The uploaded image (uint8 RGBA).
        self.progress = 0.0
        self.message, self.message_kind = '', 'info'
        self.log_lines = collections.deque(maxlen=self.LOG_LINES)
        self.zoom = self.prefs.get('zoom') if self.prefs.get('zoom') in (None, *widgets.view.ZOOMS) else None
        self.nearest = bool(self.prefs.get('nearest', True))
        self.image_rect = None              # Where the image was drawn (window units), unclipped.
        self.pane_rect = None               # The image pane's visible area.
        self._frame_times = collections.deque(maxlen=30)
        self.win.on_drop(self.drop)

    #---------------------------------------------------------------------
    # Hooks for subclasses.

    def drop(self, paths):
        """Files dropped onto the window."""

    def before_frame(self):
        """Called at the start of each frame, before results are received (e.g. to advance playback)."""

    def receive(self):
        """Take the workers' results; update self.image and the texture."""

    def after_draw(self):
        """Called after the controls were drawn: start the work the new state needs."""

    def settled(self):
        """Nothing is running or waiting to run: what `wait` waits for."""
        return not self.worker.busy

    def draw_controls(self):
        """The controls panel (left)."""

    def draw_sections(self):
        """Sections between the controls and the Window section."""

    def draw_image_overlay(self):
        """Called right after the image was drawn (self.image_rect is set): marks, mouse handling."""

    def draw_below_image(self):
        """Rows between the image and the size buttons; returns nothing. Declare their count in below_rows()."""

    def below_rows(self):
        return 0

    def status(self):
        """(fraction, label) of the status bar's progress bar."""
        return self.progress, f'{self.progress * 100:.0f}%' if self.worker.busy else ''

    def quit_question(self):
        return 'Quit?'

    def frame_rate(self):
        """Frames per second of the interactive loop now (lower while background work needs the CPU)."""
        return 60

    def settings_prefs(self):
        """The app's values saved with the window settings."""
        return dict(zoom=self.zoom, nearest=self.nearest)

    def on_home(self):
        """The Home key: back to the fitted view."""
        self.zoom = None

    #---------------------------------------------------------------------
    # Messages.

    def say(self, text, kind='info'):
        """Show a one-line message in the status bar (and the log)."""
        self.message, self.message_kind = text, kind
        self.log(('Error: ' if kind == 'error' else '') + text)

    def log(self, text):
        for line in str(text).splitlines() or ['']:
            self.log_lines.append(line)
            print(line, flush=True)

    #---------------------------------------------------------------------
    # The frame.

    def step(self, capture=None):
        """One UI frame. capture: as Window.end_frame (True or a rect) returns the screenshot."""
        self._frame_times.append(time.perf_counter())
        return self.win.step(self._frame, capture)

    def _frame(self, _win):
        self.before_frame()
        self.receive()
        self._draw()
        if self.win.key_pressed('home'):
            self.on_home()
        self.after_draw()

    @classmethod
    def main(cls, *args, **kwargs):
        """What a command line does with the app: open its window, run it until it closes, close it. No display (or
        no OpenGL 3.3) stops the command with one line; while it runs, stderr also goes to the Log panel."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore') # glfw's own warning repeats the error
                app = cls(*args, **kwargs)
        except RuntimeError as e:
            raise click.ClickException(str(e).splitlines()[0]) from None
        sys.stderr = _Tee(sys.stderr, app.log_lines.append)
        try:
            with app:
                app.run()
        finally:
            sys.stderr = sys.stderr.stream

    def run(self):
        """The interactive loop at frame_rate(), until the window closes (then settings are saved)."""
        while not self.win.should_close:
            t0 = time.perf_counter()
            self.step()
            pause = 1 / self.frame_rate() - (time.perf_counter() - t0)
            if pause > 0:
                time.sleep(pause)

    def close(self):
        self.worker.close()
        self.exporter.close(timeout=self.EXPORT_CLOSE_S)
        if self.save_settings and self.win.handle is not None:
            self.prefs.update(self.settings_prefs())
            try:
                gui_utils.save_settings(self.APP, self.win.get_settings(app=self.prefs))
            except (OSError, TypeError, ValueError) as e:
                print(f'Could not save the settings: {e}')
        self.texture.close()
        self.win.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def wait(self, timeout=120):
        """Tests and scripts: step frames until settled() (the live state is completely rendered and on screen, or
        its render failed). False on timeout."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self.step()
            if self.settled():
                self.step() # receive and show the last result
                return True
            self.worker.wait(min(0.05, max(deadline - time.perf_counter(), 0)))
        return False

    def screenshot_image(self):
        """Tests: the pixels of the image as drawn (HxWx3, clipped to the visible pane), from a fresh frame."""
        self.step()
        x, y, w, h = self.image_rect
        px, py, pw, ph = self.pane_rect
        x0, y0 = max(x, px), max(y, py)
        x1, y1 = min(x + w, px + pw), min(y + h, py + ph)
        return self.win.screenshot((x0, y0, max(x1 - x0, 0), max(y1 - y0, 0)))

    @property
    def fps(self):
        t = self._frame_times
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0

    #---------------------------------------------------------------------
    # Layout: controls on the left; image, rows under it, size buttons and status on the right.

    def _draw(self):
        s = self.win.ui_scale
        with gw.full_window():
            imgui.begin_child('controls', imgui.ImVec2(self.PANEL_WIDTH * s, 0))
            imgui.push_item_width(-110 * s)
            self.draw_controls()
            self.draw_sections()
            self._draw_window_section()
            self._draw_log()
            imgui.pop_item_width()
            imgui.end_child()
            imgui.same_line()
            imgui.begin_child('view')
            row = imgui.get_frame_height_with_spacing()
            rows = self.below_rows() + 2
            imgui.begin_child('image', imgui.ImVec2(0, -rows * row), 0, self.IMAGE_FLAGS)
            self._draw_image()
            imgui.end_child()
            self.draw_below_image()
            self._draw_status()
            imgui.end_child()
        if gw.confirm_quit_modal(self.win, self.quit_question()):
            self.worker.cancel()

    def _draw_image(self):
        pos, avail = imgui.get_cursor_screen_pos(), imgui.get_content_region_avail()
        self.pane_rect = (pos.x, pos.y, avail.x, avail.y)
        if self.image is None:
            imgui.text_disabled('Rendering...' if self.worker.busy else self.EMPTY_TEXT)
            self.image_rect = (pos.x, pos.y, 0, 0)
            return
        self.texture.nearest = self.nearest
        self.image_rect = tuple(self.texture.draw(zoom=self.zoom, integer=True))
        self.draw_image_overlay()

    def _draw_status(self):
        zoom = widgets.size_buttons()
        if zoom is not None:
            self.fit_window(zoom)
        imgui.same_line()
        if imgui.button('Fit'):
            self.zoom = None
        imgui.same_line()
        _, smooth = imgui.checkbox('Linear', not self.nearest)
        self.nearest = not smooth
        imgui.same_line()
        fraction, label = self.status()
        if self.image is not None:
            label += f'   {self.image.shape[1]}x{self.image.shape[0]}   {self.fps:.0f} fps'
        gw.progress(fraction, label) # the rest of the row: nothing is clipped at a large UI scale
        color = {'error': gw.ERROR_COLOR, 'warning': gw.WARNING_COLOR}.get(self.message_kind)
        if color is not None:
            imgui.push_style_color(imgui.Col_.text, color)
        imgui.text_unformatted(self.message)
        if color is not None:
            imgui.pop_style_color()
        if self.message and imgui.is_item_hovered():
            imgui.set_tooltip(self.message)

    def _draw_window_section(self):
        if not imgui.collapsing_header('Window'):
            return
        gw.ui_scale_slider(self.win)
        if imgui.button('Fullscreen (F11)'):
            self.win.toggle_fullscreen()

    def _draw_log(self):
        if not imgui.collapsing_header('Log'):
            return
        imgui.begin_child('log', imgui.ImVec2(0, 160 * self.win.ui_scale), imgui.ChildFlags_.borders,
            imgui.WindowFlags_.horizontal_scrollbar)
        for line in self.log_lines:
            imgui.text_unformatted(line)
        if imgui.get_scroll_y() >= imgui.get_scroll_max_y():
            imgui.set_scroll_here_y(1.0)
        imgui.end_child()

    def fit_window(self, zoom):
        """Resize the window so that the image pane shows the image at `zoom` (framebuffer pixels per pixel)."""
        self.zoom = zoom
        if self.image is None or self.pane_rect is None:
            return
        h, w = self.image.shape[:2]
        self.win.set_content_size(w * zoom, h * zoom, region=self.pane_rect[2:], framebuffer_pixels=True)

    #---------------------------------------------------------------------
    # Exports, in their own worker (the subclasses make the jobs).

    @property
    def exporting(self):
        return self._export_job != 0

    def submit_export(self, job, tag):
        """Run the generator function `job` (the Worker protocol) in the export worker; progress via export_progress."""
        self._export_frames = (0, 0)
        self._export_job = self.exporter.submit(job, tag=tag)
        return self._export_job

    def export_progress(self, k, n):
        """Called from the export job: k of n done."""
        self._export_frames = (k, n)

    def export_finished(self, value):
        """Hook: the export in flight wrote `value`."""
        self.say(f'Wrote {value}')

    def _receive_export(self):
        update = self.exporter.poll()
        if update is None or update.job != self._export_job or not update.done:
            return
        self._export_job = 0
        if update.error:
            self.say(f'Export stopped: {update.error}', 'error')
        else:
            self.export_finished(update.value)

    def export_status(self):
        """(fraction, label) of the export in flight, for the status bar."""
        k, n = self._export_frames
        return k / max(n, 1), (f'export {k}/{n}' if n else 'exporting')

    def wait_export(self, timeout=300):
        """Tests: until the export in flight has ended; returns what it wrote (None on failure)."""
        job = self._export_job
        if not job:
            return None
        self.exporter.wait(timeout, job=job)
        update = self.exporter.latest
        self.step()
        return update.value if update is not None and update.job == job and not update.error else None

#----------------------------------------------------------------------------

class Viewer(App):
    """A network viewer (grid tool, explorer): the live document `doc`, rendered in the worker."""
    TOOLS = ('grid',)           # Document.tool values this viewer opens.
    EMPTY_TEXT = 'Drop a network pickle, an exported image / video or a JSON state here'

    def __init__(self, doc=None, *, roots=(), network_roots=(), dataset_roots=(), renderer=None, device=None, **kwargs):
        """doc: the document to start with (default_doc() if None); roots: where its network is looked up first
        (e.g. the folder of the file it came from). kwargs: App's (settings, size, visible)."""
        self.network_roots = list(network_roots)
        self.renderer = SharedRenderer(renderer or render.Renderer(device=device, datasets=DatasetFinder(dataset_roots)))
        super().__init__(**kwargs)
        self.doc = doc or self.default_doc()
        self.roots = list(roots)
        self.shown = None                   # Rendered on screen (None before the first result).
        self.shown_done = False             # `shown` is complete (not a partial result).
        self.export_panel = widgets.ExportPanel(folder=str(self.prefs.get('export_folder') or _default_export_folder()))
        self.json_edit = widgets.JsonEdit()
        self._job, self._job_key = 0, None  # The render job of the live document and its key.
        self._shown_job = 0                 # The job whose result is on screen.
        self._view_key = None               # The soft state the uploaded image was composed with.
        self._render_error = ''

    #---------------------------------------------------------------------
    # Hooks for subclasses.

    @classmethod
    def default_doc(cls):
        return vstate.Document()

    def render_job(self, doc, net):
        """Iterator of (value, progress 0..1) rendering `doc` with `net`; runs on the worker thread."""
        raise NotImplementedError

    def compose(self, value, doc):
        """The uint8 RGBA image to show for a rendered value under `doc` (the rendered state with the live soft
        state). Runs on the UI thread."""
        return value

    def render_key(self, doc):
        """What decides the rendered pixels: a change re-renders. The soft state only changes presentation."""
        return doc.tool, doc.network, doc.state

    def export_disabled(self, doc):
        """{format: why} of the export buttons that make no sense for `doc`."""
        return {}

    def export_stem(self, doc):
        return os.path.splitext(doc.network.name)[0] or 'view'

    #---------------------------------------------------------------------
    # Inputs.

    def load(self, source):
        """Open a network pickle, an exported file or a JSON state (file or text). Returns False (and says why in
        the status bar) for anything unusable; never raises for a bad input."""
        self.load_note = ''
        try:
            doc, roots = read_input(source, self.doc, self.TOOLS, self.convert)
        except ValueError as e: # MetadataError and StateError are ValueErrors
            self.say(one_line(e), 'error')
            return False
        self.set_doc(doc, roots)
        name = 'JSON state' if str(source).lstrip().startswith('{') else os.path.basename(source)
        self.say(f'Loaded {name}' + (f' ({self.load_note})' if self.load_note else ''))
        return True

    convert = None      # convert(doc, roots) -> document of this tool, for views of other tools (None: refused);
    load_note = ''      # it may set load_note to what the conversion left out, said with the load.

    def set_doc(self, doc, roots=None):
        self.doc = doc
        if roots is not None:
            self.roots = list(roots)
        self.json_edit = widgets.JsonEdit(multiline=self.json_edit.multiline)

    def drop(self, paths):
        for path in paths:
            self.load(path)

    #---------------------------------------------------------------------
    # Rendering.

    @property
    def net(self):
        """The network of the image on screen (None before the first result)."""
        return self.shown.net if self.shown is not None else None

    def rendered_doc(self):
        """The document of the pixels on screen: the rendered state with the live presentation (soft) state."""
        if self.shown is None:
            return None
        same_kind = type(self.doc.soft) is type(self.shown.doc.soft)
        return self.shown.doc.replace(soft=self.doc.soft) if same_kind else self.shown.doc

    def _submit(self):
        doc, roots = self.doc, self.roots + self.network_roots
        def job():
            resolved, path = vexport.resolve(doc, roots)
            net = self.renderer.network(path)
            for value, progress in self.render_job(resolved, net):
                yield Rendered(resolved, net, value), progress
        self._job_key = self.render_key(doc)
        self._job = self.worker.submit(job, tag=doc)
        self.progress = 0.0

    def _receive(self):
        update = self.worker.poll()
        if update is None or update.job < self._shown_job:
            return
        current = update.job == self._job
        if current:
            self.progress = update.progress
        if update.error:
            if current:
                self.say(update.error, 'error')
                self._render_error = update.error
            return
        if current and self._render_error and self.message == self._render_error: # the failure is over
            self.message, self._render_error = '', ''
        if self.shown is None or self.shown.doc.network != update.value.doc.network:
            self.win.set_title(f'{self.TITLE} - {update.value.doc.network.name}')
        # A stale update (its job was superseded) still shows: the newest finished step while a slider moves.
        self.shown, self.shown_done, self._shown_job = update.value, update.done and current, update.job
        self._view_key = None
        if current and self.render_key(self.doc) == self._job_key and self.doc.network != update.value.doc.network:
            self.doc = self.doc.replace(network=update.value.doc.network) # resolved: name, hash and path
            self._job_key = self.render_key(self.doc)

    def _update_image(self):
        if self.shown is None:
            return
        doc = self.rendered_doc()
        if doc.soft == self._view_key:
            return
        self.image = self.compose(self.shown.value, doc)
        self.texture.upload(self.image)
        self._view_key = doc.soft

    #---------------------------------------------------------------------
    # Exports.

    def export(self, fmt, folder=None):
        """Export the view on screen as png / jpg / mp4 into `folder` (default: the Export panel's) under a free
        name, in the export worker; returns the planned path or None (with the reason in the status bar)."""
        doc = self.rendered_doc()
        if doc is None or self.exporting:
            self.say('An export is running: wait for it to finish' if doc else 'Nothing to export yet: no image '
                'has been rendered', 'error')
            return None
        why = self.export_disabled(doc).get(fmt)
        if why:
            self.say(why, 'error')
            return None
        folder = os.path.abspath(os.path.expanduser(folder or self.export_panel.folder or '.'))
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            self.say(f'Cannot use the export folder {folder}: {e.strerror or e}', 'error')
            return None
        out = free_path(folder, self.export_stem(doc), fmt)
        partial = None if self.shown_done else self._job # the render of the view on screen still runs
        roots = self.roots + self.network_roots
        def job():
            if partial is not None:
                yield None, 0.0
                self.worker.wait(job=partial) # one render at a time: the view's first
            self.export_progress(0, 0)
            yield vexport.export(self.renderer, doc, out, roots=roots, progress=self.export_progress), 1.0
        self.submit_export(job, tag=out)
        self.prefs['export_folder'] = folder
        self.export_panel = dataclasses.replace(self.export_panel, folder=folder)
        self.say(f'Exporting {os.path.basename(out)}' + (' (waiting for the render to finish)' if partial else ''))
        return out

    #---------------------------------------------------------------------
    # The App's hooks.

    def receive(self):
        self._receive()
        self._receive_export()
        self._update_image()

    def after_draw(self):
        if self.render_key(self.doc) != self._job_key:
            self._submit()

    def settled(self):
        return self.render_key(self.doc) == self._job_key and not self.worker.busy

    def status(self):
        label = f'{self.progress * 100:.0f}%' if self.worker.busy else ('done' if self.shown_done else '')
        if self.exporting:
            return self.export_status()
        return self.progress, label

    def quit_question(self):
        return 'Quit?' if not self.exporting else 'An export is running. Quit anyway?'

    def settings_prefs(self):
        return dict(super().settings_prefs(), export_folder=self.export_panel.folder)

    def draw_sections(self):
        self._draw_export()

    def _draw_export(self):
        if not imgui.collapsing_header('Export', imgui.TreeNodeFlags_.default_open):
            return
        doc = self.rendered_doc()
        disabled = self.export_disabled(doc) if doc is not None else dict.fromkeys(('png', 'jpg', 'mp4'), 'Nothing yet')
        self.export_panel, fmt = widgets.export_panel(self.export_panel, disabled, busy=self.exporting)
        if fmt is not None:
            self.export(fmt)

    def parse_json(self, text):
        """The document of a JSON text (the JSON editor's check); StateError for anything this viewer cannot open."""
        doc = vstate.loads(text, 'JSON')
        if doc.tool not in self.TOOLS:
            raise vstate.StateError(f'JSON: a {doc.tool!r} view; this tool opens {" / ".join(self.TOOLS)} views')
        return doc

    def draw_json_editor(self):
        """A 'JSON' section editing the whole live document (for draw_controls)."""
        if not imgui.collapsing_header('JSON'):
            return
        self.json_edit, applied = widgets.json_editor(self.json_edit, self.doc.to_json(), self.parse_json,
            height=220 * self.win.ui_scale)
        if applied is not None:
            self.set_doc(applied)
            self.say('Applied the JSON state')

def _default_export_folder():
    return os.path.join(os.path.expanduser('~'), 'tlgan-exports')

#----------------------------------------------------------------------------
