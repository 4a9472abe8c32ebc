"""Window and OpenGL foundation for the TLGAN desktop tools: a GLFW + Dear ImGui window
(imgui-bundle, pure-Python backend), RGBA8 textures from numpy, JSON window settings and a few
generic widgets. No torch and no project logic here.

    from gui_utils import Window, Texture, widgets
"""

import os

# GLFW talks X11 (or XWayland) but PyOpenGL would pick EGL on Wayland; must precede `import OpenGL`.
if os.environ.get('XDG_SESSION_TYPE') == 'wayland' and not os.environ.get('PYOPENGL_PLATFORM'):
    os.environ['PYOPENGL_PLATFORM'] = 'x11'

import imgui_bundle  # noqa: E402,F401  (before `glfw`: see window.py on the one-libglfw rule)

from . import widgets  # noqa: E402
from .settings import WindowSettings, config_dir, load_settings, save_settings, settings_path  # noqa: E402
from .texture import Rect, Texture, to_rgba8  # noqa: E402
from .window import Window, key_code  # noqa: E402

__all__ = ['Window', 'Texture', 'Rect', 'WindowSettings', 'widgets', 'key_code', 'to_rgba8',
           'config_dir', 'settings_path', 'load_settings', 'save_settings']
