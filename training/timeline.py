"""The one place where time is converted: unix seconds <-> normalised time t <-> calendar dates (midnight, time of
day, day of year, month starts, local solar noon), the Fourier frequency set of a sequence, per-frequency times and
their inverse, time spans given in calendar units, and spans in days <-> frames.

Conventions (those of the original TLGAN datasets):
  t = (unix - date_start) / (num_days * 86400),  num_days = ceil(span in days),
so t = 0 is the first frame and t = 1 is exactly num_days days later. date_start is the one name of the sequence
start (dataset meta and Timeline); network pickles store it as cond_args.start_ts, read and written only here.
Frequencies are in cycles per unit of t: num_days / 365.25 is one cycle per year, num_days is one cycle per day. The
trend slot is marked by the sentinel frequency -1 and always comes first. The networks keep their own copies of the
frequency rule and of the sentinel (their pickled source must not import this module); tests pin them to these.
"""

import dataclasses
import datetime
import math
import re

import numpy as np

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
DAYS_PER_YEAR = 365.25           # The year of the frequency set and of time spans.
DAYS_PER_GREGORIAN_YEAR = 365.2425 # Whole multiples of it keep the calendar date (within a day).
DEFAULT_DATE_START = 946684800.0 # 2000-01-01 00:00 UTC, the original's default when a dataset has no date.
TREND = -1.0                     # Sentinel frequency of the trend slot.

#----------------------------------------------------------------------------
# unix <-> t <-> dates.

def to_unix(dt, tz=datetime.timezone.utc):
    """Unix seconds of a datetime; naive ones are wall times in tz (UTC by default)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.timestamp()

def unix_to_datetime(unix):
    """Aware UTC datetime of scalar unix seconds."""
    return datetime.datetime.fromtimestamp(float(unix), tz=datetime.timezone.utc)

def num_days_for_span(unix_first, unix_last):
    """Whole days covered by a sequence (at least 1): the unit length of t."""
    span = (float(unix_last) - float(unix_first)) / SECONDS_PER_DAY
    if not math.isfinite(span) or span < 0:
        raise ValueError(f'Invalid time span: first={unix_first}, last={unix_last}')
    return max(int(math.ceil(span)), 1)

@dataclasses.dataclass(frozen=True)
class Timeline:
    """Maps normalised time t of one sequence to absolute (UTC) time and back."""
    date_start: float = DEFAULT_DATE_START  # Unix seconds of t = 0.
    num_days: int = 1                       # Days per unit of t.

    def __post_init__(self):
        if not (isinstance(self.num_days, (int, np.integer)) and self.num_days >= 1):
            raise ValueError(f'num_days must be a positive integer, got {self.num_days!r}')

    @classmethod
    def from_unix(cls, unix_times):
        """Timeline of a sequence captured at the given unix times (any order)."""
        u = np.asarray(unix_times, dtype=np.float64)
        if u.size == 0:
            raise ValueError('Cannot build a timeline from an empty sequence')
        return cls(date_start=float(u.min()), num_days=num_days_for_span(u.min(), u.max()))

    @classmethod
    def from_meta(cls, meta):
        """Timeline from a dataset's `meta` dict (keys `date_start`, `num_days`; absent keys take the defaults)."""
        meta = meta or {}
        return cls(date_start=float(meta.get('date_start', DEFAULT_DATE_START)), num_days=int(meta.get('num_days', 1)))

    @classmethod
    def from_cond_args(cls, cond_args):
        """Timeline of a generator, from the metadata its pickle carries (G.cond_args: start_ts, num_days)."""
        return cls(date_start=float(cond_args.get('start_ts', DEFAULT_DATE_START)), num_days=int(cond_args.get('num_days', 1)))

    def as_cond_args(self):
        """The cond_args entries of this timeline (the original's key start_ts for date_start)."""
        return dict(start_ts=float(self.date_start), num_days=int(self.num_days))

    @property
    def seconds(self):
        return self.num_days * SECONDS_PER_DAY

    def unix_to_t(self, unix):
        return (np.asarray(unix, dtype=np.float64) - self.date_start) / self.seconds

    def t_to_unix(self, t):
        return self.date_start + np.asarray(t, dtype=np.float64) * self.seconds

    def t_to_datetime(self, t):
        """Aware UTC datetime of a scalar t."""
        return unix_to_datetime(self.t_to_unix(t))

    def datetime_to_t(self, dt):
        """t of a datetime; naive datetimes are taken as UTC."""
        return float(self.unix_to_t(to_unix(dt)))

    def format(self, t, fmt='%d.%m.%Y %H:%M:%S'):
        """Human-readable UTC date of a scalar t (the viewers' format by default)."""
        return self.t_to_datetime(t).strftime(fmt)

    def as_meta(self):
        return dict(date_start=float(self.date_start), num_days=int(self.num_days))

    def slots_to_unix(self, t, names):
        """[B, F] per-slot times (slot `names` as frequency_names gives them) -> (u_scene, u_lin) unix seconds: the
        moment the scene shows (date from the 'year' slot, else the trend slot; time of day from the 'day' slot) and
        the trend's moment."""
        u = {name: self.t_to_unix(t[:, k]) for k, name in enumerate(names)}
        return midnight(u.get('year', u['lin'])) + time_of_day(u['day']), u['lin']

    def unix_to_slots(self, u_scene, u_lin, names):
        """Inverse of slots_to_unix: [B, F] float32 slot times for the trend slot at u_lin and every cycle at u_scene."""
        return np.stack([self.unix_to_t(u_lin if name == 'lin' else u_scene) for name in names], axis=1).astype(np.float32)

def midnight(unix):
    """00:00 UTC of the day of each unix time."""
    return np.floor(np.asarray(unix, dtype=np.float64) / SECONDS_PER_DAY) * SECONDS_PER_DAY

def time_of_day(unix):
    """Seconds since 00:00 UTC."""
    return np.mod(np.asarray(unix, dtype=np.float64), SECONDS_PER_DAY)

def hours_apart(a, b):
    """Difference of the times of day of unix times a and b in hours, the short way round: in [0, 12]."""
    d = np.mod(time_of_day(a) - time_of_day(b), SECONDS_PER_DAY) / SECONDS_PER_HOUR
    return np.minimum(d, 24 - d)

def solar_noon(unix, lon):
    """Local mean solar noon at longitude lon (degrees east) on the UTC date of each unix time: 12:00 UTC minus
    lon / 15 hours (the equation of time, at most about 16 minutes, is left out)."""
    return midnight(unix) + (12 - np.asarray(lon, dtype=np.float64) / 15) * SECONDS_PER_HOUR

def calendar(unix):
    """Per time: (day_of_year, season_phase, hour_utc).

    day_of_year is fractional and 1-based (1.0 = Jan 1, 00:00 UTC); season_phase in [0, 1) is the fraction of the
    calendar year elapsed (leap years have 366 days); hour_utc in [0, 24).
    """
    unix = np.asarray(unix, dtype=np.float64)
    day = midnight(unix) / SECONDS_PER_DAY
    day_frac = time_of_day(unix) / SECONDS_PER_DAY
    date = day.astype(np.int64).astype('datetime64[D]')
    year = date.astype('datetime64[Y]')
    year_start = year.astype('datetime64[D]')
    days_in_year = ((year + 1).astype('datetime64[D]') - year_start).astype(np.float64)
    day_index = (date - year_start).astype(np.float64) + day_frac  # 0-based, fractional
    return day_index + 1, day_index / days_in_year, day_frac * 24

def month_starts(unix, count):
    """Unix times of 00:00 UTC on the 1st of `count` consecutive months, from the month of scalar unix on."""
    first = np.datetime64(int(midnight(unix) // SECONDS_PER_DAY), 'D').astype('datetime64[M]')
    months = (first + np.arange(count)).astype('datetime64[D]').astype(np.int64)
    return months.astype(np.float64) * SECONDS_PER_DAY

#----------------------------------------------------------------------------
# Frequencies and per-frequency times.

def cycle_frequencies(num_days):
    """Cyclic frequencies of a sequence in cycles per unit t: year and day, each kept only if > 1 cycle fits."""
    return [f for f in (num_days / DAYS_PER_YEAR, float(num_days)) if f > 1]

def frequency_set(num_days, include_trend=True):
    """Sorted frequency list of the conditioning: [TREND, (year), (day)]."""
    return ([TREND] if include_trend else []) + cycle_frequencies(num_days)

def frequency_names(freqs):
    """Names of the slots of a frequency list, as used by the variance-ratio metric's keys."""
    cycles = [f for f in freqs if f != TREND]
    names = {0: [], 1: ['day'], 2: ['year', 'day']}.get(len(cycles))
    if names is None:
        names = [f'f{f:g}' for f in cycles]
    return (['lin'] if TREND in freqs else []) + names

def per_frequency_times(t, num_f):
    """Repeat global times t [...] into per-frequency times [..., num_f] (all slots equal)."""
    t = np.asarray(t, dtype=np.float64)
    return np.repeat(t[..., None], num_f, axis=-1)

def stack_to_global_t(t_stack, freqs):
    """Inverse of per_frequency_times for edited stacks: one global t per row of per-frequency times [..., F].

    Starts from the trend slot's time; then for each cycle, lowest frequency first, keeps the whole periods reached
    so far and takes the phase within one period from that cycle's own slot.
    """
    t_stack = np.asarray(t_stack, dtype=np.float64)
    freqs = list(freqs)
    if t_stack.shape[-1] != len(freqs):
        raise ValueError(f'Expected {len(freqs)} per-frequency times, got shape {t_stack.shape}')
    order = sorted(range(len(freqs)), key=lambda i: freqs[i])
    t = t_stack[..., freqs.index(TREND)] if TREND in freqs else np.zeros(t_stack.shape[:-1])
    for i in order:
        if freqs[i] == TREND:
            continue
        f = freqs[i]
        t = (_whole_cycles(t * f) + _cycle_phase(t_stack[..., i] * f)) / f
    return t

_CYCLE_EPS = 1e-9 # Counted in cycles: t * f lands a rounding error away from a whole number at period boundaries.

def _whole_cycles(c):
    return np.floor(c + _CYCLE_EPS)

def _cycle_phase(c):
    """Phase in [0, 1) of a time in cycles; within _CYCLE_EPS of a whole number counts as 0."""
    return np.maximum(c - _whole_cycles(c), 0.0)

#----------------------------------------------------------------------------
# Time spans in calendar units, e.g. for the discriminator's time noise ('4 days', '0.2 years', '6h', 0).

_UNIT_SECONDS = dict(second=1.0, minute=60.0, hour=3600.0, day=SECONDS_PER_DAY, week=7 * SECONDS_PER_DAY,
    month=DAYS_PER_YEAR / 12 * SECONDS_PER_DAY, year=DAYS_PER_YEAR * SECONDS_PER_DAY)
_UNIT_ALIASES = {'s': 'second', 'sec': 'second', 'min': 'minute', 'm': 'minute', 'h': 'hour', 'hr': 'hour', 'd': 'day',
    'w': 'week', 'wk': 'week', 'mo': 'month', 'y': 'year', 'yr': 'year'}

def parse_span_seconds(value):
    """A time span in seconds from a number (taken as days) or a string like '4 days', '1.5years', '6 h', '10min', '0'."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        seconds = float(value) * SECONDS_PER_DAY
    else:
        m = re.fullmatch(r'\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Z]*)\s*', str(value))
        if m is None:
            raise ValueError(f'Cannot parse time span {value!r}: expected a number and an optional unit, e.g. "4 days"')
        unit = m.group(2).lower()
        if unit not in _UNIT_SECONDS and unit not in _UNIT_ALIASES and len(unit) > 1 and unit.endswith('s'):
            unit = unit[:-1] # plural
        unit = _UNIT_ALIASES.get(unit, unit)
        if unit and unit not in _UNIT_SECONDS:
            raise ValueError(f'Unknown time unit in {value!r}; use one of {", ".join(_UNIT_SECONDS)} (or none for days)')
        seconds = float(m.group(1)) * _UNIT_SECONDS.get(unit, SECONDS_PER_DAY)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f'Time span must be finite and non-negative, got {value!r}')
    return seconds

def days_to_frames(days, num_days, num_frames):
    """A span in days as a number of frame steps of a sequence of num_frames frames over num_days (t_delta = 1 /
    num_frames), the unit of the networks' time noise."""
    return days / num_days * num_frames

def parse_span_days(value):
    """parse_span_seconds() in days."""
    return parse_span_seconds(value) / SECONDS_PER_DAY

def span_to_t(value, num_days):
    """A time span (see parse_span_days) in units of normalised time t."""
    return parse_span_days(value) / num_days

def auto_noise_spans(num_days):
    """The original's 'auto' discriminator time noise per frequency slot [trend, (year), (day)], as spans in days:
    a fifth of the sequence on the trend for sequences of at least a year (else 4 days, but never more than a fifth of
    the sequence: the original crashed there), 4 days on the year, 0 on the day."""
    freqs = frequency_set(num_days)
    spans = ([0.2 * num_days] if num_days >= DAYS_PER_YEAR else [min(4.0, 0.2 * num_days)]) + [4.0, 0.0]
    spans = spans[:1] + spans[2:] if len(freqs) < 3 else spans # No year slot: [trend, day].
    return spans[:len(freqs)]

#----------------------------------------------------------------------------
