"""The serialisable state of a view: what the viewers show, what an export embeds and what a drop restores.

A state document is plain JSON:
    {"version": 1, "tool": "grid" | "sequence" | "explorer", "network": {"name", "sha256", "path"}, "state": {...},
     "state_soft": {...}}
`state` holds everything that changes pixels; `state_soft` only what changes presentation (which frame of a video,
the video view). Files written by the original toolkit ({"state", "state_soft"} with enums as ints, `pkl` as a path,
legacy `seed1`) load as version-0 grid documents. The network is referred to by file name and content hash and
resolved through search roots (viz.network), so a document keeps working when the pickle moves.
"""

import dataclasses
import enum
import json
import math
import os

VERSION = 1

class StateError(ValueError):
    """A state document that cannot be used, with what is wrong in it."""

#----------------------------------------------------------------------------
# Enumerations (stored by name; the original's ints are read too).

class VizMode(enum.IntEnum):
    GRID = 0      # W x H cells, each one generated image.
    STACK_X = 1   # A time-lapse image: the x axis swept across the columns of one image.
    STACK_Y = 2   # The y axis swept across the rows of one image.

class VideoMode(enum.IntEnum):
    FULL = 0      # A plain video of the sweep.
    STACK = 1     # The time-lapse image, scrolled through the sweep.
    SINGLE = 2    # An x-t slice: one spatial column (row) of every frame.

AXES = ('z', 'w_lerp', 'c', 'lin+year', 'year+day', 'lin', 'year', 'day')
SEED_MODES = ('fixed', 'per row', 'per col', 'all')
NOISE_MODES = ('const', 'random', 'none')

#----------------------------------------------------------------------------
# The network a state renders with.

@dataclasses.dataclass(frozen=True)
class NetworkRef:
    name: str = ''                # File name, e.g. network-snapshot-000100.pkl.
    sha256: str = ''              # Content hash; '' when unknown (files of the original toolkit).
    path: str = ''                # Where it was last seen: a hint, tried after the search roots' matches.

    @property
    def empty(self):
        return not (self.name or self.path)

#----------------------------------------------------------------------------
# Grid tool state: grids, time-lapse images and their videos (the original's UIState / UIStateSoft).

@dataclasses.dataclass(frozen=True)
class GridState:
    seeds: str = '0'                        # Comma-separated seeds: the z axis' values, and seed0 of the seed modes.
    trunc: float = 1.0                      # Truncation psi.
    trunc_cutoff: int = 0                   # How many of the *last* layers stay untruncated (the original's meaning).
    axis_x: str = 'day'
    axis_y: str = 'year'
    W: int = 1                              # Cells across (or image width multiplier in STACK modes: unused).
    H: int = 1                              # Cells down.
    B: int = 5                              # Images per generator call (progressive rendering granularity).
    sliders: tuple = (0.5, 0.0, 0.0)        # (Lin in [0,1], Year phase, Day phase in cycles): pick the date t.
    t_range: tuple = (0.0, 1.0)             # Range of the axes' parameter u.
    rand_seed: str = 'fixed'                # One of SEED_MODES.
    spatial_noise: str = 'const'            # One of NOISE_MODES.
    res_scale: float = 1.0                  # Output size of a cell relative to the generator's (after out_rect).
    use_AA: bool = True                     # Anti-aliased (area) resampling when res_scale != 1, else nearest.
    show_dataset: bool = False              # Cells show the nearest real frame instead of generated images.
    dataset_noise: bool = False             # Jitter the dataset times with the training-time D noise.
    gt_tol_hours: float = 1.5               # Dataset frames further than this from the requested time are blank.
    crop_hor: tuple = (0, 0)                # Whole cells removed (left, right).
    crop_ver: tuple = (0, 0)                # Whole cells removed (top, bottom).
    viz_mode: VizMode = VizMode.GRID

@dataclasses.dataclass(frozen=True)
class GridSoft:
    video_i: int = 0                        # Frame of the time-lapse video shown (and the first exported).
    cycles: int = 1                         # Repeats of the sweep across a STACK image.
    num_strips: int = 0                     # Bands of a STACK image, 0: per-pixel columns.
    video_mode: VideoMode = VideoMode.STACK
    fps: float = 0.0                        # Of an exported video; 0: n / 10, the original's 10-second videos.
    crf: int = 18                           # H.264 quality of an exported video.

#----------------------------------------------------------------------------
# Sequence state: the real sequence re-rendered under one weather (the `stabilise` preset).

@dataclasses.dataclass(frozen=True)
class SequenceState:
    seed: int = 0                           # The weather: z = RandomState(seed).standard_normal(z_dim).
    trunc: float = 1.0
    trunc_cutoff: int = 0
    spatial_noise: str = 'const'
    times: str = 'dataset'                  # 'dataset': every dataset timestamp in t_range; 'even': num_frames evenly.
    num_frames: int = 0                     # 'even' mode: frame count; 'dataset' mode: at most this many (0: all).
    t_range: tuple = (0.0, 1.0)
    day_hour: float = -1.0                  # >= 0: time of day frozen at this UTC hour; < 0: follows the timestamps.
    year_t: float = -1.0                    # >= 0: season frozen at the date of this t; < 0: follows.
    trend_t: float = -1.0                   # >= 0: trend frozen at this t; < 0: follows.
    res_scale: float = 1.0
    use_AA: bool = True
    fps: float = 30.0
    crf: int = 18                           # H.264 quality (0 lossless, 18 visually lossless, 23 ffmpeg's default).
    B: int = 32

@dataclasses.dataclass(frozen=True)
class SequenceSoft:
    video_i: int = 0                        # Frame shown as the still of an image export.

#----------------------------------------------------------------------------
# Explorer state (visualize.py): one batch of seeds at chosen times, with per-layer time overrides and latent edits.

COND_MODES = ('fourier', 'linear')                          # Conditioning edited per time slot, or as one t.
LATENT_MODES = ('ipca', 'svd_u', 'sefa_unscaled', 'sefa')   # Directions of the latent explorer.
PLAY_SLOTS = ('lin', 'year', 'day')                         # Time slots that playback can animate.

def _coerce_layer_times(value):
    """[[lo, hi, [lin, year, day]], ...] -> ((lo, hi, (lin, year, day)), ...)."""
    if not isinstance(value, (list, tuple)):
        raise TypeError('expected a list of [lo, hi, [lin, year, day]]')
    out = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != 3 or not isinstance(item[2], (list, tuple)) or len(item[2]) != 3:
            raise TypeError(f'{item!r} is not [lo, hi, [lin, year, day]]')
        out.append((_number(int, item[0]), _number(int, item[1]), tuple(_number(float, v) for v in item[2])))
    return tuple(out)

def _coerce_floats(value):
    if not isinstance(value, (list, tuple)):
        raise TypeError('expected a list of numbers')
    return tuple(_number(float, v) for v in value)

def _coerce_weights(value):
    """[[name, weight], ...] -> ((name, weight), ...)."""
    if not isinstance(value, (list, tuple)):
        raise TypeError('expected a list of [name, weight]')
    out = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != 2 or not isinstance(item[0], str):
            raise TypeError(f'{item!r} is not [name, weight]')
        out.append((item[0], _number(float, item[1])))
    return tuple(out)

def _nested(coerce):
    """A variable-length tuple field, read from JSON by `coerce`."""
    return dataclasses.field(default=(), metadata=dict(coerce=coerce))

@dataclasses.dataclass(frozen=True)
class ExplorerState:
    seed: int = 0                           # First seed: the batch shows seed, seed+1, ..., seed+batch-1.
    batch: int = 1                          # Images, tiled near-square.
    trunc: float = 1.0                      # Truncation psi.
    cutoff: int = -1                        # The *first* cutoff layers are truncated (visualize's meaning); -1: all.
    freeze_noise: bool = True               # Constant noise; off: random noise seeded by the seed.
    cond_mode: str = 'fourier'              # One of COND_MODES: how the controls edit the times (pixels follow times).
    t: float = 0.5                          # Global t: the anchor of the time sliders (set by 'Global t').
    times: tuple = (0.5, 0.5, 0.5)          # (lin, year, day) slot times of every layer without an override.
    overrides: tuple = _nested(_coerce_layer_times) # ((lo, hi, (lin, year, day)), ...): layers lo..hi-1; last wins.
    latent_mode: str = 'ipca'               # Which directions the latent explorer's sliders show (one of LATENT_MODES).
    pca_layers: tuple = (0, -1)             # Layers lo..hi-1 that the IPCA edit goes to (hi = -1: to the last).
    pca_sliders: tuple = _nested(_coerce_floats) # IPCA components, in units of their std.
    cff_layers: tuple = (0, -1)             # Layers whose style weights give the SVD / SeFa directions, and get them.
    cff_sliders: tuple = _nested(_coerce_floats) # SVD / SeFa components (unit vectors).
    latent_sum: float = 1.0                 # Multiplies the IPCA and SVD / SeFa edits.
    saved: tuple = _nested(_coerce_weights) # ((name, weight), ...) of saved directions added to w.
    mix_seed: int = -1                      # Style mixing: layers mix_layer.. take the w of this seed; < 0: off.
    mix_layer: int = 6

@dataclasses.dataclass(frozen=True)
class ExplorerSoft:
    freeze_seed: bool = True                # Off: a fresh random seed after every finished render (as the original).
    show_dataset: bool = False              # Show the nearest training frame.
    play_slot: str = 'day'                  # The time slot that playback animates (one of PLAY_SLOTS).
    play_speed: float = 0.25                # Periods per second (lin: the whole range per second).
    fps: float = 30.0                       # Of an exported playback video (one period).
    crf: int = 18                           # H.264 quality of an exported video.

TOOLS = {'grid': (GridState, GridSoft), 'sequence': (SequenceState, SequenceSoft), 'explorer': (ExplorerState, ExplorerSoft)}

#----------------------------------------------------------------------------
# The document: one view's state plus the network it renders with.

@dataclasses.dataclass(frozen=True)
class Document:
    tool: str = 'grid'
    network: NetworkRef = NetworkRef()
    state: object = GridState()
    soft: object = GridSoft()

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def with_state(self, **changes):
        return dataclasses.replace(self, state=dataclasses.replace(self.state, **changes))

    def with_soft(self, **changes):
        return dataclasses.replace(self, soft=dataclasses.replace(self.soft, **changes))

    def to_json(self):
        return dict(version=VERSION, tool=self.tool, network=dataclasses.asdict(self.network),
            state=_plain(self.state), state_soft=_plain(self.soft))

    def dumps(self):
        return dumps(self.to_json())

def dumps(obj):
    """The text of a state document: compact JSON with sorted keys (the original's format), non-ASCII kept."""
    return json.dumps(obj, sort_keys=True, separators=(',', ':'), ensure_ascii=False, allow_nan=False)

def _plain(obj):
    return {f.name: _plain_value(getattr(obj, f.name)) for f in dataclasses.fields(obj)}

def _plain_value(v):
    if isinstance(v, enum.Enum):
        return v.name
    if isinstance(v, tuple):
        return [_plain_value(x) for x in v]
    return v

#----------------------------------------------------------------------------
# Reading: our documents and the original's, validated field by field.

_ORIGINAL_SKIPPED = {'export', 'export_vid', 'export_img', 'pkl', 'seed2', 't', 'date_str'}

def from_json(doc, where='state'):
    """Document of a parsed JSON object (ours or the original toolkit's). Unknown keys are ignored, wrong values
    raise StateError naming the key."""
    if not isinstance(doc, dict) or not isinstance(doc.get('state'), dict):
        raise StateError(f'{where}: not a state document (expected a JSON object with a "state" object)')
    version = doc.get('version', 0)
    if not isinstance(version, int) or version > VERSION:
        raise StateError(f'{where}: state version {version!r} is newer than this toolkit understands ({VERSION})')
    tool = doc.get('tool', 'grid')
    if tool not in TOOLS:
        raise StateError(f'{where}: unknown tool {tool!r} (expected one of {", ".join(TOOLS)})')
    state_cls, soft_cls = TOOLS[tool]
    raw = dict(doc['state'])
    if version == 0:
        network = NetworkRef(name=os.path.basename(str(raw.get('pkl') or '')), path=str(raw.get('pkl') or ''))
        if 'seed1' in raw and 'seeds' not in raw:
            raw['seeds'] = str(raw['seed1'])
        raw = {k: v for k, v in raw.items() if k not in _ORIGINAL_SKIPPED}
    else:
        network = _network_ref(doc.get('network') or {}, where)
    state = _build(state_cls, raw, f'{where}: state')
    soft = _build(soft_cls, dict(doc.get('state_soft') or {}), f'{where}: state_soft')
    return Document(tool=tool, network=network, state=state, soft=soft)

def loads(text, where='state'):
    try:
        doc = json.loads(text)
    except (ValueError, TypeError) as e:
        raise StateError(f'{where}: not valid JSON: {e}') from None
    return from_json(doc, where)

def _network_ref(raw, where):
    if not isinstance(raw, dict):
        raise StateError(f'{where}: "network" must be an object with name, sha256 and path')
    return NetworkRef(**{k: str(raw.get(k) or '') for k in ('name', 'sha256', 'path')})

def _build(cls, raw, where):
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in raw:
            values[f.name] = _coerce(f, raw[f.name], f'{where}.{f.name}')
    obj = cls(**values)
    _check(obj, where)
    return obj

def _coerce(field, value, where):
    """A JSON value as the field's type: enums from names or ints, tuples from lists, numbers checked finite."""
    default = field.default
    try:
        if 'coerce' in field.metadata:
            return field.metadata['coerce'](value)
        if isinstance(default, enum.Enum):
            cls = type(default)
            return cls[value.upper()] if isinstance(value, str) else cls(int(value))
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise TypeError('expected true or false')
            return value
        if isinstance(default, tuple):
            if not isinstance(value, (list, tuple)) or len(value) != len(default):
                raise TypeError(f'expected a list of {len(default)} numbers')
            return tuple(_number(type(d), v) for d, v in zip(default, value))
        if isinstance(default, (int, float)):
            return _number(type(default), value)
        if isinstance(default, str):
            if not isinstance(value, (str, int)):
                raise TypeError('expected a string')
            return str(value)
    except (KeyError, TypeError, ValueError) as e:
        raise StateError(f'{where}: invalid value {value!r} ({e})') from None
    return value

def _number(kind, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError('expected a number')
    if not math.isfinite(value):
        raise ValueError('not finite')
    if kind is int:
        if value != int(value):
            raise ValueError('expected a whole number')
        return int(value)
    return float(value)

def parse_seeds(text):
    """'3, 7,12' -> [3, 7, 12]; raises StateError on anything else (seeds are non-negative integers < 2**32)."""
    parts = [p.strip() for p in str(text).split(',') if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise StateError(f'seeds: {text!r} is not a comma-separated list of non-negative integers')
    seeds = [int(p) for p in parts]
    if max(seeds) >= 2**32:
        raise StateError(f'seeds: {max(seeds)} is too large (seeds are below 2**32)')
    return seeds

def direction_name_ok(name):
    """A saved direction's name is a plain file stem: not empty, no path separators, not hidden."""
    return bool(name) and name == name.strip() and not any(c in name for c in '/\\\0:') and not name.startswith('.')

def _check(obj, where):
    """Range checks of the values a user can type into a JSON editor."""
    def need(cond, field, what):
        if not cond:
            raise StateError(f'{where}.{field}: {getattr(obj, field)!r} {what}')
    if isinstance(obj, GridState):
        parse_seeds(obj.seeds)
        for axis in ('axis_x', 'axis_y'):
            need(getattr(obj, axis) in AXES, axis, f'is not one of {", ".join(AXES)}')
        need(obj.rand_seed in SEED_MODES, 'rand_seed', f'is not one of {", ".join(SEED_MODES)}')
        for f, hi in (('W', 64), ('H', 64), ('B', 256)):
            need(1 <= getattr(obj, f) <= hi, f, f'must be between 1 and {hi}')
        need(obj.crop_hor[0] + obj.crop_hor[1] < obj.W and min(obj.crop_hor) >= 0, 'crop_hor', 'must leave at least one column')
        need(obj.crop_ver[0] + obj.crop_ver[1] < obj.H and min(obj.crop_ver) >= 0, 'crop_ver', 'must leave at least one row')
        need(0 < obj.gt_tol_hours, 'gt_tol_hours', 'must be positive')
    if isinstance(obj, SequenceState):
        need(obj.seed >= 0 and obj.seed < 2**32, 'seed', 'must be a non-negative integer below 2**32')
        need(obj.times in ('dataset', 'even'), 'times', "must be 'dataset' or 'even'")
        need(obj.num_frames >= 0, 'num_frames', 'must be >= 0')
        need(obj.times == 'dataset' or obj.num_frames >= 1, 'num_frames', "must be >= 1 with times='even'")
        need(obj.day_hour < 24, 'day_hour', 'must be below 24 (or negative: not frozen)')
        need(0 < obj.fps <= 1000, 'fps', 'must be in (0, 1000]')
        need(0 <= obj.crf <= 51, 'crf', 'must be in 0..51')
        need(1 <= obj.B <= 1024, 'B', 'must be between 1 and 1024')
    if isinstance(obj, (GridState, SequenceState)):
        need(obj.spatial_noise in NOISE_MODES, 'spatial_noise', f'is not one of {", ".join(NOISE_MODES)}')
        need(0 < obj.res_scale <= 16, 'res_scale', 'must be in (0, 16]')
        need(obj.trunc_cutoff >= 0, 'trunc_cutoff', 'must be >= 0')
    if isinstance(obj, ExplorerState):
        need(0 <= obj.seed < 2**32, 'seed', 'must be a non-negative integer below 2**32')
        need(1 <= obj.batch <= 64, 'batch', 'must be between 1 and 64')
        need(obj.cutoff >= -1, 'cutoff', 'must be >= 0 (or -1: all layers)')
        need(obj.cond_mode in COND_MODES, 'cond_mode', f'is not one of {", ".join(COND_MODES)}')
        need(all(0 <= lo < hi <= 1024 for lo, hi, _ in obj.overrides), 'overrides', 'need layer ranges 0 <= lo < hi')
        need(obj.latent_mode in LATENT_MODES, 'latent_mode', f'is not one of {", ".join(LATENT_MODES)}')
        for f in ('pca_layers', 'cff_layers'):
            lo, hi = getattr(obj, f)
            need(lo >= 0 and (hi == -1 or hi > lo), f, 'must be [lo, hi] with 0 <= lo < hi (hi = -1: to the last layer)')
        for f in ('pca_sliders', 'cff_sliders'):
            need(len(getattr(obj, f)) <= 1024, f, 'has more than 1024 values')
        need(all(direction_name_ok(n) for n, _ in obj.saved), 'saved', 'holds a direction name that is empty or a path')
        need(-1 <= obj.mix_seed < 2**32, 'mix_seed', 'must be a seed below 2**32 (or -1: off)')
        need(obj.mix_layer >= 0, 'mix_layer', 'must be >= 0')
    if isinstance(obj, ExplorerSoft):
        need(obj.play_slot in PLAY_SLOTS, 'play_slot', f'is not one of {", ".join(PLAY_SLOTS)}')
        need(0 < obj.play_speed <= 100, 'play_speed', 'must be in (0, 100] periods per second')
        need(0 < obj.fps <= 1000, 'fps', 'must be in (0, 1000]')
        need(0 <= obj.crf <= 51, 'crf', 'must be in 0..51')
    if isinstance(obj, GridSoft):
        need(1 <= obj.cycles <= 64, 'cycles', 'must be between 1 and 64')
        need(0 <= obj.num_strips <= 4096, 'num_strips', 'must be between 0 and 4096')
        need(0 <= obj.fps <= 1000, 'fps', 'must be in [0, 1000] (0: a 10-second video)')
        need(0 <= obj.crf <= 51, 'crf', 'must be in 0..51')

#----------------------------------------------------------------------------
