"""Export a time-lapse input as a training dataset in the original TLGAN zip format:
discovery -> timestamps -> selection -> geometry -> parallel render/encode -> resumable zip.

Format (what training/dataset.py and the original trainer read): OUT/NAME_RxR_Dhz.zip, ZIP_STORED, members
NNNNN/imgNNNNNNNN.jpg (running index k of the written frames, folder = its first 5 digits) in time order, then
dataset.json = {"labels": [[member, [t]], ...], "skipped": <undecodable count>, "meta": {num_days, date_start,
pad_horizontal, pad_vertical, img_shape, preproc: {every option + derived geometry}, frames, undecodable,
user_skipped, bad_times, ignored_files}}, with t = (u - date_start) / (num_days * 86400) over the trim range.
"""

import collections
import contextlib
import dataclasses
import hashlib
import io
import json
import os

import PIL
import tqdm

import dnnlib
from preproc import archive, discovery, geometry, selection, timestamps
from training import timeline

#----------------------------------------------------------------------------
# Configuration.

@dataclasses.dataclass
class ExportConfig:
    input: str = None            # Folder, zip or video.
    export: str = None           # Output folder (created).
    resolution: int = 256        # Output side R, a power of two >= 32.
    name: str = None             # Dataset name; default: input folder / zip / video stem.
    time_format: str = None      # Extra strptime pattern for file stems; '*' at an end allows extra text there.
    timezone: str = 'UTC'        # Zone of naive times: IANA name or +HH:MM.
    skip_bad_times: bool = False # Drop unparsable / out-of-order / duplicate times instead of stopping.
    check_order: bool = True     # Flag EXIF times that go backwards in name order.
    video_start: str = None      # ISO time of a video's first frame.
    video_interval: str = None   # Capture interval between video frames ('10min'); default: the frames' pts.
    trim: str = None             # 'START:END' inclusive indices into the time-sorted frames.
    skip: str = None             # '10,25,100-200' indices into the time-sorted frames.
    warps: str = None            # (N, 6) .npy alignment file.
    warp_smoothing: int = 1      # Box window of the warp smoothing (1: none).
    crop: str = None             # 'L,T,R,B' margins (fractions or pixels) or 'fit'.
    fit: str = 'pad'             # 'pad' (letterbox), 'crop' (centre square) or 'stretch'.
    rotate: float = 0.0          # User transform: degrees counter-clockwise about the frame centre,
    zoom: float = 1.0            # scale about the frame centre,
    translate: tuple = (0.0, 0.0) # shift in fractions of the frame (x right, y down), applied first.
    kernel: str = 'lanczos3'     # Resize kernel: lanczos3, bicubic, bilinear or box.
    pad: str = None              # 'X,Y' black margin per side of the output: fractions of R or pixels.
    quality: int = None          # JPEG quality; default 95 if R >= 512 else 98.
    workers: int = None          # Processes; default: all cores; <= 1 renders in this process.
    overwrite: bool = False      # Replace an existing output (or partial output).
    resume: bool = False         # Continue an interrupted export.
    progress: bool = True        # tqdm progress bar.

RUNTIME_FIELDS = ('export', 'workers', 'overwrite', 'resume', 'progress') # Options that do not change the output.
# Options added after the first release: recorded only when set, so that an export without them keeps its bytes and
# fingerprint (and an interrupted export of an earlier version still resumes).
LATER_DEFAULTS = dict(rotate=0.0, zoom=1.0, translate=[0.0, 0.0], kernel='lanczos3', pad=None)

class Cancelled(Exception):
    """export_dataset's cancel() returned True: the partial export is kept for a resume."""

def _recorded(options, defaults=LATER_DEFAULTS):
    """`options` without the later ones at their defaults; tuples as JSON lists."""
    options = {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}
    return {k: v for k, v in options.items() if k not in defaults or v != defaults[k]}

def member_name(k):
    return f'{k:08d}'[:5] + f'/img{k:08d}.jpg'

def dataset_filename(name, resolution, num_days):
    return f'{name}_{resolution}x{resolution}_{num_days}hz.zip'

#----------------------------------------------------------------------------
# Rendering, in worker processes.

def render_chunk(items, plan):
    """[(Frame, warp row or None)] -> [(jpeg bytes, None) or (None, reason)]: undecodable frames give a reason."""
    out = []
    for frame, warp in items:
        try:
            img = discovery.load_image(frame, geometry.decode_size(plan, warp))
        except PIL.UnidentifiedImageError:
            out.append((None, 'not an image in a known format'))
            continue
        except Exception as e: # pylint: disable=broad-except
            out.append((None, f'{type(e).__name__}: {e}'))
            continue
        buf = io.BytesIO()
        geometry.render(img, plan, warp).save(buf, format='JPEG', quality=plan.quality)
        out.append((buf.getvalue(), None))
    return out

def _rendered(items, plan, workers):
    """Yields (first position, results) per chunk, in order, with a bounded number of chunks in flight."""
    size = max(1, min(16, len(items) // (4 * max(workers, 1))))
    starts = range(0, len(items), size)
    jobs = [(items[i:i + size], plan) for i in starts]
    with contextlib.closing(dnnlib.util.ordered_map(render_chunk, jobs, workers)) as results:
        yield from zip(starts, results) # closing this generator (a stop, an error) shuts the pool down

#----------------------------------------------------------------------------
# Export.

def _resume_position(written, undecodable):
    """Position in the item list after the `written`-th decodable item."""
    bad, pos, k = set(undecodable), 0, 0
    while k < written:
        k += pos not in bad
        pos += 1
    return pos

@dataclasses.dataclass
class Job:
    """Everything decided before rendering: what is exported, when, how, and where to."""
    source: discovery.Source
    timed: timestamps.TimedFrames
    sel: selection.Selection
    timeline: timeline.Timeline
    plan: geometry.Plan
    items: list        # [(Frame, warp row or None)] in export order.
    options: dict      # The options that determine the output.
    final: str         # Path of the zip.
    warps: object = None     # [N, 6] rows of every timed frame as rendered (smoothed, user transform), or None.
    raw_warps: object = None # The same unsmoothed (what --crop=fit fits to), or None.

    @property
    def fingerprint(self):
        """Hash of everything that shapes the output: a resume must match it."""
        job = dict(options=self.options, plan=_recorded(dataclasses.asdict(self.plan), dict(kernel='lanczos3')),
                   frames=[f.name for f, _ in self.items],
                   files=self._file_signatures(), unix=self.timed.unix[self.sel.indices].tolist(),
                   warps=[None if w is None else w.tolist() for _, w in self.items])
        return hashlib.sha256(json.dumps(job, sort_keys=True).encode()).hexdigest()

    def _file_signatures(self):
        """Size and modification time of each frame's file (a zip counts as one file), so that a resume notices edited
        or replaced frames. Frames of a video are decoded anew into temporary files on each run: their sizes only."""
        keep = 1 if self.source.video_pts is not None else 2
        stats = {path: os.stat(path) for path in {f.path for f, _ in self.items}}
        return [[stats[f.path].st_size, stats[f.path].st_mtime_ns][:keep] for f, _ in self.items]

def plan_export(cfg, source, timed=None):
    """Times, selection, timeline and geometry of an export of `source` (a discovery.Source) per cfg; no pixels.
    timed: the source's TimedFrames under cfg's time options, when known (the UI keeps them)."""
    if timed is None:
        timed = timestamps.assign_times(source, cfg.time_format, cfg.timezone, cfg.video_start, cfg.video_interval,
                                        cfg.skip_bad_times, cfg.check_order)
    sel = selection.select(len(timed.frames), cfg.trim, cfg.skip)
    tl = timeline.Timeline.from_unix(timed.unix[sel.start:sel.end + 1])
    raw_warps = warps = None
    if cfg.warps: # One row per input frame in discovery order (the original's format), smoothed over that order.
        rows = geometry.load_warps(cfg.warps, len(source.frames))
        raw_warps = rows[timed.source_index]
        warps = geometry.smooth_warps(rows, cfg.warp_smoothing)[timed.source_index]
    ref_size = geometry.reference_size([timed.frames[i] for i in sel.indices])
    user = geometry.user_matrix(ref_size, cfg.rotate, cfg.zoom, cfg.translate)
    raw_warps = geometry.apply_user(user, raw_warps, len(timed.frames))
    warps = geometry.apply_user(user, warps, len(timed.frames))
    box = geometry.crop_box(cfg.crop, ref_size, raw_warps, sel.indices)
    pad = geometry.parse_pad(cfg.pad, cfg.resolution)
    plan = geometry.make_plan(ref_size, cfg.resolution, box, cfg.fit, cfg.quality, pad, cfg.kernel)
    final = os.path.join(os.path.abspath(cfg.export), dataset_filename(cfg.name or source.name, cfg.resolution, tl.num_days))
    items = [(timed.frames[i], None if warps is None else warps[i]) for i in sel.indices]
    options = _recorded({k: v for k, v in dataclasses.asdict(cfg).items() if k not in RUNTIME_FIELDS})
    return Job(source=source, timed=timed, sel=sel, timeline=tl, plan=plan, items=items, options=options, final=final,
               warps=warps, raw_warps=raw_warps)

def _describe(job):
    origins = collections.Counter(job.timed.origins)
    plan, sel = job.plan, job.sel
    print(f'{len(job.timed.frames)} frames with times ({", ".join(f"{n} from {o}" for o, n in origins.items())}); exporting '
          f'{len(sel.indices)} of [{sel.start}..{sel.end}] from {job.timeline.format(0, "%Y-%m-%d %H:%M:%S")} UTC, '
          f'num_days={job.timeline.num_days}')
    print(f'Reference {plan.ref_size[0]}x{plan.ref_size[1]}, content {plan.size[0]}x{plan.size[1]}, '
          f'pad {plan.pad[0]},{plan.pad[1]} -> {job.final}')

def _write_frames(job, out, workers, progress, on_progress=None, cancel=None):
    """Render and store every item not yet in `out`; returns [[position, reason]] of the undecodable items.
    on_progress(done, total) after each chunk; cancel() -> True stops after the chunk (raises Cancelled)."""
    undecodable = out.state.get('undecodable', [])
    done = _resume_position(out.written, [p for p, _ in undecodable])
    undecodable = [[p, why] for p, why in undecodable if p < done]
    with tqdm.tqdm(total=len(job.items), initial=done, unit='frame', disable=not progress) as bar:
        for start, results in _rendered(job.items[done:], job.plan, workers):
            for pos, (data, reason) in enumerate(results, start=done + start):
                if data is None:
                    undecodable.append([pos, reason])
                else:
                    out.add(member_name(out.written), data)
            out.checkpoint(dict(undecodable=undecodable))
            bar.update(len(results))
            if on_progress is not None:
                on_progress(bar.n, len(job.items))
            if cancel is not None and cancel():
                raise Cancelled(f'Export cancelled after {bar.n} of {len(job.items)} frames; resume it to continue')
    if out.written == 0:
        raise ValueError(f'None of the {len(job.items)} selected frames could be decoded (e.g. {job.items[0][0].name})')
    if undecodable:
        print(f'Skipped {len(undecodable)} undecodable frames: ' +
              discovery.format_names([f'{job.items[p][0].name} ({why})' for p, why in undecodable]))
    return undecodable

def _synth_config(input_path):
    """Scene config of a sequence written by preproc/synth_sequence.py (the `config` of its factors.json, beside or
    one folder above the input), so that ground-truth metrics can recreate the scene; None for real sequences."""
    for folder in [input_path, os.path.dirname(input_path)]:
        path = os.path.join(folder, 'factors.json')
        if os.path.isdir(folder) and os.path.isfile(path):
            with open(path, encoding='utf-8') as f:
                return json.load(f).get('config')
    return None

def _dataset_json(job, undecodable):
    bad = {p for p, _ in undecodable}
    kept = [p for p in range(len(job.items)) if p not in bad]
    t = job.timeline.unix_to_t(job.timed.unix[job.sel.indices[kept]])
    plan, sel = job.plan, job.sel
    derived = dict(reference_size=list(plan.ref_size), crop_box=list(plan.box), content_size=list(plan.size),
                   trim_range=[sel.start, sel.end], quality=plan.quality, num_input_frames=len(job.source.frames),
                   num_timed_frames=len(job.timed.frames))
    meta = dict(job.timeline.as_meta(), pad_horizontal=plan.pad[0], pad_vertical=plan.pad[1],
                img_shape=[3, plan.resolution, plan.resolution], preproc=dict(job.options, **derived),
                frames=[job.items[p][0].name for p in kept], undecodable=[job.items[p][0].name for p, _ in undecodable],
                user_skipped=[job.timed.frames[i].name for i in sel.skipped], bad_times=job.timed.dropped,
                ignored_files=job.source.ignored)
    synth = _synth_config(job.options['input'])
    if synth is not None:
        meta['synth'] = synth
    labels = [[member_name(k), [float(tk)]] for k, tk in enumerate(t)]
    return json.dumps(dict(labels=labels, skipped=len(undecodable), meta=meta)).encode('utf-8')

def export_dataset(cfg, on_progress=None, cancel=None):
    """Export per cfg (ExportConfig or dict of its fields); returns the path of the finished zip. on_progress(done,
    total) and cancel() (True: stop, keeping the partial export for a resume) are called after each chunk."""
    cfg = ExportConfig(**cfg) if isinstance(cfg, dict) else dataclasses.replace(cfg)
    if cfg.input is None or cfg.export is None:
        raise ValueError('Both an input and an export folder are needed')
    geometry.check_resolution(cfg.resolution)
    cfg.input = os.path.abspath(cfg.input)
    outdir = os.path.abspath(cfg.export)
    os.makedirs(outdir, exist_ok=True)
    with discovery.open_input(cfg.input, exclude=[outdir], workdir=outdir) as source:
        job = plan_export(cfg, source)
        _describe(job)
        with archive.PartialZip(job.final, job.fingerprint, resume=cfg.resume, overwrite=cfg.overwrite) as out:
            undecodable = _write_frames(job, out, os.cpu_count() if cfg.workers is None else cfg.workers, cfg.progress,
                                        on_progress, cancel)
            out.finish({'dataset.json': _dataset_json(job, undecodable)})
    print(f'Wrote {len(job.items) - len(undecodable)} frames to {job.final}')
    return job.final

#----------------------------------------------------------------------------
