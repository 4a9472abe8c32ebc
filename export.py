"""Re-render a trained time-lapse generator headlessly: stabilised videos, grids, time-lapse strips and sweeps, each
file embedding the state that reproduces it. CPU or GPU; no display needed.

  python export.py --network=PKL --preset=stabilise --out=stable.mp4 [--day-hour=12] [--seed=3]
  python export.py --network=PKL --preset=grid --out=grid.png          (day x year grid; --set W=10 ...)
  python export.py --network=PKL --preset=strip --out=strip.jpg        (time-lapse image; --set num_strips=8)
  python export.py --network=PKL --preset=sweep --out=sweep.mp4        (video along an axis; --set axis_x=year)
  python export.py EXPORTED.png --out=again.png                          (re-render an exported file's state)
  python export.py a.json b.png --outdir=DIR --format=mp4                (a batch of states)
"""

import json
import os

import click
import tqdm

from dnnlib import cli
from viz import export as vexport
from viz import metadata, network, render
from viz import state as vstate
from viz.dataset import DatasetFinder

#----------------------------------------------------------------------------
# Presets: what the paper does with a trained model.

NOON = (0.5, 0.0, 0.5) # Sliders (Lin, Year, Day): the middle of the sequence, 12:00 UTC.
PRESETS = {
    'stabilise': vstate.Document(tool='sequence', state=vstate.SequenceState(), soft=vstate.SequenceSoft()),
    'grid': vstate.Document(state=vstate.GridState(axis_x='day', axis_y='year', W=8, H=6, B=8, sliders=NOON)),
    'strip': vstate.Document(state=vstate.GridState(viz_mode=vstate.VizMode.STACK_X, axis_x='year', B=16, sliders=NOON)),
    'sweep': vstate.Document(state=vstate.GridState(viz_mode=vstate.VizMode.STACK_X, axis_x='day', B=16, sliders=NOON),
        soft=vstate.GridSoft(video_mode=vstate.VideoMode.FULL)),
}

def _parse_set(items):
    """KEY=VALUE pairs; VALUE is JSON when it parses (numbers, lists, true), else a plain string."""
    out = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key.strip():
            raise click.BadParameter(f'expected KEY=VALUE, got {item!r}', param_hint='--set')
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out

def apply_settings(doc, settings):
    """The document with state / state_soft fields replaced by name, validated like a loaded document."""
    raw = doc.to_json()
    fields = {k: set(raw[k]) for k in ('state', 'state_soft')}
    for key, value in settings.items():
        part = next((p for p in ('state', 'state_soft') if key in fields[p]), None)
        if part is None:
            known = ', '.join(sorted(fields['state'] | fields['state_soft']))
            raise click.BadParameter(f'{key!r} is not a setting of a {doc.tool} view (known: {known})', param_hint='--set')
        raw[part][key] = value
    return vstate.from_json(raw, 'options')

#----------------------------------------------------------------------------

def _load_input(path):
    return vstate.from_json(metadata.read_doc(path), path)

def _stabilise_times(renderer, doc, roots):
    """The stabilise preset renders every dataset timestamp when the training data can be found, else evenly spaced
    times: --frames of them, or one per training frame (said on the console)."""
    if doc.tool != 'sequence' or doc.state.times != 'dataset':
        return doc
    doc, path = vexport.resolve(doc, roots)
    net = renderer.network(path)
    if renderer.datasets.lookup(net) is not None:
        return doc
    frames = doc.state.num_frames or int(net.G.cond_args.get('num_frames') or 0) or 1024
    click.echo(f'Training data {net.dataset_name or "(unnamed)"} not found (--dataset_root): rendering {frames} evenly '
        'spaced times instead of the dataset timestamps')
    return doc.with_state(times='even', num_frames=frames)

def _outputs(inputs, out, outdir, fmt):
    if len(inputs) > 1 or outdir:
        if not outdir or out:
            raise click.UsageError('Several inputs: give --outdir (and optionally --format), not --out')
        return [os.path.join(outdir, f'{os.path.splitext(os.path.basename(p))[0]}.{fmt or os.path.splitext(p)[1][1:] or "png"}')
            for p in inputs]
    if not out:
        raise click.UsageError('Give --out=FILE (.png, .jpg or .mp4)')
    return [out]

@click.command(context_settings=dict(help_option_names=['-h', '--help']))
@click.argument('inputs', nargs=-1, type=click.Path(dir_okay=False))
@click.option('--network', 'network_pkl', help='Network pickle (overrides the one a state names)', metavar='PKL', type=click.Path(dir_okay=False))
@click.option('--preset', type=click.Choice(sorted(PRESETS)), help='Start from a preset view (without INPUTS)')
@click.option('--out', help='Output file: .png, .jpg or .mp4 (never overwritten)', metavar='FILE')
@click.option('--outdir', help='Output folder for a batch of inputs', metavar='DIR')
@click.option('--format', 'fmt', type=click.Choice(['png', 'jpg', 'mp4']), help='Output type of a batch (default: the input\'s)')
@click.option('--set', 'settings', multiple=True, metavar='KEY=VALUE', help='Any state field, e.g. --set W=10 --set axis_x=year (repeatable)')
@click.option('--seed', type=click.IntRange(0, 2**32 - 1), help='Weather seed (stabilise) / first seed (grids)')
@click.option('--day-hour', type=click.FloatRange(0, 24, max_open=True), help='stabilise: freeze the time of day at this UTC hour')
@click.option('--times', type=click.Choice(['dataset', 'even']), help='stabilise: dataset timestamps or evenly spaced')
@click.option('--frames', type=click.IntRange(min=1), help='stabilise: number of frames (at most, with --times=dataset)')
@click.option('--fps', type=click.FloatRange(0, 1000, min_open=True), help='Video frame rate')
@click.option('--crf', type=click.IntRange(0, 51), help='H.264 quality: 0 lossless, 18 (default) visually lossless')
@click.option('--res-scale', type=click.FloatRange(0, 16, min_open=True), help='Output size relative to the generator\'s')
@click.option('--network_root', 'network_roots', multiple=True, metavar='DIR', help='Where to look for the network a state names (repeatable; also $TLGAN_NETWORK_ROOT)')
@click.option('--dataset_root', 'dataset_roots', multiple=True, metavar='DIR', help='Where to look for the training data (repeatable; also $TLGAN_DATASET_ROOT)')
@click.option('--device', help='torch device (default: cuda if available, else cpu)', metavar='DEV')
@cli.user_errors(vexport.ExportError, vstate.StateError, network.NetworkError, metadata.MetadataError)
def main(inputs, network_pkl, preset, out, outdir, fmt, settings, seed, day_hour, times, frames, fps, crf, res_scale,
         network_roots, dataset_roots, device):
    """Render views of a time-conditioned generator into png / jpg / mp4 files with their state embedded."""
    if bool(inputs) == bool(preset):
        raise click.UsageError('Give either exported files / state JSON files as INPUTS, or --preset (with --network)')
    if outdir:
        cli.check_folder(outdir, '--outdir')
    docs = [_load_input(p) for p in inputs] if inputs else [PRESETS[preset]]
    outs = _outputs(inputs or [preset], out, outdir, fmt)
    named = dict(seed=seed, day_hour=day_hour, times=times, num_frames=frames, fps=fps, crf=crf, res_scale=res_scale)
    named = {k: v for k, v in named.items() if v is not None}
    renderer = render.Renderer(device=device, datasets=DatasetFinder(dataset_roots))
    for doc, path, dst in zip(docs, inputs or [None], outs):
        roots = list(network_roots) + ([os.path.dirname(os.path.abspath(path))] if path else [])
        if network_pkl:
            doc = doc.replace(network=network.ref_for(network_pkl))
        here = dict(named)
        if 'seed' in here and doc.tool == 'grid':
            here['seeds'] = str(here.pop('seed'))
        doc = apply_settings(doc, {**here, **_parse_set(settings)})
        doc = _stabilise_times(renderer, doc, roots) if preset == 'stabilise' else doc
        click.echo(_export(renderer, doc, dst, roots))

def _export(renderer, doc, dst, roots):
    """Export one document, with a progress bar for videos."""
    with tqdm.tqdm(desc=os.path.basename(dst), unit='frame', leave=False, disable=not dst.lower().endswith('.mp4')) as bar:
        def progress(k, total):
            bar.total = total
            bar.update(k - bar.n)
        return vexport.export(renderer, doc, dst, roots=roots, progress=progress)

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
