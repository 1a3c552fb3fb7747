"""The RPT-GAN discriminator: stacked Conv-ReLU-Pool, then a real/fake head and an identity head."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig

_POOLED_GRID = (4, 4)


class PoseTransferDiscriminator(nn.Module):
    """D(image) -> (real/fake logit, identity logits).

    Forward:
        image: (B, 3, H, W) in [-1, 1].
    Returns:
        real_fake: (B,) logits (real is positive), for binary cross-entropy.
        identity: (B, num_identities) logits for cross-entropy, or None when the
            config has no identity head.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        previous = 3
        for width in config.discriminator_channels:
            # LeakyReLU rather than the paper's plain ReLU: the DCGAN choice, which keeps
            # a gradient flowing to the generator where a ReLU would be dead.
            layers += [nn.Conv2d(previous, width, 3, padding=1), nn.LeakyReLU(0.2, inplace=True), nn.MaxPool2d(2)]
            previous = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(_POOLED_GRID), nn.Flatten())
        flat = previous * _POOLED_GRID[0] * _POOLED_GRID[1]
        self.real_fake = nn.Linear(flat, 1)
        self.identity = nn.Linear(flat, config.num_identities) if config.num_identities else None

    def forward(self, image: torch.Tensor, source: torch.Tensor | None = None,
                pose_maps: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``source`` and ``pose_maps`` are accepted for a uniform interface and ignored, as in the paper."""
        features = self.features(image)
        identity = self.identity(features) if self.identity is not None else None
        return self.real_fake(features).squeeze(1), identity


class PatchDiscriminator(nn.Module):
    """D(image, source, target pose maps) -> (patch real/fake logits, None).

    A PatchGAN with spectral norm, as the field's pose-transfer GANs use: it
    sees the image together with the source it should resemble and the pose it
    should take, so it can fault a wrong person or a wrong pose, not only an
    unreal picture. No identity head.

    Forward:
        image, source: (B, 3, H, W) in [-1, 1]; pose_maps: (B, 18, H, W) in [0, 1].
    Returns:
        ((B, h*w) logits, one per receptive-field patch (real is positive), None).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        sn = nn.utils.parametrizations.spectral_norm
        layers: list[nn.Module] = []
        previous = 3 + 3 + config.num_keypoints
        for width in config.discriminator_channels:
            layers += [sn(nn.Conv2d(previous, width, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
            previous = width
        layers.append(sn(nn.Conv2d(previous, 1, 3, padding=1)))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, source: torch.Tensor | None = None,
                pose_maps: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        if source is None or pose_maps is None:
            raise ValueError("the patch discriminator is conditioned on the source image and the target pose maps")
        return self.net(torch.cat([image, source, pose_maps], dim=1)).flatten(1), None
