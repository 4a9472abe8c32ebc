"""benchmarks/bench_augment.py: every part and mode of the ADA pipeline runs and is timed, and on a GPU the launches of
its forward call are counted (and everywhere the operators it calls)."""

import math
import os
import re
import sys

import torch
from click.testing import CliRunner

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks'))
import bench_augment # pylint: disable=wrong-import-position

def test_every_part_and_mode_is_timed():
    result = CliRunner().invoke(bench_augment.main, ['--res=16', '--batch=2', '--reps=1', '--p=1'])
    assert result.exit_code == 0, result.output
    rows = [line.split('|')[1:-1] for line in result.output.splitlines() if line.startswith('| ') and 'part' not in line]
    assert [(r[0].strip(), r[1].strip()) for r in rows] == [('whole', 'fixed'), ('whole', 'as needed'),
        ('geometric', 'fixed'), ('geometric', 'as needed'), ('colour', '-')]
    for r in rows:
        times = [float(v) for v in r[2:5]]
        assert all(math.isfinite(t) and t > 0 for t in times), r
        ops = r[6].strip() # GPU operations of one forward call
        assert int(ops) > 0 if torch.cuda.is_available() else ops == '-', r
        assert 10 < int(r[7]) < 200, r # PyTorch operators of one forward call
    share = re.search(r'Padding as needed at p=1, 2x16x16, over \d+ batches: (\d+) % .*percentile (\d+) %\); (\d+) % of the batches', result.output)
    assert share, result.output
    median, p90, untouched = (int(v) for v in share.groups())
    assert 0 < median <= p90 <= 100 and untouched == 0 # at p = 1 every batch is warped
