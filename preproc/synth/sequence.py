"""Writes a synthetic sequence folder: `frames/YYYYMMDD_HHMMSS.jpg` (UTC capture times, the original toolkit's
file-name format) and `factors.json` with the config, the outages and every frame's ground-truth factors.

factors.json is written last and atomically, so a folder without it is an unfinished run. Frames are rendered in
chunks, in parallel over a process pool when workers > 1.
"""

import concurrent.futures
import os
import re

import numpy as np
import tqdm
from PIL import Image

import dnnlib
from preproc import timestamps
from preproc.synth import capture, factors, renderer, scene
from training import timeline

FACTORS_VERSION = 1
FILE_CHUNK = 32 # Frames per task of the process pool.
_FRAME_NAME = re.compile(r'\d{8}_\d{6}\.jpg')

#----------------------------------------------------------------------------

def frame_name(unix):
    """File name of a frame captured at unix seconds (UTC), e.g. 20210301_000000.jpg."""
    return timeline.unix_to_datetime(round(float(unix))).strftime(timestamps.BUILTIN_FORMATS[0]) + '.jpg'

def _write_chunk(fac, paths, size, quality):
    frames = renderer.render(fac, size)
    for frame, path in zip(frames, paths):
        Image.fromarray(frame).save(path, format='JPEG', quality=quality)
    return len(paths)

def _check_outdir(outdir, overwrite):
    if os.path.isfile(outdir):
        raise FileExistsError(f'Output path {outdir} is a file, not a folder')
    if os.path.isdir(outdir) and os.listdir(outdir) and not overwrite:
        raise FileExistsError(f'Output folder {outdir} is not empty; choose another one, or overwrite (--overwrite)')

def generate_sequence(outdir, cfg, workers=1, overwrite=False, progress=True):
    """Render the sequence of cfg into outdir and write outdir/factors.json; returns the factors dict.

    A non-empty outdir raises FileExistsError unless overwrite; then factors.json is removed first, frames of the
    same name are replaced, other frames of this naming pattern are deleted at the end, and nothing else is touched.
    """
    _check_outdir(outdir, overwrite)
    frames_dir = os.path.join(outdir, 'frames')
    os.makedirs(frames_dir, exist_ok=True)
    json_path = os.path.join(outdir, 'factors.json')
    if os.path.exists(json_path):
        os.remove(json_path)

    rng = np.random.default_rng(cfg.seed)
    outages = capture.sample_outages(cfg, rng)
    fac = factors.factors_at(capture.sample_capture_times(cfg, rng, outages), cfg)
    names = [frame_name(u) for u in fac['unix']]
    tasks = []
    for i in range(0, len(names), FILE_CHUNK):
        chunk = {k: v[i:i + FILE_CHUNK] for k, v in fac.items()}
        tasks.append((chunk, [os.path.join(frames_dir, n) for n in names[i:i + FILE_CHUNK]], cfg.size, cfg.jpeg_quality))

    with tqdm.tqdm(total=len(names), unit='frame', desc='Rendering', disable=not progress) as bar:
        if workers <= 1:
            for task in tasks:
                bar.update(_write_chunk(*task))
        else:
            with dnnlib.util.process_pool(workers) as pool:
                for done in concurrent.futures.as_completed([pool.submit(_write_chunk, *task) for task in tasks]):
                    bar.update(done.result())

    keep = set(names)
    for name in os.listdir(frames_dir):
        if _FRAME_NAME.fullmatch(name) and name not in keep:
            os.remove(os.path.join(frames_dir, name))
    _write_factors(json_path, cfg, outages, fac, names)
    return fac

def _write_factors(path, cfg, outages, fac, names):
    frames = [dict(file=f'frames/{name}', **{k: fac[k][i].item() for k in factors.FACTOR_KEYS})
              for i, name in enumerate(names)]
    doc = dict(version=FACTORS_VERSION, config=cfg.as_dict(),
               scene=dict(camera_azimuth=scene.CAM_AZIMUTH, camera_hfov=scene.CAM_HFOV, jitter_ref_width=scene.REF_WIDTH),
               outages=[[float(a), float(b)] for a, b in outages], frames=frames)
    dnnlib.util.write_json(path, doc, overwrite=True)

#----------------------------------------------------------------------------
