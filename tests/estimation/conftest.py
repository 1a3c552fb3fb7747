"""Fixtures for the estimation tests.

``markers``: a test backend that 'detects' keypoints drawn as grey squares, so
the shared pre-processing and the mapping back to the photo can be checked to
the pixel, with helpers to draw such images. ``astronaut``: scikit-image's
public-domain photo, with the keypoints checked by eye on a skeleton drawing.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage

from rptgan_core.estimation import PoseEstimator
from rptgan_core.pose import NUM_KEYPOINTS, Pose

# Keypoint k is a square of grey level LEVELS[k]; the background noise stays below 30.
LEVELS = 40 + 11 * np.arange(NUM_KEYPOINTS)


def grid_points(height: int, width: int, top: int = 0, left: int = 0) -> np.ndarray:
    """(18, 2) x, y: a 6 x 3 grid of well separated whole-pixel points inside a height x width box at (top, left)."""
    index = np.arange(NUM_KEYPOINTS)
    x = left + np.floor((index % 6 + 0.5) / 6 * width)
    y = top + np.floor((index // 6 + 0.5) / 3 * height)
    return np.stack([x, y], axis=1)


def marker_image(height: int, width: int, points: np.ndarray, square: int, seed: int = 0) -> np.ndarray:
    """(height, width, 3) uint8: low noise with an odd-sized square of LEVELS[k] centred on points[k]."""
    image = np.random.default_rng(seed).integers(0, 26, (height, width), dtype=np.uint8)
    half = square // 2
    for level, (x, y) in zip(LEVELS, points.astype(int)):
        image[max(0, y - half) : y + half + 1, max(0, x - half) : x + half + 1] = level
    return np.repeat(image[:, :, None], 3, axis=2)


class MarkerEstimator(PoseEstimator):
    """Finds the squares; a keypoint whose square is not in view is reported off the
    canvas with high confidence, as real detectors extrapolate joints out of frame."""

    name = "markers"

    def __init__(self) -> None:
        self.working_shapes: list[tuple[int, ...]] = []

    def detect(self, image: np.ndarray) -> Pose:
        self.working_shapes.append(image.shape)
        height, width = image.shape[:2]
        grey = image[:, :, 0].astype(np.int16)
        points = np.zeros((NUM_KEYPOINTS, 3), np.float32)
        found = False
        for k, level in enumerate(LEVELS):
            # Resampling leaves rings of in-between levels around other squares:
            # erosion thins them, and the largest blob is the square itself.
            blobs, count = ndimage.label(ndimage.binary_erosion(np.abs(grey - level) <= 3))
            if count:
                sizes = ndimage.sum_labels(np.ones_like(blobs), blobs, range(1, count + 1))
                ys, xs = np.nonzero(blobs == 1 + int(np.argmax(sizes)))
                points[k] = xs.mean(), ys.mean(), 1.0
                found = True
            else:
                points[k] = width + 15, height + 15, 0.9
        return Pose(points, width, height) if found else Pose.empty(width, height)


@pytest.fixture
def markers() -> SimpleNamespace:
    return SimpleNamespace(levels=LEVELS, grid_points=grid_points, image=marker_image, Estimator=MarkerEstimator)


# Checked by eye on a skeleton drawing over skimage.data.astronaut() (512 x 512):
# the tip of the nose and the two shoulder joints, in pixels.
ASTRONAUT_POINTS = {"nose": (222.0, 127.0), "right_shoulder": (113.0, 240.0), "left_shoulder": (305.0, 255.0)}
# How far (pixels at 512 px) a keypoint may land from those points: the nose is
# sharp, a shoulder inside a space suit is a judgement call.
ASTRONAUT_TOLERANCE = {"nose": 20.0, "right_shoulder": 35.0, "left_shoulder": 35.0}


@pytest.fixture(scope="session")
def astronaut() -> SimpleNamespace:
    from skimage import data

    return SimpleNamespace(image=data.astronaut(), points=ASTRONAUT_POINTS, tolerance=ASTRONAUT_TOLERANCE)
