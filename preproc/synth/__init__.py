"""Procedural outdoor webcam time-lapse whose every factor is known: real solar geometry, seasons, a building that is
constructed over the sequence (the trend), random weather, and webcam capture defects.

    cfg = PRESETS['tiny']
    unix = sample_capture_times(cfg, np.random.default_rng(cfg.seed))
    fac = factors_at(unix, cfg)          # dict of [N] ground-truth arrays
    frames = render(fac, size=(64, 64))  # uint8 [N, H, W, 3], from the factors alone
    generate_sequence('out/synth', cfg)  # frames/YYYYMMDD_HHMMSS.jpg + factors.json
"""

from preproc.synth.capture import sample_capture_times, sample_outages
from preproc.synth.factors import FACTOR_KEYS, RENDER_KEYS, factors_at
from preproc.synth.presets import PRESETS, SynthConfig
from preproc.synth.renderer import render
from preproc.synth.sequence import generate_sequence
