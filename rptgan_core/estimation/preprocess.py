"""Getting any photo into the shape a pose detector handles well, and its
keypoints back onto the photo.

One place does it for every backend: greyscale and RGBA become RGB, uniform
bars around the picture (letterboxing, pillarboxing, a plain studio border)
are cut away so the detector sees the content at full resolution, and the
content is scaled so its long side lies within the detector's working range
(tiny images up, huge ones down). ``PreparedImage.to_source`` maps a pose
found on the working image back to the input's pixels, and keypoints that
fall outside the content (in a bar, or off the picture) become missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..pose import Pose

# How far (per channel, 0..255) a pixel may stray from a bar's colour and still
# count as bar: room for JPEG noise, far below any real picture's texture.
BAR_TOLERANCE = 12
# Share of a row or column that must match the bar colour for it to count as bar.
BAR_COVERAGE = 0.98


@dataclass(frozen=True)
class PreparedImage:
    """A photo made ready for a detector.

    Attributes:
        image: (h, w, 3) uint8 RGB working image: the content, scaled; None when
            the input is one flat colour (nobody can be in it).
        source_size: (height, width) of the input photo.
        content: (top, left, height, width) of the content inside the input,
            in input pixels; bars around it are cut away.
    """

    image: np.ndarray | None
    source_size: tuple[int, int]
    content: tuple[int, int, int, int]

    @property
    def blank(self) -> bool:
        return self.image is None

    def to_source(self, pose: Pose) -> Pose:
        """Map a pose found on ``image`` onto the input photo's canvas.

        Keypoints outside the content become missing, and people left with no
        keypoint are dropped.
        """
        height, width = self.source_size
        if self.image is None:
            raise ValueError("a blank image has no working image to map a pose from")
        if (pose.height, pose.width) != self.image.shape[:2]:
            raise ValueError(
                f"pose canvas {pose.width}x{pose.height} does not match the working image "
                f"{self.image.shape[1]}x{self.image.shape[0]}"
            )
        top, left, content_h, content_w = self.content
        placed = pose.resized(content_w, content_h).translated(left, top, width, height)
        keep = [i for i in range(placed.num_people) if placed.visible[i].any()]
        return placed.with_people(placed.keypoints[keep], [placed.extras[i] for i in keep])


def as_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 -> (H, W, 3) uint8 RGB.

    Greyscale is repeated into three channels; RGBA is composited over white,
    so a cut-out person stands on a plain background.
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array (H, W, 3) uint8 RGB, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(
            f"image must be uint8 (0..255), got {image.dtype}; for floats in [0, 1] pass "
            "(image * 255).round().astype(np.uint8)"
        )
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"image must be (H, W, 3) RGB, (H, W, 4) RGBA or (H, W) greyscale, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty: shape {image.shape}")
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:].astype(np.float32) / 255.0
        blended = image[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return np.round(blended).astype(np.uint8)
    return np.ascontiguousarray(image)


def _bar_depth(lines: np.ndarray) -> int:
    """How many leading lines of ``lines`` (N, L, 3) are one flat colour, the colour of the first.

    Reads the lines in growing blocks, so a photo without bars costs one small block.
    """
    colour = np.median(lines[0], axis=0).astype(np.int16)
    depth, block = 0, 8
    while depth < len(lines):
        chunk = lines[depth : depth + block].astype(np.int16)
        off = np.abs(chunk - colour).max(axis=2) > BAR_TOLERANCE
        not_bar = off.mean(axis=1) > 1.0 - BAR_COVERAGE
        if not_bar.any():
            return depth + int(np.argmax(not_bar))
        depth, block = depth + len(chunk), block * 2
    return depth


def content_box(image: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, height, width) of ``image`` (H, W, 3) uint8 without the flat bars
    along its edges; None when nothing but flat bars is left."""
    top = _bar_depth(image)
    if top == image.shape[0]:
        return None
    bottom = _bar_depth(image[::-1])
    left = _bar_depth(image.transpose(1, 0, 2))
    right = _bar_depth(image.transpose(1, 0, 2)[::-1])
    height, width = image.shape[0] - top - bottom, image.shape[1] - left - right
    # Bars of two colours meeting in the middle (a picture of flat halves) leave nothing.
    if height <= 0 or width <= 0:
        return None
    return top, left, height, width


def working_scale(height: int, width: int, min_side: int, max_side: int) -> float:
    """Factor that brings the long side into [min_side, max_side] (1 when it already is)."""
    long_side = max(height, width)
    if long_side > max_side:
        return max_side / long_side
    if long_side < min_side:
        return min_side / long_side
    return 1.0


def prepare_image(image: np.ndarray, min_side: int = 256, max_side: int = 1024) -> PreparedImage:
    """Clean ``image`` (see ``as_rgb``), cut bars away, scale the long side into [min_side, max_side]."""
    rgb = as_rgb(image)
    source_size = rgb.shape[:2]
    box = content_box(rgb)
    if box is None:
        return PreparedImage(None, source_size, (0, 0, *source_size))
    top, left, height, width = box
    content = rgb[top : top + height, left : left + width]
    scale = working_scale(height, width, min_side, max_side)
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        # PIL on uint8: a huge photo is never copied to floats; bicubic filters when shrinking.
        content = np.asarray(Image.fromarray(content).resize(size, Image.Resampling.BICUBIC))
    return PreparedImage(np.ascontiguousarray(content), source_size, box)
