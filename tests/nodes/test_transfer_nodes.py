"""CheckpointLoader, PoseTransfer and Upscale nodes on real tensors with tiny checkpoints."""

from __future__ import annotations

import sys
import types

import pytest
import torch
from safetensors.torch import save_file


def _pose(kit, frames=1, width=48, height=64):
    return [kit.keypoint_frame(width, height) for _ in range(frames)]


def test_checkpoint_dropdown_lists_the_models_folder(nodes, tiny_checkpoint):
    choices = nodes["RPTGAN_CheckpointLoader"].INPUT_TYPES()["required"]["checkpoint"][0]
    assert tiny_checkpoint in choices
    assert "rptgan-synthetic-demo.safetensors" in choices  # the pack's own, beside the models folder's
    # Pose Transfer takes its model from the loader, the one way ComfyUI users pick a model
    required = nodes["RPTGAN_PoseTransfer"].INPUT_TYPES()["required"]
    assert required["model"][0] == "RPTGAN_MODEL" and "checkpoint" not in required


@pytest.mark.parametrize("output, size", [("model size", (32, 16)), ("pose canvas", (64, 48)),
                                          ("source frame", (64, 48))])
def test_pose_transfer_outputs(nodes, kit, output, size, tiny_model):
    image = kit.image_batch(1, 64, 48)
    (result,) = nodes["RPTGAN_PoseTransfer"]().generate(image, _pose(kit), tiny_model, output=output)
    assert result.shape == (1, *size, 3) and result.dtype == torch.float32
    assert 0.0 <= float(result.min()) and float(result.max()) <= 1.0


def test_pose_sequence_gives_a_batch_of_frames(nodes, kit, tiny_model):
    poses = _pose(kit, 5)
    for i, frame in enumerate(poses):
        values = frame["people"][0]["pose_keypoints_2d"]
        values[3 * 4] += 4 * i  # the right wrist moves frame by frame
    (frames,) = nodes["RPTGAN_PoseTransfer"]().generate(kit.image_batch(1, 64, 48), poses, tiny_model,
                                                        batch_size=2)
    assert frames.shape == (5, 32, 16, 3)
    assert not torch.allclose(frames[0], frames[4])


def test_pose_transfer_with_loader_model_and_paste_back(nodes, kit, folders, fake_estimator, tiny_checkpoint):
    import numpy as np

    kit.save_picture(folders["input"] / "photo.png", np.full((120, 90, 3), 100, np.uint8))
    image, _, crop = nodes["RPTGAN_LoadPersonImage"]().load("photo.png", person_crop=kit.fake_backend,
                                                            aspect="synthetic (96x128)")
    pose, _ = nodes["RPTGAN_EstimatePose"]().estimate(image, kit.fake_backend)
    model, info = nodes["RPTGAN_CheckpointLoader"]().load(tiny_checkpoint, "cpu", "float32")
    assert "RPT-GAN tiny" in info and "cpu" in info
    (pasted,) = nodes["RPTGAN_PoseTransfer"]().generate(image, pose, model, output="source frame", crop=crop)
    assert pasted.shape == (1, 120, 90, 3)
    box = crop.box
    outside = torch.ones(120, 90, dtype=torch.bool)
    outside[max(box.top, 0):box.top + box.height, max(box.left, 0):box.left + box.width] = False
    # Outside the box the photo is untouched.
    torch.testing.assert_close(pasted[0][outside], torch.full_like(pasted[0][outside], 100 / 255))


def test_checkpoint_loader_caches_the_pipeline(nodes, tiny_checkpoint):
    first, _ = nodes["RPTGAN_CheckpointLoader"]().load(tiny_checkpoint, "cpu", "float32")
    second, _ = nodes["RPTGAN_CheckpointLoader"]().load(tiny_checkpoint, "cpu", "float32")
    assert first is second


@pytest.mark.parametrize("images, poses, message", [
    (torch.zeros(0, 64, 48, 3), 1, "batch is empty"),
    (torch.zeros(1, 64, 48, 1), 1, "expected 3 colour channels"),
    (torch.rand(2, 64, 48, 3), 3, "mismatched batch sizes: 2 source images and 3 pose frames"),
])
def test_pose_transfer_bad_inputs(nodes, kit, images, poses, message, tiny_model):
    with pytest.raises(ValueError, match=message):
        nodes["RPTGAN_PoseTransfer"]().generate(images, _pose(kit, poses), tiny_model)


def test_pose_transfer_pose_without_people(nodes, kit, tiny_model):
    empty = [kit.keypoint_frame(48, 64), {"people": [], "canvas_width": 48, "canvas_height": 64}]
    with pytest.raises(ValueError, match="frame 1 of 2 has no person"):
        nodes["RPTGAN_PoseTransfer"]().generate(kit.image_batch(), empty, tiny_model)


def test_source_frame_needs_matching_shapes(nodes, kit, tiny_model):
    with pytest.raises(ValueError, match="different shapes"):
        nodes["RPTGAN_PoseTransfer"]().generate(kit.image_batch(1, 64, 48), _pose(kit, 1, 100, 50), tiny_model,
                                                output="source frame")


def test_no_model_or_an_unknown_checkpoint(nodes, kit, tiny_checkpoint):
    with pytest.raises(ValueError, match="model: expected an RPT-GAN model from RPT-GAN Checkpoint Loader, got str"):
        nodes["RPTGAN_PoseTransfer"]().generate(kit.image_batch(), _pose(kit), tiny_checkpoint)
    with pytest.raises(ValueError, match="'other.safetensors' is not in the rptgan model folders"):
        nodes["RPTGAN_CheckpointLoader"]().load("other.safetensors")


def test_foreign_corrupt_and_pickled_checkpoints(nodes, folders):
    from rptgan_core.checkpoint import CheckpointError

    save_file({"model.diffusion.weight": torch.zeros(2, 2)}, str(folders["models"] / "foreign.safetensors"))
    (folders["models"] / "corrupt.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00garbage!")
    (folders["models"] / "pickled.safetensors").write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    cases = {"foreign.safetensors": "not an RPT-GAN checkpoint", "corrupt.safetensors": "not a safetensors file",
             "pickled.safetensors": "pickled PyTorch checkpoint"}
    for name, message in cases.items():
        with pytest.raises(CheckpointError, match=message):
            nodes["RPTGAN_CheckpointLoader"]().load(name)


@pytest.fixture
def fake_comfyui(monkeypatch, folders):
    """folder_paths, comfy.utils.ProgressBar and comfy.model_management as ComfyUI provides them."""
    folder_paths = types.ModuleType("folder_paths")
    folder_paths.models_dir = str(folders["models"].parent)
    folder_paths.folder_names_and_paths = {"rptgan": ([str(folders["models"])], {".safetensors"})}
    folder_paths.get_input_directory = lambda: str(folders["input"])
    folder_paths.get_temp_directory = lambda: str(folders["temp"])
    folder_paths.get_folder_paths = lambda name: folder_paths.folder_names_and_paths[name][0]
    folder_paths.get_filename_list = lambda name: sorted(
        p.name for d in folder_paths.folder_names_and_paths[name][0] for p in __import__("pathlib").Path(d).iterdir())
    folder_paths.get_full_path = lambda name, file: next(
        (str(__import__("pathlib").Path(d) / file) for d in folder_paths.folder_names_and_paths[name][0]
         if (__import__("pathlib").Path(d) / file).is_file()), None)

    state = types.SimpleNamespace(updates=[], interrupt_after=None)

    class InterruptProcessingException(Exception):
        pass

    class ProgressBar:
        def __init__(self, total):
            self.total = total

        def update_absolute(self, value, total=None, preview=None):
            state.updates.append((value, total))

    def throw_exception_if_processing_interrupted():
        if state.interrupt_after is not None and len(state.updates) >= state.interrupt_after:
            raise InterruptProcessingException()

    comfy = types.ModuleType("comfy")
    utils = types.ModuleType("comfy.utils")
    utils.ProgressBar = ProgressBar
    management = types.ModuleType("comfy.model_management")
    management.throw_exception_if_processing_interrupted = throw_exception_if_processing_interrupted
    management.get_torch_device = lambda: torch.device("cpu")
    management.InterruptProcessingException = InterruptProcessingException
    comfy.utils, comfy.model_management = utils, management
    for name, module in {"folder_paths": folder_paths, "comfy": comfy, "comfy.utils": utils,
                         "comfy.model_management": management}.items():
        monkeypatch.setitem(sys.modules, name, module)
    return state


def test_progress_bar_and_interrupt_inside_comfyui(nodes, kit, fake_comfyui, tiny_model):
    image, poses = kit.image_batch(), _pose(kit, 6)
    (frames,) = nodes["RPTGAN_PoseTransfer"]().generate(image, poses, tiny_model, batch_size=2)
    assert frames.shape[0] == 6
    assert fake_comfyui.updates == [(2, 6), (4, 6), (6, 6)]
    fake_comfyui.updates.clear()
    fake_comfyui.interrupt_after = 1
    exception = sys.modules["comfy.model_management"].InterruptProcessingException
    with pytest.raises(exception):
        nodes["RPTGAN_PoseTransfer"]().generate(image, poses, tiny_model, batch_size=2)
    assert fake_comfyui.updates == [(2, 6)]  # stopped after the first chunk


def test_upscale_classic(nodes, kit):
    image = kit.image_batch(2, 20, 30)
    for method in ("lanczos", "bicubic", "area"):
        (out,) = nodes["RPTGAN_Upscale"]().upscale(image, method, 2.5)
        assert out.shape == (2, 50, 75, 3) and 0 <= float(out.min()) and float(out.max()) <= 1


def test_upscale_with_a_model_file(nodes, kit, folders):
    pytest.importorskip("spandrel")
    from spandrel.architectures.Compact.__arch.SRVGG import SRVGGNetCompact

    net = SRVGGNetCompact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folders["upscale"] / "x2.safetensors"))
    choices = nodes["RPTGAN_Upscale"].INPUT_TYPES()["required"]["upscale_model"][0]
    assert choices == ["none", "x2.safetensors"]
    (out,) = nodes["RPTGAN_Upscale"]().upscale(kit.image_batch(1, 40, 30), "lanczos", 3.0, "x2.safetensors",
                                               tile=64, overlap=8)
    assert out.shape == (1, 120, 90, 3)
    (pth := folders["upscale"] / "x4.pth").write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="only .safetensors"):
        nodes["RPTGAN_Upscale"]().upscale(kit.image_batch(), "lanczos", 2.0, pth.name)


def test_upscale_bad_inputs(nodes, kit):
    with pytest.raises(ValueError, match="batch is empty"):
        nodes["RPTGAN_Upscale"]().upscale(torch.zeros(0, 4, 4, 3), "lanczos", 2.0)
    with pytest.raises(ValueError, match="overlap"):
        nodes["RPTGAN_Upscale"]().upscale(kit.image_batch(), "lanczos", 2.0, tile=64, overlap=32)


def test_pose_transfer_gives_the_source_pose_to_models_that_use_it(nodes, kit, flow_model):
    image = kit.image_batch(1, 64, 48)
    target, source = _pose(kit), _pose(kit)
    source[0]["people"][0]["pose_keypoints_2d"][3 * 4] += 10  # the source's right wrist elsewhere
    node = nodes["RPTGAN_PoseTransfer"]()
    (a,) = node.generate(image, target, flow_model, output="pose canvas", source_pose=source)
    (b,) = node.generate(image, target, flow_model, output="pose canvas", source_pose=target)
    assert a.shape == (1, 64, 48, 3) and not torch.allclose(a, b)
    with pytest.raises(Exception, match="source_pose: 2 frames for 1 source images"):
        node.generate(image, target, flow_model, source_pose=_pose(kit, 2))
    empty = _pose(kit)
    empty[0]["people"] = []
    with pytest.raises(Exception, match="source_pose: frame 0 of 1 has no person"):
        node.generate(image, target, flow_model, source_pose=empty)


def test_pose_transfer_estimates_a_missing_source_pose(nodes, kit, fake_estimator, pack_module, monkeypatch,
                                                      flow_model):
    estimators = pack_module("nodes.estimators")
    monkeypatch.setattr(estimators, "backend_choices", lambda: [kit.fake_backend])
    (result,) = nodes["RPTGAN_PoseTransfer"]().generate(kit.image_batch(2, 64, 48), _pose(kit), flow_model)
    assert result.shape == (2, 32, 32, 3) and fake_estimator.calls == 2
    with pytest.raises(Exception, match="source_pose: the .* estimator found no person in image 0"):
        nodes["RPTGAN_PoseTransfer"]().generate(torch.zeros(1, 64, 48, 3), _pose(kit), flow_model)


def test_half_written_checkpoints_are_not_offered(nodes, folders, tiny_checkpoint):
    (folders["models"] / ".tmp-k3j2h1.safetensors").write_bytes(b"")  # what a save killed mid-way leaves
    choices = nodes["RPTGAN_CheckpointLoader"].INPUT_TYPES()["required"]["checkpoint"][0]
    assert tiny_checkpoint in choices and not any(".tmp-" in c for c in choices)
