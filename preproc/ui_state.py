"""The saved state of the preprocessing UI (`process_sequence.py --ui --state FILE`): the ExportConfig the CLI uses
(the selected warps file is its `warps`) plus the view (current frame, Lock, zoom / pan, gradient and date overlays,
manual alignment). JSON with a version, written atomically; reading checks every field and names the one that is
wrong.

  {"version": 1, "export": {ExportConfig fields}, "view": {View fields; "ranges": [{"start", "keyframe", "points"}]}}
"""

import dataclasses
import json

import dnnlib
from preproc import manual_align
from preproc.export import ExportConfig

VERSION = 1

#----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class View:
    index: int = 0                  # Current frame (time-sorted index, as --trim / --skip).
    lock: bool = False              # Keep the time of day when the date changes.
    zoom: float = None              # Screen pixels per image pixel; None: fit the pane.
    pan: tuple = (0.0, 0.0)         # Scroll of a zoomed image, in image pixels.
    gradient: bool = False          # Show 5x the mean absolute gradient instead of the image.
    show_date: bool = True          # Date overlay.
    manual: bool = False            # Show (and edit) the manual alignment instead of export.warps.
    warp_mode: str = 'affine4'      # Manual fit: translate, affine4 or affine6.
    target: int = 0                 # Frame whose range is the manual reference.
    ranges: tuple = dataclasses.field(default_factory=manual_align.initial)

@dataclasses.dataclass(frozen=True)
class UIState:
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)
    view: View = dataclasses.field(default_factory=View)

    def to_json(self):
        view = dataclasses.asdict(self.view)
        view['ranges'] = [dict(start=r.start, keyframe=r.keyframe, points=[list(p) for p in r.points]) for r in self.view.ranges]
        view['pan'] = list(self.view.pan)
        export = dataclasses.asdict(self.export)
        export['translate'] = list(self.export.translate)
        return dict(version=VERSION, export=export, view=view)

    def dumps(self):
        return json.dumps(self.to_json(), indent=2)

#----------------------------------------------------------------------------
# Reading, with checks that name the field.

def _check(where, value, kind):
    ok = {'int': isinstance(value, int) and not isinstance(value, bool),
          'float': isinstance(value, (int, float)) and not isinstance(value, bool),
          'bool': isinstance(value, bool), 'str': isinstance(value, str)}[kind]
    if not ok:
        expected = dict(int='an integer', float='a number', bool='true or false', str='a string')[kind]
        raise ValueError(f'{where}: expected {expected}, got {json.dumps(value)[:60]}')
    return float(value) if kind == 'float' else value

def _kind(default, annotation):
    """'int' / 'float' / 'bool' / 'str' of a field: its default's type, else its annotation (defaults of None)."""
    kind = type(default) if default is not None else annotation
    return kind.__name__ if kind in (int, float, bool, str) else 'str'

def _pair(where, value):
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise ValueError(f'{where}: expected two numbers, got {json.dumps(value)[:60]}')
    return tuple(_check(f'{where}[{k}]', v, 'float') for k, v in enumerate(value))

def _fields(cls, obj, where, special):
    if not isinstance(obj, dict):
        raise ValueError(f'{where}: expected an object, got {json.dumps(obj)[:60]}')
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(obj) - set(fields))
    if unknown:
        raise ValueError(f'{where}.{unknown[0]}: unknown field (known: {", ".join(fields)})')
    out = {}
    for name, value in obj.items():
        f = fields[name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if name in special:
            out[name] = special[name](f'{where}.{name}', value)
        elif value is None and default is None:
            out[name] = None
        else:
            out[name] = _check(f'{where}.{name}', value, _kind(default, f.type))
    return cls(**out)

def _ranges(where, value):
    if not isinstance(value, list) or not value:
        raise ValueError(f'{where}: expected a list of ranges, got {json.dumps(value)[:60]}')
    ranges = []
    for k, r in enumerate(value):
        if not isinstance(r, dict) or set(r) - {'start', 'keyframe', 'points'}:
            raise ValueError(f'{where}[{k}]: expected {{"start", "keyframe", "points"}}, got {json.dumps(r)[:60]}')
        points = r.get('points', [])
        if not isinstance(points, list):
            raise ValueError(f'{where}[{k}].points: expected a list of [x, y], got {json.dumps(points)[:60]}')
        ranges.append(manual_align.Range(start=_check(f'{where}[{k}].start', r.get('start'), 'int'),
            keyframe=_check(f'{where}[{k}].keyframe', r.get('keyframe'), 'int'),
            points=tuple(_pair(f'{where}[{k}].points[{j}]', p) for j, p in enumerate(points))))
    starts = [r.start for r in ranges]
    if starts[0] != 0 or starts != sorted(set(starts)):
        raise ValueError(f'{where}: range starts must begin at 0 and increase, got {starts}')
    return tuple(ranges)

def _choice(options):
    def check(where, value):
        if value not in options:
            raise ValueError(f'{where}: expected one of {", ".join(options)}, got {json.dumps(value)[:60]}')
        return value
    return check

def from_json(obj, source='state'):
    """UIState of a parsed JSON document; ValueError '<source>: <field>: <why>' for anything wrong."""
    try:
        if not isinstance(obj, dict):
            raise ValueError('expected a JSON object')
        if obj.get('version') != VERSION:
            raise ValueError(f'version: expected {VERSION}, got {json.dumps(obj.get("version"))}')
        unknown = sorted(set(obj) - {'version', 'export', 'view'})
        if unknown:
            raise ValueError(f'{unknown[0]}: unknown field (known: version, export, view)')
        export = _fields(ExportConfig, obj.get('export', {}), 'export', dict(translate=_pair))
        view = _fields(View, obj.get('view', {}), 'view', dict(pan=_pair, ranges=_ranges,
            warp_mode=_choice(manual_align.MODES), zoom=lambda w, v: None if v is None else _check(w, v, 'float')))
    except ValueError as e:
        raise ValueError(f'{source}: {e}') from None
    return UIState(export=export, view=view)

def load(path):
    try:
        with open(path, encoding='utf-8') as f:
            obj = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f'Cannot read the state file {path}: {e}') from None
    return from_json(obj, path)

def save(path, state):
    """Atomic write (replaces an earlier state file)."""
    text = state.dumps() + '\n'
    return dnnlib.util.atomic_write(path, lambda f: f.write(text.encode('utf-8')), overwrite=True)

#----------------------------------------------------------------------------
