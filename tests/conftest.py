"""Shared test helpers: small deterministic poses and images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rptgan_core.pose import NUM_KEYPOINTS, Pose


def standing_person(width: int = 88, height: int = 128, shift: float = 0.0) -> np.ndarray:
    """(18, 3) keypoints of an upright figure facing the camera, all visible."""
    u = np.array([
        [0.50, 0.10], [0.50, 0.20], [0.35, 0.20], [0.30, 0.35], [0.28, 0.50], [0.65, 0.20], [0.70, 0.35],
        [0.72, 0.50], [0.42, 0.52], [0.42, 0.70], [0.42, 0.88], [0.58, 0.52], [0.58, 0.70], [0.58, 0.88],
        [0.46, 0.08], [0.54, 0.08], [0.42, 0.09], [0.58, 0.09],
    ])
    points = np.concatenate([(u + [shift, 0]) * [width, height], np.ones((NUM_KEYPOINTS, 1))], axis=1)
    return points.astype(np.float32)


@pytest.fixture
def person_pose() -> Pose:
    return Pose(standing_person(), 88, 128)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def make_person():
    """The ``standing_person`` factory, for tests that need several figures."""
    return standing_person
