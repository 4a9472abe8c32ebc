"""Grids and time-lapse images of a time-conditioned generator, interactively (the original TLGAN grid_viz).

  python grid_viz.py NETWORK.pkl                      start from a 5 x 5 day x year grid
  python grid_viz.py grid_net_day_year_0_gan_0.png    restore the view an exported png / jpg / mp4 was made from
  python grid_viz.py state.json                       or a saved JSON state, or '{"state": {...}}' as text

Drop files of the same kinds onto the window to open them. Exports (png, jpg, mp4) embed the state, so that the
same view can be reopened here or re-rendered headlessly with export.py. Window settings are kept in the user's
config folder (e.g. ~/.config/tlgan/grid_viz.json).
"""

import os

import click

from dnnlib import cli
from viz import export as vexport
from viz import render
from viz.dataset import DatasetFinder
from viz.worker import one_line

#----------------------------------------------------------------------------

@click.command(context_settings=dict(help_option_names=['-h', '--help']))
@click.argument('source', metavar='INPUT')
@click.option('--dataset_root', 'dataset_roots', multiple=True, metavar='DIR', help='Where to look for the training data (repeatable; also $TLGAN_DATASET_ROOT)')
@click.option('--network_root', 'network_roots', multiple=True, metavar='DIR', help='Where to look for the network a state names (repeatable; also $TLGAN_NETWORK_ROOT)')
@click.option('--device', metavar='DEV', help='torch device (default: cuda if available, else cpu)')
@cli.user_errors()
def main(source, dataset_roots, network_roots, device):
    """Open INPUT: a network pickle, an exported png / jpg / mp4, a JSON state file, or JSON text starting with '{'."""
    try:
        from viz.apps import base, grid # pylint: disable=import-outside-toplevel # imgui / OpenGL only when needed
    except ImportError as e:
        raise click.ClickException(f'{e}: the viewer needs the viz extra (pip install -e .[viz]: imgui-bundle, '
            'PyOpenGL, glfw)') from None
    if not os.path.exists(source) and not source.lstrip().startswith('{'):
        raise click.ClickException(f'{source}: no such file')
    try:
        renderer = render.Renderer(device=device, datasets=DatasetFinder(dataset_roots))
        convert = lambda doc, roots: grid.explorer_to_grid(doc, roots + list(network_roots), renderer)
        doc, roots = base.read_input(source, grid.GridApp.default_doc(), grid.GridApp.TOOLS, convert)
        doc, path = vexport.resolve(doc, roots + list(network_roots))
        renderer.network(path) # a bad pickle fails here, with one line, before a window opens
    except (ValueError, RuntimeError) as e: # MetadataError, StateError, NetworkError; a device that is not there
        raise click.ClickException(one_line(e)) from None
    grid.GridApp.main(doc, roots=roots, network_roots=network_roots, renderer=renderer)

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
