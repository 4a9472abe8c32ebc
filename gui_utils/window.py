"""A GLFW window with an OpenGL 3.3 core context and a Dear ImGui context, drawn by imgui-bundle's
pure-Python GLFW backend (`imgui_bundle.python_backends.glfw_backend`) and PyOpenGL.

The frame loop can be driven interactively (`run`) or one frame at a time (`step`, or
`begin_frame` / `end_frame`), which is what the tests do under Xvfb.

One libglfw per process: `imgui_bundle` is imported before the `glfw` package, so that the
`glfw` package binds the libglfw that ships inside imgui_bundle (imgui_bundle sets
PYGLFW_LIBRARY on import). On Linux the two libraries share a soname, so only one ever loads;
on macOS and Windows importing `glfw` before `gui_utils` / `imgui_bundle` could load two.
(The package's __init__ also sets PYOPENGL_PLATFORM=x11 on Wayland before OpenGL loads.)
"""

import ctypes
import math
import os
import time
from collections.abc import Callable

import imgui_bundle  # noqa: F401  (first: makes the `glfw` package use imgui_bundle's libglfw)
import glfw
import numpy as np
import OpenGL.GL as gl
from imgui_bundle import imgui
from imgui_bundle.python_backends.glfw_backend import GlfwRenderer

from .settings import WindowSettings, clamp_ui_scale

_open_windows = {}  # address -> Window; glfw is terminated when the last one closes

#----------------------------------------------------------------------------

def _init_glfw() -> None:
    if not glfw.init():
        raise RuntimeError('glfw.init() failed: no display? (run headless tests under `xvfb-run -a`)')

_KEY_ALIASES = {'esc': 'escape', 'pgup': 'page_up', 'pgdn': 'page_down'}

def key_code(key: int | str) -> int:
    """A glfw key code from a code or a name such as 'f11', 'home', 'esc', 'space', 'left'."""
    if isinstance(key, int):
        return key
    name = _KEY_ALIASES.get(key.lower(), key.lower())
    code = getattr(glfw, 'KEY_' + name.upper(), None)
    if not isinstance(code, int):
        raise ValueError(f'unknown key name {key!r}')
    return code

def _address(glfw_window) -> int | None:
    return ctypes.cast(glfw_window, ctypes.c_void_p).value if glfw_window else None

def _overlap(a: tuple, b: tuple) -> int:
    """Overlapping area of two (x, y, w, h) rectangles."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(w, 0) * max(h, 0)

def _monitor_rect(monitor) -> tuple[int, int, int, int]:
    x, y = glfw.get_monitor_pos(monitor)
    mode = glfw.get_video_mode(monitor)
    return x, y, mode.size.width, mode.size.height

#----------------------------------------------------------------------------

class Window:
    """A desktop window hosting Dear ImGui. Use as a context manager or call `close()`.

    confirm_quit: the close button and Esc only set `close_requested`; the app asks the user
        (see `widgets.confirm_quit_modal`) and calls `confirm_close()` or `cancel_close()`.
    esc_quits, f11_fullscreen: built-in key handling, on by default.
    style_fn(style): tweaks the default style before it is scaled; rerun on every scale change.
    """

    def __init__(self, title: str = 'TLGAN', size: tuple[int, int] = (1280, 720), *,
                 settings: WindowSettings | None = None, visible: bool = True,
                 confirm_quit: bool = False, esc_quits: bool = True, f11_fullscreen: bool = True,
                 style_fn: Callable | None = None, clear_color=(0.08, 0.08, 0.08, 1.0)):
        settings = settings or WindowSettings(size=tuple(size))
        _init_glfw()
        self._win = self._create(title, settings.size, visible)
        _open_windows[_address(self._win)] = self
        self.confirm_quit, self.esc_quits, self.f11_fullscreen = confirm_quit, esc_quits, f11_fullscreen
        self.clear_color = tuple(clear_color)
        self._style_fn = style_fn
        self._user_scale = clamp_ui_scale(settings.ui_scale)
        self._applied_scale = None
        self._pressed, self._repeated, self._held = set(), set(), set()
        self._drop_handlers = []
        self._close_requested = False
        self._in_frame = False
        self._fs_restore = None  # (x, y, w, h, maximized) while fullscreen
        self._setup_imgui()
        self._place(settings)

    def _create(self, title: str, size: tuple[int, int], visible: bool):
        glfw.default_window_hints()
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)  # the backend's shaders are GLSL 330
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)  # required on macOS
        glfw.window_hint(glfw.VISIBLE, visible)
        win = glfw.create_window(int(size[0]), int(size[1]), title, None, None)
        if not win:
            raise RuntimeError('could not create a window with an OpenGL 3.3 core context')
        glfw.make_context_current(win)
        glfw.swap_interval(0)  # vsync off: the frame loop paces itself
        return win

    def _setup_imgui(self) -> None:
        self._ctx = imgui.create_context()
        imgui.set_current_context(self._ctx)  # create_context keeps an existing current context
        imgui.get_io().set_ini_filename(None)  # no imgui.ini in the working directory
        fonts = imgui.get_io().fonts
        if hasattr(fonts, 'add_font_default_vector'):  # scalable: stays sharp at any ui_scale
            fonts.add_font_default_vector()
        self._renderer = GlfwRenderer(self._win)  # attaches mouse/char/scroll callbacks
        glfw.set_key_callback(self._win, self._on_key)  # ours forwards to imgui
        glfw.set_drop_callback(self._win, lambda _w, paths: self.drop(paths))
        glfw.set_window_close_callback(self._win, lambda _w: self.request_close())
        glfw.set_window_focus_callback(self._win, self._on_focus)

    def _place(self, s: WindowSettings) -> None:
        """Restore position (only if it is still on a monitor), maximized and fullscreen state."""
        if s.pos is not None and any(_overlap((*s.pos, *s.size), _monitor_rect(m)) > 0
                                     for m in glfw.get_monitors()):
            glfw.set_window_pos(self._win, *s.pos)
        self._normal_rect = (*glfw.get_window_pos(self._win), *glfw.get_window_size(self._win))
        if s.maximized:
            glfw.maximize_window(self._win)
        if s.fullscreen:
            self.set_fullscreen(True)

    #---------------------------------------------------------------------
    # Lifetime

    def close(self) -> None:
        """Destroy the imgui context and the window; terminate glfw after the last one. Idempotent."""
        if self._win is None:
            return
        self._make_current()
        self._renderer.shutdown()
        imgui.destroy_context(self._ctx)
        del _open_windows[_address(self._win)]
        glfw.destroy_window(self._win)
        self._win = None
        if _open_windows:  # leave a live context current, e.g. a test's window after a second one closed
            list(_open_windows.values())[-1]._make_current()
        else:
            glfw.terminate()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _make_current(self) -> None:
        """GL and imgui calls go to this window (and to textures created in its context)."""
        glfw.make_context_current(self._win)
        imgui.set_current_context(self._ctx)

    @property
    def handle(self):
        """The raw glfw window, for anything not wrapped here."""
        return self._win

    #---------------------------------------------------------------------
    # Frame loop

    def begin_frame(self) -> None:
        """Poll events and start an imgui frame; draw with imgui calls, then call `end_frame`."""
        if self._in_frame:
            raise RuntimeError('begin_frame called twice without end_frame')
        self._make_current()
        glfw.poll_events()
        if self.f11_fullscreen and self.key_pressed('f11'):
            self.toggle_fullscreen()
        self._track_normal_rect()
        if self.ui_scale != self._applied_scale:
            self._apply_style(self.ui_scale)  # style and font size must not change mid-frame
        self._renderer.process_inputs()  # display size = window size, fb scale = fb / window
        imgui.new_frame()
        self._in_frame = True
        if self.esc_quits and self.key_pressed('escape'):
            self._on_escape()

    def end_frame(self, capture: bool | tuple | None = None) -> np.ndarray | None:
        """Render and swap. `capture` (True, or an (x, y, w, h) rect in window units) returns the
        frame as HxWx3 uint8, read before the swap."""
        if not self._in_frame:
            raise RuntimeError('end_frame called without begin_frame')
        self._in_frame = False
        self._clear_key_events()
        imgui.render()
        self._draw_to_back_buffer()
        shot = None
        if capture is not None and capture is not False:
            shot = self._read_back_buffer(None if capture is True else capture)
        glfw.swap_buffers(self._win)
        return shot

    def step(self, draw_fn: Callable | None = None, capture: bool | tuple | None = None) -> np.ndarray | None:
        """Exactly one frame: begin_frame, draw_fn(window), end_frame(capture)."""
        self.begin_frame()
        try:
            if draw_fn is not None:
                draw_fn(self)
        except BaseException:
            self._abort_frame()
            raise
        return self.end_frame(capture)

    def run(self, draw_fn: Callable, max_fps: float = 60.0) -> None:
        """Loop `step(draw_fn)` until the window should close, capped at `max_fps` (vsync is off)."""
        while not self.should_close:
            t0 = time.perf_counter()
            self.step(draw_fn)
            idle = 0.1 if glfw.get_window_attrib(self._win, glfw.ICONIFIED) else 0.0
            pause = max(1.0 / max_fps - (time.perf_counter() - t0), idle) if max_fps else idle
            if pause > 0:
                time.sleep(pause)

    def _abort_frame(self) -> None:
        """Leave imgui's frame after an exception in the draw function (best effort)."""
        self._in_frame = False
        self._clear_key_events()
        try:
            imgui.end_frame()
        except Exception:  # imgui may refuse with unbalanced Begin/End; the original error matters
            pass

    #---------------------------------------------------------------------
    # Screenshots

    def screenshot(self, rect: tuple | None = None) -> np.ndarray:
        """The last frame (or the part inside `rect`, window units) as HxWx3 uint8, top row first.

        Outside a frame, the last frame's imgui draw lists are rendered again into the back
        buffer (textures with their current contents) and read before any swap, so this works
        right after `step()`. Inside a frame, use `end_frame(capture=...)` instead.
        """
        if self._in_frame:
            raise RuntimeError('screenshot() inside a frame: use end_frame(capture=...)')
        self._make_current()
        if imgui.get_draw_data() is None:
            raise RuntimeError('no frame drawn yet')
        self._draw_to_back_buffer()
        return self._read_back_buffer(rect)

    def _draw_to_back_buffer(self) -> None:
        fb_w, fb_h = glfw.get_framebuffer_size(self._win)
        gl.glViewport(0, 0, fb_w, fb_h)
        gl.glClearColor(*self.clear_color)
        gl.glClear(gl.GL_COLOR_BUFFER_BIT)
        self._renderer.render(imgui.get_draw_data())

    def _read_back_buffer(self, rect: tuple | None) -> np.ndarray:
        fb_w, fb_h = glfw.get_framebuffer_size(self._win)
        x0, y0, x1, y1 = 0, 0, fb_w, fb_h
        if rect is not None:
            sx, sy = self.fb_scale
            x0, y0 = max(round(rect[0] * sx), 0), max(round(rect[1] * sy), 0)
            x1, y1 = min(round((rect[0] + rect[2]) * sx), fb_w), min(round((rect[1] + rect[3]) * sy), fb_h)
        w, h = max(x1 - x0, 0), max(y1 - y0, 0)
        if w == 0 or h == 0:
            return np.zeros((h, w, 3), np.uint8)
        gl.glReadBuffer(gl.GL_BACK)
        gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
        data = gl.glReadPixels(x0, fb_h - y1, w, h, gl.GL_RGB, gl.GL_UNSIGNED_BYTE)  # GL rows run bottom-up
        return np.frombuffer(data, np.uint8).reshape(h, w, 3)[::-1].copy()

    #---------------------------------------------------------------------
    # Sizes and UI scale

    @property
    def size(self) -> tuple[int, int]:
        """Window size in window units (what imgui's coordinates use)."""
        return glfw.get_window_size(self._win)

    @property
    def framebuffer_size(self) -> tuple[int, int]:
        return glfw.get_framebuffer_size(self._win)

    @property
    def fb_scale(self) -> tuple[float, float]:
        """Framebuffer pixels per window unit: 2 on a Retina Mac, usually 1 elsewhere."""
        (w, h), (fw, fh) = self.size, self.framebuffer_size
        return (fw / w, fh / h) if w and h else (1.0, 1.0)

    @property
    def content_scale(self) -> float:
        """The monitor's DPI scale expressed in window units.

        glfw's content scale counts framebuffer pixels, so where window units are already
        scaled (macOS: content scale 2 and fb scale 2) the UI itself must not grow again.
        """
        cs = max(glfw.get_window_content_scale(self._win))
        return max(cs / max(self.fb_scale), 0.25)

    @property
    def user_scale(self) -> float:
        return self._user_scale

    @user_scale.setter
    def user_scale(self, value: float) -> None:
        """The user's UI size factor, clamped to 0.5-2.0; applied at the next frame."""
        self._user_scale = clamp_ui_scale(value)

    @property
    def ui_scale(self) -> float:
        """content_scale x user_scale: the factor applied to fonts and style sizes."""
        return round(self.content_scale * self._user_scale, 4)

    def _apply_style(self, scale: float) -> None:
        style = imgui.Style()  # fresh defaults: scale_all_sizes multiplies, so never rescale a scaled style
        if self._style_fn is not None:
            self._style_fn(style)
        style.scale_all_sizes(scale)
        style.font_scale_dpi = scale  # fonts are rasterised at the scaled size (imgui >= 1.92)
        imgui.get_current_context().style = style
        self._applied_scale = scale

    def set_content_size(self, width: float, height: float, *, region: tuple[float, float] | None = None,
                         framebuffer_pixels: bool = False, clamp: bool = True) -> None:
        """Resize the window (leaving fullscreen / maximized), e.g. to show an image at 1x or 2x.

        Without `region`, (width, height) is the new window size. With `region` = the current size
        of the area meant to hold the content (e.g. last frame's content region), the window grows
        or shrinks by the difference, so that area becomes (width, height). Units are window units,
        or framebuffer pixels for width/height if `framebuffer_pixels`; `clamp` keeps the window
        within the work area of its monitor.
        """
        if self.fullscreen:
            self.set_fullscreen(False)
        if glfw.get_window_attrib(self._win, glfw.MAXIMIZED):
            glfw.restore_window(self._win)
        if framebuffer_pixels:
            sx, sy = self.fb_scale
            width, height = width / sx, height / sy
        if region is not None:
            cur_w, cur_h = self.size
            width, height = cur_w + width - region[0], cur_h + height - region[1]
        width, height = max(math.ceil(width - 1e-6), 1), max(math.ceil(height - 1e-6), 1)
        if clamp:
            _, _, wa_w, wa_h = glfw.get_monitor_workarea(self._current_monitor())
            width, height = min(width, wa_w), min(height, wa_h)
        glfw.set_window_size(self._win, width, height)
        self._normal_rect = (*glfw.get_window_pos(self._win), width, height)

    def set_title(self, title: str) -> None:
        glfw.set_window_title(self._win, title)

    #---------------------------------------------------------------------
    # Fullscreen

    @property
    def fullscreen(self) -> bool:
        return self._fs_restore is not None

    def toggle_fullscreen(self) -> None:
        self.set_fullscreen(not self.fullscreen)

    def set_fullscreen(self, on: bool) -> None:
        """Fullscreen on the monitor the window overlaps most; leaving restores size and position."""
        if on == self.fullscreen:
            return
        if on:
            maximized = bool(glfw.get_window_attrib(self._win, glfw.MAXIMIZED))
            self._fs_restore = (*self._normal_rect, maximized)
            monitor = self._current_monitor()
            mode = glfw.get_video_mode(monitor)
            glfw.set_window_monitor(self._win, monitor, 0, 0, mode.size.width, mode.size.height, mode.refresh_rate)
        else:
            x, y, w, h, maximized = self._fs_restore
            self._fs_restore = None
            glfw.set_window_monitor(self._win, None, x, y, w, h, 0)
            if maximized:
                glfw.maximize_window(self._win)
        glfw.swap_interval(0)  # some drivers reset the swap interval on a mode change

    def _current_monitor(self):
        rect = (*glfw.get_window_pos(self._win), *glfw.get_window_size(self._win))
        monitors = glfw.get_monitors()
        if not monitors:
            return glfw.get_primary_monitor()
        return max(monitors, key=lambda m: _overlap(rect, _monitor_rect(m)))

    def _track_normal_rect(self) -> None:
        """Remember the plain windowed geometry: what settings save and fullscreen restores."""
        w = self._win
        if self.fullscreen or glfw.get_window_attrib(w, glfw.MAXIMIZED) or glfw.get_window_attrib(w, glfw.ICONIFIED):
            return
        self._normal_rect = (*glfw.get_window_pos(w), *glfw.get_window_size(w))

    #---------------------------------------------------------------------
    # Settings

    def get_settings(self, app: dict | None = None) -> WindowSettings:
        """The current geometry and user scale, with the app's own JSON-able values."""
        self._track_normal_rect()
        x, y, w, h = self._normal_rect
        maximized = self._fs_restore[4] if self.fullscreen else bool(glfw.get_window_attrib(self._win, glfw.MAXIMIZED))
        return WindowSettings(size=(w, h), pos=(x, y), maximized=maximized, fullscreen=self.fullscreen,
                              ui_scale=self._user_scale, app=dict(app or {}))

    #---------------------------------------------------------------------
    # Closing

    @property
    def should_close(self) -> bool:
        """True once closing is decided; the loop should stop and call `close()`."""
        return self._win is None or bool(glfw.window_should_close(self._win))

    @property
    def close_requested(self) -> bool:
        """True while a quit asked for by the user (close button, Esc) awaits the app's answer."""
        return self._close_requested

    def request_close(self) -> None:
        """What the close button and Esc do: close now, or ask first if `confirm_quit`."""
        if self.confirm_quit:
            self._close_requested = True
            glfw.set_window_should_close(self._win, False)
        else:
            glfw.set_window_should_close(self._win, True)

    def confirm_close(self) -> None:
        self._close_requested = False
        glfw.set_window_should_close(self._win, True)

    def cancel_close(self) -> None:
        self._close_requested = False
        glfw.set_window_should_close(self._win, False)

    def _on_escape(self) -> None:
        if self._close_requested:
            self.cancel_close()  # Esc answers "no" to a pending quit question
        elif not imgui.is_popup_open('', imgui.PopupFlags_.any_popup):
            self.request_close()  # otherwise imgui's Esc closes the popup

    #---------------------------------------------------------------------
    # Keys and drops

    def _on_key(self, _win, key: int, scancode: int, action: int, mods: int) -> None:
        self._renderer.keyboard_callback(_win, key, scancode, action, mods)  # imgui sees every key
        if action == glfw.PRESS:
            self._pressed.add(key)
            self._held.add(key)
        elif action == glfw.REPEAT:
            self._repeated.add(key)
        elif action == glfw.RELEASE:
            self._held.discard(key)

    def _clear_key_events(self) -> None:
        self._pressed.clear()  # "pressed" means: since the previous frame ended
        self._repeated.clear()

    def _on_focus(self, _win, focused: int) -> None:
        if not focused:
            self._held.clear()  # the releases will go to another window

    def feed_key(self, key: int | str, pressed: bool, *, repeat: bool = False) -> None:
        """Inject a key event, as the glfw callback would (tests, scripting)."""
        action = (glfw.REPEAT if repeat else glfw.PRESS) if pressed else glfw.RELEASE
        self._on_key(self._win, key_code(key), 0, action, 0)

    def key_pressed(self, key: int | str, *, repeat: bool = False, while_typing: bool = False) -> bool:
        """Pressed since the previous frame; with `repeat`, the OS's auto-repeat counts too (e.g. to
        step with a held arrow key). False while imgui takes text input, unless `while_typing`."""
        code = key_code(key)
        hit = code in self._pressed or (repeat and code in self._repeated)
        return hit and (while_typing or not imgui.get_io().want_text_input)

    def key_down(self, key: int | str, *, while_typing: bool = False) -> bool:
        """Held down now. False while imgui takes text input."""
        return key_code(key) in self._held and (while_typing or not imgui.get_io().want_text_input)

    def on_drop(self, fn: Callable[[list[str]], None]) -> Callable:
        """Register fn(paths) for files dropped on the window; usable as a decorator."""
        self._drop_handlers.append(fn)
        return fn

    def drop(self, paths) -> None:
        """Deliver a drop to the registered handlers: the glfw callback calls this, tests too."""
        paths = [os.fspath(p) for p in paths]
        for fn in list(self._drop_handlers):
            fn(paths)

#----------------------------------------------------------------------------
