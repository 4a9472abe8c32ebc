"""The interactive explorer of a time-conditioned generator: seeds, per-layer times, latent directions, playback.

  python visualize.py PKL [--seed N] [--dataset_root DIR] [-b B]
  python visualize.py EXPORTED.png|.jpg|.mp4|STATE.json        (opens the view the file records)
  python visualize.py                                          (drop a pickle on the window, or use Open...)

Keys: F11 fullscreen, Home resets the latent sliders (and the zoom), Space plays / pauses, Esc asks before quitting.
See docs/VISUALIZE.md.
"""

import os

import click

from dnnlib import cli

#----------------------------------------------------------------------------

@click.command(context_settings=dict(help_option_names=['-h', '--help']))
@click.argument('source', required=False, metavar='[PKL|EXPORTED_FILE|STATE.json]')
@click.option('--seed', type=click.IntRange(0, 2**31 - 1), help='First seed (default: the state\'s, else 0)')
@click.option('-b', '--batch', type=click.IntRange(1, 16), help='Batch size (default: the state\'s, else 1)')
@click.option('--dataset_root', 'dataset_roots', multiple=True, metavar='DIR', help='Where to look for the training data (repeatable; also $TLGAN_DATASET_ROOT)')
@click.option('--network_root', 'network_roots', multiple=True, metavar='DIR', help='Where to look for the network a state names (repeatable; also $TLGAN_NETWORK_ROOT)')
@click.option('--device', help='torch device (default: cuda if available, else cpu)', metavar='DEV')
@click.option('--pca-samples', type=click.IntRange(min=200), default=100_000, show_default=True, help='Samples of the IPCA')
@cli.user_errors()
def main(source, seed, batch, dataset_roots, network_roots, device, pca_samples):
    """Explore a time-lapse generator interactively."""
    import torch # pylint: disable=import-outside-toplevel # after click: --help stays fast
    from viz import state as vstate # pylint: disable=import-outside-toplevel
    from viz.apps.base import read_input # pylint: disable=import-outside-toplevel
    torch.set_grad_enabled(False)
    torch.backends.cudnn.benchmark = True
    if not os.environ.get('OMP_NUM_THREADS'):
        # Leave a core to the UI thread: OpenMP threads that spin for a busy core make CPU renders many times slower.
        torch.set_num_threads(max((os.cpu_count() or 2) - 1, 1))
    default = vstate.Document(tool='explorer', state=vstate.ExplorerState(), soft=vstate.ExplorerSoft())
    doc, roots = default, []
    if source:
        if not os.path.exists(source) and not source.lstrip().startswith('{'):
            raise click.ClickException(f'{source}: no such file')
        try:
            doc, roots = read_input(source, default, ('explorer',))
        except ValueError as e:
            raise click.ClickException(str(e).splitlines()[0]) from None
    changes = {k: v for k, v in dict(seed=seed, batch=batch).items() if v is not None}
    if changes:
        doc = doc.with_state(**changes)
    from viz.apps.explorer import ExplorerApp # pylint: disable=import-outside-toplevel
    ExplorerApp.main(doc, roots=roots, network_roots=network_roots, dataset_roots=dataset_roots, device=device,
        pca_samples=pca_samples)

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
