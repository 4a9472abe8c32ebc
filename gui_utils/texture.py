"""An RGBA8 OpenGL texture fed from numpy, and an imgui helper that draws it fitted to the free space.

Uploads go through host memory only (no CUDA interop). RGBA8 because it is several times faster
to upload than RGB8 or float formats on the drivers we checked. Create, upload and draw on the
thread that owns the window's GL context; worker threads hand over numpy arrays.
"""

import contextlib
import ctypes
import math
from typing import NamedTuple

import numpy as np
import OpenGL.GL as gl
from imgui_bundle import imgui  # before glfw: see window.py on the one-libglfw rule
import glfw

#----------------------------------------------------------------------------

class Rect(NamedTuple):
    """An axis-aligned rectangle in window coordinates (imgui's screen space)."""
    x: float
    y: float
    w: float
    h: float

    def contains(self, px: float, py: float) -> bool:
        return self.x <= px < self.x + self.w and self.y <= py < self.y + self.h

#----------------------------------------------------------------------------

def _context_address() -> int | None:
    """The current GL context (its glfw window), as a comparable integer."""
    return ctypes.cast(glfw.get_current_context(), ctypes.c_void_p).value or None

def to_rgba8(image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """HxW, HxWx1, HxWx3 or HxWx4 uint8 -> C-contiguous HxWx4 uint8, reusing `out` when its shape fits."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f'expected a uint8 image, got {image.dtype}')
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or 0 in image.shape[:2]:
        raise ValueError(f'expected an HxW, HxWx1, HxWx3 or HxWx4 image, got shape {image.shape}')
    if image.shape[2] == 4:
        return np.ascontiguousarray(image)
    h, w = image.shape[:2]
    if out is None or out.shape != (h, w, 4):
        out = np.empty((h, w, 4), np.uint8)
    out[:, :, :3] = image  # broadcasts a single grey channel
    out[:, :, 3] = 255
    return out

#----------------------------------------------------------------------------

class Texture:
    """A 2-D RGBA8 texture. `upload` reallocates only when the size changes."""

    def __init__(self, image: np.ndarray | None = None, *, nearest: bool = False):
        self._owner = _context_address()
        if self._owner is None:
            raise RuntimeError('Texture needs a current OpenGL context: create it after the Window, on its thread')
        self.tex_id = int(gl.glGenTextures(1))
        self.width = self.height = 0
        self._rgba = None  # the reused RGB -> RGBA staging buffer
        self._nearest = None
        self.nearest = nearest
        if image is not None:
            self.upload(image)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels; (0, 0) before the first upload."""
        return self.width, self.height

    @property
    def nearest(self) -> bool:
        return self._nearest

    @nearest.setter
    def nearest(self, value: bool) -> None:
        """Nearest-neighbour sampling (pixel-exact zoom) or linear (smooth downscaling)."""
        value = bool(value)
        if value == self._nearest:
            return
        self._nearest = value
        filt = gl.GL_NEAREST if value else gl.GL_LINEAR
        with self._bound():
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MIN_FILTER, filt)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MAG_FILTER, filt)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_WRAP_S, gl.GL_CLAMP_TO_EDGE)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_WRAP_T, gl.GL_CLAMP_TO_EDGE)

    #---

    def upload(self, image: np.ndarray) -> None:
        """Copy a uint8 image (grey, RGB or RGBA; row 0 at the top) into the texture."""
        if not self.tex_id:
            raise RuntimeError('texture was released')
        image = np.asarray(image)
        rgba = to_rgba8(image, self._rgba)
        if rgba is not image:  # our own copy: reuse it as the staging buffer next time
            self._rgba = rgba
        h, w = rgba.shape[:2]
        with self._bound():
            gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)  # rows of any width, no padding
            gl.glPixelStorei(gl.GL_UNPACK_ROW_LENGTH, 0)
            if (w, h) != self.size:
                gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, w, h, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, rgba)
                self.width, self.height = w, h
            else:
                gl.glTexSubImage2D(gl.GL_TEXTURE_2D, 0, 0, 0, w, h, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, rgba)

    def close(self) -> None:
        """Free the GL texture; call it while its window's context is current (before the
        window closes). Safe to call twice. With another context current it only forgets the id:
        texture names are per context, so deleting there would free someone else's texture."""
        if self.tex_id and _context_address() == self._owner:
            gl.glDeleteTextures([self.tex_id])
        self.tex_id = 0
        self.width = self.height = 0
        self._rgba = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    #---

    def display_size(self, avail: tuple[float, float], *, zoom: float | None = None,
                     integer: bool = False, fb_scale: float = 1.0) -> tuple[float, float]:
        """Size in window units at which to draw the image.

        zoom=None fits the image into `avail` keeping its aspect ratio; `integer` then rounds the
        scale down to a whole number of framebuffer pixels per image pixel when it is >= 1.
        A number gives a fixed zoom: 1 means one image pixel per framebuffer pixel.
        """
        w, h = self.size
        if w == 0 or h == 0:
            return 0.0, 0.0
        if zoom is None:
            zoom = max(min(avail[0] / w, avail[1] / h), 0.0) * fb_scale
            if integer and zoom >= 1:
                zoom = math.floor(zoom)
        return w * zoom / fb_scale, h * zoom / fb_scale

    def draw(self, *, zoom: float | None = None, integer: bool = False, center: bool = True,
             avail: tuple[float, float] | None = None) -> Rect:
        """Draw as an imgui image in the current window; returns its on-screen rectangle.

        The image fills the free content region (or `avail`), see `display_size` for `zoom` and
        `integer`; `center` centres it there. The position is snapped to whole framebuffer pixels
        so that a 1:1 zoom maps texels to pixels exactly. A zoomed image larger than the region
        is clipped by the window, and the returned rectangle is the unclipped one.
        """
        fb_scale = imgui.get_io().display_framebuffer_scale.x or 1.0
        region = imgui.get_content_region_avail()
        avail = (region.x, region.y) if avail is None else avail
        w, h = self.display_size(avail, zoom=zoom, integer=integer, fb_scale=fb_scale)
        pos = imgui.get_cursor_screen_pos()
        x, y = pos.x, pos.y
        if center:
            x += max(avail[0] - w, 0) / 2
            y += max(avail[1] - h, 0) / 2
        x, y = round(x * fb_scale) / fb_scale, round(y * fb_scale) / fb_scale
        imgui.set_cursor_screen_pos(imgui.ImVec2(x, y))
        if self.tex_id and w > 0 and h > 0:
            imgui.image(imgui.ImTextureRef(self.tex_id), imgui.ImVec2(w, h))
        else:
            imgui.dummy(imgui.ImVec2(max(w, 1), max(h, 1)))
        return Rect(x, y, w, h)

    #---

    @contextlib.contextmanager
    def _bound(self):
        """Bind for a block and restore the previous binding (the imgui renderer relies on its own)."""
        prev = gl.glGetIntegerv(gl.GL_TEXTURE_BINDING_2D)
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.tex_id)
        try:
            yield
        finally:
            gl.glBindTexture(gl.GL_TEXTURE_2D, prev)

#----------------------------------------------------------------------------
