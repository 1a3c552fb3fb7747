import os

import numpy as np
import onnxruntime
import pytest
import torch

from rptgan_core.checkpoint import CheckpointError, load_generator
from rptgan_core.config import get_config
from rptgan_core.export import export_onnx, input_names, main
from rptgan_core.networks import build_generator
from rptgan_core.processing import generate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(REPO, "checkpoints", "rptgan-synthetic-demo.safetensors")


def _inputs(generator, batch: int, seed: int = 0):
    generator_rng = torch.Generator().manual_seed(seed)
    height, width = generator.config.image_size
    source = torch.rand(batch, 3, height, width, generator=generator_rng)
    keypoints = torch.rand(batch, 18, 3, generator=generator_rng) * torch.tensor([width, height, 1.0])
    keypoints[:, 5, 2] = 0  # a missing keypoint goes through as a blank map
    return source, keypoints, keypoints.flip(1).clone()


def _example_inputs():
    """The example person and two frames of its wave (examples/assets, the demo's canvas), as
    the demo checkpoint is used; a trained model on noise and random keypoints samples its
    flow where the picture changes fastest, which says little about what users get."""
    from rptgan_core.imageio import load_image
    from rptgan_core.jsonio import read_json_file
    from rptgan_core.pose import poses_from_openpose_json

    assets = os.path.join(REPO, "examples", "assets")
    image = torch.from_numpy(load_image(os.path.join(assets, "synthetic_person.png")).rgb).permute(2, 0, 1)
    keypoints = [torch.from_numpy(pose.keypoints[0]) for pose in poses_from_openpose_json(
        read_json_file(os.path.join(assets, "synthetic_wave_sequence.json"), "wave"))]
    own = torch.from_numpy(poses_from_openpose_json(
        read_json_file(os.path.join(assets, "synthetic_person_pose.json"), "pose"))[0].keypoints[0])
    return image[None].repeat(2, 1, 1, 1), torch.stack(keypoints[3:5]), own[None].repeat(2, 1, 1)


def _run_onnx(path, generator, source, target, own):
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = dict(zip(input_names(generator), (source.numpy(), target.numpy(), own.numpy())))
    return session.run(None, feeds)[0]


@pytest.mark.parametrize("preset, prior", [("tiny", "none"), ("tiny-flow", "none"), ("tiny-flow", "multiscale"),
                                           ("tiny-flow", "nearest")])
def test_onnx_export_matches_pytorch_at_any_batch(tmp_path, preset, prior):
    torch.manual_seed(0)
    generator = build_generator(get_config(preset, flow_prior=prior)).eval()
    path = export_onnx(generator, tmp_path / "model.onnx")
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]
    for batch in (1, 3):
        source, target, own = _inputs(generator, batch, seed=batch)
        expected = generate(generator, source, target, own).numpy()
        got = _run_onnx(path, generator, source, target, own)
        assert got.shape == expected.shape and np.abs(got - expected).max() <= 1e-3


@pytest.mark.skipif(not os.path.exists(DEMO), reason="the demo checkpoint is not in this checkout")
def test_the_demo_checkpoint_exports_through_the_command_line(tmp_path, capsys):
    out = tmp_path / "demo.onnx"
    main([DEMO, str(out)])
    assert "source_keypoints" in capsys.readouterr().out
    generator, _ = load_generator(DEMO)
    source, target, own = _example_inputs()
    expected = generate(generator, source, target, own).numpy()
    assert np.abs(_run_onnx(str(out), generator, source, target, own) - expected).max() <= 1e-3


def test_a_failed_export_leaves_no_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        with open(args[2], "wb") as handle:
            handle.write(b"half a graph")
        raise RuntimeError("exporter failed")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(RuntimeError, match="exporter failed"):
        export_onnx(build_generator(get_config("tiny")), tmp_path / "x.onnx")
    assert os.listdir(tmp_path) == []


def test_export_refuses_a_foreign_checkpoint(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(CheckpointError):
        main([str(bad), str(tmp_path / "x.onnx")])
    assert not (tmp_path / "x.onnx").exists()
