"""Framing a person: a crop box around them at the model's aspect ratio, and
pasting generated pictures back into the frame they were cut from.

Boxes are in pixels of the full frame and may reach past its edges (the part
outside is padded when cropping and skipped when pasting), so a person near
the border still gets a box of the right shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .limits import MAX_IMAGE_PIXELS
from .pose import Pose, PoseError, crop, resize_image


@dataclass(frozen=True)
class CropBox:
    """A ``width`` x ``height`` window whose top-left pixel is (left, top) in the frame."""

    left: int
    top: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"crop box must have a positive size, got {self.width}x{self.height}")

    @classmethod
    def whole(cls, height: int, width: int) -> "CropBox":
        return cls(0, 0, width, height)


def person_box(pose: Pose, frame_size: tuple[int, int], aspect: float | None = None, margin: float = 0.15,
               person: int | None = None) -> CropBox:
    """A box around one person, grown by ``margin`` and to ``aspect``.

    Args:
        pose: keypoints on the frame's canvas.
        frame_size: (height, width) of the frame.
        aspect: width / height of the box (the model canvas's), or None to keep the person's.
        margin: added on every side, as a fraction of the person's keypoint height
            (keypoints sit inside the body: the crown is above the eyes, the soles below the ankles).
        person: whom to frame (default: the main person).

    The box is moved inside the frame where it fits, centred on the frame where it does not.
    """
    if not pose.has_person:
        raise PoseError("no person to crop to: the pose has no visible keypoints")
    if margin < 0:
        raise ValueError(f"margin must not be negative, got {margin}")
    index = pose.main_person_index() if person is None else person
    keypoints = pose.person(index).keypoints[0]
    seen = keypoints[keypoints[:, 2] > 0, :2].astype(np.float64)
    sx, sy = frame_size[1] / pose.width, frame_size[0] / pose.height
    seen = (seen + 0.5) * (sx, sy) - 0.5
    low, high = seen.min(axis=0), seen.max(axis=0)
    pad = margin * max(high[1] - low[1], high[0] - low[0], 1.0)
    low, high = low - pad, high + pad
    width, height = high[0] - low[0], high[1] - low[1]
    if aspect is not None:
        if aspect <= 0:
            raise ValueError(f"aspect must be positive, got {aspect}")
        if width / height < aspect:
            width = height * aspect
        else:
            height = width / aspect
    centre = (low + high) / 2
    width, height = max(1, round(width)), max(1, round(height))
    return CropBox(_place(centre[0], width, frame_size[1]), _place(centre[1], height, frame_size[0]), width, height)


def crop_frames_to_person(frames: torch.Tensor, poses: list[Pose], aspect: float, margin: float = 0.15,
                          fill: float = 0.0) -> tuple[torch.Tensor, list[Pose]]:
    """Frames of a clip, each cut around its main person (``person_box``) and resized to the
    first frame's crop size, so they batch; with each pose moved onto its crop.

    Args:
        frames: (N, C, H, W) in [0, 1]; poses: one per frame, on the frames' canvas.
    Returns:
        (N, C, h, w) crops and their poses (h x w canvas, the main person only).
    """
    if len(poses) != len(frames):
        raise ValueError(f"{len(poses)} poses for {len(frames)} frames")
    crops, moved, size = [], [], None
    height, width = frames.shape[-2:]
    for index, pose in enumerate(poses):
        try:
            box = person_box(pose, (height, width), aspect, margin)
        except PoseError as error:
            raise PoseError(f"frame {index}: {error}") from None
        size = size or (box.height, box.width)
        crops.append(resize_image(crop_to_box(frames[index:index + 1], box, fill), *size).clamp(0, 1))
        person = pose.main_person().resized(width, height)
        moved.append(person.translated(-box.left, -box.top, box.width, box.height).resized(size[1], size[0]))
    return torch.cat(crops), moved


def aspect_box(frame_size: tuple[int, int], aspect: float) -> CropBox:
    """The smallest box of shape ``aspect`` (width / height) holding the whole frame, centred:
    letterboxing the frame to that shape."""
    if aspect <= 0:
        raise ValueError(f"aspect must be positive, got {aspect}")
    height, width = frame_size
    if width / height < aspect:
        box_width, box_height = max(width, round(height * aspect)), height
    else:
        box_width, box_height = width, max(height, round(width / aspect))
    return CropBox(-((box_width - width) // 2), -((box_height - height) // 2), box_width, box_height)


def _place(centre: float, size: int, limit: int) -> int:
    """Start of a ``size`` span centred near ``centre`` that stays inside [0, limit) when it fits."""
    if size >= limit:
        return -((size - limit) // 2)
    return int(min(max(round(centre - size / 2), 0), limit - size))


def crop_to_box(images: torch.Tensor, box: CropBox, fill: float = 0.0) -> torch.Tensor:
    """Cut ``box`` out of (..., C, H, W); where it reaches past the frame, ``fill``.

    Raises:
        ValueError: the box has more than ``MAX_IMAGE_PIXELS`` (a very thin picture padded
            to a wide aspect can ask for that from a tiny file).
    """
    if box.height * box.width > MAX_IMAGE_PIXELS:
        raise ValueError(f"the {box.width}x{box.height} crop would be {box.height * box.width:,} pixels, more than "
                         f"the {MAX_IMAGE_PIXELS:,} an image may have")
    height, width = images.shape[-2:]
    cropped, _ = crop(images, Pose.empty(int(width), int(height)), box.top, box.left, box.height, box.width, fill)
    return cropped


def _edge_ramp(length: int, start: int, frame_length: int, pixels: float) -> torch.Tensor:
    """(length,) weights rising from 0 to 1 over ``pixels`` at each end of a span that begins at
    ``start`` inside a frame of ``frame_length``; an end at or past the frame's edge stays 1,
    as there is no picture there to blend with."""
    centres = torch.arange(length, dtype=torch.float32) + 0.5
    ramp = torch.ones(length)
    if start > 0:
        ramp = torch.minimum(ramp, centres / pixels)
    if start + length < frame_length:
        ramp = torch.minimum(ramp, (length - centres) / pixels)
    return ramp.clamp(0, 1)


def paste_into_frame(frames: torch.Tensor, patches: torch.Tensor, box: CropBox, feather: float = 0.0) -> torch.Tensor:
    """Paste (B, C, h, w) ``patches``, scaled to the box, into copies of (B or 1, C, H, W) ``frames``.

    ``feather`` (a share of the box's shorter side) cross-fades the patch into the frame
    over that width along the box edges that lie inside the frame, so no rectangular
    seam shows; 0 pastes with hard edges. Returns (B, C, H, W); the parts of the box
    outside the frame are dropped.
    """
    if frames.dim() != 4 or patches.dim() != 4:
        raise ValueError(f"frames and patches must be (B, C, H, W), "
                         f"got {tuple(frames.shape)} and {tuple(patches.shape)}")
    if frames.shape[1] != patches.shape[1]:
        raise ValueError(f"frames have {frames.shape[1]} channels, patches {patches.shape[1]}")
    if len(frames) not in (1, len(patches)):
        raise ValueError(f"{len(frames)} frames for {len(patches)} patches: give one frame or one per patch")
    if not 0.0 <= feather <= 0.5:
        raise ValueError(f"feather must be between 0 and 0.5 of the box's shorter side, got {feather}")
    patches = resize_image(patches.to(frames.dtype), box.height, box.width)
    out = frames.expand(len(patches), -1, -1, -1).clone()
    height, width = out.shape[-2:]
    y0, x0 = max(box.top, 0), max(box.left, 0)
    y1, x1 = min(box.top + box.height, height), min(box.left + box.width, width)
    if y1 > y0 and x1 > x0:
        patch = patches[..., y0 - box.top : y1 - box.top, x0 - box.left : x1 - box.left]
        pixels = feather * min(box.height, box.width)
        if pixels > 0:
            weight = (_edge_ramp(box.height, box.top, height, pixels)[:, None]
                      * _edge_ramp(box.width, box.left, width, pixels)[None, :]).to(frames.dtype)
            weight = weight[y0 - box.top : y1 - box.top, x0 - box.left : x1 - box.left]
            patch = out[..., y0:y1, x0:x1] * (1 - weight) + patch * weight
        out[..., y0:y1, x0:x1] = patch
    return out
