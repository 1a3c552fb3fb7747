"""Geometric operations that keep an image and its keypoints in step.

Images are float tensors (..., C, H, W); the pose's canvas must match the
image size. Every function returns the new image and the new pose; keypoints
that leave the canvas become missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .keypoints import Pose


def _check(image: torch.Tensor, pose: Pose | None) -> None:
    if image.dim() < 3:
        raise ValueError(f"image must be (..., C, H, W), got shape {tuple(image.shape)}")
    if pose is not None and (pose.height, pose.width) != tuple(image.shape[-2:]):
        raise ValueError(f"pose canvas {pose.width}x{pose.height} does not match "
                         f"image {image.shape[-1]}x{image.shape[-2]}")


def _batched(image: torch.Tensor) -> tuple[torch.Tensor, torch.Size]:
    lead = image.shape[:-3]
    return image.reshape(-1, *image.shape[-3:]), lead


def resize_image(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear (antialiased when shrinking) resize of (..., C, H, W)."""
    if tuple(image.shape[-2:]) == (height, width):
        return image
    flat, lead = _batched(image)
    shrinking = height < image.shape[-2] or width < image.shape[-1]
    out = F.interpolate(flat, size=(height, width), mode="bilinear", align_corners=False, antialias=shrinking)
    return out.reshape(*lead, *out.shape[-3:])


def resize(image: torch.Tensor, pose: Pose, height: int, width: int) -> tuple[torch.Tensor, Pose]:
    """Stretch image and pose to ``height`` x ``width``."""
    _check(image, pose)
    return resize_image(image, height, width), pose.resized(width, height)


@dataclass(frozen=True)
class Letterbox:
    """How a ``source`` (height, width) picture sits, scaled and centred, on a ``canvas``."""

    source: tuple[int, int]
    canvas: tuple[int, int]
    scale: float
    top: int
    left: int
    content: tuple[int, int]

    @classmethod
    def fit(cls, source: tuple[int, int], canvas: tuple[int, int]) -> "Letterbox":
        (src_h, src_w), (dst_h, dst_w) = source, canvas
        scale = min(dst_h / src_h, dst_w / src_w)
        content = (min(dst_h, max(1, round(src_h * scale))), min(dst_w, max(1, round(src_w * scale))))
        return cls(source, canvas, scale, (dst_h - content[0]) // 2, (dst_w - content[1]) // 2, content)

    def apply_image(self, image: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        """Scale (..., C, H, W) into the canvas and pad the rest with ``fill``."""
        resized = resize_image(image, *self.content)
        bottom = self.canvas[0] - self.content[0] - self.top
        right = self.canvas[1] - self.content[1] - self.left
        flat, lead = _batched(resized)
        out = F.pad(flat, (self.left, right, self.top, bottom), value=fill)
        return out.reshape(*lead, *out.shape[-3:])

    def apply_pose(self, pose: Pose) -> Pose:
        sy = self.content[0] / self.source[0]
        sx = self.content[1] / self.source[1]
        return pose.map_points(lambda p: (p + 0.5) * (sx, sy) - 0.5 + (self.left, self.top),
                               self.canvas[1], self.canvas[0])

    def undo_image(self, image: torch.Tensor) -> torch.Tensor:
        """Cut the content out of a canvas-sized (..., C, H, W) and scale it back to the source size."""
        content = image[..., self.top : self.top + self.content[0], self.left : self.left + self.content[1]]
        return resize_image(content, *self.source)

    def undo_pose(self, pose: Pose) -> Pose:
        sy = self.source[0] / self.content[0]
        sx = self.source[1] / self.content[1]
        return pose.map_points(lambda p: (p - (self.left, self.top) + 0.5) * (sx, sy) - 0.5,
                               self.source[1], self.source[0])


def letterbox(image: torch.Tensor, pose: Pose, height: int, width: int, fill: float = 0.0
              ) -> tuple[torch.Tensor, Pose, Letterbox]:
    """Scale to fit ``height`` x ``width`` keeping the aspect ratio, centre, pad with ``fill``."""
    _check(image, pose)
    box = Letterbox.fit(tuple(image.shape[-2:]), (height, width))
    return box.apply_image(image, fill), box.apply_pose(pose), box


def crop(image: torch.Tensor, pose: Pose, top: int, left: int, height: int, width: int, fill: float = 0.0
         ) -> tuple[torch.Tensor, Pose]:
    """Cut a ``height`` x ``width`` window at (top, left); parts outside the image are ``fill``."""
    _check(image, pose)
    src_h, src_w = image.shape[-2:]
    pad = (max(0, -left), max(0, left + width - src_w), max(0, -top), max(0, top + height - src_h))
    flat, lead = _batched(image)
    if any(pad):
        flat = F.pad(flat, pad, value=fill)
    y0, x0 = top + pad[2], left + pad[0]
    out = flat[..., y0 : y0 + height, x0 : x0 + width]
    return out.reshape(*lead, *out.shape[-3:]), pose.translated(-left, -top, width, height)


def affine(image: torch.Tensor, pose: Pose, matrix, fill: float = 0.0) -> tuple[torch.Tensor, Pose]:
    """Warp by a 2x3 ``matrix`` mapping source pixel coordinates to output ones (same canvas size)."""
    _check(image, pose)
    height, width = image.shape[-2:]
    forward = np.vstack([np.asarray(matrix, dtype=np.float64).reshape(2, 3), [0, 0, 1]])
    inverse = np.linalg.inv(forward)
    # grid_sample wants, for each output pixel, the source location in [-1, 1] units.
    to_norm = np.array([[2 / width, 0, 1 / width - 1], [0, 2 / height, 1 / height - 1], [0, 0, 1]])
    theta = (to_norm @ inverse @ np.linalg.inv(to_norm))[:2]
    flat, lead = _batched(image)
    grid = F.affine_grid(torch.as_tensor(theta, dtype=flat.dtype, device=flat.device).expand(len(flat), 2, 3),
                         list(flat.shape), align_corners=False)
    # Sample (image - fill) with zero padding, then add fill back: the outside becomes fill.
    out = F.grid_sample(flat - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill
    return out.reshape(*lead, *out.shape[-3:]), pose.transformed(forward[:2])


def rotation_matrix(angle_degrees: float, centre: tuple[float, float], scale: float = 1.0) -> np.ndarray:
    """2x3 matrix rotating by ``angle_degrees`` (clockwise on screen, y pointing down) about ``centre``."""
    a = np.deg2rad(angle_degrees)
    rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    cx, cy = centre
    return np.hstack([rot, (np.array([cx, cy]) - rot @ np.array([cx, cy]))[:, None]])


def hflip(image: torch.Tensor, pose: Pose) -> tuple[torch.Tensor, Pose]:
    """Mirror left to right; left and right keypoints swap."""
    _check(image, pose)
    return image.flip(-1), pose.flipped()
