"""Capture times of the frames: from file names, EXIF DateTimeOriginal or a video's start time and frame interval
(or its frames' own presentation times), with time zones; then the checks for unparsable, out-of-order and duplicate
times, which stop the run with one report unless the user chooses to drop those frames.

Per frame, the first source that gives a time wins:
  1. the user's --time-format (strptime) against the whole file stem; a leading and/or trailing '*' in the pattern
     lets the timestamp be a suffix / prefix / part of the stem (then the numbers must be zero-padded);
  2. the original's formats %Y%m%d_%H%M%S and %Y-%m-%d-%H-%M-%S against the whole stem;
  3. EXIF DateTimeOriginal (+ SubSecTimeOriginal, + OffsetTimeOriginal when present).
Naive times are in --timezone (IANA name or fixed offset; default UTC). At a DST change an ambiguous wall time
resolves to its first occurrence (fold=0).
"""

import dataclasses
import datetime
import re
import zoneinfo

import numpy as np

from preproc import discovery
from training import timeline

BUILTIN_FORMATS = ('%Y%m%d_%H%M%S', '%Y-%m-%d-%H-%M-%S')
_EXIF_IFD, _DATETIME_ORIGINAL, _OFFSET_ORIGINAL, _SUBSEC_ORIGINAL = 0x8769, 36867, 36881, 37521

class BadTimesError(ValueError):
    """Some frames have unusable capture times (the message lists them)."""

#----------------------------------------------------------------------------
# Parsing helpers.

def parse_timezone(text):
    """tzinfo from 'UTC', 'Z', a fixed offset '+HH:MM' / '-HHMM', or an IANA name such as 'Europe/Helsinki'."""
    text = (text or 'UTC').strip()
    if text.upper() in ('UTC', 'Z', 'GMT'):
        return datetime.timezone.utc
    m = re.fullmatch(r'([+-])(\d{2}):?(\d{2})', text)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3))
        if minutes >= 24 * 60:
            raise ValueError(f'Time zone offset out of range: {text!r}')
        return datetime.timezone(datetime.timedelta(minutes=minutes if m.group(1) == '+' else -minutes))
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f'Unknown time zone {text!r}: use an IANA name like Europe/Helsinki or an offset like +02:00') from e

def parse_iso(text, tz):
    """Unix seconds of an ISO 8601 date/time such as 2021-06-01T12:00 or 2021-06-01 12:00:00+02:00."""
    try:
        return timeline.to_unix(datetime.datetime.fromisoformat(text.strip()), tz)
    except ValueError as e:
        raise ValueError(f'Cannot parse {text!r} as an ISO date/time, e.g. 2021-06-01T12:00:00') from e


def parse_interval_seconds(text):
    """A frame interval in seconds: '30s', '10min', '1.5 h', '2 days' (see training.timeline.parse_span_seconds). A
    unit is required: a bare number would be days there, which nobody means for the frames of a video."""
    if not re.search(r'[a-zA-Z]', str(text)):
        raise ValueError(f'The frame interval {text!r} needs a unit, e.g. 30s, 10min or 1h')
    seconds = timeline.parse_span_seconds(text)
    if seconds <= 0:
        raise ValueError(f'The frame interval must be positive, got {text!r}')
    return seconds

#----------------------------------------------------------------------------
# Times from file names.

_DIRECTIVES = {'Y': r'\d{4}', 'y': r'\d{2}', 'm': r'\d{2}', 'd': r'\d{2}', 'H': r'\d{2}', 'I': r'\d{2}', 'M': r'\d{2}',
               'S': r'\d{2}', 'f': r'\d{1,6}', 'j': r'\d{3}', 'b': r'[A-Za-z]+', 'B': r'[A-Za-z]+', 'a': r'[A-Za-z]+',
               'A': r'[A-Za-z]+', 'p': r'[AaPp][Mm]', 'z': r'(?:Z|[+-]\d{2}:?\d{2})', '%': '%'}

def _pattern_regex(fmt):
    """Regex matching what strptime(fmt) accepts in zero-padded form."""
    out, i = '', 0
    while i < len(fmt):
        if fmt[i] == '%':
            if i + 1 >= len(fmt) or fmt[i + 1] not in _DIRECTIVES:
                raise ValueError(f'Time format {fmt!r}: directive {fmt[i:i + 2]!r} is not supported with "*"')
            out += _DIRECTIVES[fmt[i + 1]]
            i += 2
        else:
            out += re.escape(fmt[i])
            i += 1
    return out

class NameParser:
    """Parses a file stem into unix seconds (None when no format matches)."""
    def __init__(self, time_format=None, tz=datetime.timezone.utc):
        self.tz = tz
        self.formats = []  # [(strptime format, regex or None)]
        if time_format:
            core = time_format.strip('*')
            if '%Y' not in core and '%y' not in core:
                raise ValueError(f'Time format {time_format!r} has no year (%Y or %y); strptime would assume 1900')
            regex = None
            if core != time_format:
                regex = re.compile(('.*?' if time_format.startswith('*') else '') + f'({_pattern_regex(core)})' + ('.*' if time_format.endswith('*') else ''))
            self.formats.append((core, regex))
        self.formats += [(f, None) for f in BUILTIN_FORMATS]

    def __call__(self, stem):
        for fmt, regex in self.formats:
            text = stem
            if regex is not None:
                m = regex.fullmatch(stem)
                if m is None:
                    continue
                text = m.group(1)
            try:
                return timeline.to_unix(datetime.datetime.strptime(text, fmt), self.tz)
            except ValueError:
                continue
        return None

#----------------------------------------------------------------------------
# Times from EXIF.

def exif_time(frame, tz=datetime.timezone.utc):
    """Unix seconds from EXIF DateTimeOriginal (with SubSecTimeOriginal and OffsetTimeOriginal), or None."""
    try:
        with discovery.open_image(frame) as img:
            ifd = dict(img.getexif().get_ifd(_EXIF_IFD))
        dt = datetime.datetime.strptime(str(ifd[_DATETIME_ORIGINAL]).strip('\x00 '), '%Y:%m:%d %H:%M:%S')
    except Exception: # pylint: disable=broad-except
        return None # Unreadable file, no EXIF, no tag or a malformed value: the frame simply has no EXIF time.
    subsec = str(ifd.get(_SUBSEC_ORIGINAL, '')).strip('\x00 ')
    if subsec.isdigit():
        dt += datetime.timedelta(seconds=float('0.' + subsec))
    offset = str(ifd.get(_OFFSET_ORIGINAL, '')).strip('\x00 ')
    if offset:
        try:
            dt = dt.replace(tzinfo=parse_timezone(offset))
        except ValueError:
            pass # A malformed offset tag: fall back to --timezone.
    return timeline.to_unix(dt, tz)

#----------------------------------------------------------------------------
# Assigning and checking times.

@dataclasses.dataclass
class TimedFrames:
    """Frames with valid, strictly increasing times: the frame list that trim, skip and warps index."""
    frames: list        # [discovery.Frame] in time order.
    unix: np.ndarray    # float64 [N] unix seconds, strictly increasing.
    origins: list       # Per frame: 'name', 'exif' or 'video'.
    dropped: dict       # {'unparsable'|'out_of_order'|'duplicate': [names]} (only with skip_bad_times).
    source_index: np.ndarray # int64 [N]: each frame's position in discovery order (what warps rows follow).

def _raw_times(source, parser, tz, video_start, video_interval):
    if source.video_pts is not None:
        if video_start is None:
            raise ValueError('A video has no capture times: give --video-start=ISO_TIME (the time of its first frame) and '
                             '--video-interval=SPAN (capture time between frames, e.g. 10min), or only --video-start to '
                             'use the frames\' own playback times')
        start = parse_iso(video_start, tz)
        if video_interval is not None:
            step = parse_interval_seconds(video_interval)
            return [start + i * step for i in range(len(source.frames))], ['video'] * len(source.frames)
        return [start + pts - source.video_pts[0] for pts in source.video_pts], ['video'] * len(source.frames)
    if video_start is not None or video_interval is not None:
        raise ValueError('--video-start and --video-interval apply only to video inputs')
    unix, origins = [], []
    for frame in source.frames:
        u, origin = parser(frame.stem), 'name'
        if u is None:
            u, origin = exif_time(frame, tz), 'exif'
        unix.append(u)
        origins.append(origin if u is not None else None)
    return unix, origins

def _out_of_order(frames, unix, origins):
    """Indices of EXIF-timed frames earlier than a predecessor in name order within their folder. (Times parsed from
    names may legitimately sort differently from the names, so only EXIF times are checked.)"""
    latest, bad = {}, []
    for i, frame in enumerate(frames):
        if origins[i] != 'exif':
            continue
        if frame.folder in latest and unix[i] < latest[frame.folder]:
            bad.append(i)
        else:
            latest[frame.folder] = unix[i]
    return bad

def _report(dropped, total, formats):
    lines = [f'Bad capture times in {sum(len(v) for v in dropped.values())} of {total} frames:']
    why = dict(unparsable=f'the name matches none of {", ".join(formats)} and there is no EXIF DateTimeOriginal',
               out_of_order='EXIF time earlier than a preceding file in name order (camera clock reset?)',
               duplicate='same time as an earlier frame')
    for key, names in dropped.items():
        if names:
            lines.append(f'  {len(names)} {key.replace("_", "-")} ({why[key]}): {discovery.format_names(names)}')
    return '\n'.join(lines)

def assign_times(source, time_format=None, timezone='UTC', video_start=None, video_interval=None,
                 skip_bad_times=False, check_order=True):
    """Capture times of a discovery.Source; returns TimedFrames sorted by time. Raises BadTimesError listing the
    unparsable, out-of-order and duplicate times unless skip_bad_times (then those frames are dropped, the first of
    each duplicate group is kept)."""
    tz = parse_timezone(timezone)
    unix, origins = _raw_times(source, NameParser(time_format, tz), tz, video_start, video_interval)
    patterns = ([time_format] if time_format else []) + list(BUILTIN_FORMATS)
    frames = source.frames
    keep = [i for i in range(len(frames)) if unix[i] is not None]
    dropped = dict(unparsable=[frames[i].name for i in range(len(frames)) if unix[i] is None], out_of_order=[], duplicate=[])
    if check_order:
        bad = {keep[j] for j in _out_of_order([frames[i] for i in keep], [unix[i] for i in keep], [origins[i] for i in keep])}
        dropped['out_of_order'] = [frames[i].name for i in keep if i in bad]
        keep = [i for i in keep if i not in bad]
    keep.sort(key=lambda i: unix[i]) # Stable: equal times stay in discovery order, so the first one is kept.
    unique = [i for j, i in enumerate(keep) if j == 0 or unix[i] != unix[keep[j - 1]]]
    first = set(unique)
    dropped['duplicate'] = [frames[i].name for i in keep if i not in first]
    if any(dropped.values()) and not skip_bad_times:
        raise BadTimesError(_report(dropped, len(frames), patterns) + '\nFix the names or EXIF, give --time-format=PATTERN (and '
                            '--timezone), or pass --skip-bad-times to drop these frames (they are listed in the metadata).')
    if any(dropped.values()):
        print(_report(dropped, len(frames), patterns) + '\nThese frames are dropped (--skip-bad-times).')
    if not unique:
        raise BadTimesError(f'No frame of {len(frames)} has a usable capture time')
    return TimedFrames(frames=[frames[i] for i in unique], unix=np.array([unix[i] for i in unique], dtype=np.float64),
                       origins=[origins[i] for i in unique], dropped=dropped, source_index=np.array(unique, dtype=np.int64))

#----------------------------------------------------------------------------
