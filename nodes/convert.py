"""ComfyUI's value types to rptgan_core's and back, with clear errors for bad input.

* IMAGE: float32 (B, H, W, 3) in [0, 1]; rptgan_core takes (B, 3, H, W).
* MASK: float32 (B, H, W) in [0, 1] (1 where the picture is transparent or absent).
* POSE_KEYPOINT: a list of OpenPose JSON frames, one per image. Frames we emit
  follow comfyui_controlnet_aux: coordinates normalised to 0..1 of the canvas
  and confidence 1.0 for every present keypoint (its readers drop points with
  confidence below 1), missing keypoints 0, 0, 0.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from rptgan_core.errors import RptganError
from rptgan_core.limits import MAX_PREVIEW_BYTES
from rptgan_core.pose import (
    Pose,
    PoseError,
    draw_skeleton,
    poses_from_openpose_json,
    poses_to_openpose_json,
)
from rptgan_core.pose.formats import COORDINATES

# The optional widget of every node that reads poses: how their numbers are to be read.
COORDINATES_INPUT = (list(COORDINATES), {
    "default": "auto", "tooltip": "auto: fractions of the canvas when nearly all of a sequence's points lie "
                                  "within 0..1, else pixels; or say which"})


class NodeInputError(RptganError, ValueError):
    """A node got an input it cannot use; the message names the input and the problem."""


# ComfyUI imports a pack under its folder's path, and shows an error's type as module + name in
# /history and in the UI's report; the pack's own name reads better than a filesystem path there.
NodeInputError.__module__ = "comfyui_rptgan"


# How far an IMAGE may stray outside 0..1 and be clamped: resampling overshoots a little;
# anything more is another convention (0..255, -1..1) that clamping would turn white or black.
IMAGE_RANGE_SLACK = 0.05


def check_image(image: Any, name: str = "image") -> torch.Tensor:
    """Validate an IMAGE batch and return it as float32."""
    if not isinstance(image, torch.Tensor):
        raise NodeInputError(f"{name}: expected an IMAGE tensor, got {type(image).__name__}")
    if image.dim() != 4:
        raise NodeInputError(f"{name}: IMAGE must be (batch, height, width, channels), got shape {tuple(image.shape)}")
    if image.shape[0] == 0:
        raise NodeInputError(f"{name}: the image batch is empty")
    if image.shape[-1] != 3:
        raise NodeInputError(
            f"{name}: expected 3 colour channels (RGB) in the last dimension, got {image.shape[-1]} "
            f"(shape {tuple(image.shape)}); convert RGBA or greyscale images to RGB first"
        )
    if image.shape[1] < 2 or image.shape[2] < 2:
        raise NodeInputError(f"{name}: image is too small ({image.shape[2]}x{image.shape[1]} pixels)")
    image = image.float()
    if not torch.isfinite(image).all():
        raise NodeInputError(f"{name}: image contains NaN or infinity")
    low, high = float(image.min()), float(image.max())
    if low < -IMAGE_RANGE_SLACK or high > 1 + IMAGE_RANGE_SLACK:
        raise NodeInputError(f"{name}: IMAGE values run from {low:.3g} to {high:.3g}; they must lie in 0..1 "
                             "(an image scaled to 0..255?)")
    return image.clamp(0, 1)


def image_to_chw(image: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) -> (B, 3, H, W) float32 on the CPU."""
    return image.detach().float().cpu().permute(0, 3, 1, 2).contiguous()


def chw_to_image(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, H, W, 3) float32 on the CPU, clamped to [0, 1]."""
    return images.detach().float().cpu().clamp(0, 1).permute(0, 2, 3, 1).contiguous()


def image_to_uint8(image: torch.Tensor, index: int) -> np.ndarray:
    """One picture of an IMAGE batch as (H, W, 3) uint8 RGB."""
    return (image[index].detach().float().cpu().clamp(0, 1).numpy() * 255).round().astype(np.uint8)


def poses_from_keypoints(value: Any, name: str = "pose", canvas_size: tuple[int, int] | None = None,
                         coordinates: str = "auto") -> list[Pose]:
    """A POSE_KEYPOINT value (list of frames, one frame, or JSON text) to Poses.

    ``canvas_size`` (width, height) is used for frames without canvas_width/height;
    ``coordinates`` as ``rptgan_core.pose.poses_from_openpose_json`` takes it.
    """
    if value is None:
        raise NodeInputError(f"{name}: no pose given")
    try:
        poses = poses_from_openpose_json(value, canvas_size, coordinates)
    except PoseError as error:
        raise NodeInputError(f"{name}: {error}") from None
    if not poses:
        raise NodeInputError(f"{name}: the pose list is empty (no frames)")
    return poses


def require_people(poses: list[Pose], name: str = "pose") -> None:
    """Raise when any frame has nobody with a visible keypoint."""
    empty = [i for i, pose in enumerate(poses) if not pose.has_person]
    if empty:
        which = "frame " + str(empty[0]) if len(empty) == 1 else f"frames {empty[:5]}{'...' if len(empty) > 5 else ''}"
        raise NodeInputError(f"{name}: {which} of {len(poses)} has no person (no visible keypoints)")


def poses_to_keypoints(poses: list[Pose]) -> list[dict]:
    """Poses to a POSE_KEYPOINT value in the ecosystem's convention (see the module docstring)."""
    frames = poses_to_openpose_json(poses, normalised=True)
    for frame in frames:
        for person in frame["people"]:
            for values in person.values():
                for i in range(2, len(values), 3):
                    if values[i] > 0:
                        values[i] = 1.0
    return frames


def keypoints_json(frames: list[dict]) -> str:
    """POSE_KEYPOINT frames as compact JSON text."""
    return json.dumps(frames, separators=(",", ":"))


def pose_preview(poses: list[Pose]) -> torch.Tensor:
    """Skeletons of every frame on black, all on the first frame's canvas (scaled down as far as
    ``MAX_PREVIEW_BYTES`` needs): IMAGE (N, H, W, 3)."""
    width, height = poses[0].width, poses[0].height
    shrink = min(1.0, (MAX_PREVIEW_BYTES / (len(poses) * width * height * 3 * 4)) ** 0.5)
    width, height = max(1, int(width * shrink)), max(1, int(height * shrink))
    pictures = [draw_skeleton(p if (p.width, p.height) == (width, height) else p.resized(width, height))
                for p in poses]
    return torch.from_numpy(np.stack(pictures).astype(np.float32) / 255.0)
