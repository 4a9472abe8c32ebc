"""StyleGAN2 loss for the time-conditioned GAN: non-saturating logistic loss, R1 on reals, path-length regulariser,
style mixing that never mixes the time features, D's time head, the time-smoothness penalty, bf16 autocast and
compiled forwards."""

import contextlib
import dataclasses

import numpy as np
import torch

from torch_utils import training_stats
from torch_utils.ops import conv2d_gradfix

#----------------------------------------------------------------------------

@dataclasses.dataclass(eq=False, repr=False) # fields as keyword arguments, as construct_class_by_name passes them
class StyleGAN2Loss:
    """Accumulates the gradients of one phase ('Gmain', 'Greg', 'Gboth', 'Dmain', 'Dreg', 'Dboth') per call.

    G and D are the training modules. `compile=True` runs the first-order passes (Gmain, Dmain) through
    torch.compile'd forwards; the regularisers need double backward, which compiled graphs do not support, so they
    always run eagerly. `bf16=True` runs G and D under bf16 autocast (the penalties are computed in fp32).

    `time_weight > 0` (D built with time_head): D's time head learns to read the times of real images, and G is
    penalised by the squared error of what it reads from G's images, so that every latent draws the hour, the date
    and the trend it was asked for. The head never learns from fakes, which G could otherwise teach to agree.
    Alone, that penalty also rewards G for images whose times are easy to read: the weather that marks a date in
    the data (snow in winter) becomes the only weather of that date, and z stops choosing it (an auxiliary
    classifier's known loss of diversity). `time_twin=True` (D built with time_twin) removes that reward, as the
    twin classifier of TAC-GAN does: a twin head learns the times of G's images, and G's penalty becomes the first
    head's error minus the twin's, which is about the divergence of G's time-given-image from the data's rather than
    how readable G's times are. G gains nothing from a twin error beyond that of a guess (1 per target).

    `time_smooth > 0`: in G's regularisation phase, G pays time_smooth x the RMS change of its image (pooled to 16x16)
    when every slot's time moves by N(0, SMOOTH_STEP x the slot's period) at a fixed latent and noise:
    about an hour of the day, half a month of the year, 1/24 of the trend. The discriminator demands the changes
    that the data make over such a step; what else the times move (the weather, a building that fades out of
    season) costs and nothing pays for it, so it goes. `time_smooth_centred=True` charges only what is each latent's
    own: groups of SMOOTH_GROUP latents share their times and their step, and G pays for each latent's change minus
    its group's mean change. A change that every latent makes alike (the sun's move, the snow of a season) changes
    the images' distribution over the times, which the discriminator judges; one that differs between latents (one
    latent's fog coming with the date, another's going) can keep that distribution, and only the penalty sees it.
    """
    device: torch.device
    G: torch.nn.Module
    D: torch.nn.Module
    augment_pipe: torch.nn.Module = None
    r1_gamma: float = 10
    style_mixing_prob: float = 0
    pl_weight: float = 0
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    pl_no_weight_grad: bool = False
    bf16: bool = False
    compile: bool = False
    sync_free: bool = False
    time_weight: float = 0
    time_twin: bool = False
    time_smooth: float = 0
    time_smooth_centred: bool = False

    SMOOTH_STEP = 1 / 24 # of each slot's period
    SMOOTH_RES = 16      # the resolution at which the change is measured: the weather's and the light's scale
    SMOOTH_GROUP = 4     # latents that share their times and step when centred
    MERGE_MAX = 1 << 24  # values in one augment pipe call that merges batches, e.g. 64 images of 3 x 256²

    def __post_init__(self):
        self.pl_mean = torch.zeros([], device=self.device) # running mean of path lengths; part of the training state
        self.fast_synthesis = torch.compile(self.G.synthesis) if self.compile else self.G.synthesis
        self.fast_D = torch.compile(self.D) if self.compile else self.D
        if self.time_smooth > 0: # made here, not inside a captured CUDA graph
            self.smooth_steps = torch.tensor(self.G.cond_xform.periods, device=self.device) * self.SMOOTH_STEP

    def autocast(self):
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def run_G(self, z, c, update_emas=False, fast=False):
        """Image and ws for latents z and times c. Style mixing swaps the tail of ws only; cs stay per-sample."""
        cs = self.G.cond_xform(c) # [B, num_ws, dims]
        ws = self.G.mapping(z, cs[:, 0], update_emas=update_emas)
        if self.style_mixing_prob > 0:
            with torch.autograd.profiler.record_function('style_mixing'):
                cutoff = torch.randint(1, ws.shape[1], [], device=ws.device)
                cutoff = torch.where(torch.rand([], device=ws.device) < self.style_mixing_prob, cutoff, ws.shape[1])
                mixed = self.G.mapping(torch.randn_like(z), cs[:, 0], update_emas=False)
                keep = torch.arange(ws.shape[1], device=ws.device)[None, :, None] < cutoff
                ws = torch.where(keep, ws, mixed)
        synthesis = self.fast_synthesis if fast else self.G.synthesis
        img = synthesis(ws, cs, update_emas=update_emas)
        return img, ws

    def augment(self, *images):
        """Each batch of images augmented (the time labels never are); as given without a pipe. The pipe augments
        every image on its own, so small batches go through in one call, which launches its hundred-odd small GPU
        operations once for the reals and the fakes of D's phase together. Above MERGE_MAX values a call's own work
        dwarfs its launches, and merging would double the peak memory of the pipe's backward, which works on the padded
        image (at 1024² under CUDA graphs, more than an 80 GB GPU has)."""
        if self.augment_pipe is None:
            return images
        images = [img.to(images[0].dtype) for img in images]
        if sum(img.numel() for img in images) > self.MERGE_MAX:
            return tuple(self.augment_pipe(img, fixed_padding=self.sync_free) for img in images)
        merged = self.augment_pipe(torch.cat(images), fixed_padding=self.sync_free)
        return merged.split([img.shape[0] for img in images])

    def run_D(self, img, c, update_emas=False, fast=False, read_time=False):
        """(D logits, D's reading of the times or None) of (augmented) images; the reading only with read_time."""
        D = self.fast_D if fast else self.D
        if not read_time:
            return D(img, c, update_emas=update_emas), None
        return D(img, c, update_emas=update_emas, return_time=True)

    def time_loss(self, times, c, name, twin=False):
        """time_weight x the squared error of the head's (or the twin's) reading of the times c, per image [B,1];
        reported as Loss/time/NAME unless NAME is None."""
        targets = self.D.cond_xform.targets(c)
        times = times.float()[:, targets.shape[1]:] if twin else times.float()[:, :targets.shape[1]]
        error = (times - targets).square().sum(dim=1, keepdim=True)
        if name is not None:
            training_stats.report(f'Loss/time/{name}', error)
        return error * self.time_weight

    def accumulate_gradients(self, phase, real_img, real_c, gen_z, gen_c, gain):
        if phase not in ('Gmain', 'Greg', 'Gboth', 'Dmain', 'Dreg', 'Dboth'):
            raise ValueError(f'Unknown training phase {phase!r}')
        if self.pl_weight == 0 and self.time_smooth == 0:
            phase = {'Greg': 'none', 'Gboth': 'Gmain'}.get(phase, phase)
        if self.r1_gamma == 0:
            phase = {'Dreg': 'none', 'Dboth': 'Dmain'}.get(phase, phase)

        if phase in ('Gmain', 'Gboth'):
            self._G_main(gen_z, gen_c, gain, fast=(phase == 'Gmain'))
        if phase in ('Greg', 'Gboth') and self.pl_weight > 0:
            self._G_pl(gen_z, gen_c, gain)
        if phase in ('Greg', 'Gboth') and self.time_smooth > 0:
            self._G_smooth(gen_z, gen_c, gain)
        if phase in ('Dmain', 'Dreg', 'Dboth'):
            self._D(phase, real_img, real_c, gen_z, gen_c, gain)

    #------------------------------------------------------------------------
    # One method per loss term; each reports its statistics and runs its own backward pass.

    def _G_main(self, gen_z, gen_c, gain, fast):
        """Non-saturating generator loss softplus(-D(G(z, c), c)), plus the time head's error on G's images."""
        with torch.autograd.profiler.record_function('Gmain_forward'), self.autocast():
            gen_img, _ = self.run_G(gen_z, gen_c, fast=fast)
            gen_img, = self.augment(gen_img)
            gen_logits, gen_times = self.run_D(gen_img, gen_c, fast=fast, read_time=self.time_weight > 0)
        gen_logits = gen_logits.float()
        training_stats.report('Loss/scores/fake', gen_logits)
        training_stats.report('Loss/signs/fake', gen_logits.sign())
        loss = torch.nn.functional.softplus(-gen_logits)
        training_stats.report('Loss/G/loss', loss)
        if gen_times is not None:
            loss = loss + self.time_loss(gen_times, gen_c, 'fake')
            if self.time_twin: # the twin's error is reported by D's phase, which trains it
                guess = self.D.cond_xform.num_targets * self.time_weight
                loss = loss - self.time_loss(gen_times, gen_c, None, twin=True).clamp(max=guess)
        with torch.autograd.profiler.record_function('Gmain_backward'):
            loss.mean().mul(gain).backward()

    def _G_pl(self, gen_z, gen_c, gain):
        """Path-length regulariser on a shrunk batch: |J_w^T y| should stay near its running mean."""
        batch = max(gen_z.shape[0] // self.pl_batch_shrink, 1)
        with torch.autograd.profiler.record_function('Gpl_forward'):
            with self.autocast():
                gen_img, gen_ws = self.run_G(gen_z[:batch], gen_c[:batch])
            gen_img = gen_img.float()
            pl_noise = torch.randn_like(gen_img) / np.sqrt(gen_img.shape[2] * gen_img.shape[3])
            with torch.autograd.profiler.record_function('pl_grads'), conv2d_gradfix.no_weight_gradients(self.pl_no_weight_grad):
                pl_grads = torch.autograd.grad(outputs=[(gen_img * pl_noise).sum()], inputs=[gen_ws], create_graph=True, only_inputs=True)[0]
            pl_lengths = pl_grads.float().square().sum(2).mean(1).sqrt()
            pl_mean = self.pl_mean.lerp(pl_lengths.mean(), self.pl_decay) # in the graph, as in StyleGAN2's definition
            self.pl_mean.copy_(pl_mean.detach())
            pl_penalty = (pl_lengths - pl_mean).square()
            training_stats.report('Loss/pl_penalty', pl_penalty)
            loss = pl_penalty * self.pl_weight
            training_stats.report('Loss/G/reg', loss)
        with torch.autograd.profiler.record_function('Gpl_backward'):
            loss.mean().mul(gain).backward()

    def _G_smooth(self, gen_z, gen_c, gain):
        """The time-smoothness penalty on a shrunk batch: each latent drawn at its times and at times moved a little,
        with the same noise, in one pass; no style mixing."""
        batch = max(gen_z.shape[0] // self.pl_batch_shrink, 1)
        group = self.smooth_group(batch)
        with torch.autograd.profiler.record_function('Gsmooth_forward'):
            c = gen_c[:batch].expand(-1, self.smooth_steps.shape[0]) # one t per slot, then each moved on its own
            step = torch.randn_like(c) * self.smooth_steps
            if group > 1: # the group's first latent's times and step for all of it
                c, step = c[::group].repeat_interleave(group, dim=0), step[::group].repeat_interleave(group, dim=0)
            c = torch.cat([c, c + step])
            with self.autocast():
                cs = self.G.cond_xform(c)
                ws = self.G.mapping(gen_z[:batch].repeat(2, 1), cs[:, 0])
                img = self.G.synthesis(ws, cs, noise_mode='const')
            img = torch.nn.functional.adaptive_avg_pool2d(img.float(), self.SMOOTH_RES)
            diff = img[:batch] - img[batch:]
            if group > 1:
                diff = diff.unflatten(0, [-1, group])
                diff = (diff - diff.mean(dim=1, keepdim=True)).flatten(0, 1)
            # The RMS, not its square: a small drift costs as much per unit as dusk's and dawn's large changes.
            change = diff.square().mean(dim=[1, 2, 3]).add(1e-8).sqrt()
            training_stats.report('Loss/time_smooth', change)
            loss = change * self.time_smooth
        with torch.autograd.profiler.record_function('Gsmooth_backward'):
            loss.mean().mul(gain).backward()

    def smooth_group(self, batch):
        """Latents per group of the centred penalty (1: not centred): SMOOTH_GROUP, or the whole batch if that does not
        divide it."""
        if not self.time_smooth_centred:
            return 1
        if batch < 2:
            raise ValueError('The centred time-smoothness penalty needs two latents or more per micro-batch half')
        return self.SMOOTH_GROUP if batch % self.SMOOTH_GROUP == 0 else batch

    def _D(self, phase, real_img, real_c, gen_z, gen_c, gain):
        """D's phase: the fakes' loss (main phases), then the reals' (each with its own backward pass); the reals and
        the fakes go through the augment pipe in one call. G's forward here also advances its w_avg tracker."""
        real_img = real_img.detach().requires_grad_(phase in ('Dreg', 'Dboth'))
        if phase == 'Dreg':
            with torch.autograd.profiler.record_function('D_augment'), self.autocast():
                real_aug, = self.augment(real_img)
            self._D_real(phase, real_img, real_aug, real_c, gain, None)
            return
        fast = phase == 'Dmain'
        with torch.autograd.profiler.record_function('Dgen_forward'), self.autocast(), torch.no_grad():
            gen_img, _ = self.run_G(gen_z, gen_c, update_emas=True, fast=fast)
        with torch.autograd.profiler.record_function('D_augment'), self.autocast():
            real_aug, gen_aug = self.augment(real_img, gen_img)
        # Detached: under Dboth the pipe's graph leads to the reals, whose R1 differentiates through it later.
        loss_fake = self._D_fake(gen_aug.detach(), gen_c, gain, fast)
        self._D_real(phase, real_img, real_aug, real_c, gain, loss_fake)

    def _D_fake(self, gen_img, gen_c, gain, fast):
        """softplus(D(x, c)) of augmented fakes x, and the twin's error on them (time_twin)."""
        with torch.autograd.profiler.record_function('Dgen_forward'), self.autocast():
            gen_logits, gen_times = self.run_D(gen_img, gen_c, update_emas=True, fast=fast, read_time=self.time_twin)
        gen_logits = gen_logits.float()
        training_stats.report('Loss/scores/fake', gen_logits)
        training_stats.report('Loss/signs/fake', gen_logits.sign())
        loss = torch.nn.functional.softplus(gen_logits)
        loss_D = loss if gen_times is None else loss + self.time_loss(gen_times, gen_c, 'twin', twin=True)
        with torch.autograd.profiler.record_function('Dgen_backward'):
            loss_D.mean().mul(gain).backward()
        return loss.detach()

    def _D_real(self, phase, real_img, real_aug, real_c, gain, loss_fake):
        """softplus(-D(x, c)) on the augmented reals and the time head's error (main phases), and R1 = gamma/2
        |dD/dx|^2, differentiated through the augment pipe back to the reals (reg phases)."""
        name = {'Dmain': 'Dreal', 'Dreg': 'Dr1', 'Dboth': 'Dreal_Dr1'}[phase]
        with torch.autograd.profiler.record_function(name + '_forward'):
            read_time = self.time_weight > 0 and phase in ('Dmain', 'Dboth')
            with self.autocast():
                real_logits, real_times = self.run_D(real_aug, real_c, fast=(phase == 'Dmain'), read_time=read_time)
            real_logits = real_logits.float()
            training_stats.report('Loss/scores/real', real_logits)
            training_stats.report('Loss/signs/real', real_logits.sign())

            loss = torch.zeros([], device=real_logits.device)
            if phase in ('Dmain', 'Dboth'):
                loss_real = torch.nn.functional.softplus(-real_logits)
                training_stats.report('Loss/D/loss', loss_fake + loss_real)
                loss = loss + loss_real
                if real_times is not None:
                    loss = loss + self.time_loss(real_times, real_c, 'real')
            if phase in ('Dreg', 'Dboth'):
                with torch.autograd.profiler.record_function('r1_grads'), conv2d_gradfix.no_weight_gradients():
                    r1_grads = torch.autograd.grad(outputs=[real_logits.sum()], inputs=[real_img], create_graph=True, only_inputs=True)[0]
                r1_penalty = r1_grads.float().square().sum([1, 2, 3])
                loss_r1 = r1_penalty * (self.r1_gamma / 2)
                training_stats.report('Loss/r1_penalty', r1_penalty)
                training_stats.report('Loss/D/reg', loss_r1)
                loss = loss + loss_r1
        with torch.autograd.profiler.record_function(name + '_backward'):
            loss.mean().mul(gain).backward()

#----------------------------------------------------------------------------
