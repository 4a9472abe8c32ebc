"""Where in a generator does each input move each probed factor? disent_synth's moves (metrics.disentanglement), with
the changed input reaching only one group of style layers: the other layers keep the reference's ws (for z) or times
(for the day, year and trend slots). One table per input, one row per group of ws indices, labelled by the
resolutions of the layers those ws modulate; values in the units of move_<input>_<factor>.

  python benchmarks/leak_by_layer.py --network=models/demo_128.pkl --data=demo/data/demo_128x128_730hz.zip

--mute=year@4-16 first edits the generator so that the year no longer reaches the layers of 4x4 to 16x16.
"""

import os
import sys

import click
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dnnlib # pylint: disable=wrong-import-position
from metrics import disentanglement, factor_probe, metric_utils # pylint: disable=wrong-import-position
from torch_utils import safe_pickle # pylint: disable=wrong-import-position
from training import networks_stylegan2 # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def ws_resolutions(G):
    """[set of layer resolutions] per ws index: a block's convolutions take one ws each, its torgb the next block's
    first (as SynthesisNetwork hands them out)."""
    fed = [set() for _ in range(G.num_ws)]
    idx = 0
    for res in G.synthesis.block_resolutions:
        block = getattr(G.synthesis, f'b{res}')
        for i in range(block.num_conv + block.num_torgb):
            fed[idx + i].add(res)
        idx += block.num_conv
    return fed

def parse_groups(text, G):
    """'0-2,3-5,...' (ws index ranges; default: quarters) -> {label: [ws indices]}, labels naming the resolutions;
    always with the group 'all' first, alone for 'all'."""
    if text == 'all':
        return {'all': list(range(G.num_ws))}
    if text is None:
        bounds = np.linspace(0, G.num_ws, 5).round().astype(int)
        ranges = [(lo, hi - 1) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    else:
        ranges = [tuple(int(x) for x in part.split('-')) if '-' in part else (int(part), int(part)) for part in text.split(',')]
    if any(not 0 <= lo <= hi < G.num_ws for lo, hi in ranges):
        raise click.BadParameter(f'ws ranges must lie within 0-{G.num_ws - 1}: {text}', param_hint='--groups')
    fed = ws_resolutions(G)
    groups = {'all': list(range(G.num_ws))}
    for lo, hi in ranges:
        res = sorted(set().union(*fed[lo:hi + 1]))
        groups[f'ws {lo}-{hi} ({res[0]}-{res[-1]})'] = list(range(lo, hi + 1))
    return groups

def mute_slot(G, slot, lo, hi):
    """Edit G in place so that time slot `slot` ('day', 'year' or 'lin') no longer scales the styles of the layers of
    resolution lo..hi: their weights of the slot's features are zeroed (for the trend slot its t feature only, not the
    constant). A cycle's cos/sin average to zero over its period, so this puts each such style at its mean over the
    slot's phases. No retraining: it shows which layers draw what a slot moves, not what a model trained without them
    would draw (`--cycle-res`)."""
    names, _ = disentanglement.slot_layout(G)
    if slot not in names:
        raise click.BadParameter(f'{slot!r} is not a time slot of this generator; it has {names}', param_hint='--mute')
    first = 2 * names.index(slot) # two features per slot: the trend's [1, t], a cycle's [cos, sin]
    cols = [first + 1] if slot == 'lin' else [first, first + 1]
    muted = 0
    for res in G.synthesis.block_resolutions:
        if lo <= res <= hi:
            for module in getattr(G.synthesis, f'b{res}').modules():
                if isinstance(module, networks_stylegan2.CondStyle) and module.use_c:
                    module.c_to_scales.weight[:, cols] = 0
                    muted += 1
    if muted == 0:
        raise click.BadParameter(f'no style layer of resolution {lo}-{hi} scales by the times', param_hint='--mute')

#----------------------------------------------------------------------------

@torch.no_grad()
def leak_by_layer(opts, groups, num_samples, batch_size=32, probe_res=64, probe_kwargs={}):
    """{input: {group: {factor: mean move}}} for the network opts.G, on disent_synth's references and variants."""
    G = opts.G
    names, tl = disentanglement.slot_layout(G)
    cfg = disentanglement.scene_config(opts.dataset(), opts.dataset_kwargs.path)
    probe, info = disentanglement.probe_for(G, cfg, probe_res, opts, probe_kwargs)
    np_rng, torch_gen = opts.rngs(4)
    slots = lambda u_sun, u_lin: torch.from_numpy(tl.unix_to_slots(u_sun, u_lin, names)).to(opts.device)
    read = lambda ws, cs: probe.read(metric_utils.crop_to_rect(G, G.synthesis(ws, cs, noise_mode='const')))
    inputs = disentanglement.changed_inputs(names)
    moves = {inp: {g: {k: [] for k in factor_probe.FACTORS} for g in groups} for inp in inputs}
    for _ in range(-(-num_samples // batch_size)):
        z = torch.randn([batch_size, G.z_dim], generator=torch_gen).to(opts.device)
        other_z = torch.randn([batch_size, G.z_dim], generator=torch_gen).to(opts.device)
        u_sun, u_lin = disentanglement.reference_times(cfg, names, tl, batch_size, np_rng)
        cs = G.cond_xform(slots(u_sun, u_lin))
        ws = G.mapping(z, cs[:, 0])
        ref = read(ws, cs)
        variants = disentanglement.leakage_variants(cfg, u_sun, u_lin, names, tl, np_rng)
        for inp in inputs:
            new = G.mapping(other_z, cs[:, 0]) if inp == 'z' else G.cond_xform(slots(*variants[inp]))
            for group, idx in groups.items():
                ws2, cs2 = ws.clone(), cs.clone()
                (ws2 if inp == 'z' else cs2)[:, idx] = new[:, idx]
                seen = read(ws2, cs2)
                for k in factor_probe.FACTORS:
                    moves[inp][group][k].append(factor_probe.factor_distance(k, seen[k], ref[k]) / info['scale'][k])
    return {inp: {g: {k: float(np.concatenate(v)[:num_samples].mean()) for k, v in row.items()} for g, row in table.items()}
        for inp, table in moves.items()}

#----------------------------------------------------------------------------

@click.command(context_settings=dict(help_option_names=['-h', '--help'], max_content_width=120))
@click.option('--network', 'network_pkl', required=True, help='Generator of the synthetic sequence.')
@click.option('--data', required=True, type=click.Path(exists=True), help='Its dataset zip (the scene config).')
@click.option('--groups', help='Comma list of ws index ranges, e.g. 0-2,3-5,6-8,9-11, or all  [default: quarters]')
@click.option('--samples', type=click.IntRange(min=32), default=256, show_default=True)
@click.option('--mute', metavar='SLOT@LO-HI', help='First zero the time slot\'s (day, year, lin) scaling of the styles '
    'in the layers of resolutions LO to HI, e.g. year@4-16')
@click.option('--device', default='cuda' if torch.cuda.is_available() else 'cpu', show_default=True)
def main(network_pkl, data, groups, samples, mute, device):
    """disent_synth's moves of each input, reaching one group of layers at a time."""
    G = safe_pickle.generator_of(safe_pickle.load_network_pkl(network_pkl, device=torch.device(device))).eval()
    if mute is not None:
        slot, _, band = mute.partition('@')
        lo, _, hi = band.partition('-')
        if not (lo.isdigit() and hi.isdigit()):
            raise click.BadParameter(f'expected SLOT@LO-HI, e.g. year@4-16; got {mute!r}', param_hint='--mute')
        with torch.no_grad():
            mute_slot(G, slot, int(lo), int(hi))
    dataset_kwargs = dnnlib.EasyDict(class_name='training.dataset.ImageFolderDataset', path=data)
    opts = metric_utils.MetricOptions(G=G, dataset_kwargs=dataset_kwargs, device=device)
    for inp, table in leak_by_layer(opts, parse_groups(groups, G), samples).items():
        print(f'\n| {inp} changed in | ' + ' | '.join(factor_probe.FACTORS) + ' |')
        print('|---' * (len(factor_probe.FACTORS) + 1) + '|')
        for group, row in table.items():
            print(f'| {group} | ' + ' | '.join(f'{row[k]:.2f}' for k in factor_probe.FACTORS) + ' |')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
