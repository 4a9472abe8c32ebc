"""A tiny demo of gui_utils: a generated gradient in a texture, controls on the left.

    python -m gui_utils.demo                        # interactive; window settings kept in the config folder
    python -m gui_utils.demo --frames 5 --screenshot out.png   # smoke test (e.g. under xvfb-run)
"""

import argparse
import dataclasses

import numpy as np
from imgui_bundle import imgui

from . import widgets
from .settings import WindowSettings, load_settings, save_settings
from .texture import Texture
from .window import Window

FILTERS = ['nearest', 'linear']
ZOOMS = [None, 1, 2, 4]

#----------------------------------------------------------------------------

@dataclasses.dataclass
class DemoState:
    phase: int = 64
    band: tuple[int, int] = (32, 160)
    filter: str = 'nearest'
    zoom: int | None = None
    message: str = 'Drop files on the window; Esc asks before quitting.'
    dirty: bool = True
    region: tuple[float, float] | None = None

def gradient(phase: int, band: tuple[int, int], w: int = 256, h: int = 192) -> np.ndarray:
    """Red across, green down, blue = phase; rows inside `band` are inverted."""
    img = np.empty((h, w, 3), np.uint8)
    img[:, :, 0] = np.arange(w, dtype=np.uint32)[None, :] * 255 // (w - 1)
    img[:, :, 1] = np.arange(h, dtype=np.uint32)[:, None] * 255 // (h - 1)
    img[:, :, 2] = phase
    lo, hi = (min(max(v, 0), h) for v in band)
    img[lo:hi] = 255 - img[lo:hi]
    return img

#----------------------------------------------------------------------------

def draw_controls(win: Window, s: DemoState, tex: Texture) -> None:
    changed, s.phase = imgui.slider_int('Blue', s.phase, 0, 255)
    c2, lo, hi = widgets.range_slider_int('Band', *s.band, 0, 192)
    s.band, s.dirty = (lo, hi), s.dirty or changed or c2
    _, s.filter = widgets.combo('Filter', s.filter, FILTERS)
    _, s.zoom = widgets.combo('Zoom', s.zoom, ZOOMS, lambda z: 'fit' if z is None else f'{z}x')
    widgets.ui_scale_slider(win)
    if imgui.button('Fit window to 1x') and s.region:
        s.zoom = 1
        win.set_content_size(*tex.size, region=s.region, framebuffer_pixels=True)
    imgui.same_line()
    if imgui.button('Fullscreen (F11)'):
        win.toggle_fullscreen()
    widgets.progress(s.phase / 255, f'blue {s.phase}')
    imgui.separator()
    widgets.status_text(s.message)
    widgets.status_text('An error looks like this.', 'error')

def draw(win: Window, s: DemoState, tex: Texture) -> None:
    if s.dirty:
        tex.upload(gradient(s.phase, s.band))
        s.dirty = False
    tex.nearest = s.filter == 'nearest'
    with widgets.full_window():
        imgui.begin_child('controls', imgui.ImVec2(320 * win.ui_scale, 0))
        draw_controls(win, s, tex)
        imgui.end_child()
        imgui.same_line()
        imgui.begin_child('image', imgui.ImVec2(0, 0))
        region = imgui.get_content_region_avail()
        s.region = (region.x, region.y)  # for "fit window" next frame
        tex.draw(zoom=s.zoom, integer=True)
        imgui.end_child()
    widgets.confirm_quit_modal(win)

#----------------------------------------------------------------------------

def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog='python -m gui_utils.demo', description=__doc__.splitlines()[0])
    p.add_argument('--frames', type=int, default=0, help='render this many frames, then exit (0: interactive)')
    p.add_argument('--screenshot', metavar='PNG', help='save the last frame (with --frames)')
    p.add_argument('--scale', type=float, default=1.0, help='user UI scale factor, 0.5-2.0')
    args = p.parse_args(argv)

    state = DemoState()
    interactive = args.frames <= 0
    settings = load_settings('gui_utils_demo') if interactive else WindowSettings(size=(960, 540))
    with Window('gui_utils demo', settings=settings, confirm_quit=True) as win:
        if not interactive or args.scale != 1.0:
            win.user_scale = args.scale
        tex = Texture()
        win.on_drop(lambda paths: setattr(state, 'message', 'Dropped: ' + ', '.join(paths)))
        if interactive:
            win.run(lambda w: draw(w, state, tex))
            save_settings('gui_utils_demo', win.get_settings())
        for i in range(args.frames):
            shot = win.step(lambda w: draw(w, state, tex), capture=i == args.frames - 1)
        if not interactive and args.screenshot:
            from PIL import Image
            Image.fromarray(shot).save(args.screenshot)
        tex.close()

if __name__ == '__main__':
    main()

#----------------------------------------------------------------------------
