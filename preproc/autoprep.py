"""The CLI's automatic steps before an export (--align=auto, --flag-bad-frames): run them on the time-sorted frames of
the input and write their results into the export folder, then return the export config that uses them.

  DIR/warps_auto.npy   autoalign.estimate's rows, in discovery order (what --warps reads; frames dropped for bad
                       times keep identity rows); used as --warps of the export.
  DIR/bad_frames.json  badframes.write_report; with skip_flagged its frames are added to --skip.

An existing file is not replaced without cfg.overwrite; with cfg.resume it is read back instead of recomputed, so that
a resumed export sees the same warps and skip list.
"""

import dataclasses
import os

import numpy as np

from dnnlib import cli
from preproc import autoalign, badframes, discovery, geometry, timestamps

WARPS_NAME = 'warps_auto.npy'
REPORT_NAME = 'bad_frames.json'

#----------------------------------------------------------------------------

def _existing(path, cfg):
    """True when `path` exists and is to be reused (resume); UserError when it exists and may not be replaced."""
    if not os.path.exists(path):
        return False
    if cfg.resume:
        return True
    if not cfg.overwrite:
        raise cli.UserError(f'{path} exists: pass --overwrite to replace it (or --resume to reuse it)')
    return False

def _summary(flags):
    counts = {r: sum(f.reason == r for f in flags) for r in badframes.REASONS}
    lines = [f'  {r:<13} {n:5d}' for r, n in counts.items() if n]
    return '\n'.join([f'Flagged {len({f.index for f in flags})} frames:'] + lines) if flags else 'Flagged no frames'

def prepare(cfg, align=False, flag=False, skip_flagged=False):
    """Run the requested steps for an export.ExportConfig; returns the config to export with."""
    outdir = os.path.abspath(cfg.export)
    os.makedirs(outdir, exist_ok=True)
    with discovery.open_input(cfg.input, exclude=[outdir], workdir=outdir) as source:
        timed = timestamps.assign_times(source, cfg.time_format, cfg.timezone, cfg.video_start, cfg.video_interval,
                                        cfg.skip_bad_times, cfg.check_order)
        warps = None
        if align:
            path = os.path.join(outdir, WARPS_NAME)
            if not _existing(path, cfg):
                result = autoalign.estimate(timed.frames, workers=cfg.workers)
                rows = np.zeros((len(source.frames), 6))
                rows[timed.source_index] = result.warps
                autoalign.save_warps(path, rows)
                print(f'Aligned {len(timed.frames)} frames to {timed.frames[result.reference].name}: '
                      f'{result.interpolated.sum()} interpolated for low confidence -> {path}')
            cfg = dataclasses.replace(cfg, warps=path)
        if cfg.warps:
            warps = geometry.load_warps(cfg.warps, len(source.frames))[timed.source_index]
        if flag:
            path = os.path.join(outdir, REPORT_NAME)
            if _existing(path, cfg):
                flags = badframes.read_report(path)
            else:
                flags = badframes.flag_frames(timed.frames, warps=warps, times=timed.unix, workers=cfg.workers)
                badframes.write_report(path, timed.frames, flags, input_path=cfg.input, times=timed.unix)
                print(f'{_summary(flags)}\n-> {path}')
            if skip_flagged and flags:
                cfg = dataclasses.replace(cfg, skip=','.join(t for t in [cfg.skip, badframes.skip_text(flags)] if t))
    return cfg

#----------------------------------------------------------------------------
