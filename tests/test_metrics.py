"""Tests of the image-quality metrics, the variance ratios, PPL and the registry, on CPU with the tiny stand-in
feature network, tiny dataset zips written here and tiny generators."""

import json
import math

import numpy as np
import pytest
import scipy.linalg
import torch

import dnnlib
from metrics import feature_nets
from metrics import frechet_inception_distance
from metrics import inception_score
from metrics import kernel_inception_distance
from metrics import metric_main
from metrics import metric_utils
from metrics import perceptual_path_length
from metrics import precision_recall
from metrics import variance_ratios
from torch_utils import distributed
from metric_helpers import ReplayG, smooth_images, tiny_G, write_zip

#----------------------------------------------------------------------------
# Fixtures.

@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv('DNNLIB_CACHE_DIR', str(tmp_path / 'cache'))
    return tmp_path / 'cache'

@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """Two disjoint sets of 96 images: A (a dataset zip) and B."""
    root = tmp_path_factory.mktemp('data')
    a, b = smooth_images(96, seed=1), smooth_images(96, seed=2)
    return dnnlib.EasyDict(a=a, b=b, kwargs=write_zip(root / 'a.zip', a))

def options(G, data, **kwargs):
    return metric_utils.MetricOptions(G=G, dataset_kwargs=data.kwargs, device='cpu', inception='standin', vgg16='standin', **kwargs)

def standin_features(images):
    return feature_nets.StandInDetector('cpu').features(torch.from_numpy(images).permute(0, 3, 1, 2)).double().numpy()

#----------------------------------------------------------------------------
# FID and KID.

def test_fid_of_dataset_against_itself_is_zero(data):
    fid = frechet_inception_distance.compute_fid(options(ReplayG(data.a), data), max_real=None, num_gen=len(data.a))
    assert abs(fid) < 1e-4

def test_fid_equals_direct_scipy_computation(data):
    fid = frechet_inception_distance.compute_fid(options(ReplayG(data.b), data), max_real=None, num_gen=len(data.b))
    fa, fb = standin_features(data.a), standin_features(data.b)
    mu_a, mu_b = fa.mean(0), fb.mean(0)
    cov_a, cov_b = np.cov(fa, rowvar=False, bias=True), np.cov(fb, rowvar=False, bias=True)
    direct = np.real(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * scipy.linalg.sqrtm(cov_a @ cov_b)))
    assert fid > 1e-3 and math.isclose(fid, direct, rel_tol=1e-6)

def test_fid_and_kid_grow_with_difference(data):
    fids, kids = [], []
    for noise in [0.02, 0.1, 0.3]:
        opts = options(ReplayG(data.a, noise=noise), data)
        fids.append(frechet_inception_distance.compute_fid(opts, max_real=None, num_gen=len(data.a)))
        opts = options(ReplayG(data.a, noise=noise), data)
        kids.append(kernel_inception_distance.compute_kid(opts, max_real=None, num_gen=len(data.a), num_subsets=20, max_subset_size=50))
    assert fids[0] < fids[1] < fids[2] and kids[0] < kids[1] < kids[2]
    assert kids[0] > -1e-3

def test_kid_definition():
    rng = np.random.default_rng(0)
    x = rng.normal(size=[200, 8])
    same = kernel_inception_distance.kernel_distance(x, x.copy(), num_subsets=10, max_subset_size=100)
    shifted = kernel_inception_distance.kernel_distance(x, x + 1, num_subsets=10, max_subset_size=100)
    assert abs(same) < 0.05 * shifted and shifted > 1

def test_real_statistics_are_cached(data, cache_dir):
    opts = options(None, data)
    first = metric_utils.compute_feature_stats_for_dataset(opts, 'inception', capture_mean_cov=True)
    files = list((cache_dir / 'gan-metrics').glob('a-standin64-seed0-*.npz'))
    assert len(files) == 1
    again = metric_utils.compute_feature_stats_for_dataset(opts, 'inception', capture_mean_cov=True)
    assert np.array_equal(first.get_mean_cov()[1], again.get_mean_cov()[1]) and again.num_items == len(data.a)
    subset = metric_utils.compute_feature_stats_for_dataset(opts, 'inception', max_items=10, capture_all=True)
    expected = standin_features(data.a[np.arange(10) * len(data.a) // 10]) # evenly spaced, not the first 10
    assert np.allclose(subset.get_all(), expected, atol=1e-5)

#----------------------------------------------------------------------------
# Precision/recall, IS, PPL.

def test_precision_recall(data):
    good = precision_recall.compute_pr(options(ReplayG(data.a), data), max_real=None, num_gen=96, nhood_size=3,
        row_batch_size=40, col_batch_size=30)
    bad = precision_recall.compute_pr(options(ReplayG(data.a, noise=1.0), data), max_real=None, num_gen=96, nhood_size=3,
        row_batch_size=40, col_batch_size=30)
    assert good == (1.0, 1.0)
    assert bad[0] < 0.5

def test_kth_neighbour_distance_blocks():
    x = torch.randn([50, 5])
    d = torch.cdist(x, x).sort(dim=1).values[:, 3] # self + 3 neighbours
    assert torch.allclose(precision_recall._kth_neighbour_distance(x, x, 4, col_batch=7), d, atol=1e-5)

def test_inception_score(data):
    assert inception_score.inception_score(np.full([40, 10], 0.1)) == pytest.approx((1.0, 0.0))
    assert inception_score.inception_score(np.eye(10)[np.arange(100) % 10], num_splits=10)[0] == pytest.approx(10.0)
    mean, std = inception_score.compute_is(options(ReplayG(data.a), data), num_gen=96, num_splits=4)
    assert 1 <= mean <= 10 and std >= 0

def test_ppl_uses_the_time_conditioning(data):
    G = tiny_G()
    vgg = feature_nets.StandInDetector('cpu')
    gen = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn([4, 8], generator=gen), torch.randn([4, 8], generator=gen)
    d0 = perceptual_path_length.path_lengths(G, vgg, z0, z1, torch.zeros([4, 1]), 1e-4)
    d1 = perceptual_path_length.path_lengths(G, vgg, z0, z1, torch.full([4, 1], 0.3), 1e-4)
    assert torch.isfinite(d0).all() and (d0 > 0).all() and not torch.allclose(d0, d1)
    ppl = perceptual_path_length.compute_ppl(options(G, data), num_samples=12, epsilon=1e-4, batch_size=4)
    assert math.isfinite(ppl) and ppl > 0

#----------------------------------------------------------------------------
# Variance ratios.

class AdditiveG(torch.nn.Module):
    """image = a*z + b*sqrt(12)*t_lin + c*sqrt(2)*cos(2 pi 3 t_day) + d*noise: variances a^2, b^2, c^2, d^2 (lin and
    day are uncorrelated under t ~ U[0, 1], so re-drawing the global t gives b^2 + c^2). The constant noise is 0 and
    the random noise has variance 2, so that 1/2 E[(random - const)^2] = d^2 at every pixel."""

    def __init__(self, a, b, c, d, res=8):
        super().__init__()
        self.coef = (a, b, c, d)
        self.z_dim, self.c_dim, self.img_resolution, self.img_channels = 1, 1, res, 1
        self.cond_args = dnnlib.EasyDict(type='fourier', f_manual=[3.0], include_lin=True)
        self.frequencies = [-1.0, 3.0]
        self.synthesis = torch.nn.Module()
        self.synthesis.out_rect = (0, 2, res, res - 2)

    def forward(self, z, c, noise_mode='random'):
        a, b, c_, d = self.coef
        t = c.expand(-1, 2)
        noise = torch.randn([len(z), 1, self.img_resolution, self.img_resolution]) * 2 ** 0.5 if noise_mode == 'random' else 0
        value = a * z[:, :1] + b * 12 ** 0.5 * t[:, :1] + c_ * 2 ** 0.5 * torch.cos(2 * math.pi * 3 * t[:, 1:])
        return value[:, :, None, None].expand(-1, 1, self.img_resolution, self.img_resolution) + d * noise

def test_variance_ratios_recover_known_shares(data):
    coef = (1.0, 0.5, 1.5, 0.3)
    G = AdditiveG(*coef)
    torch.manual_seed(0)
    r = variance_ratios.compute_variance_ratios(options(G, data), num_samples=4000, batch_size=400)
    assert list(r) == ['var_z', 'var_c', 'var_noise', 'std_z', 'std_c', 'std_noise', 'var_lin', 'std_lin', 'var_day', 'std_day']
    var = np.square(coef)
    total = var.sum() # the same in both collections
    assert r['var_z'] + r['var_c'] + r['var_noise'] == pytest.approx(1.0)
    assert r['std_z'] + r['std_c'] + r['std_noise'] == pytest.approx(1.0)
    assert r['var_z'] == pytest.approx(var[0] / total, rel=0.1)
    assert r['var_c'] == pytest.approx((var[1] + var[2]) / total, rel=0.1)
    assert r['var_noise'] == pytest.approx(var[3] / total, rel=0.1)
    assert r['var_lin'] == pytest.approx(var[1] / total, rel=0.1)
    assert r['var_day'] == pytest.approx(var[2] / total, rel=0.1)

def test_variance_ratios_of_a_network(data):
    r = variance_ratios.compute_variance_ratios(options(tiny_G(), data), num_samples=16, batch_size=8)
    assert list(r) == ['var_z', 'var_c', 'var_noise', 'std_z', 'std_c', 'std_noise', 'var_lin', 'std_lin',
        'var_year', 'std_year', 'var_day', 'std_day']
    assert all(0 <= v <= 1 for v in r.values())
    assert r['var_z'] + r['var_c'] + r['var_noise'] <= 1 + 1e-6 # below 1 only where the total was clipped
    uncond = variance_ratios.compute_variance_ratios(options(tiny_G(c_dim=0, cond_type='none'), data), num_samples=8, batch_size=8)
    assert list(uncond) == ['var_z', 'var_c', 'var_noise', 'std_z', 'std_c', 'std_noise'] and uncond['var_c'] == 0

#----------------------------------------------------------------------------
# Registry and reporting.

def test_registry_names():
    names = metric_main.list_valid_metrics()
    for name in ['fid50k_full', 'kid50k_full', 'pr50k3_full', 'is50k', 'fid10k_full', 'fid1k_debug', 'kid1k_debug',
            'var_ratio_mc_5k', 'var_ratio_mc_10k', 'var_ratio_mc_20k', 'var_ratio_mc_1k_debug', 'ppl2_wend', 'disent_synth',
            'disent_synth_debug']:
        assert metric_main.is_valid_metric(name) and name in names
    with pytest.raises(ValueError, match='Unknown metric "fid51k".*fid50k_full'):
        metric_main.calc_metric('fid51k')

def test_calc_and_report_metric(data, tmp_path):
    kwargs = dict(G=ReplayG(data.b), dataset_kwargs=data.kwargs, device='cpu', inception='standin')
    result = metric_main.calc_metric('fid1k_debug', **kwargs)
    assert set(result) == {'results', 'metric', 'total_time', 'total_time_str', 'num_gpus'}
    assert result.metric == 'fid1k_debug' and result.num_gpus == 1 and result.results.fid1k_debug > 0
    run_dir = tmp_path / 'run'
    run_dir.mkdir()
    for _ in range(2):
        metric_main.report_metric(result, run_dir=str(run_dir), snapshot_pkl=str(run_dir / 'network-snapshot-000000.pkl'))
    lines = (run_dir / 'metric-fid1k_debug.jsonl').read_text().splitlines()
    assert len(lines) == 2
    entry = json.loads(lines[0])
    assert set(entry) == {'results', 'metric', 'total_time', 'total_time_str', 'num_gpus', 'snapshot_pkl', 'timestamp'}
    assert entry['snapshot_pkl'] == 'network-snapshot-000000.pkl' and entry['results'] == dict(result.results)
    again = metric_main.calc_metric('fid1k_debug', **kwargs) # same seed, cached real statistics: same value
    assert again.results.fid1k_debug == result.results.fid1k_debug

#----------------------------------------------------------------------------
# Several processes (gloo on CPU): the work is shared and gives the single-process statistics.

def _two_rank_worker(kwargs, out_dir):
    distributed.init()
    rank = distributed.get_rank()
    opts = metric_utils.MetricOptions(G=tiny_G(), dataset_kwargs=kwargs, num_gpus=2, rank=rank, device='cpu',
        inception='standin', cache=False)
    mean, cov = metric_utils.compute_feature_stats_for_dataset(opts, 'inception', capture_mean_cov=True, batch_size=10).get_mean_cov()
    ratios = variance_ratios.compute_variance_ratios(opts, num_samples=32, batch_size=8)
    ratios = [metric_utils.broadcast_value(v, opts) for v in ratios.values()]
    np.savez(f'{out_dir}/rank{rank}.npz', mean=mean, cov=cov, ratios=np.array(ratios))
    distributed.shutdown()

def test_two_processes_share_the_work(data, tmp_path):
    distributed.launch_local(_two_rank_worker, 2, data.kwargs, str(tmp_path))
    single = metric_utils.compute_feature_stats_for_dataset(options(None, data, cache=False), 'inception', capture_mean_cov=True)
    mean, cov = single.get_mean_cov()
    for rank in range(2):
        out = np.load(tmp_path / f'rank{rank}.npz')
        assert np.allclose(out['mean'], mean, atol=1e-6) and np.allclose(out['cov'], cov, atol=1e-6)
        assert np.isfinite(out['ratios']).all() and len(out['ratios']) == 12
    assert np.array_equal(np.load(tmp_path / 'rank0.npz')['ratios'], np.load(tmp_path / 'rank1.npz')['ratios'])

#----------------------------------------------------------------------------

@pytest.mark.gpu
def test_metrics_on_cuda(data):
    """Every metric family on CUDA (float16 synthesis layers included) gives finite values."""
    kwargs = dict(G=tiny_G(), dataset_kwargs=data.kwargs, device='cuda', inception='standin', vgg16='standin')
    for metric in ['fid1k_debug', 'kid1k_debug', 'var_ratio_mc_1k_debug']:
        assert all(math.isfinite(v) for v in metric_main.calc_metric(metric, **kwargs).results.values())
    opts = metric_utils.MetricOptions(**kwargs)
    assert all(math.isfinite(v) for v in precision_recall.compute_pr(opts, max_real=None, num_gen=96, nhood_size=3,
        row_batch_size=40, col_batch_size=30))
    assert math.isfinite(inception_score.compute_is(opts, num_gen=96, num_splits=4)[0])
    assert math.isfinite(perceptual_path_length.compute_ppl(opts, num_samples=16, epsilon=1e-4, batch_size=8))

#----------------------------------------------------------------------------
