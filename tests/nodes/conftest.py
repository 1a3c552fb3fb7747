"""Fixtures for the node tests (the pack itself comes from tests/conftest.py): folders in
a temporary directory, tiny checkpoints, and a fake pose estimator. Helpers
reach the tests through the ``kit`` fixture (test files cannot import conftest
under --import-mode=importlib)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
FAKE_BACKEND = "fake-estimator"


@pytest.fixture
def nodes(pack):
    return pack.NODE_CLASS_MAPPINGS


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """Input, temp and model folders for the no-ComfyUI fallbacks."""
    layout = {name: tmp_path / name for name in ("input", "temp", "models", "upscale", "poses")}
    for path in layout.values():
        path.mkdir()
    monkeypatch.setenv("RPTGAN_INPUT_DIR", str(layout["input"]))
    monkeypatch.setenv("RPTGAN_TEMP_DIR", str(layout["temp"]))
    monkeypatch.setenv("RPTGAN_MODELS_DIR", str(layout["models"]))
    monkeypatch.setenv("RPTGAN_UPSCALE_DIR", str(layout["upscale"]))
    monkeypatch.setenv("RPTGAN_POSE_LIBRARY_DIR", str(layout["poses"]))
    return layout


def standing_keypoints(width: float, height: float, shift: float = 0.0) -> np.ndarray:
    """(18, 3) keypoints of an upright figure facing the camera, all visible."""
    u = np.array([
        [0.50, 0.10], [0.50, 0.20], [0.35, 0.20], [0.30, 0.35], [0.28, 0.50], [0.65, 0.20], [0.70, 0.35],
        [0.72, 0.50], [0.42, 0.52], [0.42, 0.70], [0.42, 0.88], [0.58, 0.52], [0.58, 0.70], [0.58, 0.88],
        [0.46, 0.08], [0.54, 0.08], [0.42, 0.09], [0.58, 0.09],
    ])
    points = np.concatenate([(u + [shift, 0]) * [width, height], np.ones((18, 1))], axis=1)
    return points.astype(np.float32)


def keypoint_frame(width: int, height: int, people: int = 1) -> dict:
    """One POSE_KEYPOINT frame in pixels with ``people`` standing figures."""
    return {
        "people": [{"pose_keypoints_2d": standing_keypoints(width, height, 0.2 * i - 0.1 * (people - 1))
                    .reshape(-1).tolist()} for i in range(people)],
        "canvas_width": width,
        "canvas_height": height,
    }


class FakeEstimator:
    """Finds one standing person in the middle third of any image that is not all black."""

    def __init__(self):
        self.calls = 0

    def estimate(self, image: np.ndarray):
        from rptgan_core.pose import Pose

        self.calls += 1
        height, width = image.shape[:2]
        if image.max() == 0:
            return Pose.empty(width, height)
        keypoints = standing_keypoints(width / 3, height / 2)
        keypoints[:, 0] += width / 3
        keypoints[:, 1] += height / 4
        return Pose(keypoints, width, height)


@pytest.fixture
def fake_estimator(pack_module):
    from rptgan_core.estimation import register_backend

    estimators = pack_module("nodes.estimators")
    estimator = FakeEstimator()
    register_backend(FAKE_BACKEND, lambda **options: estimator)
    estimators.forget_estimators()
    yield estimator
    estimators.forget_estimators()


@pytest.fixture
def tiny_checkpoint(folders):
    """A tiny generator saved in the models folder; returns its file name."""
    from rptgan_core.checkpoint import save_checkpoint
    from rptgan_core.config import get_config
    from rptgan_core.networks import build_generator

    torch.manual_seed(0)
    generator = build_generator(get_config("tiny"))
    save_checkpoint(folders["models"] / "tiny.safetensors", generator, training={"steps": 0, "data": "none"})
    return "tiny.safetensors"


@pytest.fixture
def flow_checkpoint(folders):
    """A tiny flow generator (it takes the source's pose) in the models folder; returns its file name."""
    from rptgan_core.checkpoint import save_checkpoint
    from rptgan_core.config import get_config
    from rptgan_core.networks import build_generator

    torch.manual_seed(0)
    save_checkpoint(folders["models"] / "tiny-flow.safetensors", build_generator(get_config("tiny-flow")),
                    training={"steps": 0, "data": "none"})
    return "tiny-flow.safetensors"


@pytest.fixture
def tiny_model(nodes, tiny_checkpoint):
    """The tiny generator as RPT-GAN Checkpoint Loader hands it to Pose Transfer (CPU, float32)."""
    return nodes["RPTGAN_CheckpointLoader"]().load(tiny_checkpoint, "cpu", "float32")[0]


@pytest.fixture
def flow_model(nodes, flow_checkpoint):
    """The tiny flow generator as RPT-GAN Checkpoint Loader hands it to Pose Transfer (CPU, float32)."""
    return nodes["RPTGAN_CheckpointLoader"]().load(flow_checkpoint, "cpu", "float32")[0]


def save_picture(path: Path, array: np.ndarray, **options) -> Path:
    Image.fromarray(array).save(path, **options)
    return path


@pytest.fixture
def person_png(folders):
    """A 48x64 RGB picture in the input folder: grey background, brighter middle."""
    array = np.full((64, 48, 3), 90, np.uint8)
    array[16:48, 16:32] = (200, 150, 120)
    save_picture(folders["input"] / "person.png", array)
    return "person.png"


def image_batch(count: int = 1, height: int = 64, width: int = 48, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, height, width, 3, generator=generator)



@pytest.fixture
def kit(pack_module):
    """The helpers above, for the tests."""
    return SimpleNamespace(
        repo=REPO, pack_module=pack_module, standing_keypoints=standing_keypoints, keypoint_frame=keypoint_frame,
        save_picture=save_picture, image_batch=image_batch, fake_backend=FAKE_BACKEND,
    )
