"""The flow generator: source image and both poses in, source features moved to the target pose.

The paper's generator sees the source only through stride-8 features and never
sees the source pose, so it has to guess where each body part is. This one
follows the field's remedy (GFLA, DPTN) with plain PyTorch operations only:

1. A source encoder reads the source image with its own pose maps; a pose
   encoder reads the target pose maps. Both give features at 1/2, 1/4 and 1/8.
2. A flow head at 1/8 predicts, for every target pixel, where in the source to
   look; it is refined at 1/4 (and at 1/2 with ``flow_refinements=2``) and
   upsampled to full size. With ``flow_prior`` each scale's flow starts from the
   flow the keypoints imply (``keypoint_flow``: each limb of the target pose
   mapped onto the same limb of the source by a similarity transform), so a
   limb that moves far only needs correcting, not finding.
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

import math
from typing import Any

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
        stages.append(nn.Sequential(conv_norm_relu(previous, width, norm, stride=2),
                                    conv_norm_relu(width, width, norm)))
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
    # positions and interpolation in float32 whatever the features' dtype: in bfloat16 a
    # position near the border would be rounded by up to a third of a pixel
    flow = flow.float()
    grid = identity_grid(batch, height, width, flow) + flow.permute(0, 2, 3, 1)
    sampled = F.grid_sample(features.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    # back in the features' layout too: a channels-last network would otherwise convert
    # every warped tensor again where it is concatenated with its own features
    layout = torch.channels_last if features.is_contiguous(memory_format=torch.channels_last) \
        and not features.is_contiguous() else torch.contiguous_format
    return sampled.to(features.dtype, memory_format=layout)


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(flow, size=size, mode="bilinear", align_corners=False)


# Segments the keypoint flow maps from target to source: the limbs, neck to nose, and
# the torso's outline and diagonals (OpenPose-18 indices).
PRIOR_SEGMENTS = ((2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (11, 12), (12, 13), (1, 0),
                  (1, 2), (1, 5), (1, 8), (1, 11), (2, 8), (5, 11), (8, 11))
_LIMB_SEGMENTS = 8  # the first eight: upper arms, forearms, thighs, shins
_LIMB_ENDS = (1, 3, 5, 7)  # forearms and shins: the hand and the foot lie beyond their last keypoint
_BACKGROUND_EXPONENT = 2.0  # a pixel two squared reaches from every segment stays where it is


def keypoints_from_maps(maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K, H, W) Gaussian pose maps -> ((B, K, 2) x, y in pixels, (B, K) present), the maps'
    centres found as the mean position under the sharpened map (exact for an untruncated Gaussian)."""
    _, _, height, width = maps.shape
    present = maps.flatten(2).amax(-1) > 0.5
    weights = maps.clamp(min=0).square_().square_()  # the fourth power, in place: maps are full size
    total = weights.sum((2, 3)).clamp_min(1e-12)
    xs = torch.arange(width, device=maps.device, dtype=maps.dtype)
    ys = torch.arange(height, device=maps.device, dtype=maps.dtype)
    x = (weights.sum(2) * xs).sum(-1) / total
    y = (weights.sum(3) * ys).sum(-1) / total
    return torch.stack([x, y], dim=-1), present


def keypoint_flow(source_maps: torch.Tensor, target_maps: torch.Tensor, sizes: list[tuple[int, int]],
                  limb_reach: float = 1 / 20, sharpness: float = 1.0, end_reach: float = 0.0) -> list[torch.Tensor]:
    """The flow the two poses imply, at each of ``sizes``: a list of (B, 2, h, w) in normalised
    grid units, as ``warp`` takes them.

    Each segment of ``PRIOR_SEGMENTS`` present in both poses maps the target's
    segment onto the source's by a similarity (rotation, scale, shift); every
    grid point takes a blend of those maps, weighted by a Gaussian of its
    distance to each target segment, against a fixed weight for staying where
    it is. The Gaussian's width is a twentieth of the image height for the
    torso's segments and ``limb_reach`` of it for the limbs': a limb is much
    thinner than the torso, and a wide reach drags the torso's pixels along
    with a limb that leaves it.

    ``sharpness`` raises every weight, the fixed one included, to that power:
    where a point stays put is unchanged, but the nearest segment takes over
    from its neighbours (16: in effect each point follows one segment, so a
    limb keeps its width instead of being averaged with the torso behind it).
    ``end_reach`` lets a forearm's or shin's map run that share of its length
    past the wrist or ankle without falling off, for the hand and the foot.
    """
    height, width = source_maps.shape[-2:]
    source, source_present = keypoints_from_maps(source_maps.float())
    target, target_present = keypoints_from_maps(target_maps.float())
    a, b = (torch.tensor(index, device=source.device) for index in zip(*PRIOR_SEGMENTS))
    valid = source_present[:, a] & source_present[:, b] & target_present[:, a] & target_present[:, b]
    t0, t1, s0, s1 = target[:, a], target[:, b], source[:, a], source[:, b]  # (B, S, 2)
    vt, vs = t1 - t0, s1 - s0
    valid = valid & (vt.norm(dim=-1) > 1) & (vs.norm(dim=-1) > 1)
    # A grid point p = t0 + along * vt + across * perp(vt), perp(x, y) = (-y, x). The
    # segment's similarity sends it to s0 + along * vs + across * perp(vs), a shift of
    # (s0 - t0) + along * dv + across * perp(dv) with dv = vs - vt; its squared distance
    # to the segment is |vt|^2 ((along - clamp(along, 0, 1))^2 + across^2). along and
    # across are affine in x and y, so every term is built from per-row and per-column
    # pieces: no per-point coordinate tensors.
    length2 = (vt * vt).sum(-1).clamp_min(1.0)  # (B, S); missing segments stay finite (and unused)
    inverse = (1 / length2)[..., None, None]
    d0, dv = s0 - t0, vs - vt
    perp_dv = torch.stack([-dv[..., 1], dv[..., 0]], dim=-1)
    reach = torch.tensor([limb_reach if i < _LIMB_SEGMENTS else 1 / 20 for i in range(len(PRIOR_SEGMENTS))],
                         device=source.device)
    falloff = (sharpness * length2 / (2 * (reach * height) ** 2))[..., None, None]  # (B, S, 1, 1)
    background = math.exp(-_BACKGROUND_EXPONENT * sharpness)
    end = torch.tensor([1 + end_reach if i in _LIMB_ENDS else 1.0 for i in range(len(PRIOR_SEGMENTS))],
                       device=source.device)[None, :, None, None]
    weight_valid = valid.float()
    scale = torch.tensor([2 / width, 2 / height], device=source.device)
    flows = []
    for h, w in sizes:
        gy = (torch.arange(h, device=source.device, dtype=torch.float32) + 0.5) * height / h - 0.5
        gx = (torch.arange(w, device=source.device, dtype=torch.float32) + 0.5) * width / w - 0.5
        rel_x = gx[None, None, None, :] - t0[..., 0, None, None]  # (B, S, 1, w)
        rel_y = gy[None, None, :, None] - t0[..., 1, None, None]  # (B, S, h, 1)
        along = (rel_x * vt[..., 0, None, None] + rel_y * vt[..., 1, None, None]) * inverse  # (B, S, h, w)
        across = (rel_y * vt[..., 0, None, None] - rel_x * vt[..., 1, None, None]) * inverse
        beyond = along - torch.minimum(along.clamp(min=0), end)
        weight = torch.exp(-(beyond * beyond + across * across) * falloff)  # (B, S, h, w)
        weight = weight * weight_valid[..., None, None]
        shift = (torch.einsum("bshw,bsc->bchw", weight, d0) + torch.einsum("bshw,bsc->bchw", weight * along, dv)
                 + torch.einsum("bshw,bsc->bchw", weight * across, perp_dv))
        shift = shift / (weight.sum(1, keepdim=True) + background)
        if not torch.isfinite(shift).all():
            raise ValueError("keypoint_flow: pose maps gave a non-finite flow")
        flows.append((shift * scale.view(1, 2, 1, 1)).to(source_maps.dtype))
    return flows


def _warp_or_keep(features: torch.Tensor, flow: torch.Tensor | None) -> torch.Tensor:
    return features if flow is None else warp(features, flow)


def _add(prior: torch.Tensor | None, residual: torch.Tensor) -> torch.Tensor:
    return residual if prior is None else prior + residual


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
    flow is refined at 1/4; 2: at 1/4 and 1/2), ``flow_prior`` (start from the
    keypoints' flow), ``norm``, ``upsample``.

    Forward:
        source: (B, 3, H, W) in [-1, 1].
        pose_maps: (B, 18, H, W) in [0, 1], the target pose.
        source_pose_maps: (B, 18, H, W) in [0, 1], the source image's own pose.
        return_parts: also return what the output is made of, for the training
            losses and for pictures: ``flows``, finest first, (B, 2, h, w) at full
            size, 1/2, 1/4 and 1/8; ``painted``, the decoder's own picture (B, 3, H, W)
            in [-1, 1]; ``mask``, (B, 1, H, W) in [0, 1], the share of the warped
            source in the output; with a prior, ``correction``, the learned part of the
            full-size flow (B, 2, H, W) in grid units.
    Returns:
        (B, 3, H, W) in [-1, 1], or (that, parts).
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
                return_parts: bool = False) -> torch.Tensor | tuple[torch.Tensor, dict[str, Any]]:
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

        priors = self.prior_flows(source_pose_maps, pose_maps, [s3.shape[-2:], s2.shape[-2:], s1.shape[-2:],
                                                                 source.shape[-2:]])
        # each flow is the prior at its scale plus a learned residual, refined scale by scale
        residual = self.flow_coarse(self.flow_trunk(torch.cat([_warp_or_keep(s3, priors[0]), t3], dim=1)))
        flow3 = _add(priors[0], residual)
        residual = resize_flow(residual, s2.shape[-2:])
        flow2 = _add(priors[1], residual)
        residual = residual + self.flow_refine(torch.cat([warp(s2, flow2), t2, flow2], dim=1))
        flow2 = _add(priors[1], residual)
        residual = resize_flow(residual, s1.shape[-2:])
        flow1 = _add(priors[2], residual)
        if self.flow_refine_half is not None:
            residual = residual + self.flow_refine_half(torch.cat([warp(s1, flow1), t1, flow1], dim=1))
            flow1 = _add(priors[2], residual)
        flow0 = _add(priors[3], resize_flow(residual, source.shape[-2:]))

        x = self.decoder_in(torch.cat([warp(s3, flow3), t3], dim=1))
        x = self.merge[0](torch.cat([self.up[0](x), warp(s2, flow2), t2], dim=1))
        x = self.merge[1](torch.cat([self.up[1](x), warp(s1, flow1), t1], dim=1))
        warped_source = warp(source, flow0)
        # the last few full-size maps in float32, contiguous: slicing a channels-last tensor
        # by channel leaves strides that elementwise kernels run several times slower on
        out = self.to_image(torch.cat([self.up[2](x), warped_source], dim=1)).float().contiguous()
        painted, mask = torch.tanh(out[:, :3]), torch.sigmoid(out[:, 3:])
        generated = (mask * warped_source + (1 - mask) * painted).to(source.dtype)
        if not return_parts:
            return generated
        parts = {"flows": [flow0, flow1, flow2, flow3], "painted": painted, "mask": mask}
        if priors[3] is not None:
            parts["correction"] = flow0 - priors[3]
        return generated, parts

    def prior_flows(self, source_pose_maps: torch.Tensor, pose_maps: torch.Tensor,
                     sizes: list[tuple[int, int]]) -> list[torch.Tensor | None]:
        """The keypoint prior at each of ``sizes`` (coarsest first), or None at each when there is none."""
        if self.config.flow_prior == "none":
            return [None] * len(sizes)
        with torch.no_grad():
            if self.config.flow_prior == "coarse":
                coarse = keypoint_flow(source_pose_maps, pose_maps, sizes[:1])[0]
                return [coarse] + [resize_flow(coarse, size) for size in sizes[1:]]
            if self.config.flow_prior == "nearest":
                return keypoint_flow(source_pose_maps, pose_maps, sizes, limb_reach=1 / 30, sharpness=16.0,
                                     end_reach=0.3)
            return keypoint_flow(source_pose_maps, pose_maps, sizes, limb_reach=1 / 40)

    @staticmethod
    def _encode(stages: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in stages:
            x = stage(x)
            features.append(x)
        return features
