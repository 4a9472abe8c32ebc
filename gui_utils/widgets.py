"""Small generic imgui widgets shared by the apps. Each takes values and returns new ones;
none keeps state of its own, so an app's state object stays the single source of truth."""

import contextlib
from collections.abc import Callable, Sequence

from imgui_bundle import imgui

from .settings import UI_SCALE_RANGE

ERROR_COLOR = imgui.ImVec4(1.0, 0.35, 0.3, 1.0)
WARNING_COLOR = imgui.ImVec4(1.0, 0.8, 0.3, 1.0)

#----------------------------------------------------------------------------

def range_slider_int(label: str, lo: int, hi: int, v_min: int, v_max: int,
                     fmt: str = '%d') -> tuple[bool, int, int]:
    """Two ints lo <= hi in [v_min, v_max]; a handle dragged past the other stops there."""
    changed, (a, b) = imgui.slider_int2(label, [int(lo), int(hi)], v_min, v_max, fmt)
    if not changed:
        return False, lo, hi
    a, b = uncross(lo, hi, a, b, v_min, v_max)
    return (a, b) != (lo, hi), a, b

def uncross(lo: int, hi: int, a: int, b: int, v_min: int, v_max: int) -> tuple[int, int]:
    """New values (a, b) of a range that was (lo, hi): clamped, and the moved end stops at the other."""
    a, b = min(max(a, v_min), v_max), min(max(b, v_min), v_max)  # ctrl+click typing is not clamped
    if a > b:
        if a != lo:
            a = b  # the low handle moved onto the high one
        else:
            b = a
    return a, b

def combo(label: str, value, values: Sequence, fmt: Callable = str) -> tuple[bool, object]:
    """Pick one of `values`; shows fmt(value) even when value is not in the list."""
    changed = False
    if imgui.begin_combo(label, fmt(value)):
        for i, v in enumerate(values):
            selected = v == value
            if imgui.selectable(f'{fmt(v)}##{i}', selected)[0] and not selected:
                value, changed = v, True
            if selected:
                imgui.set_item_default_focus()
        imgui.end_combo()
    return changed, value

#----------------------------------------------------------------------------

def status_text(message: str, kind: str = 'info') -> None:
    """A wrapped line of text; 'error' is red, 'warning' yellow. Nothing for an empty message."""
    if not message:
        return
    color = {'error': ERROR_COLOR, 'warning': WARNING_COLOR}.get(kind)
    if color is not None:
        imgui.push_style_color(imgui.Col_.text, color)
    imgui.push_text_wrap_pos(0.0)
    imgui.text_unformatted(message)
    imgui.pop_text_wrap_pos()
    if color is not None:
        imgui.pop_style_color()

def progress(fraction: float, label: str | None = None, width: float = -1.0) -> None:
    """A progress bar; the overlay is `label` or the percentage."""
    fraction = min(max(float(fraction), 0.0), 1.0)
    overlay = label if label is not None else f'{fraction * 100:.0f}%'
    imgui.progress_bar(fraction, imgui.ImVec2(width, 0), overlay)

def ui_scale_slider(window, label: str = 'UI scale') -> bool:
    """Edit the window's user scale factor (applied from the next frame)."""
    changed, value = imgui.slider_float(label, window.user_scale, *UI_SCALE_RANGE, '%.2f')
    if changed:
        window.user_scale = value
    return changed

#----------------------------------------------------------------------------

def confirm_quit_modal(window, message: str = 'Quit?') -> bool:
    """Ask "quit?" while `window.close_requested`; True on the frame the user confirms.

    Needs `Window(confirm_quit=True)`. Esc cancels (handled by the window), Enter confirms.
    """
    popup = 'Confirm quit##gui_utils'
    if window.close_requested and not imgui.is_popup_open(popup):
        imgui.open_popup(popup)
    center = imgui.get_main_viewport().get_center()
    imgui.set_next_window_pos(center, imgui.Cond_.appearing, imgui.ImVec2(0.5, 0.5))
    confirmed = False
    if imgui.begin_popup_modal(popup, None, imgui.WindowFlags_.always_auto_resize)[0]:
        imgui.text_unformatted(message)
        if imgui.button('Quit') or imgui.is_key_pressed(imgui.Key.enter):
            window.confirm_close()
            confirmed = True
        imgui.same_line()
        if imgui.button('Cancel'):
            window.cancel_close()
        if not window.close_requested:
            imgui.close_current_popup()
        imgui.end_popup()
    return confirmed

@contextlib.contextmanager
def full_window(name: str = '##main', flags: int = 0):
    """An undecorated imgui window covering the whole display: `with full_window(): ...`."""
    viewport = imgui.get_main_viewport()
    imgui.set_next_window_pos(viewport.work_pos)
    imgui.set_next_window_size(viewport.work_size)
    flags |= (imgui.WindowFlags_.no_decoration | imgui.WindowFlags_.no_move |
              imgui.WindowFlags_.no_saved_settings | imgui.WindowFlags_.no_bring_to_front_on_focus)
    imgui.push_style_var(imgui.StyleVar_.window_rounding, 0.0)
    imgui.push_style_var(imgui.StyleVar_.window_border_size, 0.0)
    imgui.begin(name, None, flags)
    imgui.pop_style_var(2)  # only for this window, not for popups opened inside it
    try:
        yield
    finally:
        imgui.end()

#----------------------------------------------------------------------------
