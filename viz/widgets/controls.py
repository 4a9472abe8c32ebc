"""Value widgets: a seed list with -/+, combos of named values, phase sliders and the date of a time t."""

from imgui_bundle import imgui

from gui_utils import widgets as gw
from viz import state as vstate

#----------------------------------------------------------------------------

_SEED_CHARS = frozenset('0123456789, ')

def _seed_char_filter(data):
    return 0 if chr(data.event_char) in _SEED_CHARS else 1 # 1 discards the character

def step_last_seed(seeds, delta):
    """'3,7' -> '3,8' for delta=1; the last seed stays >= 0."""
    values = vstate.parse_seeds(seeds)
    values[-1] = min(max(values[-1] + delta, 0), 2**32 - 1)
    return ','.join(str(v) for v in values)

def seed_list(label, seeds):
    """Comma-separated seeds (typing accepts digits, commas and spaces) and -/+ buttons that step the last seed.
    Returns the new seeds text; while the typed text is not a valid list the old value is kept (and the field keeps
    what is being typed)."""
    style = imgui.get_style()
    button = imgui.get_frame_height()
    imgui.set_next_item_width(max(imgui.calc_item_width() - 2 * (button + style.item_inner_spacing.x), button))
    changed, text = imgui.input_text(f'##{label}', seeds, imgui.InputTextFlags_.callback_char_filter, _seed_char_filter)
    new = seeds
    if changed:
        try:
            vstate.parse_seeds(text)
            new = text
        except vstate.StateError:
            pass
    for sign, delta in (('-', -1), ('+', 1)):
        imgui.same_line(0, style.item_inner_spacing.x)
        if imgui.button(f'{sign}##{label}', imgui.ImVec2(button, button)):
            new = step_last_seed(new, delta)
    imgui.same_line(0, style.item_inner_spacing.x)
    imgui.text_unformatted(label.split('##')[0])
    return new

def enum_combo(label, value, values):
    """One of `values` (strings, or enum members shown by name). Returns the chosen value."""
    _, value = gw.combo(label, value, list(values), lambda v: v.name if hasattr(v, 'name') else str(v))
    return value

_CLAMP = imgui.SliderFlags_.always_clamp

def slider_float(label, value, lo, hi, fmt='%.3f', log=False):
    """A float slider kept within [lo, hi] that returns `value` itself unless the user moved it (imgui works in
    float32: 0.3 would come back as 0.30000001, and a restored state must stay exactly as it was)."""
    flags = _CLAMP | (imgui.SliderFlags_.logarithmic if log else 0)
    changed, new = imgui.slider_float(label, float(value), lo, hi, fmt, flags)
    return float(new) if changed else value

def slider_float2(label, values, lo, hi, fmt='%.3f'):
    """Two floats in [lo, hi] (a range); returns `values` itself unless moved."""
    changed, new = imgui.slider_float2(label, imgui.ImVec2(*values), lo, hi, fmt, _CLAMP)
    return (float(new.x), float(new.y)) if changed else tuple(values)

def phase_slider(label, value, lo=-1.0, hi=1.0, limit=0.9999):
    """A phase in cycles, kept within +-limit (+-1 would be the same as 0)."""
    new = slider_float(label, value, lo, hi, '%.4f')
    return min(max(new, -limit), limit) if new != value else value

def date_line(tl, t, label='Date'):
    """'Date: dd.mm.YYYY HH:MM:SS UTC' of t on a timeline, or a dash without one (no network yet)."""
    imgui.text_unformatted(f'{label}: {tl.format(t)} UTC' if tl is not None else f'{label}: -')

#----------------------------------------------------------------------------
