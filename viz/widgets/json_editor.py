"""A JSON editor for a whole state document: no length limit, a live 'Error: ...' while the text is not a valid
document, Apply and Reset. While the text is unedited it follows the document."""

import dataclasses
import json

from imgui_bundle import imgui

from gui_utils import widgets as gw
from viz import state as vstate

#----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class JsonEdit:
    text: str = ''              # What is in the editor.
    base: str = ''              # The document's text when editing started ('' before the first frame).
    error: str = ''             # Why `text` is not a usable document ('' when it is); checked every frame.
    multiline: bool = True      # Indented over several lines, or one line (to paste into a shell).

    @property
    def edited(self):
        return self.text != self.base

def format_json(obj, multiline):
    if multiline:
        return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)
    return vstate.dumps(obj)

def json_editor(edit, current, parse, height=0.0):
    """Edit the JSON of `current` (a JSON-able dict). parse(text) returns the value a text stands for or raises
    ValueError with the reason. Returns (new JsonEdit, parsed value when Apply was pressed, else None)."""
    text = format_json(current, edit.multiline)
    if not edit.edited and text != edit.base: # follow the document until the user types
        edit = JsonEdit(text=text, base=text, multiline=edit.multiline)
    changed_mode, multiline = imgui.checkbox('Multiline', edit.multiline)
    if changed_mode: # re-format what is there (an invalid text is kept as it is)
        try:
            new = format_json(json.loads(edit.text), multiline)
        except ValueError:
            new = edit.text
        base = format_json(current, multiline)
        edit = dataclasses.replace(edit, text=new if edit.edited else base, base=base, multiline=multiline)
    if edit.multiline:
        changed, new_text = imgui.input_text_multiline('##json', edit.text, imgui.ImVec2(-1, height))
    else:
        imgui.set_next_item_width(-1)
        changed, new_text = imgui.input_text('##json', edit.text)
    if changed:
        edit = dataclasses.replace(edit, text=new_text)
    edit = dataclasses.replace(edit, error=_check(parse, edit.text) if edit.edited else '') # cheap: a few kB
    applied = None
    imgui.begin_disabled(not edit.edited or bool(edit.error))
    if imgui.button('Apply'):
        applied = parse(edit.text)
        edit = JsonEdit(multiline=edit.multiline) # follows the applied document from the next frame
    imgui.end_disabled()
    imgui.same_line()
    imgui.begin_disabled(not edit.edited)
    if imgui.button('Reset'):
        edit = JsonEdit(multiline=edit.multiline)
    imgui.end_disabled()
    if edit.error:
        gw.status_text(f'Error: {edit.error}', 'error')
    return edit, applied

def _check(parse, text):
    try:
        parse(text)
    except ValueError as e:
        return str(e).splitlines()[0] if str(e) else 'invalid'
    return ''

#----------------------------------------------------------------------------
