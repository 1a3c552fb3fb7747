"""Turning poses into pictures: Gaussian pose maps for the network, and
OpenPose-style skeleton drawings for people."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw

from .keypoints import Pose
from .skeleton import LIMBS, NUM_KEYPOINTS, OPENPOSE_COLORS

REFERENCE_HEIGHT = 256
REFERENCE_SIGMA = 6.0


def default_sigma(height: int) -> float:
    """Gaussian width in pixels: 6 at 256 px height, in proportion to the height otherwise."""
    return REFERENCE_SIGMA * height / REFERENCE_HEIGHT


def pose_heatmaps(keypoints: torch.Tensor, height: int, width: int, sigma: float | None = None) -> torch.Tensor:
    """One Gaussian map per keypoint.

    Args:
        keypoints: (..., 18, 3) x, y in pixels of a ``width`` x ``height`` canvas and
            confidence; confidence 0 means missing.
        sigma: Gaussian width in pixels; ``default_sigma(height)`` when None.

    Returns:
        (..., 18, height, width) maps in [0, 1] with exp(-d^2 / (2 sigma^2)), peak 1 at
        each present keypoint and all zeros for a missing one; same dtype and device
        as ``keypoints`` (float32 for integer input).
    """
    if keypoints.shape[-2:] != (NUM_KEYPOINTS, 3):
        raise ValueError(f"keypoints must end in ({NUM_KEYPOINTS}, 3), got {tuple(keypoints.shape)}")
    if not keypoints.is_floating_point():
        keypoints = keypoints.float()
    sigma = default_sigma(height) if sigma is None else float(sigma)
    ys = torch.arange(height, device=keypoints.device, dtype=keypoints.dtype)
    xs = torch.arange(width, device=keypoints.device, dtype=keypoints.dtype)
    x, y = keypoints[..., 0:1], keypoints[..., 1:2]
    present = (keypoints[..., 2:3] > 0).to(keypoints.dtype)
    gauss_x = torch.exp(-((xs - x) ** 2) / (2 * sigma**2)) * present
    gauss_y = torch.exp(-((ys - y) ** 2) / (2 * sigma**2))
    return gauss_y.unsqueeze(-1) * gauss_x.unsqueeze(-2)


# Limbs (upper arms, forearms, thighs, shins, neck) as strokes a twelfth of the height
# wide, and the torso as strokes joining shoulders and hips, twice as wide: the body
# ``pose_metrics.keypoint_part_labels`` draws, as a soft tensor mask.
_BODY_LIMBS = ((2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (11, 12), (12, 13), (1, 0))
_BODY_TORSO = ((1, 8), (1, 11), (2, 8), (5, 11), (2, 11), (5, 8), (2, 5), (8, 11))


def soft_body_mask(keypoints: torch.Tensor, height: int, width: int, torso: bool = True) -> torch.Tensor:
    """A soft mask of the body a pose outlines, for weighting losses where the person is (a tensor
    for the training step; ``metrics.body_mask`` is PATN's mask for scoring, a different one).

    Args:
        keypoints: (B, 18, 3) x, y in pixels of a ``width`` x ``height`` canvas and
            confidence (0: missing); a segment with a missing end is left out.
        torso: False for the limbs alone (arms and legs).

    Returns:
        (B, 1, height, width) float32 in [0, 1]: 1 within half a stroke of a segment,
        falling to 0 over a pixel; all zeros for a pose with nobody.
    """
    if keypoints.dim() != 3 or keypoints.shape[1:] != (NUM_KEYPOINTS, 3):
        raise ValueError(f"keypoints must be (B, {NUM_KEYPOINTS}, 3), got {tuple(keypoints.shape)}")
    points = keypoints.float()
    torso_pairs = _BODY_TORSO if torso else ()
    a, b = (torch.tensor(index, device=points.device) for index in zip(*(_BODY_LIMBS + torso_pairs)))
    radius = torch.tensor([height / 24] * len(_BODY_LIMBS) + [height / 12] * len(torso_pairs), device=points.device)
    present = points[..., 2] > 0
    valid = (present[:, a] & present[:, b]).float()  # (B, S)
    start, vector = points[:, a, :2], points[:, b, :2] - points[:, a, :2]  # (B, S, 2)
    length2 = (vector * vector).sum(-1).clamp_min(1e-6)
    ys = torch.arange(height, device=points.device, dtype=torch.float32)
    xs = torch.arange(width, device=points.device, dtype=torch.float32)
    rel_x = xs[None, None, None, :] - start[..., 0, None, None]  # (B, S, 1, W)
    rel_y = ys[None, None, :, None] - start[..., 1, None, None]  # (B, S, H, 1)
    along = ((rel_x * vector[..., 0, None, None] + rel_y * vector[..., 1, None, None])
             / length2[..., None, None]).clamp(0, 1)
    dx = rel_x - along * vector[..., 0, None, None]
    dy = rel_y - along * vector[..., 1, None, None]
    inside = (radius[:, None, None] + 0.5 - (dx * dx + dy * dy).sqrt()).clamp(0, 1)  # (B, S, H, W)
    return (inside * valid[..., None, None]).amax(dim=1, keepdim=True)


def pose_to_heatmaps(pose: Pose, height: int | None = None, width: int | None = None,
                     person: int | None = None, sigma: float | None = None) -> torch.Tensor:
    """(18, H, W) float32 maps of one person of ``pose`` (the main person by default),
    drawn on the pose's canvas or, given ``height`` and ``width``, on a canvas stretched to that size."""
    if height is not None and width is not None and (height, width) != (pose.height, pose.width):
        pose = pose.resized(width, height)
    index = pose.main_person_index() if person is None else person
    keypoints = torch.from_numpy(pose.person(index).keypoints[0])
    return pose_heatmaps(keypoints, pose.height, pose.width, sigma)


def draw_skeleton(pose: Pose, canvas: np.ndarray | None = None, stick_width: int | None = None,
                  joint_radius: int | None = None) -> np.ndarray:
    """Draw every person of ``pose`` in OpenPose's colours.

    Args:
        canvas: (H, W, 3) uint8 image to draw over, matching the pose canvas;
            black when None.
        stick_width, joint_radius: pixels; by default 4 at 512 px and in
            proportion to the canvas otherwise (at least 1).

    Returns:
        (H, W, 3) uint8 RGB image.
    """
    if canvas is None:
        image = Image.new("RGB", (pose.width, pose.height))
    else:
        if canvas.shape[:2] != (pose.height, pose.width):
            raise ValueError(f"canvas is {canvas.shape[1]}x{canvas.shape[0]}, pose is {pose.width}x{pose.height}")
        image = Image.fromarray(np.ascontiguousarray(canvas[..., :3]).astype(np.uint8))
    unit = max(pose.width, pose.height) / 512
    stick = stick_width or max(1, round(4 * unit))
    radius = joint_radius or max(1, round(4 * unit))

    # Limbs go on a separate layer blended at 60%, as OpenPose draws them.
    limbs = Image.new("RGB", image.size)
    limb_mask = Image.new("L", image.size)
    limb_draw, mask_draw = ImageDraw.Draw(limbs), ImageDraw.Draw(limb_mask)
    for keypoints in pose.keypoints:
        for limb_index, (a, b) in enumerate(LIMBS[:17]):
            if keypoints[a, 2] <= 0 or keypoints[b, 2] <= 0:
                continue
            polygon = _limb_ellipse(keypoints[a, :2], keypoints[b, :2], stick)
            limb_draw.polygon(polygon, fill=OPENPOSE_COLORS[limb_index])
            mask_draw.polygon(polygon, fill=153)
    image = Image.composite(limbs, image, limb_mask)

    draw = ImageDraw.Draw(image)
    for keypoints in pose.keypoints:
        for index, (x, y, c) in enumerate(keypoints):
            if c > 0:
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=OPENPOSE_COLORS[index])
    return np.asarray(image, dtype=np.uint8)


def _limb_ellipse(start: np.ndarray, end: np.ndarray, half_width: float,
                  segments: int = 24) -> list[tuple[float, float]]:
    centre = (start + end) / 2
    dx, dy = end - start
    half_length = math.hypot(dx, dy) / 2
    angle = math.atan2(dy, dx)
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    points = []
    for k in range(segments):
        t = 2 * math.pi * k / segments
        ex, ey = half_length * math.cos(t), half_width * math.sin(t)
        points.append((centre[0] + ex * cos_a - ey * sin_a, centre[1] + ex * sin_a + ey * cos_a))
    return points
