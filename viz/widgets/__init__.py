"""Dear ImGui widgets shared by the viewers. Each one draws part of a state and returns the new state (or what the
user asked for); none keeps a reference to an app, so a view stays one state object that can be saved and restored."""

from .controls import date_line, enum_combo, phase_slider, seed_list, slider_float, slider_float2
from .export_panel import ExportPanel, export_panel
from .json_editor import JsonEdit, json_editor
from .view import frame_row, size_buttons

__all__ = ['seed_list', 'date_line', 'enum_combo', 'phase_slider', 'slider_float', 'slider_float2', 'ExportPanel', 'export_panel', 'JsonEdit',
           'json_editor', 'frame_row', 'size_buttons']
