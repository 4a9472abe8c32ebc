"""Temporal smoothing baseline of Martin-Brualla et al., SIGGRAPH 2015 ("Time-lapse Mining from Internet Photos"),
applied to a dataset zip of this project: the comparison output of the TLGAN paper. Headless; CPU or CUDA.

  python baselines/martin_brualla15.py --dataset=ZIP --out=OUT.mp4 [--start=0 --frames=1200 --skip=5]
      [--crop X1 Y1 X2 Y2] [--slice=48 --iters=400 --alpha=100 --data-loss=huber --smooth-loss=huber]
      [--fps=60 --crf=18 --inset/--no-inset --save-npy --device=cuda]

Every pixel is optimised over time on its own: the result x stays close to the input y (data term) while its
frame-to-frame differences are small (smoothness term, weight alpha). Robust (Huber) losses keep abrupt lasting
changes and remove flicker. x is parametrised as a temporal low-pass of a variable V, which makes the few hundred
Adam steps favour smooth solutions. A rebuild from a description of the original script (see docs/BASELINE.md):

  y = frames / 255 (in [0, 1]),  V0 = 20 * y
  x = lowpass(V) / 20,  lowpass = FFT along time with 64 frames of zero padding, gain G(f) = 1 / (1 + 1000 |f|)
      (f in cycles per frame), G normalised to unit gain at f = 0
  loss = mean SmoothL1(x - y; beta 0.5) + alpha * mean SmoothL1(x[t+1] - x[t]; beta 0.05)
  Adam(V, lr 1, betas (0.5, 0.5)), `iters` steps per column slice; output = round(255 * clip(x, 0, 1))

Interpretation (the description is ambiguous; this is the reading that keeps the output a faithful smoothed copy
of the input, with the same brightness range): "L2-normalised" is taken as a normalisation of the *filter* (an
orthonormal FFT pair, unit gain at f = 0), never of x itself, since normalising x would throw away its brightness.
"V starts at 20x the input" is read as a parametrisation scale: x = lowpass(V) / 20, so x starts equal to the
low-passed input and a unit Adam step (lr 1) moves x by about 1/20 of the [0, 1] range. The problem is convex
and the low-pass is invertible (G > 0), so this scale only sets the step size, not the optimum. "Rescale when the
maximum is below 1" is read as the original's [0, 1] -> [0, 255] conversion before uint8; x is always in [0, 1]
here, so it is always scaled by 255 (stretching to the maximum would change the brightness).
"""

import json
import os

import click
import numpy as np
import torch
import torch.nn.functional as F

if __name__ == '__main__' and __package__ is None: # run as a script: make the repository importable
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dnnlib.util                                  # pylint: disable=wrong-import-position
from dnnlib import cli                              # pylint: disable=wrong-import-position
from training.dataset import DatasetError, ImageFolderDataset # pylint: disable=wrong-import-position

SCALE = 20.0        # V = SCALE * x at the start (the original's "V starts at 20x the input").
PAD = 64            # Frames of zero padding before the FFT.
CUTOFF = 1000.0     # Low-pass gain 1 / (1 + CUTOFF * |f|).
LOSSES = ('huber', 'l1', 'l2')

class BaselineError(cli.UserError):
    """Bad input to the baseline (frames, crop); the message says what."""

#----------------------------------------------------------------------------
# Frames.

def load_frames(zip_path, start=0, count=1200, skip=5, crop=None):
    """Frames start + k * skip (k < count, as many as the dataset has) of a dataset in time order (stable sort by
    the label t; name order for a dataset without labels), cropped to `crop` = (x1, y1, x2, y2) in pixels, -1 for
    an open side (None: the whole frame less the dataset's letter-box pads). Returns (uint8 [T, H, W, C], float t [T])."""
    ds = ImageFolderDataset(zip_path, use_labels=True)
    try:
        n = len(ds)
        t_all = ds.labels[:, 0].astype(np.float64) if ds.has_labels else np.linspace(0, 1, n)
        order = np.argsort(t_all, kind='stable')
        if start < 0 or skip < 1:
            raise BaselineError(f'--start must be >= 0 and --skip >= 1, got {start} and {skip}')
        idx = order[start::skip][:count]
        if count < 2 or len(idx) < 2:
            raise BaselineError(f'{zip_path}: {n} images give {len(idx)} frame(s) from --start={start} with '
                f'--skip={skip}; smoothing needs at least 2')
        _c, h, w = ds.image_shape
        if crop is None:
            ph, pv = ds.pad
            crop = (ph, pv, w - ph, h - pv)
        x1, y1, x2, y2 = [d if c < 0 else c for c, d in zip(crop, (0, 0, w, h))]
        if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
            raise BaselineError(f'--crop {" ".join(map(str, crop))} is outside the {w}x{h} images or empty '
                '(x1 y1 x2 y2 with x1 < x2 <= width, y1 < y2 <= height; -1 for an open side)')
        frames = np.stack([ds[int(i)][0][:, y1:y2, x1:x2].transpose(1, 2, 0) for i in idx])
        return frames, t_all[idx]
    finally:
        ds.close()

def flicker(frames):
    """Mean absolute frame-to-frame difference of [T, H, W, C] frames, in the frames' units (0..255 for uint8)."""
    f = np.asarray(frames, dtype=np.float64)
    return float(np.abs(f[1:] - f[:-1]).mean())

#----------------------------------------------------------------------------
# Smoothing.

def lowpass(v, pad=PAD, cutoff=CUTOFF):
    """v [T, ...] low-passed along time: zero-padded by `pad` frames, gain 1 / (1 + cutoff |f|) by real FFT
    (unit gain at f = 0), cropped back to T frames."""
    T = v.shape[0]
    n = T + pad
    gain = 1.0 / (1.0 + cutoff * torch.fft.rfftfreq(n, device=v.device))
    spec = torch.fft.rfft(v, n=n, dim=0, norm='ortho')
    spec = spec * gain.reshape([-1] + [1] * (v.ndim - 1))
    return torch.fft.irfft(spec, n=n, dim=0, norm='ortho')[:T]

def _loss_fn(name, beta):
    if name == 'huber':
        return lambda a: F.smooth_l1_loss(a, torch.zeros_like(a), beta=beta)
    if name == 'l1':
        return lambda a: a.abs().mean()
    if name == 'l2':
        return lambda a: a.square().mean()
    raise ValueError(f'unknown loss {name!r}; expected one of {", ".join(LOSSES)}')

def smooth_block(y, alpha=100.0, iters=400, data_loss='huber', smooth_loss='huber'):
    """Optimise one float block y [T, ...] in [0, 1]; returns x [T, ...] (same device, float32)."""
    data_fn, smooth_fn = _loss_fn(data_loss, 0.5), _loss_fn(smooth_loss, 0.05)
    v = (SCALE * y).clone().requires_grad_(True)
    opt = torch.optim.Adam([v], lr=1.0, betas=(0.5, 0.5))
    for _ in range(iters):
        x = lowpass(v) / SCALE
        loss = data_fn(x - y) + alpha * smooth_fn(x[1:] - x[:-1])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return lowpass(v) / SCALE

def default_device():
    return 'cuda' if torch.cuda.is_available() else 'cpu'

def smooth(frames, alpha=100.0, iters=400, slice_size=48, data_loss='huber', smooth_loss='huber', device=None,
           progress=None):
    """Martin-Brualla et al. 2015 temporal smoothing of uint8 frames [T, H, W, C] (time order); returns uint8 frames
    of the same shape. Column slices of `slice_size` are optimised one at a time to bound memory (each pixel is
    independent, so the slicing does not change the result). `progress(done, total)` is called after each slice."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.dtype != np.uint8 or frames.shape[0] < 2:
        raise BaselineError(f'expected uint8 frames [T >= 2, H, W, C], got {frames.dtype} {list(frames.shape)}')
    for name in (data_loss, smooth_loss):
        if name not in LOSSES:
            raise BaselineError(f'unknown loss {name!r}; expected one of {", ".join(LOSSES)}')
    device = torch.device(device or default_device())
    w = frames.shape[2]
    out = np.empty_like(frames)
    starts = range(0, w, max(int(slice_size), 1))
    for k, x0 in enumerate(starts):
        block = frames[:, :, x0:x0 + slice_size]
        y = torch.from_numpy(np.ascontiguousarray(block)).to(device, torch.float32) / 255
        x = smooth_block(y, alpha=alpha, iters=iters, data_loss=data_loss, smooth_loss=smooth_loss)
        out[:, :, x0:x0 + slice_size] = (x.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
        if progress is not None:
            progress(k + 1, len(starts))
    return out

#----------------------------------------------------------------------------
# Video.

def with_inset(frame, raw):
    """`frame` [H, W, C] with `raw` shrunk to a quarter of the width and height (box filter) in the top-left."""
    h, w = frame.shape[:2]
    ih, iw = h // 4, w // 4
    out = frame.copy()
    if ih > 0 and iw > 0:
        r = torch.from_numpy(raw.astype(np.float32)).permute(2, 0, 1)[None]
        small = F.adaptive_avg_pool2d(r, (ih, iw))[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
        out[:ih, :iw] = small
    return out

def to_video_frame(frame):
    """uint8 [H, W, 3] with even size for H.264 (grey frames repeated to RGB, alpha dropped)."""
    if frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    from viz.video import pad_even # pylint: disable=import-outside-toplevel
    return pad_even(np.ascontiguousarray(frame[:, :, :3]))

def write_video(path, frames, raw=None, fps=60, crf=18, metadata=None):
    """H.264 MP4 of the frames, with the raw frames as an inset if `raw` is given; atomic, never overwrites."""
    from viz.video import VideoWriter # pylint: disable=import-outside-toplevel
    with VideoWriter(path, fps, crf=crf, metadata=metadata) as video:
        for i, frame in enumerate(frames):
            video.write(to_video_frame(with_inset(frame, raw[i]) if raw is not None else frame))
    return path

#----------------------------------------------------------------------------

@click.command(context_settings=dict(help_option_names=['-h', '--help']))
@click.option('--dataset', 'zip_path', required=True, metavar='ZIP', help='Dataset zip (or folder) of this project')
@click.option('--out', required=True, metavar='FILE', help='Output .mp4 (never overwritten)')
@click.option('--start', type=click.IntRange(min=0), default=0, show_default=True, help='First frame (time order)')
@click.option('--frames', 'count', type=int, default=1200, show_default=True, help='Number of frames (at most; >= 2)')
@click.option('--skip', type=click.IntRange(min=1), default=5, show_default=True, help='Take every skip-th frame')
@click.option('--crop', type=(int, int, int, int), default=None, metavar='X1 Y1 X2 Y2', help='Crop in pixels, -1 = open side [default: drop the dataset\'s letter-box pads]')
@click.option('--slice', 'slice_size', type=click.IntRange(min=1), default=48, show_default=True, help='Columns optimised at once (memory)')
@click.option('--iters', type=click.IntRange(min=0), default=400, show_default=True, help='Adam iterations per slice')
@click.option('--alpha', type=click.FloatRange(min=0), default=100.0, show_default=True, help='Smoothness weight')
@click.option('--data-loss', type=click.Choice(LOSSES, case_sensitive=False), default='huber', show_default=True)
@click.option('--smooth-loss', type=click.Choice(LOSSES, case_sensitive=False), default='huber', show_default=True)
@click.option('--fps', type=click.FloatRange(0, 1000, min_open=True), default=60.0, show_default=True)
@click.option('--crf', type=click.IntRange(0, 51), default=18, show_default=True, help='H.264 quality')
@click.option('--inset/--no-inset', default=True, show_default=True, help='Raw frame at 1/4 size in the top-left')
@click.option('--save-npy', is_flag=True, help='Also write OUT.npy (uint8 [T, H, W, C]) and OUT-timestamps.npy (t)')
@click.option('--device', metavar='DEV', help='torch device (default: cuda if available, else cpu)')
@cli.user_errors(DatasetError)
def main(zip_path, out, start, count, skip, crop, slice_size, iters, alpha, data_loss, smooth_loss, fps, crf, inset,
         save_npy, device):
    """Martin-Brualla et al. 2015 temporal smoothing of a dataset's frames, written as an H.264 video."""
    import tqdm # pylint: disable=import-outside-toplevel
    stem = os.path.splitext(out)[0]
    outputs = [out] + ([stem + '.npy', stem + '-timestamps.npy'] if save_npy else [])
    for path in outputs:
        if os.path.exists(path):
            raise cli.UserError(f'{path}: already exists; outputs are never written over')
    if count < 2:
        raise cli.UserError(f'--frames must be at least 2, got {count}')
    raw, t = load_frames(zip_path, start=start, count=count, skip=skip, crop=crop)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    click.echo(f'{len(raw)} frames of {raw.shape[2]}x{raw.shape[1]}, t {t[0]:.4f}..{t[-1]:.4f}; '
        f'device {device or default_device()}')
    with tqdm.tqdm(desc='slices', unit='slice', leave=False) as bar:
        def progress(k, total):
            bar.total = total
            bar.update(k - bar.n)
        result = smooth(raw, alpha=alpha, iters=iters, slice_size=slice_size, data_loss=data_loss.lower(),
            smooth_loss=smooth_loss.lower(), device=device, progress=progress)
    settings = dict(tool='martin_brualla15', dataset=os.path.basename(zip_path), start=start, frames=len(raw),
        skip=skip, crop=list(crop) if crop else None, slice=slice_size, iters=iters, alpha=alpha,
        data_loss=data_loss.lower(), smooth_loss=smooth_loss.lower(), inset=inset)
    write_video(out, result, raw=raw if inset else None, fps=fps, crf=crf, metadata=json.dumps(settings))
    if save_npy:
        for path, array in zip(outputs[1:], (result, t)):
            dnnlib.util.atomic_write(path, lambda f, a=array: np.save(f, a))
    click.echo(f'{out}: flicker (mean |frame difference|, 0..255) raw {flicker(raw):.3f} -> {flicker(result):.3f}')

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter
