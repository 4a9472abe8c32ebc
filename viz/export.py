"""Headless rendering of whole views: a state document -> grid image, time-lapse image, video frames, and files with
the document embedded. The viewers' progressive rendering and Export buttons, and export.py, all run through here.

Every view renders in a fixed order and batching (spiral order for grids, coarse-to-fine for sweeps, time order for
sequences, B images per generator call), so the same document gives the same pixels in the GUI and the exporter.
"""

import math
import os

import numpy as np

from viz import compose, directions, layout, metadata, network, render, video
from viz import state as vstate

class ExportError(ValueError):
    """A document that cannot be exported as asked, with what to do instead."""

#----------------------------------------------------------------------------
# Cells -> requests.

def _noise_seed(cell):
    return (cell.seed * 1000003 + cell.row * 1009 + cell.col) % (1 << 31)

def make_request(net, cells, st, source='gan'):
    """One generator call for `cells` under the settings of a grid or sequence state."""
    return render.Request(network=net.path, seeds=tuple(c.seed for c in cells), times=tuple(c.times for c in cells),
        lerps=tuple(c.lerp for c in cells) if any(c.lerp for c in cells) else (), trunc=st.trunc,
        trunc_cutoff=st.trunc_cutoff, noise_mode=st.spatial_noise, noise_seed=_noise_seed(cells[0]),
        res_scale=st.res_scale, antialias=st.use_AA, source=source,
        dataset_noise=getattr(st, 'dataset_noise', False), gt_tol_hours=getattr(st, 'gt_tol_hours', 1.5))

def batches(order, size):
    return [order[k:k + size] for k in range(0, len(order), size)]

def _source(st):
    return 'dataset' if getattr(st, 'show_dataset', False) else 'gan'

#----------------------------------------------------------------------------
# Grids (GRID mode): progressive, in the spiral order.

def iter_grid(renderer, doc, net):
    """Yields (cells done, total, canvas [rows*h, cols*w, 4]) after each batch; the canvas is filled in place and
    starts transparent."""
    gs = doc.state
    cells = layout.grid_cells(gs, net.G.frequencies, net.timeline.num_days)
    cols, rows = layout.visible_size(gs)
    w, h = render.scaled_size(net.out_rect, gs.res_scale)
    canvas = compose.blank(rows * h, cols * w)
    done = 0
    for batch in batches(layout.spiral_order(cols, rows), gs.B):
        result = renderer.render(make_request(net, [cells[i] for i in batch], gs, _source(gs)))
        for i, image in zip(batch, result.images):
            r, c = divmod(i, cols)
            canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = image
        done += len(batch)
        yield done, len(cells), canvas

#----------------------------------------------------------------------------
# Time-lapse sweeps (STACK_X / STACK_Y): n samples, rendered coarse to fine.

def sweep_length(doc, net):
    w, h = render.scaled_size(net.out_rect, doc.state.res_scale)
    return w if doc.state.viz_mode == vstate.VizMode.STACK_X else h

def iter_sweep(renderer, doc, net):
    """Yields (samples done, n, samples [n, h, w, 4], done mask) after each batch; unrendered samples are blank."""
    gs = doc.state
    n = sweep_length(doc, net)
    cells = layout.sweep_cells(gs, net.G.frequencies, net.timeline.num_days, n)
    w, h = render.scaled_size(net.out_rect, gs.res_scale)
    samples = np.zeros([n, h, w, 4], dtype=np.uint8)
    mask = np.zeros(n, dtype=bool)
    for batch in batches(layout.coarse_to_fine(n), gs.B):
        samples[batch] = renderer.render(make_request(net, [cells[i] for i in batch], gs, _source(gs))).images
        mask[batch] = True
        yield int(mask.sum()), n, samples, mask

def stack_frame(doc, samples, mask, i):
    """View frame i of a time-lapse; samples not yet rendered show their nearest rendered neighbour."""
    along_x = doc.state.viz_mode == vstate.VizMode.STACK_X
    sample, spatial = layout.stack_sources(len(samples), i, doc.soft)
    return compose.stack_view(samples, (layout.nearest_done(mask)[sample], spatial), along_x)

#----------------------------------------------------------------------------
# Sequences (the stabilise preset).

def sequence_frame_times(renderer, doc, net):
    ss = doc.state
    if ss.times == 'even':
        return layout.sequence_times(ss, None)
    lookup = renderer.datasets.lookup(net) if renderer.datasets is not None else None
    if lookup is None:
        raise ExportError(f'times=dataset: the training data of {net.ref.name} '
            f'({net.dataset_name or "unknown name"}) was not found; give its folder with --dataset_root '
            '(or $TLGAN_DATASET_ROOT), or use evenly spaced times (--times=even --frames=N)')
    times = layout.sequence_times(ss, lookup.times())
    if len(times) == 0:
        raise ExportError(f'No dataset frames in t_range {ss.t_range}')
    return times

def iter_sequence(renderer, doc, net, frame_t=None):
    """Yields frames [h, w, 4] of a sequence document in time order."""
    ss = doc.state
    frame_t = sequence_frame_times(renderer, doc, net) if frame_t is None else frame_t
    cells = layout.sequence_cells(ss, net.timeline, frame_t)
    for batch in batches(list(range(len(cells))), ss.B):
        yield from renderer.render(make_request(net, [cells[i] for i in batch], ss)).images

#----------------------------------------------------------------------------
# Explorer views (visualize.py): one batch of consecutive seeds, tiled near-square; its video animates one time slot.

def batch_grid(n):
    """(cols, rows) of a batch of n: rows = the largest divisor of n that is <= round(sqrt(n)) (as the original)."""
    rows = max(d for d in range(1, max(round(math.sqrt(n)), 1) + 1) if n % d == 0)
    return n // rows, rows

def explorer_request(net, st, offset=None):
    """The generator call of an explorer state; `offset` is its w offset (directions.w_offset) or None."""
    L = net.G.num_ws
    cutoff = L if st.cutoff < 0 else min(st.cutoff, L) # the first `cutoff` layers are truncated
    return render.Request(network=net.path, seeds=tuple((st.seed + k) % 2**32 for k in range(st.batch)),
        times=(tuple(st.times),) * st.batch, layer_times=tuple((lo, min(hi, L), tuple(t)) for lo, hi, t in st.overrides if lo < L),
        trunc=st.trunc, trunc_cutoff=L - cutoff, noise_mode='const' if st.freeze_noise else 'random',
        noise_seed=st.seed, mix_seed=st.mix_seed, mix_layer=min(st.mix_layer, L),
        w_offset=tuple(map(tuple, offset.tolist())) if offset is not None else ())

def explorer_offset(net, st):
    """directions.w_offset, with its errors (no PCA cache, a missing saved direction) as ExportErrors."""
    try:
        return directions.w_offset(net, st)
    except directions.DirectionError as e:
        raise ExportError(str(e)) from None

def render_explorer(renderer, doc, net, offset=None):
    """The tiled batch [rows*h, cols*w, 4] of an explorer document; `offset` as explorer_request (default: computed)."""
    st = doc.state
    offset = explorer_offset(net, st) if offset is None else offset
    images = renderer.render(explorer_request(net, st, offset)).images
    return compose.tile(images, *batch_grid(len(images)))

def slot_period(net, slot):
    """Length in t of one playback period of a slot: the cycle's period, or the whole range for the trend."""
    if slot not in net.slot_names:
        raise ExportError(f'{net.ref.name} has no {slot} slot (its slots: {", ".join(net.slot_names)})')
    if slot == 'lin':
        return 1.0
    return 1.0 / dict(zip(net.slot_names, net.G.frequencies))[slot]

def playback_times(doc, net):
    """Slot times of each frame of an explorer video: one period of soft.play_slot at play_speed periods per second
    and fps frames per second (the trend sweeps 0..1; a cycle starts at the current time and loops seamlessly)."""
    st, soft = doc.state, doc.soft
    k = render.SLOTS.index(soft.play_slot)
    period = slot_period(net, soft.play_slot)
    n = max(int(round(soft.fps / soft.play_speed)), 2)
    values = np.linspace(0.0, 1.0, n) if soft.play_slot == 'lin' else st.times[k] + np.arange(n) / n * period
    return [tuple(float(v) if j == k else st.times[j] for j in range(3)) for v in values]

def iter_playback(renderer, doc, net, frame_times):
    offset = explorer_offset(net, doc.state)
    for times in frame_times:
        yield render_explorer(renderer, doc.with_state(times=times), net, offset)

#----------------------------------------------------------------------------
# Whole views.

def render_still(renderer, doc, net):
    """The image of a document: the grid, the time-lapse view at video_i, sequence frame video_i, or the explorer's
    batch."""
    if doc.tool == 'explorer':
        return render_explorer(renderer, doc, net)
    if doc.tool == 'sequence':
        frame_t = sequence_frame_times(renderer, doc, net)
        k = doc.soft.video_i % len(frame_t)
        return next(iter_sequence(renderer, doc, net, frame_t[k:k + 1]))
    if doc.state.viz_mode == vstate.VizMode.GRID:
        *_, canvas = iter_grid(renderer, doc, net)
        return canvas[2]
    *_, (_done, _n, samples, mask) = iter_sweep(renderer, doc, net)
    return stack_frame(doc, samples, mask, doc.soft.video_i)

def video_plan(renderer, doc, net):
    """(number of frames, fps, frame iterator) of a document's video."""
    if doc.tool == 'explorer':
        frame_times = playback_times(doc, net)
        return len(frame_times), doc.soft.fps, iter_playback(renderer, doc, net, frame_times)
    if doc.tool == 'sequence':
        frame_t = sequence_frame_times(renderer, doc, net)
        return len(frame_t), doc.state.fps, iter_sequence(renderer, doc, net, frame_t)
    if doc.state.viz_mode == vstate.VizMode.GRID:
        raise ExportError('A GRID view is an image: export it as .png or .jpg, or use a STACK_X / STACK_Y view '
            '(e.g. --preset=sweep) for a video')
    *_, (_done, n, samples, mask) = iter_sweep(renderer, doc, net)
    fps = doc.soft.fps or n / 10
    frames = (stack_frame(doc, samples, mask, doc.soft.video_i + j) for j in range(n))
    return n, fps, frames

#----------------------------------------------------------------------------
# Files.

def resolve(doc, roots=()):
    """(document with a complete network reference, its path)."""
    path = network.resolve(doc.network, roots)
    return doc.replace(network=network.ref_for(path)), path

def export(renderer, doc, out, *, roots=(), progress=None):
    """Render a document into `out` (.png, .jpg/.jpeg or .mp4, any case) with the document embedded. Never
    overwrites; a kill leaves no partial file. progress(n) is called with the frames written so far."""
    if os.path.exists(out):
        raise ExportError(f'{out} exists; choose another name (exports never overwrite)')
    folder = os.path.dirname(os.path.abspath(out))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ExportError(f'{out}: {folder} is a file, not a folder')
    ext = os.path.splitext(out)[1].lower()
    if ext not in ('.png', '.jpg', '.jpeg', '.mp4'):
        raise ExportError(f'{out}: unsupported output type {ext or "(none)"!r}; use .png, .jpg or .mp4')
    doc, path = resolve(doc, roots)
    net = renderer.network(path)
    if ext == '.mp4':
        return _export_video(renderer, doc, net, out, progress)
    image = render_still(renderer, doc, net)
    return metadata.save_image(out, image, doc.to_json())

def _export_video(renderer, doc, net, out, progress):
    n, fps, frames = video_plan(renderer, doc, net)
    crf = doc.state.crf if doc.tool == 'sequence' else doc.soft.crf
    with video.VideoWriter(out, fps, crf=crf, metadata=metadata.dumps(doc.to_json())) as writer:
        for k, frame in enumerate(frames):
            writer.write(video.pad_even(frame))
            if progress is not None:
                progress(k + 1, n)
    return out

#----------------------------------------------------------------------------
