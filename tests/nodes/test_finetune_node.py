"""The Fine-tune node: frames of one person in, a fine-tuned model out and saved, nothing lost."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from rptgan_core.checkpoint import read_checkpoint_info
from rptgan_core.training.synthetic import render_sample


def _frames(count: int = 5):
    samples = [render_sample(seed=2, identity=1, index=i, height=64, width=48) for i in range(count)]
    images = torch.from_numpy(np.stack([s.image for s in samples]).astype(np.float32) / 255)
    poses = [{"people": [{"pose_keypoints_2d": s.pose.keypoints[0].reshape(-1).tolist()}], "canvas_width": 48,
              "canvas_height": 64} for s in samples]
    return images, poses


@pytest.fixture
def node(nodes):
    return nodes["RPTGAN_FineTune"]()


def test_finetune_returns_a_model_pose_transfer_takes_and_saves_a_new_checkpoint(node, nodes, flow_checkpoint, folders):
    images, poses = _frames()
    out = node.train(images, flow_checkpoint, steps=4, learning_rate=1e-4, batch_size=2, save_as="alice", poses=poses)
    model, text = out["result"]
    assert "alice_00001.safetensors" in text and out["ui"]["text"] == [text]
    saved = folders["models"] / "alice_00001.safetensors"
    info = read_checkpoint_info(saved)
    assert info.training["steps"] == 4 and info.training["finetuned_from"] == flow_checkpoint
    (frames,) = nodes["RPTGAN_PoseTransfer"]().generate(images[:1], poses[2], model, source_pose=poses[0],
                                                         output="pose canvas")
    assert frames.shape == (1, 64, 48, 3) and float(frames.std()) > 0.01
    # again: a new file, the first one kept
    node.train(images, flow_checkpoint, steps=2, batch_size=2, save_as="alice", poses=poses)
    assert sorted(p.name for p in folders["models"].glob("alice_*")) == ["alice_00001.safetensors",
                                                                         "alice_00002.safetensors"]


def test_cancel_keeps_what_was_learned(node, flow_checkpoint, folders, pack_module, monkeypatch):
    compat = pack_module("nodes.comfy_compat")
    calls = []
    monkeypatch.setattr(compat, "interrupt_requested", lambda: len(calls) >= 3 or calls.append(1))
    images, poses = _frames()
    node.train(images, flow_checkpoint, steps=50, batch_size=2, save_as="cut", poses=poses)
    assert read_checkpoint_info(folders["models"] / "cut_00001.safetensors").training["steps"] == 3


def test_a_full_disk_is_a_clear_error_and_replaces_nothing(node, flow_checkpoint, folders, monkeypatch):
    import rptgan_core.checkpoint

    def full(path, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rptgan_core.checkpoint, "save_checkpoint", full)
    before = sorted(os.listdir(folders["models"]))
    images, poses = _frames()
    with pytest.raises(ValueError, match="could not write .*No space left"):
        node.train(images, flow_checkpoint, steps=1, batch_size=2, poses=poses)
    assert sorted(os.listdir(folders["models"])) == before


@pytest.mark.parametrize("change,match", [
    ({"images": "first"}, "at least two frames"),
    ({"save_as": "../escape"}, "save_as"),
    ({"save_as": ""}, "save_as"),
    ({"steps": 0}, "steps"),
    ({"learning_rate": 1.0}, "learning rate"),
    ({"poses": "fewer"}, "poses: 4 frames for 5 images"),
    ({"poses": "nobody"}, "no person"),
    ({"checkpoint": "missing.safetensors"}, "checkpoint"),
])
def test_bad_inputs(node, flow_checkpoint, folders, change, match):
    images, poses = _frames()
    arguments = {"images": images, "checkpoint": flow_checkpoint, "steps": 2, "batch_size": 2, "poses": poses}
    for key, value in change.items():
        arguments[key] = {"first": images[:1], "fewer": poses[:4],
                          "nobody": [{"people": [], "canvas_width": 48, "canvas_height": 64}] * 5}.get(value, value)
    with pytest.raises(ValueError, match=match):
        node.train(**arguments)
    assert not list(folders["models"].glob("rptgan-finetuned_*"))


def test_poses_are_estimated_when_not_connected(node, flow_checkpoint, fake_estimator, folders, pack_module, kit,
                                                monkeypatch):
    monkeypatch.setattr(pack_module("nodes.estimators"), "backend_choices", lambda: [kit.fake_backend])
    images, _ = _frames()
    node.train(images, flow_checkpoint, steps=1, batch_size=2)
    assert fake_estimator.calls == len(images)


def test_finetune_runs_under_comfyuis_inference_mode(node, flow_checkpoint, folders):
    images, poses = _frames()
    with torch.inference_mode():  # ComfyUI executes every node like this
        images = images.clone()
        model, _ = node.train(images, flow_checkpoint, steps=2, batch_size=2, save_as="inside", poses=poses)["result"]
    assert (folders["models"] / "inside_00001.safetensors").is_file() and model is not None
