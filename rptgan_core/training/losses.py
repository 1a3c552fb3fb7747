"""The paper's losses (section 4.2), with optional L1 and perceptual terms.

Generator: MSE reconstruction plus the adversarial term, which is the
discriminator's own loss turned round: its real/fake BCE with the fake
labelled real, and its identity CE on the fake labelled with the source
person (so the generated person must stay recognisable).
Discriminator: BCE real/fake on real targets and generated images, plus CE
identity on real targets.

Images are (B, 3, H, W) in [-1, 1]; identity labels are int64 with -1 for a
person the identity head does not know (ignored).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from ..errors import RptganError
from ..files import load_weights, read_safetensors
from ..networks.encoders import IMAGENET_MEAN, IMAGENET_STD
from ..networks.flow_generator import warp
from ..pose import soft_body_mask


@dataclass(frozen=True)
class LossConfig:
    """Loss weights. ``perceptual_weights`` is a local VGG-19 .safetensors file
    (a torchvision ``vgg19`` state dict), needed only when ``perceptual`` > 0."""

    mse: float = 1.0
    adversarial: float = 0.01
    identity: float = 0.01  # generator side: CE of the fake against the source identity
    discriminator_identity: float = 1.0
    l1: float = 0.0
    perceptual: float = 0.0
    perceptual_weights: str | None = None
    warp: float = 0.0  # flow generator: L1 of the warped source against the target, at every flow's scale
    body: float = 0.0  # L1 averaged over the target pose's body only (see ``body_l1``)
    # flow generator: L1 of the decoder's own picture, before it is blended with the warped
    # source, so the decoder learns even where the blend leans on the warp
    painted: float = 0.0
    # flow generator with a keypoint prior: the size of the learned correction to the prior on
    # the target's limbs (``limb_correction_size``), where the prior is exact for a rigid limb
    limb_correction: float = 0.0


class LossWeightsError(RptganError, RuntimeError):
    """A loss needs a weight file that is missing or unreadable."""


class PerceptualLoss(nn.Module):
    """Mean L1 distance between VGG-19 relu1_1..relu4_1 features, frozen; weights from a local file only."""

    _STAGES = (2, 7, 12, 21)  # indices just after relu1_1, relu2_1, relu3_1, relu4_1 in vgg19.features

    def __init__(self, weights: str | os.PathLike) -> None:
        super().__init__()
        path = os.fspath(weights)
        if not os.path.isfile(path):
            raise LossWeightsError(f"perceptual loss: VGG-19 weight file not found: {path}")
        if not path.endswith(".safetensors"):
            raise LossWeightsError(f"perceptual loss: {path} must be a .safetensors file (pickles are not loaded)")
        # VGG-19's convolutional layers only: its classifier would be 120M parameters never used.
        features = make_layers(cfgs["E"])[: self._STAGES[-1]]
        try:
            state = read_safetensors(path)
        except Exception as error:  # safetensors' own error types
            raise LossWeightsError(f"perceptual loss: {path} is not readable safetensors: {error}") from None
        load_weights(features, state, f"perceptual loss: {path}", "a torchvision VGG-19 state dict", LossWeightsError,
                     name_in_file=lambda key: f"features.{key}")
        self.features = features.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> "PerceptualLoss":
        return super().train(False)

    def forward(self, generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = ((generated + 1) / 2 - self.mean) / self.std
        y = ((target + 1) / 2 - self.mean) / self.std
        loss = generated.new_zeros(())
        start = 0
        for stop in self._STAGES:
            block = self.features[start:stop]
            x, y = block(x), block(y)
            loss = loss + F.l1_loss(x, y)
            start = stop
        return loss / len(self._STAGES)


def _identity_ce(logits: torch.Tensor | None, identity: torch.Tensor) -> torch.Tensor | None:
    if logits is None or not (identity >= 0).any():
        return None
    return F.cross_entropy(logits.float(), identity, ignore_index=-1)


def generator_loss(generated: torch.Tensor, target: torch.Tensor, fake_logits: torch.Tensor,
                   fake_identity_logits: torch.Tensor | None, identity: torch.Tensor, config: LossConfig,
                   perceptual: PerceptualLoss | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Total generator loss and its named parts (floats, for logging)."""
    parts: dict[str, torch.Tensor] = {"g_mse": F.mse_loss(generated.float(), target.float())}
    total = config.mse * parts["g_mse"]
    parts["g_adv"] = F.binary_cross_entropy_with_logits(fake_logits.float(),
                                                        torch.ones_like(fake_logits, dtype=torch.float32))
    total = total + config.adversarial * parts["g_adv"]
    identity_ce = _identity_ce(fake_identity_logits, identity)
    if identity_ce is not None and config.identity > 0:
        parts["g_id"] = identity_ce
        total = total + config.identity * identity_ce
    if config.l1 > 0:
        parts["g_l1"] = F.l1_loss(generated.float(), target.float())
        total = total + config.l1 * parts["g_l1"]
    if config.perceptual > 0:
        if perceptual is None:
            raise LossWeightsError("the perceptual loss weight is set but no VGG-19 weight file was given "
                                   "(loss.perceptual_weights)")
        parts["g_perceptual"] = perceptual(generated.float(), target.float())
        total = total + config.perceptual * parts["g_perceptual"]
    return total, {name: float(value.detach()) for name, value in parts.items()}


def warp_loss(source: torch.Tensor, target: torch.Tensor, flows: list[torch.Tensor]) -> torch.Tensor:
    """Mean over ``flows`` of L1(source warped by the flow, target), both area-resized to the flow's size.

    It teaches the flow to fetch, for each target pixel, the source pixel that
    looks like it, which the final L1 alone teaches slowly through the decoder.
    Images in [-1, 1]; flows (B, 2, h, w) as ``networks.flow_generator.warp`` takes them.
    """
    total = source.new_zeros((), dtype=torch.float32)
    for flow in flows:
        size = flow.shape[-2:]
        small_source = source if source.shape[-2:] == size else F.interpolate(source, size=size, mode="area")
        small_target = target if target.shape[-2:] == size else F.interpolate(target, size=size, mode="area")
        total = total + F.l1_loss(warp(small_source, flow).float(), small_target.float())
    return total / len(flows)


def body_l1(generated: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L1 averaged over the pixels of ``mask`` (B, 1, H, W) in [0, 1], the target's body.

    Most of a person image is background and parts that stay put, so a whole-image
    L1 spends little of its gradient where the limbs moved; this term gives the body
    a weight of its own, whatever its share of the picture.
    """
    weight = mask.float()
    difference = (generated.float() - target.float()).abs().mean(dim=1, keepdim=True)
    return (difference * weight).sum() / weight.sum().clamp_min(1.0)


def limb_correction_size(correction: torch.Tensor, keypoints: torch.Tensor) -> torch.Tensor:
    """Mean |dx| + |dy|, in pixels, of the learned correction to the keypoint prior over the target's limbs.

    The prior maps each limb of the target onto the same limb of the source, which
    is exact for a rigid limb; a learned correction there mostly moves a thin limb
    by the blur of a flow computed at 1/4 scale, or drags in what lies beside it.
    The torso and the background are left free: the places a limb left need large
    corrections to fetch what was behind it. L1, so the correction may still be
    large where it pays.

    Args:
        correction: (B, 2, H, W) in normalised grid units (the generator's ``correction`` part).
        keypoints: (B, 18, 3) target keypoints in pixels of the H x W canvas.
    """
    height, width = correction.shape[-2:]
    pixels = correction.float().abs() * correction.new_tensor([width / 2, height / 2], dtype=torch.float32).view(
        1, 2, 1, 1)
    limbs = soft_body_mask(keypoints, height, width, torso=False).to(correction.device)
    return (pixels.sum(1, keepdim=True) * limbs).sum() / limbs.sum().clamp_min(1.0)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_identity_logits: torch.Tensor | None,
                       identity: torch.Tensor, config: LossConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """BCE real/fake (real targets 1, generated 0) + CE identity of the real targets."""
    real = F.binary_cross_entropy_with_logits(real_logits.float(), torch.ones_like(real_logits, dtype=torch.float32))
    fake = F.binary_cross_entropy_with_logits(fake_logits.float(), torch.zeros_like(fake_logits, dtype=torch.float32))
    parts = {"d_real": real, "d_fake": fake}
    total = real + fake
    identity_ce = _identity_ce(real_identity_logits, identity)
    if identity_ce is not None and config.discriminator_identity > 0:
        parts["d_id"] = identity_ce
        total = total + config.discriminator_identity * identity_ce
    return total, {name: float(value.detach()) for name, value in parts.items()}


def build_perceptual(config: LossConfig) -> PerceptualLoss | None:
    """The perceptual loss module when the config asks for it."""
    if config.perceptual <= 0:
        return None
    if not config.perceptual_weights:
        raise LossWeightsError("loss.perceptual > 0 needs loss.perceptual_weights: a local VGG-19 .safetensors file "
                               "(torchvision vgg19 state dict); nothing is downloaded")
    return PerceptualLoss(config.perceptual_weights)
