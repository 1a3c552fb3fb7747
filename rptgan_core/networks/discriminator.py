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

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        features = self.features(image)
        identity = self.identity(features) if self.identity is not None else None
        return self.real_fake(features).squeeze(1), identity
