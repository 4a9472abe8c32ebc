"""State -> cells: which seed and which (lin, year, day) times each grid cell, time-lapse sample or sequence frame
shows, following the original grid tool's rules, and the orders in which they are rendered.

Grid rules (original_viz.md §2). All slots start at the date t picked by the sliders; z starts at the first seed.
For each axis with N > 1 cells, with u = linspace(t_range, N):
  day        day slot  = t + (u - 0.5) (N-1)/N / f_day    (one whole day centred on t, no duplicated end point)
  year       year slot = t + (u - 0.5) (N-1)/N / f_year
  year+day   year and day slots = t + (u - 0.5) (N-1)/N / f_year
  lin, lin+year, c   u as absolute t in the trend / trend and year / all slots
  z          the seed list, padded with consecutive seeds; w_lerp blends the w's of seeds[0] and seeds[1] (1000)
Then `rand_seed` overrides z with seed0 + cell index, row or column. Crop removes whole cells without changing the
others. The y axis is applied after the x axis.
"""

import dataclasses

import numpy as np

from training import timeline
from viz import state as vstate

#----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Cell:
    col: int
    row: int
    seed: int
    times: tuple          # (lin, year, day) in t units.
    lerp: tuple = None    # (seed_b, alpha) for the w_lerp axis.

def slider_t(sliders, freqs):
    """The date t picked by the (Lin, Year, Day) sliders: per-slot times [Lin, Year/f_year, Day/f_day] joined with
    stack_to_global_t (the year and day phases are taken within the cycles containing Lin)."""
    lin, year, day = (float(v) for v in sliders)
    phase = {'year': year, 'day': day}
    names = timeline.frequency_names(freqs)
    stack = [lin if n == 'lin' else phase.get(n, 0.0) / f for n, f in zip(names, freqs)]
    return float(timeline.stack_to_global_t(np.array(stack), freqs))

def cycle_periods(num_days):
    """(1/f_year, 1/f_day) in t units: the periods of the sweeps, whether or not the generator has the slot."""
    return timeline.DAYS_PER_YEAR / num_days, 1.0 / num_days

#----------------------------------------------------------------------------
# One axis.

def axis_values(axis, n, t, t_range, num_days, seeds):
    """Per index k < n along an axis: dict of what it sets ('times': {slot: t}, 'seed', 'lerp')."""
    if n <= 1:
        return [{} for _ in range(n)]
    u = np.linspace(t_range[0], t_range[1], n)
    period_year, period_day = cycle_periods(num_days)
    spread = (u - 0.5) * (n - 1) / n
    if axis == 'day':
        return [{'times': {'day': t + s * period_day}} for s in spread]
    if axis == 'year':
        return [{'times': {'year': t + s * period_year}} for s in spread]
    if axis == 'year+day':
        return [{'times': {'year': t + s * period_year, 'day': t + s * period_year}} for s in spread]
    if axis in ('lin', 'lin+year', 'c'):
        slots = {'lin': ('lin',), 'lin+year': ('lin', 'year'), 'c': ('lin', 'year', 'day')}[axis]
        return [{'times': {slot: float(v) for slot in slots}} for v in u]
    if axis == 'z':
        padded = list(seeds[:n]) + [seeds[-1] + k for k in range(1, n - len(seeds) + 1)]
        return [{'seed': s} for s in padded]
    if axis == 'w_lerp':
        seed_b = seeds[1] if len(seeds) > 1 else 1000
        return [{'lerp': (seed_b, float(a))} for a in np.linspace(0, 1, n)]
    raise ValueError(f'Unknown axis {axis!r}')

def _cell(col, row, W, seed0, t, x_vals, y_vals, rand_seed):
    times = {'lin': t, 'year': t, 'day': t}
    seed, lerp = seed0, None
    for vals in (x_vals[col], y_vals[row]):
        times.update(vals.get('times', {}))
        seed = vals.get('seed', seed)
        lerp = vals.get('lerp', lerp)
    seed = {'fixed': seed, 'per row': seed0 + row, 'per col': seed0 + col, 'all': seed0 + row * W + col}[rand_seed]
    return Cell(col=col, row=row, seed=int(seed), times=(times['lin'], times['year'], times['day']), lerp=lerp)

#----------------------------------------------------------------------------
# Grids and time-lapse sweeps.

def grid_cells(gs, freqs, num_days):
    """The visible cells of a GRID state, row-major, after cropping."""
    seeds = vstate.parse_seeds(gs.seeds)
    t = slider_t(gs.sliders, freqs)
    x_vals = axis_values(gs.axis_x, gs.W, t, gs.t_range, num_days, seeds)
    y_vals = axis_values(gs.axis_y, gs.H, t, gs.t_range, num_days, seeds)
    cols = range(gs.crop_hor[0], gs.W - gs.crop_hor[1])
    rows = range(gs.crop_ver[0], gs.H - gs.crop_ver[1])
    return [_cell(c, r, gs.W, seeds[0], t, x_vals, y_vals, gs.rand_seed) for r in rows for c in cols]

def visible_size(gs):
    """(columns, rows) of a GRID state after cropping."""
    return gs.W - sum(gs.crop_hor), gs.H - sum(gs.crop_ver)

def sweep_cells(gs, freqs, num_days, n):
    """The n samples of a STACK_X (x axis) or STACK_Y (y axis) time-lapse sweep, as cells (col = sample index)."""
    seeds = vstate.parse_seeds(gs.seeds)
    t = slider_t(gs.sliders, freqs)
    axis = gs.axis_x if gs.viz_mode == vstate.VizMode.STACK_X else gs.axis_y
    vals = axis_values(axis, n, t, gs.t_range, num_days, seeds)
    return [_cell(k, 0, n, seeds[0], t, vals, [{}], 'fixed') for k in range(n)]

def spiral_order(W, H):
    """Cell indices (row-major) from the centre outwards: by ring (Chebyshev distance), then by angle."""
    cx, cy = (W - 1) / 2, (H - 1) / 2
    def key(i):
        r, c = divmod(i, W)
        dx, dy = c - cx, r - cy
        return (max(abs(dx), abs(dy)), np.arctan2(dy, dx) % (2 * np.pi), i)
    return sorted(range(W * H), key=key)

def coarse_to_fine(n):
    """Sample indices 0..n-1 in progressive order: 0, n/2, n/4, 3n/4, ... (each once)."""
    order, seen, step = [], set(), 1 << max(n - 1, 1).bit_length()
    while step >= 1:
        for k in range(0, n, step):
            if k not in seen:
                seen.add(k)
                order.append(k)
        step //= 2
    return order

def nearest_done(done):
    """Index map that shows, for every sample, the closest rendered one at or before it (else after it)."""
    done = np.asarray(done, dtype=bool)
    idx = np.arange(done.size)
    before = np.maximum.accumulate(np.where(done, idx, -1))
    after = np.minimum.accumulate(np.where(done, idx, done.size)[::-1])[::-1]
    return np.where(before >= 0, before, np.minimum(after, done.size - 1))

#----------------------------------------------------------------------------
# Time-lapse views: which sample each output column (STACK_X) or row (STACK_Y) comes from, for video frame i.

def stack_sources(n, i, soft):
    """[n] (sample, spatial index) pairs: output column x of view frame i takes column `spatial` of sample `sample`.
    n is the image width (STACK_X) or height (STACK_Y), which is also the number of samples."""
    x = np.arange(n)
    k = soft.cycles
    if soft.video_mode == vstate.VideoMode.FULL:
        return np.full(n, (i * k) % n), x
    if soft.video_mode == vstate.VideoMode.SINGLE:
        return x, np.full(n, i % n)
    if soft.num_strips > 0:
        m = soft.num_strips
        band = np.minimum(x * m // n, m - 1)
        return (i + (k * n * band) // m) % n, x
    i = 0 if k > 1 else i # The original freezes the scroll when the sweep repeats.
    return (x * k + i) % n, x

#----------------------------------------------------------------------------
# Sequences (the stabilise preset).

def sequence_times(ss, dataset_times):
    """t of each frame of a SequenceState: the dataset's timestamps in t_range (subsampled evenly to num_frames when
    that is smaller), or num_frames evenly spaced times."""
    lo, hi = ss.t_range
    if ss.times == 'even':
        return np.linspace(lo, hi, ss.num_frames)
    t = np.sort(np.asarray(dataset_times, dtype=np.float64))
    t = t[(t >= lo) & (t <= hi)]
    if 0 < ss.num_frames < len(t):
        t = t[np.round(np.linspace(0, len(t) - 1, ss.num_frames)).astype(int)]
    return t

def sequence_cells(ss, tl, frame_t):
    """Cells of a sequence: one weather (seed) throughout; each slot follows the frame's time unless frozen."""
    u = tl.t_to_unix(frame_t)
    u_scene = timeline.midnight(u) + ss.day_hour * 3600 if ss.day_hour >= 0 else u
    t_scene = tl.unix_to_t(u_scene)
    lin = np.full_like(frame_t, ss.trend_t) if ss.trend_t >= 0 else frame_t
    year = np.full_like(frame_t, ss.year_t) if ss.year_t >= 0 else t_scene
    return [Cell(col=k, row=0, seed=ss.seed, times=(float(lin[k]), float(year[k]), float(t_scene[k])))
        for k in range(len(frame_t))]

#----------------------------------------------------------------------------
# Views of one tool opened in another.

def sliders_for(times, freqs):
    """Grid sliders (Lin, Year phase, Day phase) whose date has the phases of the (lin, year, day) slot times."""
    names = timeline.frequency_names(freqs)
    freq = dict(zip(names, freqs))
    phase = lambda slot: float(np.mod(times[('lin', 'year', 'day').index(slot)] * freq[slot], 1.0)) if slot in freq else 0.0
    return (float(times[0]), phase('year'), phase('day'))

def explorer_as_grid(doc, freqs, num_ws):
    """A grid view of an explorer document: its batch as a row of seeds at its date, same truncation and noise.
    Per-layer times, latent edits and style mixing have no grid equivalent and are left out."""
    st = doc.state
    cutoff = num_ws if st.cutoff < 0 else min(st.cutoff, num_ws)
    grid = vstate.GridState(seeds=','.join(str((st.seed + k) % 2**32) for k in range(st.batch)), axis_x='z',
        axis_y='day', W=st.batch, H=1, B=min(st.batch, 8), trunc=st.trunc, trunc_cutoff=num_ws - cutoff,
        spatial_noise='const' if st.freeze_noise else 'random', sliders=sliders_for(st.times, freqs))
    return vstate.Document(network=doc.network, state=grid, soft=vstate.GridSoft())

#----------------------------------------------------------------------------
