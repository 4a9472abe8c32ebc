"""Adaptive discriminator augmentation (ADA, Karras et al. 2020): the 'bgc' ops (x-flip, 90-degree rotation, integer
translation, scaling, rotation, anisotropic scaling, fractional translation, brightness, contrast, luma flip, hue,
saturation) and the image-space filter, noise and cutout extras. Each op touches each image with probability
p * (the op's strength); p is a buffer that the training loop adapts.

Geometric ops compose into one 3x3 matrix per image (output pixel -> input pixel), executed once: reflect padding, 2x
upsampling with the sym6 wavelet low-pass filter and bilinear sampling (one op, torch_utils.ops.reflect_warp, which R1
can differentiate twice), and 2x downsampling with the reversed filter. Colour ops compose into one affine map
per image acting on RGB. Images that no op changed come out bit-identical, so p = 0 is the identity. The time label
is never augmented. Each group's ops are drawn together, a few dozen small GPU operations per group for the whole
batch.

This module's source is embedded in network pickles: it imports only numpy, torch and torch_utils.
"""

import numpy as np
import torch
import torch.nn.functional as F

from torch_utils import misc
from torch_utils import persistence
from torch_utils import safe_pickle
from torch_utils.ops import reflect_warp
from torch_utils.ops import upfirdn2d

#----------------------------------------------------------------------------
# Orthonormal wavelet low-pass filters (Daubechies, "Ten Lectures on Wavelets"; sum sqrt(2)).

SYM6 = [0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633, 0.4910559419267466,
    0.787641141030194, 0.3379294217276218, -0.07263752278646252, -0.021060292512300564, 0.04472490177066578,
    0.0017677118642428036, -0.007800708325034148]
SYM2 = list(np.array([1 - np.sqrt(3), 3 - np.sqrt(3), 3 + np.sqrt(3), 1 + np.sqrt(3)]) / (4 * np.sqrt(2)))

BAND_POWER = [10 / 13, 1 / 13, 1 / 13, 1 / 13] # Assumed share of a natural image's energy per band, lowest first.

def band_filters(h, num_bands=4):
    """Zero-phase filters [num_bands, taps] that split the spectrum into octaves, lowest band first, and sum to a unit
    impulse. From the wavelet low-pass h: lo = h*h~/2 and hi = g*g~/2 (g = h with alternating signs) are half-band
    filters with lo + hi = impulse; counting from the top, band k is lo(w) lo(2w) ... lo(2^(k-1) w) hi(2^k w)."""
    h = np.asarray(h, dtype=np.float64)
    g = h * (-1.0) ** np.arange(h.size)
    lo, hi = np.convolve(h, h[::-1]) / 2, np.convolve(g, g[::-1]) / 2
    def dilate(f, k): # f(k w): k-1 zeros between the taps
        out = np.zeros((f.size - 1) * k + 1)
        out[::k] = f
        return out
    bands, smooth = [], np.ones(1)
    for k in range(num_bands - 1):
        bands.append(np.convolve(smooth, dilate(hi, 2 ** k)))
        smooth = np.convolve(smooth, dilate(lo, 2 ** k))
    bands = [smooth] + bands[::-1]
    taps = bands[0].size
    return np.stack([np.pad(b, (taps - b.size) // 2) for b in bands])

#----------------------------------------------------------------------------
# Batched matrices.

def _matrix(*rows):
    """Matrices [..., n, n] from n rows of [...] tensors and numbers. The numbers make a constant matrix and each
    tensor lands on its entry through a 0/1 basis: one stack and one addmm, where stacking every entry row by row
    took n + 1 stacks of mostly broadcast constants (the pipe runs in every pass of D). Exact: one entry and zeros per
    sum."""
    entries = [v for row in rows for v in row]
    slots = [i for i, v in enumerate(entries) if isinstance(v, torch.Tensor)]
    ref = entries[slots[0]]
    const = misc.constant([0 if i in slots else v for i, v in enumerate(entries)], dtype=ref.dtype, device=ref.device)
    basis = misc.constant(np.eye(len(entries))[slots], dtype=ref.dtype, device=ref.device)
    values = torch.stack([entries[i].expand(ref.shape) for i in slots], dim=-1)
    return torch.addmm(const, values.flatten(0, -2), basis).reshape(*ref.shape, len(rows), len(rows))

def _product(m):
    """m[:, 0] @ m[:, 1] @ ... @ m[:, k - 1], [B, n, n], of matrices m [B, k, n, n]: neighbours multiplied pairwise
    in one batched matmul per level, log2(k) of them where a chain takes k - 1."""
    while m.shape[1] > 1:
        even = m.shape[1] // 2 * 2
        pairs = m[:, 0:even:2] @ m[:, 1:even:2]
        m = torch.cat([pairs, m[:, even:]], dim=1) if even < m.shape[1] else pairs
    return m[:, 0]

def _luma_basis(device):
    """I, [v]x and v v^T (each flattened to 9 entries; float64 [3, 9]) for the unit luma axis v = (1, 1, 1) / sqrt(3).
    Every colour op's linear part is a combination of the three, and so is every product of them (they commute)."""
    cross = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]]) / np.sqrt(3)
    basis = np.stack([np.eye(3), cross, np.full([3, 3], 1 / 3)]).reshape(3, 9)
    return misc.constant(basis, dtype=torch.float64, device=device)

def _per_slot(count, device, **values):
    """A float64 constant [count] of the ops' slots: the value given as s<i> in slot i, zero in the others."""
    return misc.constant([values.get(f's{i}', 0) for i in range(count)], dtype=torch.float64, device=device)

def _warps(G_inv):
    """[B] bool: the images that G_inv [B, 3, 3] moves (not the identity)."""
    return (G_inv != torch.eye(3, dtype=G_inv.dtype, device=G_inv.device)).flatten(1).any(dim=1)

# The displacement, in pixels, of an image upsampled 2x with SYM6 (the centroid's offset from the filter's centre, in
# the output's pixels); downsampling with the reversed filter displaces it as much again.
DELAY = (np.dot(SYM6, np.arange(len(SYM6))) / np.sum(SYM6) - (len(SYM6) - 1) / 2) / 2

# The pipelines of train.py's --augpipe. 'bgc' (blit, geometric, colour) is the original's and the default; 'bg'
# leaves out the colour transforms, which change what the time labels describe (an hour's light, a day's haze).
BG = dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1)
BGC = dict(BG, brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
PIPES = dict(bgc=BGC, bg=BG)

#----------------------------------------------------------------------------

@persistence.persistent_class
class AugmentPipe(torch.nn.Module):
    def __init__(self,
        xflip=0, rotate90=0, xint=0, xint_max=0.125,                                # Pixel blitting.
        scale=0, rotate=0, aniso=0, xfrac=0,                                        # General geometric.
        scale_std=0.2, rotate_max=1, aniso_std=0.2, xfrac_std=0.125,
        brightness=0, contrast=0, lumaflip=0, hue=0, saturation=0,                  # Colour.
        brightness_std=0.2, contrast_std=0.5, hue_max=1, saturation_std=1,
        imgfilter=0, imgfilter_bands=(1, 1, 1, 1), imgfilter_std=1,                 # Image-space filtering.
        noise=0, cutout=0, noise_std=0.1, cutout_size=0.5,                          # Corruptions.
    ):
        super().__init__()
        self.register_buffer('p', torch.ones([])) # Overall probability multiplier, adapted by the training loop.

        # Strengths (multipliers of p) and magnitudes, as in the ADA paper.
        self.xflip, self.rotate90, self.xint, self.xint_max = float(xflip), float(rotate90), float(xint), float(xint_max)
        self.scale, self.rotate, self.aniso, self.xfrac = float(scale), float(rotate), float(aniso), float(xfrac)
        self.scale_std, self.rotate_max = float(scale_std), float(rotate_max)
        self.aniso_std, self.xfrac_std = float(aniso_std), float(xfrac_std)
        self.brightness, self.contrast, self.lumaflip = float(brightness), float(contrast), float(lumaflip)
        self.hue, self.saturation = float(hue), float(saturation)
        self.brightness_std, self.contrast_std = float(brightness_std), float(contrast_std)
        self.hue_max, self.saturation_std = float(hue_max), float(saturation_std)
        self.imgfilter, self.imgfilter_bands, self.imgfilter_std = float(imgfilter), list(imgfilter_bands), float(imgfilter_std)
        self.noise, self.cutout, self.noise_std, self.cutout_size = float(noise), float(cutout), float(noise_std), float(cutout_size)
        if len(self.imgfilter_bands) != len(BAND_POWER):
            raise ValueError(f'imgfilter_bands needs {len(BAND_POWER)} strengths, got {imgfilter_bands!r}')

        self.register_buffer('Hz_geom', upfirdn2d.setup_filter(SYM6))        # Resampling low-pass filter.
        self.register_buffer('Hz_fbank', torch.as_tensor(band_filters(SYM2), dtype=torch.float32)) # Filter bank.

    def _draw(self, prob, values, identity):
        """values [B, ...] for the images an op touches (each with probability prob), `identity` for the others."""
        mask = torch.rand([values.shape[0]], device=values.device) < prob
        return torch.where(mask.reshape([-1] + [1] * (values.ndim - 1)), values, identity)

    def forward(self, images, fixed_padding=False):
        """Augmented images. fixed_padding: pad by the most that can be needed and always warp, instead of reading
        back from the GPU how much padding this batch needs (CUDA graphs cannot wait for the GPU)."""
        if not (isinstance(images, torch.Tensor) and images.ndim == 4 and images.is_floating_point()):
            raise ValueError(f'AugmentPipe expects float images [B, C, H, W], got {getattr(images, "shape", type(images))}')
        images = self._geometric(images, fixed_padding)
        images = self._colour(images)
        images = self._filter(images)
        return self._corrupt(images)

    #------------------------------------------------------------------------
    # Geometric ops.

    def _geometric(self, images, fixed_padding):
        B, _C, H, W = images.shape
        if max(self.xflip, self.rotate90, self.xint, self.scale, self.rotate, self.aniso, self.xfrac) == 0:
            return images
        G_inv = self._geometric_inverse(B, H, W, images.device)
        return self._resample(images, G_inv, changed=_warps(G_inv), fixed_padding=fixed_padding)

    def _geometric_inverse(self, B, H, W, device):
        """G_inv [B, 3, 3], float64: output pixel coordinates (origin at the image centre) to input ones.

        The eight ops fill eight slots, in the order in which they apply to the image: x-flip, 90-degree rotation,
        integer translation, scaling, rotation, anisotropic scaling, rotation, fractional translation. Each slot's
        inverse is R(phi) S(sx, sy) plus a translation (tx, ty), identity where the op does not happen, and G_inv is
        their product, slot 0 on the left. All slots are drawn at once from one array of each kind of random number,
        in a few dozen operations for the whole batch (one op at a time took about 130; the pipe runs in every
        pass of D)."""
        f64 = dict(dtype=torch.float64, device=device)
        per_slot = lambda **values: _per_slot(8, device, **values)
        # Rotation comes twice, around the anisotropic scaling; each with a probability such that at least one of
        # them happens with probability rotate * p.
        prob = self.p.to(torch.float64) * per_slot(s0=self.xflip, s1=self.rotate90, s2=self.xint, s3=self.scale,
            s4=self.rotate, s5=self.aniso, s6=self.rotate, s7=self.xfrac)
        prob = torch.where(per_slot(s4=1, s6=1) > 0, 1 - (1 - prob).clamp(0, 1).sqrt(), prob)
        u = torch.rand([3, B, 8], **f64)  # whether each op happens, its first and second uniform values
        n = torch.randn([2, B, 8], **f64) # its first and second normal values

        sign_x = 1 - 2 * torch.floor(u[1] * 2) * per_slot(s0=1)
        log2_sx = n[0] * per_slot(s3=-self.scale_std, s5=-self.aniso_std)
        log2_sy = n[0] * per_slot(s3=-self.scale_std, s5=self.aniso_std)
        angle = -np.pi * self.rotate_max
        phi = torch.floor(u[1] * 4) * per_slot(s1=-np.pi / 2) + (u[1] * 2 - 1) * per_slot(s4=angle, s6=angle)
        tx = torch.round((u[1] * 2 - 1) * per_slot(s2=self.xint_max * W)) + n[0] * per_slot(s7=self.xfrac_std * W)
        ty = torch.round((u[2] * 2 - 1) * per_slot(s2=self.xint_max * H)) + n[1] * per_slot(s7=self.xfrac_std * H)
        params = torch.stack([sign_x * torch.exp2(log2_sx), torch.exp2(log2_sy), phi, -tx, -ty], dim=-1)
        params = torch.where((u[0] < prob)[..., None], params, misc.constant([1, 1, 0, 0, 0], **f64)) # [B, 8, 5]

        sx, sy, phi, tx, ty = params.unbind(-1)
        c, s = torch.cos(phi), torch.sin(phi)
        return _product(_matrix([sx * c, -sy * s, tx], [sx * s, sy * c, ty], [0, 0, 1]))

    def padding_needed(self, G_inv, H, W):
        """[pl, pt, pr, pb, any warped] on the device: the reflect padding that covers the input area seen by the
        corners of the extended output, plus the reach of the upsampling filter and of bilinear sampling, at most the
        reflection's limit (W - 1, H - 1), which is what fixed padding always pads by; and whether any G_inv is not the
        identity."""
        m = self.Hz_geom.numel() // 4
        cx, cy = W / 2 + m, H / 2 + m
        corners = misc.constant([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], dtype=G_inv.dtype, device=G_inv.device)
        xy = (G_inv[:, None, :2, :] * corners[None, :, None, :]).sum(-1) # [B, 4, 2] input coordinates
        half = misc.constant([W / 2, H / 2], dtype=G_inv.dtype, device=G_inv.device)
        need = torch.cat([-xy.amin(dim=(0, 1)) - half, xy.amax(dim=(0, 1)) - half]) + 2 * m
        limit = misc.constant([W - 1, H - 1, W - 1, H - 1], dtype=G_inv.dtype, device=G_inv.device)
        return torch.cat([torch.minimum(need.ceil().clamp(min=0), limit), _warps(G_inv).any()[None].to(need.dtype)])

    def _resample(self, images, G_inv, changed, fixed_padding):
        """Warp images by G_inv where `changed`; other images pass through untouched."""
        B, _C, H, W = images.shape
        f = self.Hz_geom
        m = f.numel() // 4 # Margin (output pixels) that the downsampling filter reads beyond the image.

        pl, pt, pr, pb = W - 1, H - 1, W - 1, H - 1 # The reflection's limit: the fixed padding.
        if not fixed_padding: # One host sync decides the padding, and whether to warp at all.
            stats = self.padding_needed(G_inv, H, W).tolist()
            if not stats[4]:
                return images
            pl, pt, pr, pb = [int(v) for v in stats[:4]]

        # Sample the 2x output with its margin. The even-length filter is not symmetric: upsampling displaces the
        # image by DELAY pixels, and so does the reversed filter when downsampling; both are undone around the warp,
        # so that mirrored and rotated images come out unshifted. Output sample (j, i) sits at output coordinates
        # (ox[j], oy[i]); G_inv takes them to input ones, and `norm` to the [-1, 1] coordinates of the padded input
        # that grid_sample expects (align_corners=False: -1 and 1 are the outer edges). That map is affine, so the
        # grid is a row term plus a column term: made in float64 at the size of one row and one column, summed at
        # full size in the images' precision. reflect_warp pads, upsamples 2x with f and samples that grid in one op
        # (on the GPU without building the padded image).
        dtype, device = G_inv.dtype, G_inv.device
        ox = misc.constant((np.arange(2 * (W + 2 * m)) + 0.5) / 2 - m - W / 2 - DELAY, dtype=dtype, device=device)
        oy = misc.constant((np.arange(2 * (H + 2 * m)) + 0.5) / 2 - m - H / 2 - DELAY, dtype=dtype, device=device)
        sx, sy = 2 / (W + pl + pr), 2 / (H + pt + pb)
        norm = [[sx, 0, sx * (DELAY + W / 2 + pl) - 1], [0, sy, sy * (DELAY + H / 2 + pt) - 1], [0, 0, 1]]
        # The fixed padding's map is a cached constant; a measured padding's changes from batch to batch.
        norm = (misc.constant if fixed_padding else torch.tensor)(norm, dtype=dtype, device=device)
        theta = (norm @ G_inv)[:, :2] # [B, 2 (x, y), 3]
        rows = torch.addcmul(theta[:, :, 2:], theta[:, :, 0:1], ox).to(images.dtype) # [B, 2, 2W + 4m]
        cols = (theta[:, :, 1:2] * oy).to(images.dtype)                                # [B, 2, 2H + 4m]
        x = reflect_warp.reflect_warp(images, f, rows, cols, [pl, pr, pt, pb])

        # The reversed filter makes the up/down pair zero-phase.
        x = upfirdn2d.downsample2d(x, f, down=2, padding=-2 * m, flip_filter=True)
        return torch.where(changed[:, None, None, None], x, images)

    #------------------------------------------------------------------------
    # Colour ops.

    def _colour(self, images):
        B, C, _H, _W = images.shape
        if max(self.brightness, self.contrast, self.lumaflip, self.hue, self.saturation) == 0:
            return images
        if C not in (1, 3):
            raise ValueError(f'AugmentPipe colour ops need 1 or 3 channels, got {C}')
        L, t = self._colour_transform(B, images.device)
        L, t = L.to(images.dtype), t.to(images.dtype)
        # Elementwise products rather than matmul, so TF32 never rounds and the identity stays exact.
        if C == 1: # Grey as (y, y, y); the result's channel mean.
            return images * L.sum(2).mean(1)[:, None, None, None] + t.mean(1)[:, None, None, None]
        return (L[:, :, :, None, None] * images[:, None]).sum(2) + t[:, :, None, None]

    def _colour_transform(self, B, device):
        """(L [B, 3, 3], t [B, 3]), float64: the colour ops take each pixel's RGB x to L x + t.

        Five slots, in the order in which they apply: brightness, contrast, luma flip, hue, saturation. Each op's
        linear part is a I + b [v]x + c v v^T for the unit luma axis v: contrast scales, luma flip mirrors along v,
        hue rotates about v (Rodrigues), saturation scales away from v. Brightness, first, adds d (1, 1, 1). All slots
        are drawn at once, as the geometric ones are."""
        f64 = dict(dtype=torch.float64, device=device)
        per_slot = lambda **values: _per_slot(5, device, **values)
        prob = self.p.to(torch.float64) * per_slot(s0=self.brightness, s1=self.contrast, s2=self.lumaflip, s3=self.hue,
            s4=self.saturation)
        u = torch.rand([2, B, 5], **f64)  # whether each op happens, its uniform value
        n = torch.randn([B, 5], **f64)    # its normal value

        scale = torch.exp2(n * per_slot(s1=self.contrast_std, s4=self.saturation_std)) # contrast, saturation
        theta = (u[1] * 2 - 1) * per_slot(s3=np.pi * self.hue_max)
        flip = torch.floor(u[1] * 2) * per_slot(s2=1)
        cos, sin = torch.cos(theta), torch.sin(theta)
        coef = torch.stack([scale * cos, sin, (1 - cos) - 2 * flip + (1 - scale) * per_slot(s4=1),
            n * per_slot(s0=self.brightness_std)], dim=-1)
        coef = torch.where((u[0] < prob)[..., None], coef, misc.constant([1, 0, 0, 0], **f64)) # [B, 5, (a, b, c, d)]

        L = _product((coef[..., :3] @ _luma_basis(device)).unflatten(-1, [3, 3])) # in any order: they commute
        return L, coef[:, 0, 3:] * L.sum(2) # brightness goes through the other ops: L (d, d, d)

    #------------------------------------------------------------------------
    # Image-space filtering: amplify or attenuate each octave band, keeping the expected image energy.

    def _filter(self, images):
        B, C, H, W = images.shape
        if self.imgfilter == 0:
            return images
        bank = self.Hz_fbank.to(torch.float64)
        taps = bank.shape[1]
        if min(H, W) <= taps // 2:
            raise ValueError(f'AugmentPipe imgfilter needs images larger than {taps // 2} pixels, got {W}x{H}')
        power = misc.constant(BAND_POWER, dtype=bank.dtype, device=bank.device)
        gains = torch.ones([B, len(BAND_POWER)], dtype=torch.float64, device=images.device)
        changed = torch.zeros([B], dtype=torch.bool, device=images.device)
        for band, strength in enumerate(self.imgfilter_bands):
            if strength == 0:
                continue
            randn = torch.randn([B], dtype=torch.float64, device=images.device)
            t_band = self._draw(self.imgfilter * strength * self.p, torch.exp2(randn * self.imgfilter_std), 1)
            t = torch.ones_like(gains)
            t[:, band] = t_band
            gains = gains * t / (t.square() * power).sum(dim=1, keepdim=True).sqrt()
            changed = changed | (t_band != 1)

        # One separable filter per image, applied per channel with reflect padding.
        w = (gains[:, :, None] * bank[None]).sum(dim=1).to(images.dtype).repeat_interleave(C, dim=0) # [B*C, taps]
        x = F.pad(images.reshape(1, B * C, H, W), [taps // 2] * 4, mode='reflect')
        x = F.conv2d(x, w[:, None, None, :], groups=B * C)
        x = F.conv2d(x, w[:, None, :, None], groups=B * C)
        return torch.where(changed[:, None, None, None], x.reshape(B, C, H, W), images)

    #------------------------------------------------------------------------
    # Corruptions: additive Gaussian noise, cutout.

    def _corrupt(self, images):
        B, _C, H, W = images.shape
        if self.noise > 0:
            sigma = torch.randn([B], device=images.device).abs() * self.noise_std
            sigma = self._draw(self.noise * self.p, sigma, 0).to(images.dtype)
            images = images + torch.randn_like(images) * sigma[:, None, None, None]
        if self.cutout > 0: # Zero a square of side cutout_size (relative to the image) at a uniform centre.
            size = self._draw(self.cutout * self.p, torch.full([B], self.cutout_size, device=images.device), 0)
            centre = torch.rand([B, 2], device=images.device)
            x = (torch.arange(W, device=images.device) + 0.5) / W
            y = (torch.arange(H, device=images.device) + 0.5) / H
            keep_x = (x[None, :] - centre[:, 0:1]).abs() >= size[:, None] / 2 # [B, W]
            keep_y = (y[None, :] - centre[:, 1:2]).abs() >= size[:, None] / 2 # [B, H]
            keep = keep_x[:, None, :] | keep_y[:, :, None]
            images = images * keep[:, None].to(images.dtype)
        return images

#----------------------------------------------------------------------------

safe_pickle.register_safe_class(AugmentPipe)

#----------------------------------------------------------------------------
