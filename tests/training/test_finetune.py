"""Fine-tuning on one person (rptgan_core.training.finetune)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rptgan_core.config import get_config
from rptgan_core.networks import build_generator
from rptgan_core.pose import Pose
from rptgan_core.training.finetune import FineTuneConfig, FineTuneData, FineTuneError, finetune
from rptgan_core.training.synthetic import render_sample


def _frames(count: int = 6, height: int = 64, width: int = 48):
    """Frames of one SyntheticPeople identity in several poses, with their poses."""
    images, poses = [], []
    for index in range(count):
        sample = render_sample(seed=5, identity=0, index=index, height=height, width=width)
        images.append(torch.from_numpy(sample.image.astype(np.float32) / 255).permute(2, 0, 1))
        poses.append(sample.pose)
    return torch.stack(images), poses


def test_frames_are_letterboxed_onto_the_canvas_with_their_poses():
    images, poses = _frames(3, 64, 48)
    data = FineTuneData.from_frames(images, poses, (32, 32), fill=0.0)
    assert data.images.shape == (3, 3, 32, 32) and data.keypoints.shape == (3, 18, 3)
    assert float(data.images[:, :, :, :4].abs().max()) == 0.0  # the padding at the sides
    visible = data.keypoints[..., 2] > 0
    assert float(data.keypoints[..., 0][visible].min()) >= 4 and float(data.keypoints[..., 0][visible].max()) <= 28


@pytest.mark.parametrize("change,match", [
    (lambda i, p: (i[:1], p[:1]), "2 to"),
    (lambda i, p: (i, p[:-1]), "poses for"),
    (lambda i, p: (i * float("nan"), p), "NaN"),
    (lambda i, p: (i, [Pose.empty(48, 64)] + p[1:]), "no person"),
    (lambda i, p: (i, [p[0].resized(64, 64)] + p[1:]), "canvas"),
    (lambda i, p: (i[:, :1], p), r"\(N, 3, H, W\)"),
])
def test_bad_frames_are_refused(change, match):
    images, poses = _frames(3)
    with pytest.raises(FineTuneError, match=match):
        FineTuneData.from_frames(*change(images, poses), (32, 32), 0.0)


def test_finetune_learns_the_person_and_stops_when_asked():
    torch.manual_seed(0)
    generator = build_generator(get_config("tiny-flow"))
    data = FineTuneData.from_frames(*_frames(6), (32, 32), 0.0)
    seen = []
    result = finetune(generator, data, FineTuneConfig(steps=60, lr=1e-3, batch_size=4),
                      callback=lambda step, total, loss: seen.append((step, total, loss)))
    assert result["steps"] == 60 and [s for s, _, _ in seen] == list(range(1, 61))
    early, late = np.mean([loss for _, _, loss in seen[:5]]), np.mean([loss for _, _, loss in seen[-5:]])
    assert late < 0.8 * early, (early, late)
    assert not generator.training
    asked = []
    stopped = finetune(generator, data, FineTuneConfig(steps=50), should_stop=lambda: len(asked) > 3 or asked.append(1))
    assert stopped["steps"] == 4


@pytest.mark.parametrize("options", [{"steps": 0}, {"lr": 0.0}, {"lr": float("nan")}, {"lr": 1.0}, {"batch_size": 0}])
def test_bad_settings_are_refused(options):
    with pytest.raises(FineTuneError):
        FineTuneConfig(**options)


def test_frames_must_be_on_the_canvas():
    generator = build_generator(get_config("tiny-flow"))
    images, poses = _frames(3)
    with pytest.raises(FineTuneError, match="canvas"):
        finetune(generator, FineTuneData(images, torch.zeros(3, 18, 3)))
