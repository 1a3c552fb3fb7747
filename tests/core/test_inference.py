from pathlib import Path

import numpy as np
import pytest
import torch

from rptgan_core import inference
from rptgan_core.checkpoint import CheckpointError, save_checkpoint
from rptgan_core.config import get_config
from rptgan_core.inference import PoseTransferPipeline, cpu_has_native_bf16, resolve_device, resolve_dtype
from rptgan_core.networks import PoseTransferGenerator, build_generator
from rptgan_core.pose import Pose, PoseError


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    return save_checkpoint(path, build_generator(get_config("tiny")))


@pytest.fixture
def pipeline(checkpoint_path):
    return PoseTransferPipeline.from_checkpoint(checkpoint_path, device="cpu")


def test_one_source_and_a_pose_sequence_give_a_batch_of_frames_at_the_pose_size(pipeline, make_person):
    poses = [Pose(make_person(88, 128, shift=s), 88, 128) for s in (-0.1, 0.0, 0.1)]
    frames = pipeline(torch.rand(1, 3, 128, 88), poses)
    assert frames.shape == (3, 3, 128, 88) and frames.dtype == torch.float32
    assert 0 <= float(frames.min()) and float(frames.max()) <= 1
    assert not torch.equal(frames[0], frames[2])


def test_model_size_output_and_one_pose_for_many_sources(pipeline, person_pose):
    out = pipeline(torch.rand(4, 3, 200, 100), person_pose, output="model")
    assert out.shape == (4, 3, 32, 16)


def test_chunking_does_not_change_results(pipeline, make_person):
    poses = [Pose(make_person(88, 128, shift=s), 88, 128) for s in np.linspace(-0.1, 0.1, 5)]
    images = torch.rand(5, 3, 128, 88)
    whole = pipeline(images, poses, batch_size=8)
    chunked = pipeline(images, poses, batch_size=2)
    assert torch.allclose(whole, chunked, atol=1e-5)
    assert torch.equal(pipeline(images, poses, batch_size=8), whole)  # deterministic


def test_progress_callback_sees_every_chunk_and_can_stop_the_run(pipeline, person_pose):
    seen = []
    pipeline(torch.rand(5, 3, 128, 88), person_pose, batch_size=2,
             callback=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 5), (4, 5), (5, 5)]

    class Interrupted(Exception):
        pass

    def interrupt(done, total):
        raise Interrupted

    with pytest.raises(Interrupted):
        pipeline(torch.rand(5, 3, 128, 88), person_pose, batch_size=2, callback=interrupt)


class _EchoGenerator(PoseTransferGenerator):
    """Returns its source: isolates the pipeline's letterboxing from the network."""

    def forward(self, source, pose_maps):
        return source


def test_letterboxing_in_and_back_out_preserves_the_picture(person_pose):
    pipeline = PoseTransferPipeline(_EchoGenerator(get_config("tiny", letterbox_fill=1.0)), device="cpu")
    ramp = torch.linspace(0, 1, 88).expand(3, 128, 88).unsqueeze(0)
    back = pipeline(ramp, person_pose)  # 128x88 -> 32x16 canvas -> 128x88
    assert back.shape == ramp.shape
    assert (back - ramp).abs().mean() < 0.05
    wide = pipeline(torch.zeros(1, 3, 20, 200), person_pose, output="model")
    assert torch.all(wide[..., :14, :] == 1.0) and torch.all(wide[..., 16, :] == 0.0)  # fill above, image in the band


@pytest.mark.parametrize("images, message", [
    (torch.rand(0, 3, 32, 16), "empty"),
    (torch.rand(1, 4, 32, 16), "3 colour channels"),
    (torch.rand(3, 32, 16), r"\(B, 3, H, W\)"),
    (torch.full((1, 3, 32, 16), float("nan")), "NaN"),
    (torch.rand(1, 3, 32, 16) * 255, r"\[0, 1\]"),
    (torch.zeros(1, 3, 32, 16, dtype=torch.uint8), "floating-point"),
])
def test_bad_images_are_refused(pipeline, person_pose, images, message):
    with pytest.raises(ValueError, match=message):
        pipeline(images, person_pose)


def test_bad_poses_are_refused(pipeline, person_pose):
    with pytest.raises(PoseError, match="target pose 1 has no person"):
        pipeline(torch.rand(1, 3, 32, 16), [person_pose, Pose.empty(88, 128)])
    with pytest.raises(PoseError, match="no target poses"):
        pipeline(torch.rand(1, 3, 32, 16), [])
    with pytest.raises(ValueError, match="mismatched batch sizes: 2 source images and 3 target poses"):
        pipeline(torch.rand(2, 3, 32, 16), [person_pose] * 3)
    with pytest.raises(ValueError, match="different canvas sizes"):
        pipeline(torch.rand(1, 3, 32, 16), [person_pose, person_pose.resized(40, 40)])


def test_devices_and_dtypes(monkeypatch):
    assert resolve_device("cpu").type == "cpu"
    assert resolve_dtype("float32", torch.device("cpu")) == torch.float32
    monkeypatch.setattr(inference, "cpu_has_native_bf16", lambda: False)
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    monkeypatch.setattr(inference, "cpu_has_native_bf16", lambda: True)
    assert resolve_dtype("auto", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ValueError, match="dtype must be"):
        resolve_dtype("float8", torch.device("cpu"))
    if not torch.cuda.is_available():
        assert resolve_device("auto").type in ("cpu", "mps")
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_native_bf16_is_detected_without_guessing():
    assert isinstance(cpu_has_native_bf16(), bool)
    if hasattr(torch.cpu, "_is_avx512_bf16_supported") and torch.cpu._is_avx512_bf16_supported():
        assert cpu_has_native_bf16()


def test_bfloat16_on_the_cpu_runs_channels_last_and_float32_stays_one_choice_away(checkpoint_path):
    fast = PoseTransferPipeline.from_checkpoint(checkpoint_path, device="cpu", dtype="bfloat16")
    plain = PoseTransferPipeline.from_checkpoint(checkpoint_path, device="cpu", dtype="float32")
    convolutions = [m.weight for m in fast.generator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convolutions and all(w.is_contiguous(memory_format=torch.channels_last) for w in convolutions)
    assert all(w.dtype == torch.bfloat16 for w in convolutions)
    assert all(p.dtype == torch.float32 and p.is_contiguous() for p in plain.generator.parameters())


def test_bfloat16_on_cpu_is_close_to_float32(checkpoint_path, person_pose):
    images = torch.rand(2, 3, 128, 88)
    full = PoseTransferPipeline.from_checkpoint(checkpoint_path, device="cpu", dtype="float32")(images, person_pose)
    half = PoseTransferPipeline.from_checkpoint(checkpoint_path, device="cpu", dtype="bfloat16")(images, person_pose)
    assert half.dtype == torch.float32
    assert (full - half).abs().mean() < 0.03


def test_a_bad_checkpoint_surfaces_as_a_checkpoint_error(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes(b"garbage" * 10)
    with pytest.raises(CheckpointError):
        PoseTransferPipeline.from_checkpoint(path)


@pytest.fixture(scope="module")
def flow_pipeline():
    torch.manual_seed(0)
    return PoseTransferPipeline(build_generator(get_config("tiny-flow")), device="cpu", dtype="float32")


def test_a_model_that_uses_the_source_pose_asks_for_it(flow_pipeline, make_person):
    target = Pose(make_person(88, 128, shift=0.1), 88, 128)
    source = Pose(make_person(88, 128), 88, 128)
    assert flow_pipeline.needs_source_pose
    with pytest.raises(PoseError, match="needs the pose of the source image"):
        flow_pipeline(torch.rand(1, 3, 128, 88), target)
    images = torch.rand(3, 3, 128, 88)
    out = flow_pipeline(images, target, source_poses=source)
    assert out.shape == (3, 3, 128, 88)
    # a source pose given on another canvas of the same shape means the same places
    same = flow_pipeline(images, target, source_poses=source.resized(176, 256))
    assert torch.allclose(out, same, atol=1e-5)
    moved = flow_pipeline(images, target, source_poses=Pose(make_person(88, 128, shift=-0.1), 88, 128))
    assert not torch.allclose(out, moved)
    # chunking keeps per-image source poses paired with their images
    per_image = [Pose(make_person(88, 128, shift=s), 88, 128) for s in (-0.05, 0.0, 0.05)]
    assert torch.allclose(flow_pipeline(images, target, source_poses=per_image, batch_size=1),
                          flow_pipeline(images, target, source_poses=per_image, batch_size=3), atol=1e-5)
    with pytest.raises(ValueError, match="2 source poses for 3 source images"):
        flow_pipeline(images, target, source_poses=per_image[:2])
    with pytest.raises(PoseError, match="source pose 0 is on a 128x128 canvas"):
        flow_pipeline(images, target, source_poses=Pose(make_person(128, 128), 128, 128))


def test_the_papers_generator_ignores_a_source_pose(pipeline, person_pose):
    images = torch.rand(1, 3, 200, 100)
    assert not pipeline.needs_source_pose
    assert torch.equal(pipeline(images, person_pose), pipeline(images, person_pose, source_poses=person_pose))


DEMO = Path(__file__).resolve().parents[2] / "checkpoints" / "rptgan-synthetic-demo.safetensors"


@pytest.mark.skipif(not DEMO.exists(), reason="the demo checkpoint is not in this checkout")
def test_bfloat16_keeps_the_demo_checkpoints_output_within_35_db_of_float32():
    from rptgan_core.training.synthetic import render_sample

    sources = [render_sample(7, identity, 0) for identity in range(4)]
    targets = [render_sample(7, identity, 1).pose for identity in range(4)]
    images = torch.from_numpy(np.stack([s.image for s in sources])).permute(0, 3, 1, 2).float() / 255
    own = [s.pose for s in sources]
    full = PoseTransferPipeline.from_checkpoint(DEMO, device="cpu", dtype="float32")(images, targets, source_poses=own)
    fast = PoseTransferPipeline.from_checkpoint(DEMO, device="cpu", dtype="bfloat16")(images, targets, source_poses=own)
    psnr = 10 * torch.log10(1 / ((full - fast) ** 2).mean())
    assert psnr >= 35, f"bfloat16 output is {float(psnr):.1f} dB from float32"
