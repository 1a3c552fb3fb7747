"""The flow generator: source image and both poses in, source features moved to the target pose.

The paper's generator sees the source only through stride-8 features and never
sees the source pose, so it has to guess where each body part is. This one
follows the field's remedy (GFLA, DPTN) with plain PyTorch operations only:

1. A source encoder reads the source image with its own pose maps; a pose
   encoder reads the target pose maps. Both give features at 1/2, 1/4 and 1/8.
2. A flow head at 1/8 predicts, for every target pixel, where in the source to
   look; it is refined at 1/4 (and at 1/2 with ``flow_refinements=2``) and
   upsampled to full size.
3. Source features at every scale and the source image itself are warped with
   ``grid_sample``; the decoder starts from the warped 1/8 features and the target
   pose, and takes the warped 1/4 and 1/2 features as skip connections.
4. The output blends the warped source image (texture the source shows) with the
   decoder's own painting (what the source does not show) by a predicted mask.

Flows are offsets in normalised [-1, 1] grid units, so the same field applies
at every scale after a bilinear resize. The flow heads start at zero, so training
starts from the identity warp.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..pose.render import pose_heatmaps
from .layers import conv_norm_relu, up_norm_relu


class ResidualBlock(nn.Module):
    """Two 3x3 convs with a skip: (B, C, h, w) -> (B, C, h, w)."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_norm_relu(channels, channels, norm),
                                  nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


def _pyramid(in_channels: int, widths: tuple[int, ...], norm: str) -> nn.ModuleList:
    """One stride-2 conv stage (and a 3x3 conv) per width: features at 1/2, 1/4, 1/8."""
    stages, previous = [], in_channels
    for width in widths:
        stages.append(nn.Sequential(conv_norm_relu(previous, width, norm, stride=2), conv_norm_relu(width, width, norm)))
        previous = width
    return nn.ModuleList(stages)


def identity_grid(batch: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 2) sampling grid that leaves an image unchanged (align_corners=False)."""
    ys = (torch.arange(height, device=like.device, dtype=like.dtype) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, device=like.device, dtype=like.dtype) + 0.5) / width * 2 - 1
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
    return grid.unsqueeze(0).expand(batch, -1, -1, -1)


def warp(features: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``features`` (B, C, h, w) at identity + ``flow`` (B, 2, h', w'), resized to (h', w') first
    if needed; flow is (dx, dy) in normalised grid units. Returns (B, C, h', w')."""
    batch, _, height, width = flow.shape
    grid = identity_grid(batch, height, width, flow) + flow.permute(0, 2, 3, 1)
    return F.grid_sample(features, grid.to(features.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(flow, size=size, mode="bilinear", align_corners=False)


def _zero_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class FlowPoseTransferGenerator(nn.Module):
    """G(source image, target pose maps, source pose maps) -> generated image.

    Config fields used: ``conv_encoder_channels`` (source encoder widths at 1/2,
    1/4, 1/8), ``pose_channels`` (target pose encoder widths, same scales),
    ``generator_channels`` (width at 1/8), ``num_res_blocks`` (residual blocks
    in the flow head and again in the decoder's 1/8 trunk), ``decoder_channels``
    (decoder widths at 1/4, 1/2 and full size), ``flow_refinements`` (1: the
    flow is refined at 1/4; 2: at 1/4 and 1/2), ``norm``, ``upsample``.

    Forward:
        source: (B, 3, H, W) in [-1, 1].
        pose_maps: (B, 18, H, W) in [0, 1], the target pose.
        source_pose_maps: (B, 18, H, W) in [0, 1], the source image's own pose.
        return_flows: also return the flows, finest first, (B, 2, h, w) at
            full size, 1/2, 1/4 and 1/8 (for the training losses and for pictures).
    Returns:
        (B, 3, H, W) in [-1, 1], or (that, flows).
    """

    uses_source_pose = True

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        norm, width = config.norm, config.generator_channels
        keypoints = config.num_keypoints
        source_widths, pose_widths = config.conv_encoder_channels, config.pose_channels
        self.source_encoder = _pyramid(3 + keypoints, source_widths, norm)
        self.pose_encoder = _pyramid(keypoints, pose_widths, norm)
        coarse = source_widths[-1] + pose_widths[-1]
        self.flow_trunk = nn.Sequential(conv_norm_relu(coarse, width, norm),
                                        *(ResidualBlock(width, norm) for _ in range(config.num_res_blocks)))
        self.flow_coarse = _zero_conv(width, 2)
        middle = source_widths[1] + pose_widths[1] + 2
        self.flow_refine = nn.Sequential(conv_norm_relu(middle, source_widths[1], norm),
                                         conv_norm_relu(source_widths[1], source_widths[1], norm),
                                         _zero_conv(source_widths[1], 2))
        fine = source_widths[0] + pose_widths[0] + 2
        self.flow_refine_half = nn.Sequential(conv_norm_relu(fine, source_widths[0], norm),
                                              conv_norm_relu(source_widths[0], source_widths[0], norm),
                                              _zero_conv(source_widths[0], 2)) if config.flow_refinements > 1 else None
        self.decoder_in = nn.Sequential(conv_norm_relu(coarse, width, norm),
                                        *(ResidualBlock(width, norm) for _ in range(config.num_res_blocks)))
        d = config.decoder_channels
        self.up = nn.ModuleList([
            up_norm_relu(width, d[0], norm, config.upsample),
            up_norm_relu(d[0], d[1], norm, config.upsample),
            up_norm_relu(d[1], d[2], norm, config.upsample),
        ])
        self.merge = nn.ModuleList([
            conv_norm_relu(d[0] + source_widths[1] + pose_widths[1], d[0], norm),
            conv_norm_relu(d[1] + source_widths[0] + pose_widths[0], d[1], norm),
        ])
        self.to_image = nn.Conv2d(d[2] + 3, 4, 3, padding=1)

    def render_pose(self, keypoints: torch.Tensor) -> torch.Tensor:
        """(B, 18, 3) keypoints in canvas pixels -> (B, 18, H, W) pose maps for ``forward``."""
        height, width = self.config.image_size
        return pose_heatmaps(keypoints, height, width, self.config.pose_sigma)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def forward(self, source: torch.Tensor, pose_maps: torch.Tensor, source_pose_maps: torch.Tensor | None = None,
                return_flows: bool = False) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        expected = (source.shape[0], self.config.num_keypoints, *self.config.image_size)
        if source.dim() != 4 or source.shape[1] != 3 or tuple(source.shape[-2:]) != self.config.image_size:
            raise ValueError(f"source must be (B, 3, {expected[2]}, {expected[3]}), got {tuple(source.shape)}")
        if source_pose_maps is None:
            raise ValueError("this generator needs the source image's own pose (source_pose_maps)")
        for name, maps in (("pose_maps", pose_maps), ("source_pose_maps", source_pose_maps)):
            if tuple(maps.shape) != expected:
                raise ValueError(f"{name} must be {expected}, got {tuple(maps.shape)}")
        s1, s2, s3 = self._encode(self.source_encoder, torch.cat([source, source_pose_maps], dim=1))
        t1, t2, t3 = self._encode(self.pose_encoder, pose_maps)

        flow3 = self.flow_coarse(self.flow_trunk(torch.cat([s3, t3], dim=1)))
        flow2 = resize_flow(flow3, s2.shape[-2:])
        flow2 = flow2 + self.flow_refine(torch.cat([warp(s2, flow2), t2, flow2], dim=1))
        flow1 = resize_flow(flow2, s1.shape[-2:])
        if self.flow_refine_half is not None:
            flow1 = flow1 + self.flow_refine_half(torch.cat([warp(s1, flow1), t1, flow1], dim=1))
        flow0 = resize_flow(flow1, source.shape[-2:])

        x = self.decoder_in(torch.cat([warp(s3, flow3), t3], dim=1))
        x = self.merge[0](torch.cat([self.up[0](x), warp(s2, flow2), t2], dim=1))
        x = self.merge[1](torch.cat([self.up[1](x), warp(s1, flow1), t1], dim=1))
        warped_source = warp(source, flow0)
        out = self.to_image(torch.cat([self.up[2](x), warped_source], dim=1))
        painted, mask = torch.tanh(out[:, :3]), torch.sigmoid(out[:, 3:])
        generated = mask * warped_source + (1 - mask) * painted
        return (generated, [flow0, flow1, flow2, flow3]) if return_flows else generated

    @staticmethod
    def _encode(stages: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in stages:
            x = stage(x)
            features.append(x)
        return features
