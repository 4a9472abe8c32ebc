"""Window settings saved as JSON in the user's config folder.

One file per app: `<config>/tlgan/<app>.json`, where `<config>` is `%APPDATA%` on Windows,
`~/Library/Application Support` on macOS and `$XDG_CONFIG_HOME` (default `~/.config`) elsewhere.
The file holds the window geometry, the user's UI scale factor and a dict of plain JSON values
that the app owns. Reading never executes anything: it is `json.load` plus type checks, and a
missing or corrupt file gives the defaults with a one-line warning. Writes are atomic.
"""

import dataclasses
import json
import logging
import math
import os
import re
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
UI_SCALE_RANGE = (0.5, 2.0)
_SIZE_RANGE = (64, 16384)

#----------------------------------------------------------------------------

@dataclasses.dataclass
class WindowSettings:
    """What a window restores at start-up. `ui_scale` is the user factor, not the DPI scale."""
    size: tuple[int, int] = (1280, 720)
    pos: tuple[int, int] | None = None      # None: let the window system place it
    maximized: bool = False
    fullscreen: bool = False
    ui_scale: float = 1.0
    app: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        return dict(version=SCHEMA_VERSION,
                    window=dict(size=list(self.size), pos=None if self.pos is None else list(self.pos),
                                maximized=self.maximized, fullscreen=self.fullscreen, ui_scale=self.ui_scale),
                    app=self.app)

    @classmethod
    def from_json(cls, obj) -> 'WindowSettings':
        """Build from parsed JSON; raises ValueError on a malformed document, drops bad fields."""
        if not isinstance(obj, dict) or not isinstance(obj.get('window', {}), dict):
            raise ValueError('settings must be a JSON object')
        win, default = obj.get('window', {}), cls()
        app = obj.get('app', {})
        return cls(size=_int_pair(win.get('size'), *_SIZE_RANGE) or default.size,
                   pos=_int_pair(win.get('pos'), -_SIZE_RANGE[1], _SIZE_RANGE[1]),
                   maximized=win.get('maximized') is True,
                   fullscreen=win.get('fullscreen') is True,
                   ui_scale=clamp_ui_scale(win.get('ui_scale', default.ui_scale)),
                   app=app if isinstance(app, dict) else {})

#----------------------------------------------------------------------------

def clamp_ui_scale(value) -> float:
    """The user factor, clamped to UI_SCALE_RANGE; 1.0 for anything that is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 1.0
    return float(min(max(value, UI_SCALE_RANGE[0]), UI_SCALE_RANGE[1]))

def _int_pair(value, lo: int, hi: int) -> tuple[int, int] | None:
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and \
        all(isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi for v in value)
    return (value[0], value[1]) if ok else None

#----------------------------------------------------------------------------

def config_dir() -> Path:
    """The per-user folder for this project's settings (not created here)."""
    if sys.platform == 'win32':
        base = os.environ.get('APPDATA') or str(Path.home() / 'AppData' / 'Roaming')
    elif sys.platform == 'darwin':
        base = str(Path.home() / 'Library' / 'Application Support')
    else:
        base = os.environ.get('XDG_CONFIG_HOME', '')
        if not os.path.isabs(base):  # the XDG spec says to ignore relative paths
            base = str(Path.home() / '.config')
    return Path(base) / 'tlgan'

def settings_path(app: str) -> Path:
    if not re.fullmatch(r'[A-Za-z0-9_.-]+', app) or app.startswith('.'):
        raise ValueError(f'app name must be a plain file name, got {app!r}')
    return config_dir() / f'{app}.json'

#----------------------------------------------------------------------------

def load_settings(app: str) -> WindowSettings:
    """Read `<app>.json`; defaults (and a one-line warning unless the file is just missing) on failure."""
    path = settings_path(app)
    try:
        with open(path, encoding='utf-8') as f:
            return WindowSettings.from_json(json.load(f))
    except FileNotFoundError:
        return WindowSettings()
    except (OSError, ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        log.warning('ignoring unreadable settings file %s (%s: %s); using defaults',
                    path, type(e).__name__, str(e).splitlines()[0] if str(e) else '')
        return WindowSettings()

def save_settings(app: str, settings: WindowSettings) -> Path:
    """Write atomically: a temp file in the same folder, then os.replace. Raises on non-JSON app values."""
    path = settings_path(app)
    text = json.dumps(settings.to_json(), indent=2, allow_nan=False)  # fail before touching the disk
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{app}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text + '\n')
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path

#----------------------------------------------------------------------------
