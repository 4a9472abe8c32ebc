"""Pack a network snapshot into a small generator-only file for shipping (the demo model of docs/DEMO_MODEL.md):

    python scripts/pack_network.py runs/00003-.../network-snapshot-000072.pkl models/demo_128.pkl

The file holds G_ema alone (or, with --generator=G, the raw generator that training steps), with its floating-point
weights stored as float16 (half the size; the safe loader builds the float32 model and casts them back), and the
dataset's kwargs with the path reduced to the zip's name, so that the viewers and export.py find the real frames by
name under --dataset_root. It is a network pickle of the usual format that the safe loader reads without executing
anything from it. The output is written atomically and never replaces an existing file.
"""

import copy
import os
import pickle
import sys

import click
import torch

if __package__ in (None, ''): # Run as a script: make the repository importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dnnlib # pylint: disable=wrong-import-position
from dnnlib import cli # pylint: disable=wrong-import-position
from torch_utils import safe_pickle # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def pack(snapshot_pkl, fp16=True, generator='G_ema'):
    """The packed dict: {generator ('G_ema', or 'G' for the raw one): generator with float16 tensors,
    'training_set_kwargs': {...}}."""
    data = safe_pickle.load_network_pkl(snapshot_pkl)
    G = safe_pickle.generator_of(data, generator, snapshot_pkl)
    G = copy.deepcopy(G).eval().requires_grad_(False)
    if fp16:
        for tensor in list(G.parameters()) + list(G.buffers()):
            if tensor.is_floating_point():
                tensor.data = tensor.data.to(torch.float16)
    kwargs = dict(data.get('training_set_kwargs') or {})
    if kwargs.get('path'):
        kwargs['path'] = os.path.basename(os.path.normpath(kwargs['path']))
    return {generator: G, 'training_set_kwargs': kwargs}

@click.command()
@click.argument('snapshot_pkl', type=click.Path(exists=True, dir_okay=False))
@click.argument('out', type=click.Path())
@click.option('--fp16/--fp32', default=True, show_default=True, help='Store the weights as float16.')
@click.option('--generator', type=click.Choice(safe_pickle.GENERATORS), default='G_ema', show_default=True,
    help='The averaged generator, or the raw one that training steps (kept as G: the tools read either).')
@cli.user_errors(ValueError)
def main(snapshot_pkl, out, fp16, generator):
    """Write SNAPSHOT_PKL's generator to OUT (which must not exist)."""
    if os.path.exists(out):
        raise click.UsageError(f'{out} exists; choose another name or remove it')
    packed = pack(snapshot_pkl, fp16, generator)
    path = dnnlib.util.atomic_write(out, lambda f: pickle.dump(packed, f))
    print(f'{path}: {os.path.getsize(path) / 2**20:.1f} MiB, {generator} of {snapshot_pkl}')

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter
