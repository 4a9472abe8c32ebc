"""Rows under a viewer's image: the window-size buttons and a frame slider with play / pause."""

from imgui_bundle import imgui

ZOOMS = (0.5, 1, 2, 3, 4)

#----------------------------------------------------------------------------

def size_buttons(zooms=ZOOMS):
    """One button per zoom ('0.5x 1x 2x 3x 4x'); returns the zoom clicked, or None."""
    clicked = None
    for k, z in enumerate(zooms):
        if k:
            imgui.same_line()
        if imgui.button(f'{z:g}x'):
            clicked = z
        if imgui.is_item_hovered():
            imgui.set_tooltip(f'Resize the window to show the image at {z:g}x')
    return clicked

def frame_row(i, n, playing, label='Frame', width=-1.0):
    """A play / pause toggle ('|>' / '||') and a slider over frames 0..n-1 (`width` as set_next_item_width).
    Returns (frame, playing)."""
    if imgui.button(('||' if playing else '|>') + f'##{label}', imgui.ImVec2(imgui.get_frame_height() * 1.5, 0)):
        playing = not playing
    imgui.same_line()
    imgui.set_next_item_width(width)
    changed, value = imgui.slider_int(label, int(i) % max(n, 1), 0, max(n - 1, 0))
    if changed:
        i, playing = value, False # dragging the slider pauses
    return i, playing

#----------------------------------------------------------------------------
