"""The Export panel: an output folder (typed, or picked with the system's folder dialog) and png / jpg / mp4 buttons."""

import dataclasses
import logging

from imgui_bundle import imgui

log = logging.getLogger(__name__)

FORMATS = ('png', 'jpg', 'mp4')

#----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ExportPanel:
    folder: str = ''            # Where exports go.
    dialog: object = None       # A portable_file_dialogs.select_folder still open (the dialog never blocks the UI).

def _open_dialog(folder):
    try:
        from imgui_bundle import portable_file_dialogs as pfd # pylint: disable=import-outside-toplevel
        return pfd.select_folder('Export folder', folder)
    except Exception as e: # pylint: disable=broad-except # no dialog backend: the text field is the fallback
        log.warning('no folder dialog (%s); type the folder instead', e)
        return None

def export_panel(panel, disabled=None, busy=False):
    """Draw the panel. `disabled` maps a format to why its button is off; `busy` turns all buttons off (an export
    runs). Returns (new panel, the format clicked or None)."""
    disabled = disabled or {}
    folder, dialog = panel.folder, panel.dialog
    style = imgui.get_style()
    browse = 'Browse...'
    imgui.set_next_item_width(max(imgui.calc_item_width() - imgui.calc_text_size(browse).x
        - 2 * style.frame_padding.x - style.item_inner_spacing.x, 40))
    _, folder = imgui.input_text('##export_folder', folder)
    if imgui.is_item_hovered() and folder:
        imgui.set_tooltip(folder)
    imgui.same_line(0, style.item_inner_spacing.x)
    imgui.begin_disabled(dialog is not None)
    if imgui.button(browse):
        dialog = _open_dialog(folder)
    imgui.end_disabled()
    imgui.same_line(0, style.item_inner_spacing.x)
    imgui.text_unformatted('Folder')
    if dialog is not None and dialog.ready():
        folder = dialog.result() or folder
        dialog = None
    clicked = None
    for k, fmt in enumerate(FORMATS):
        if k:
            imgui.same_line()
        imgui.begin_disabled(busy or fmt in disabled)
        if imgui.button(f'Export {fmt}'):
            clicked = fmt
        imgui.end_disabled()
        if fmt in disabled and imgui.is_item_hovered(imgui.HoveredFlags_.allow_when_disabled):
            imgui.set_tooltip(disabled[fmt])
    return ExportPanel(folder=folder, dialog=dialog), clicked

#----------------------------------------------------------------------------
