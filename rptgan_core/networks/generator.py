"""The RPT-GAN generator: source-image features + target pose maps -> the person in the target pose."""

from __future__ import annotations

import os

import torch
from torch import nn

from ..config import ModelConfig
from ..pose.render import pose_heatmaps
from .encoders import build_encoder
from .layers import conv_norm_relu, norm_layer, up_norm_relu


class ResidualDownUp(nn.Module):
    """The paper's residual block: stride-2 conv down, transposed conv up, add the input.

    (B, C, h, w) -> (B, C, h, w); h and w must be even.
    """

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.down = conv_norm_relu(channels, channels, norm, kernel=3, stride=2)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1, bias=norm == "none"),
            norm_layer(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.down(x))


class PoseTransferGenerator(nn.Module):
    """G(source image, target pose maps) -> generated image.

    Forward:
        source: (B, 3, H, W) in [-1, 1] at the config's canvas size.
        pose_maps: (B, 18, H, W) in [0, 1], the target pose as Gaussian maps
            (see ``render_pose``).
    Returns:
        (B, 3, H, W) in [-1, 1].

    ``source_pose_maps`` is accepted for a uniform interface with the flow
    generator and ignored: the paper's generator never sees the source pose.
    """

    uses_source_pose = False

    def __init__(self, config: ModelConfig, encoder_weights: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.config = config
        norm, width = config.norm, config.generator_channels
        self.encoder = build_encoder(config, encoder_weights)
        self.image_projection = nn.Conv2d(config.encoder_out_channels, width, 1)
        pose_widths = (config.num_keypoints, *config.pose_channels)
        self.pose_encoder = nn.Sequential(*(
            conv_norm_relu(pose_widths[i], pose_widths[i + 1], norm, kernel=3, stride=2)
            for i in range(len(config.pose_channels))
        ))
        self.fuse = conv_norm_relu(width + config.pose_channels[-1], width, norm, kernel=3)
        self.blocks = nn.Sequential(*(ResidualDownUp(width, norm) for _ in range(config.num_res_blocks)))
        decoder_widths = (width, *config.decoder_channels)
        self.decoder = nn.Sequential(*(
            up_norm_relu(decoder_widths[i], decoder_widths[i + 1], norm, config.upsample)
            for i in range(len(config.decoder_channels))
        ))
        self.to_image = nn.Sequential(nn.Conv2d(config.decoder_channels[-1], 3, 7, padding=3), nn.Tanh())

    def render_pose(self, keypoints: torch.Tensor) -> torch.Tensor:
        """(B, 18, 3) keypoints in canvas pixels -> (B, 18, H, W) pose maps for ``forward``."""
        height, width = self.config.image_size
        return pose_heatmaps(keypoints, height, width, self.config.pose_sigma)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def forward(self, source: torch.Tensor, pose_maps: torch.Tensor,
                source_pose_maps: torch.Tensor | None = None) -> torch.Tensor:
        expected = (self.config.image_height, self.config.image_width)
        if source.dim() != 4 or source.shape[1] != 3 or tuple(source.shape[-2:]) != expected:
            raise ValueError(f"source must be (B, 3, {expected[0]}, {expected[1]}), got {tuple(source.shape)}")
        if pose_maps.shape != (source.shape[0], self.config.num_keypoints, *expected):
            raise ValueError(
                f"pose_maps must be ({source.shape[0]}, {self.config.num_keypoints}, {expected[0]}, {expected[1]}), "
                f"got {tuple(pose_maps.shape)}"
            )
        image_features = self.image_projection(self.encoder(source))
        pose_features = self.pose_encoder(pose_maps)
        trunk = self.blocks(self.fuse(torch.cat([image_features, pose_features], dim=1)))
        return self.to_image(self.decoder(trunk))
