"""Metrics that see the pose: error where the body moved, SSIM on the body, and the
baselines every quality figure stands beside.

Whole-image SSIM rewards a blurred copy of the source: most of a person image is
background and body parts that stay put. These metrics look where pose transfer
has to do its work:

* ``moved_region``: the target's body pixels whose body-part label differs from
  the source's at the same place (a limb arrives there, or another part takes the
  place of the one the source shows): where the model must draw a part the
  source does not show where it is. Labels
  come from SyntheticPeople's renderer where the dataset has them
  (``synthetic.read_part_labels``), otherwise from the keypoints
  (``keypoint_part_labels``).
* ``region_l1``: mean absolute error on 0..255 inside a mask.
* ``region_ssim``: the SSIM map averaged inside a mask (the target's body).
* ``gaussian_blur``: the source blurred, one of the baselines (a model that only
  smooths the source scores like a blur; the best blur is searched over
  ``BLUR_SIGMAS``).

Images are uint8 (N, H, W, 3); masks bool (N, H, W); labels uint8 (H, W).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from .metrics import ssim_border

BLUR_SIGMAS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)

# Keypoint-drawn part labels: limb strokes named by (joint, joint), drawn after the torso.
_LIMB_PARTS = {(2, 3): 4, (3, 4): 5, (5, 6): 6, (6, 7): 7, (8, 9): 8, (9, 10): 9, (11, 12): 10, (12, 13): 11}
_TORSO, _HEAD = 1, 3


def keypoint_part_labels(keypoints: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) uint8 part labels drawn from (18, 3) keypoints (x, y px, confidence; 0 = missing).

    The torso is the polygon of shoulders and hips, the head a disc around the face
    points, each limb a stroke a twelfth of the height wide; labels follow
    ``synthetic.PART_NAMES`` so both sources of labels compare the same way.
    """
    points = np.asarray(keypoints, dtype=np.float64)
    present = points[:, 2] > 0
    image = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(image)
    stroke = max(2, round(height / 12))
    torso = [i for i in (2, 5, 11, 8) if present[i]]
    if len(torso) >= 3:
        draw.polygon([tuple(points[i, :2]) for i in torso], fill=_TORSO)
    face = [i for i in (0, 14, 15, 16, 17) if present[i]]
    if face:
        x, y = points[face, :2].mean(axis=0)
        radius = stroke * 0.9
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=_HEAD)
    for (a, b), label in _LIMB_PARTS.items():
        if present[a] and present[b]:
            draw.line((*points[a, :2], *points[b, :2]), fill=label, width=stroke)
            for joint in (a, b):
                x, y = points[joint, :2]
                draw.ellipse((x - stroke / 2, y - stroke / 2, x + stroke / 2, y + stroke / 2), fill=label)
    return np.asarray(image, dtype=np.uint8).copy()


def moved_region(source_labels: np.ndarray, target_labels: np.ndarray) -> np.ndarray:
    """Bool mask of the target's body pixels (label > 0) whose label differs from the source's (same shape)."""
    if source_labels.shape != target_labels.shape:
        raise ValueError(f"part labels differ in shape: {source_labels.shape} and {target_labels.shape}")
    return (target_labels > 0) & (source_labels != target_labels)


def region_l1(generated: np.ndarray, reference: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per-image mean |generated - reference| on 0..255 over the pixels of ``masks`` (N, H, W);
    NaN for an empty mask."""
    difference = np.abs(generated.astype(np.float64) - reference.astype(np.float64)).mean(axis=-1)
    counts = masks.sum(axis=(1, 2))
    total = (difference * masks).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)


def region_ssim(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per-image SSIM map (``metrics.ssim_map`` of the images ``masks`` (N, H, W) cover) averaged
    over ``masks``; NaN where the mask has no pixel inside SSIM's valid area."""
    r = ssim_border()
    inner = masks[:, r:masks.shape[1] - r, r:masks.shape[2] - r]
    counts = inner.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, (maps * inner).sum(axis=(1, 2)) / np.maximum(counts, 1), np.nan)


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """uint8 (N, H, W, 3) blurred by a Gaussian of ``sigma`` pixels (reflected borders), uint8 out."""
    radius = min(int(3 * sigma + 0.5), min(images.shape[1:3]) - 1)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    channels = tensor.shape[1]
    padded = F.pad(tensor, (radius, radius, radius, radius), mode="reflect")
    blurred = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    blurred = F.conv2d(blurred, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)
    return blurred.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


HEAD_KEYPOINTS = (0, 1, 14, 15, 16, 17)  # nose, neck, eyes, ears: the head box PCKh is scaled by
PCKH_ALPHA = 0.5


def pckh(detected: np.ndarray, target: np.ndarray, alpha: float = PCKH_ALPHA) -> tuple[int, int]:
    """PCKh as the PATN family counts it: (correct, total) keypoints of one image.

    Args:
        detected: (18, 3) keypoints re-detected on the generated image (confidence 0: missing).
        target: (18, 3) the target's keypoints, same pixels.

    The head box is the bounding box of the target's head keypoints (``HEAD_KEYPOINTS``,
    at least two present); a keypoint is correct when both its x and y lie within
    ``alpha`` times the box's width and height of the target's. Every keypoint present
    in the target counts in ``total``; one the detector missed is wrong. A target
    without a head box counts (0, 0).
    """
    present = target[:, 2] > 0
    head = [i for i in HEAD_KEYPOINTS if present[i]]
    if len(head) < 2:
        return 0, 0
    box = target[head, :2].max(axis=0) - target[head, :2].min(axis=0)
    found = present & (detected[:, 2] > 0)
    close = np.all(np.abs(detected[:, :2] - target[:, :2]) < alpha * box, axis=1)
    return int((found & close).sum()), int(present.sum())
