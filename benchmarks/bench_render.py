"""Speed of the renderer and exporter: a stabilised video export (render + H.264 encoding + file), a progressive grid,
and single-image frames as the explorer draws them. Uses a snapshot (--network) or a freshly initialised generator of
the default capacity at --res (same cost per image as a trained one).

  python benchmarks/bench_render.py --res=256 --what=export --frames=1024 --batch=32
  python benchmarks/bench_render.py --network=PKL --what=grid,frame
  python benchmarks/bench_render.py --res=64 --cbase=2048 --cmax=64 --what=frame --device=cpu   # CPU smoke run
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import click
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dnnlib # pylint: disable=wrong-import-position
from training import timeline # pylint: disable=wrong-import-position
from viz import export as vexport # pylint: disable=wrong-import-position
from viz import layout, network, render # pylint: disable=wrong-import-position
from viz import state as vstate # pylint: disable=wrong-import-position

NUM_DAYS = 730

#----------------------------------------------------------------------------

def fresh_network(res, cbase, cmax, folder):
    """A snapshot pickle of an untrained generator configured as train.py does."""
    import pickle # pylint: disable=import-outside-toplevel
    cond_args = dict(type='fourier', f_manual=timeline.cycle_frequencies(NUM_DAYS), num_days=NUM_DAYS, num_frames=4000,
        t_delta=1 / 4000)
    G = dnnlib.util.construct_class_by_name(class_name='training.networks_stylegan2.Generator', z_dim=512, w_dim=512,
        c_dim=1, img_resolution=res, img_channels=3, cond_args=cond_args, mapping_kwargs=dict(num_layers=2),
        channel_base=cbase, channel_max=cmax, num_fp16_res=4, conv_clamp=256, fp16_channels_last=True).eval()
    path = os.path.join(folder, f'fresh-{res}.pkl')
    with open(path, 'wb') as f:
        pickle.dump(dict(G_ema=G), f)
    return path

class GpuBusy:
    """Mean GPU utilisation (nvidia-smi, sampled every 100 ms) while the block runs; None without nvidia-smi."""
    def __enter__(self):
        self.samples, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self
    def _poll(self):
        while not self._stop.is_set():
            try:
                out = subprocess.run(['nvidia-smi', '--query-gpu=utilization.gpu', '--format=csv,noheader,nounits', '-i', '0'],
                    capture_output=True, text=True, timeout=5).stdout
                self.samples.append(float(out.split()[0]))
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                return
            time.sleep(0.1)
    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
    @property
    def mean(self):
        return float(np.mean(self.samples)) if self.samples else None

def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)

#----------------------------------------------------------------------------

def bench_export(renderer, path, frames, batch, folder):
    doc = vstate.Document(tool='sequence', network=network.ref_for(path), state=vstate.SequenceState(times='even',
        num_frames=frames, B=batch, fps=30.0, day_hour=12.0), soft=vstate.SequenceSoft())
    out = os.path.join(folder, f'stable-{time.time_ns()}.mp4')
    vexport.export(renderer, doc.with_state(num_frames=batch), os.path.join(folder, 'warmup.mp4')) # load, cudnn, ffmpeg
    with GpuBusy() as busy:
        start = time.perf_counter()
        vexport.export(renderer, doc, out)
        seconds = time.perf_counter() - start
    net = renderer.network(path)
    start = time.perf_counter()
    for _ in vexport.iter_sequence(renderer, doc, net): # rendering alone, to host memory
        pass
    render_s = time.perf_counter() - start
    return dict(what='export', frames=frames, batch=batch, seconds=seconds, fps=frames / seconds,
        render_only_fps=frames / render_s, gpu_busy=busy.mean, mbytes=os.path.getsize(out) / 2**20)

def bench_grid(renderer, path, cells, batch):
    doc = vstate.Document(network=network.ref_for(path), state=vstate.GridState(W=cells, H=cells, B=batch))
    net = renderer.network(path)
    for _ in vexport.iter_grid(renderer, doc, net): # warm-up
        pass
    with GpuBusy() as busy:
        start = time.perf_counter()
        first = None
        for done, _total, _canvas in vexport.iter_grid(renderer, doc, net):
            first = first or time.perf_counter() - start
        seconds = time.perf_counter() - start
    return dict(what='grid', cells=cells * cells, batch=batch, seconds=seconds, first_batch_s=first, gpu_busy=busy.mean)

def bench_frame(renderer, path, count):
    """Batch-1 renders with a fresh time each frame (the explorer's loop), to host RGBA8."""
    net = renderer.network(path)
    def req(k):
        t = (k % 97) / 97
        return render.Request(network=path, seeds=(0,), times=((0.5, t, t),))
    for k in range(5):
        renderer.render(req(k))
    with GpuBusy() as busy:
        start = time.perf_counter()
        for k in range(count):
            renderer.render(req(k))
        sync(renderer.device)
        seconds = time.perf_counter() - start
    return dict(what='frame', frames=count, fps=count / seconds, ms=1000 * seconds / count, gpu_busy=busy.mean,
        res=net.G.img_resolution)

#----------------------------------------------------------------------------

@click.command()
@click.option('--network', 'network_pkl', help='Snapshot to use (default: a fresh generator at --res)', type=click.Path(dir_okay=False))
@click.option('--res', type=click.IntRange(min=8), default=256, show_default=True)
@click.option('--cbase', type=click.IntRange(min=1), default=None, help='Capacity (default: 16384 at <= 128, else 32768)')
@click.option('--cmax', type=click.IntRange(min=1), default=None, help='Max channels (default: 256 at <= 128, else 512)')
@click.option('--what', default='export,grid,frame', show_default=True, help='Comma-separated: export, grid, frame')
@click.option('--frames', type=click.IntRange(min=1), default=1024, show_default=True)
@click.option('--batch', type=click.IntRange(min=1), default=32, show_default=True)
@click.option('--grid-cells', type=click.IntRange(min=1), default=8, show_default=True)
@click.option('--device', default=None)
@click.option('--graphs/--no-graphs', default=True, show_default=True, help='CUDA graphs for small batches')
@click.option('--log', help='Append one JSON line per measurement', type=click.Path(dir_okay=False))
def main(network_pkl, res, cbase, cmax, what, frames, batch, grid_cells, device, graphs, log):
    torch.backends.cudnn.benchmark = True
    with tempfile.TemporaryDirectory() as folder:
        path = network_pkl or fresh_network(res, cbase or (16384 if res <= 128 else 32768), cmax or (256 if res <= 128 else 512), folder)
        renderer = render.Renderer(device=device, cuda_graphs=graphs)
        res = renderer.network(path).G.img_resolution
        for name in what.split(','):
            row = dict(export=lambda: bench_export(renderer, path, frames, batch, folder),
                grid=lambda: bench_grid(renderer, path, grid_cells, batch),
                frame=lambda: bench_frame(renderer, path, min(frames, 200)))[name.strip()]()
            row.update(res=res, graphs=renderer.graphs is not None, device=str(renderer.device), gpu=torch.cuda.get_device_name() if renderer.device.type == 'cuda' else 'cpu')
            print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
            if log:
                with open(log, 'a', encoding='utf-8') as f:
                    f.write(json.dumps(row) + '\n')

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
