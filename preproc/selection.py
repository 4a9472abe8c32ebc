"""Which frames are exported: a trim range and skipped indices, both 0-based indices into the time-sorted list of
frames with valid times (the list a viewer's slider shows; warps rows use the same indices).

  --trim=START:END   inclusive range; either side may be empty ('100:', ':499'). Frames outside are not exported
                     and do not count in num_days / date_start. Frames inside that are skipped (by --skip or because
                     they cannot be decoded) still count, as in the original.
  --skip=10,25,100-200   comma-separated indices or inclusive ranges a-b; spaces allowed.
"""

import dataclasses
import re

import numpy as np

#----------------------------------------------------------------------------

def parse_trim(text, n):
    """(start, end) inclusive from 'START:END' (either side may be empty); the whole list when text is empty."""
    if text is None or not str(text).strip():
        return 0, n - 1
    m = re.fullmatch(r'\s*(\d*)\s*:\s*(\d*)\s*', str(text))
    if m is None:
        raise ValueError(f'Malformed --trim {text!r}: expected START:END frame indices, e.g. 100:2500 or 100:')
    start = int(m.group(1)) if m.group(1) else 0
    end = int(m.group(2)) if m.group(2) else n - 1
    if not 0 <= start <= end < n:
        raise ValueError(f'--trim {text!r} is outside the {n} frames (valid indices 0..{n - 1}, START <= END)')
    return start, end

def parse_skip(text, n):
    """Sorted unique indices from '10,25,100-200' (inclusive ranges)."""
    if text is None or not str(text).strip():
        return []
    out = set()
    for token in str(text).split(','):
        m = re.fullmatch(r'\s*(\d+)\s*(?:-\s*(\d+)\s*)?', token)
        if m is None:
            raise ValueError(f'Malformed --skip {text!r} at {token!r}: expected comma-separated indices or ranges a-b, e.g. 10,25,100-200')
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) is not None else a
        if a > b or b >= n:
            raise ValueError(f'--skip range {token.strip()!r} is invalid for {n} frames (indices 0..{n - 1}, a <= b)')
        out.update(range(a, b + 1))
    return sorted(out)

@dataclasses.dataclass
class Selection:
    start: int           # Trim range, inclusive.
    end: int
    indices: np.ndarray  # Exported indices in time order.
    skipped: list        # Indices inside the trim range removed by --skip.

def select(n, trim=None, skip=None):
    start, end = parse_trim(trim, n)
    skipped = [i for i in parse_skip(skip, n) if start <= i <= end]
    indices = np.setdiff1d(np.arange(start, end + 1), skipped)
    if indices.size == 0:
        raise ValueError(f'Nothing to export: --trim {trim!r} and --skip {skip!r} leave no frame')
    return Selection(start=start, end=end, indices=indices, skipped=skipped)

#----------------------------------------------------------------------------
