import json
import os
import stat
import struct

import pytest
import torch
from safetensors.torch import save_file

from rptgan_core import checkpoint as ckpt
from rptgan_core.checkpoint import (
    CheckpointError,
    load_discriminator,
    load_generator,
    read_checkpoint_info,
    save_checkpoint,
)
from rptgan_core.config import get_config
from rptgan_core.networks import build_discriminator, build_generator


@pytest.fixture
def tiny_generator():
    return build_generator(get_config("tiny")).eval()


@pytest.fixture
def saved(tmp_path, tiny_generator):
    path = tmp_path / "tiny.safetensors"
    save_checkpoint(path, tiny_generator, build_discriminator(tiny_generator.config), training={"steps": 12})
    return path


def _inputs(config):
    source = torch.rand(2, 3, *config.image_size) * 2 - 1
    keypoints = torch.rand(2, 18, 3) * torch.tensor([config.image_width, config.image_height, 1.0])
    return source, keypoints


def test_round_trip_gives_bit_identical_outputs(saved, tiny_generator):
    loaded, info = load_generator(saved)
    source, keypoints = _inputs(info.config)
    with torch.no_grad():
        expected = tiny_generator(source, tiny_generator.render_pose(keypoints))
        actual = loaded(source, loaded.render_pose(keypoints))
    assert torch.equal(expected, actual)
    assert info.config == tiny_generator.config
    assert info.training == {"steps": 12} and info.has_discriminator
    assert load_discriminator(saved).config == tiny_generator.config


def test_resnet_checkpoint_carries_the_frozen_encoder(tmp_path):
    generator = build_generator(get_config("tiny-resnet")).eval()
    path = save_checkpoint(tmp_path / "r.safetensors", generator)
    loaded, _ = load_generator(path)
    assert torch.equal(loaded.encoder.stem[0].weight, generator.encoder.stem[0].weight)


@pytest.mark.parametrize("dtype, torch_dtype", [("float16", torch.float16), ("bfloat16", torch.bfloat16)])
def test_half_precision_storage_is_smaller_and_close(tmp_path, tiny_generator, dtype, torch_dtype):
    save_checkpoint(tmp_path / "full.safetensors", tiny_generator)
    half = save_checkpoint(tmp_path / "half.safetensors", tiny_generator, dtype=dtype)
    assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * (tmp_path / "full.safetensors").stat().st_size
    loaded, info = load_generator(half)
    assert info.dtype == dtype
    source, keypoints = _inputs(info.config)
    with torch.no_grad():
        a = tiny_generator(source, tiny_generator.render_pose(keypoints))
        b = loaded(source, loaded.render_pose(keypoints))
    assert (a - b).abs().max() < 0.05


def test_metadata_holds_config_version_keypoints_and_size(saved):
    with open(saved, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        metadata = json.loads(handle.read(length))["__metadata__"]
    assert metadata["format"] == "rptgan" and metadata["format_version"] == "1"
    assert metadata["keypoint_format"] == "openpose18" and json.loads(metadata["image_size"]) == [32, 16]
    assert json.loads(metadata["config"])["name"] == "tiny"


def test_saved_files_are_readable_by_others_as_the_umask_allows(tmp_path, tiny_generator):
    previous = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "shared.safetensors", tiny_generator)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, tiny_generator, monkeypatch):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, tiny_generator)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, tiny_generator, training={"other": True})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


# every bad checkpoint gets its own clear error ------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_generator(tmp_path / "absent.safetensors")


def test_not_a_safetensors_file(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("these are not weights, just some text long enough")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_generator(path)


def test_tiny_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"\x01\x02")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_generator(path)


def test_truncated_file(tmp_path, saved):
    data = saved.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_generator(cut)
    header_cut = tmp_path / "header_cut.safetensors"
    header_cut.write_bytes(data[:40])
    with pytest.raises(CheckpointError, match="truncated"):
        load_generator(header_cut)


@pytest.mark.parametrize("name, payload", [
    ("model.pt", b"PK\x03\x04" + b"\x00" * 64),      # torch.save's zip container
    ("model.ckpt", b"\x80\x04\x95" + b"\x00" * 64),  # a raw pickle stream
    ("renamed.safetensors", b"\x80\x02}q\x00."),
])
def test_pickles_are_refused_without_being_unpickled(tmp_path, name, payload):
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(CheckpointError, match="pickled PyTorch checkpoint.*arbitrary code"):
        load_generator(path)


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "sd15_lora.safetensors"
    save_file({"lora_unet_down.weight": torch.zeros(4, 4)}, str(path), metadata={"ss_network_dim": "8"})
    with pytest.raises(CheckpointError, match="not an RPT-GAN checkpoint.*lora_unet_down.weight"):
        load_generator(path)


def _rewrite(path, tensors_change=None, metadata_change=None):
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        metadata = json.loads(handle.read(length))["__metadata__"]
    if tensors_change:
        tensors_change(tensors)
    if metadata_change:
        metadata_change(metadata)
    save_file(tensors, str(path), metadata=metadata)


def test_missing_keys(saved):
    _rewrite(saved, tensors_change=lambda t: t.pop("generator.to_image.0.weight"))
    with pytest.raises(CheckpointError, match="1 missing keys.*generator.to_image.0.weight"):
        load_generator(saved)


def test_unexpected_keys(saved):
    _rewrite(saved, tensors_change=lambda t: t.update({"generator.extra.weight": torch.zeros(1)}))
    with pytest.raises(CheckpointError, match="1 unexpected keys.*generator.extra.weight"):
        load_generator(saved)


def test_shape_mismatch(saved):
    _rewrite(saved, tensors_change=lambda t: t.update({"generator.to_image.0.bias": torch.zeros(4)}))
    with pytest.raises(CheckpointError, match=r"shape mismatches.*to_image.0.bias: file \(4,\) vs model \(3,\)"):
        load_generator(saved)


@pytest.mark.parametrize("metadata, message", [
    ({"format_version": "7"}, "format 7, newer than the 1"),
    ({"config": json.dumps({"image_height": 33})}, "invalid model config"),
    ({"keypoint_format": "coco17"}, "keypoint format 'coco17'"),
])
def test_metadata_this_version_cannot_load(saved, metadata, message):
    _rewrite(saved, metadata_change=lambda m: m.update(metadata))
    with pytest.raises(CheckpointError, match=message):
        load_generator(saved)


def test_nan_weights(saved):
    def poison(tensors):
        tensors["generator.to_image.0.bias"] = torch.tensor([float("nan"), 0.0, 0.0])

    _rewrite(saved, tensors_change=poison)
    with pytest.raises(CheckpointError, match="NaN"):
        load_generator(saved)


def test_info_reads_metadata_only(saved):
    info = read_checkpoint_info(saved)
    assert info.config.name == "tiny" and info.format_version == 1


def test_inference_only_checkpoint_has_no_discriminator(tmp_path, tiny_generator):
    path = save_checkpoint(tmp_path / "g.safetensors", tiny_generator)
    with pytest.raises(CheckpointError, match="no discriminator"):
        load_discriminator(path)


def test_checkpoints_from_before_the_flow_generator_load_as_the_papers(tmp_path, saved, tiny_generator):
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(saved), "pt") as handle:
        metadata = dict(handle.metadata())
    config = json.loads(metadata["config"])
    del config["generator"], config["discriminator"]  # the fields did not exist then
    metadata["config"] = json.dumps(config)
    old = tmp_path / "old.safetensors"
    save_file(load_file(str(saved)), str(old), metadata=metadata)
    loaded, info = load_generator(old)
    assert info.config.generator == "rptgan" and type(loaded).__name__ == "PoseTransferGenerator"
    source, keypoints = _inputs(info.config)
    with torch.no_grad():
        assert torch.equal(loaded(source, loaded.render_pose(keypoints)),
                           tiny_generator(source, tiny_generator.render_pose(keypoints)))
    assert type(load_discriminator(old)).__name__ == "PoseTransferDiscriminator"


def test_flow_checkpoints_round_trip_with_their_discriminator(tmp_path):
    generator = build_generator(get_config("tiny-flow")).eval()
    path = save_checkpoint(tmp_path / "flow.safetensors", generator, build_discriminator(generator.config))
    loaded, info = load_generator(path)
    assert info.config.generator == "flow" and loaded.uses_source_pose
    source, keypoints = _inputs(info.config)
    with torch.no_grad():
        maps = generator.render_pose(keypoints)
        assert torch.equal(loaded(source, maps, maps.flip(0)), generator(source, maps, maps.flip(0)))
    assert type(load_discriminator(path)).__name__ == "PatchDiscriminator"


def test_a_small_file_declaring_a_huge_network_fails_before_anything_is_allocated(saved, tmp_path):
    import resource
    import shutil

    def declaring(width):
        def change(metadata):
            config = json.loads(metadata["config"])
            config["generator_channels"] = width
            metadata["config"] = json.dumps(config)
        return change

    beyond = shutil.copy(saved, tmp_path / "beyond.safetensors")
    _rewrite(beyond, metadata_change=declaring(20000))  # an 88 GiB network if it were built
    with pytest.raises(CheckpointError, match="generator_channels must be widths in 1..2048"):
        load_generator(beyond)
    _rewrite(saved, metadata_change=declaring(2048))  # within the bound, gigabytes, and not what the file holds
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CheckpointError, match="does not match its own config.*shape mismatches"):
        load_generator(saved)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB: under 200 MB grown


def test_a_file_replaced_between_its_check_and_its_read_is_refused(tmp_path, saved, monkeypatch):
    """Config and shapes are checked on one header; the tensors must come from a file with that
    same header, never another checkpoint's weights under this one's config."""
    other = save_checkpoint(tmp_path / "other.safetensors", build_generator(get_config("tiny")).eval(),
                            training={"steps": 99})
    check = ckpt._check_declared_shapes

    def check_then_replace(*args, **kwargs):
        check(*args, **kwargs)
        os.replace(other, saved)

    monkeypatch.setattr(ckpt, "_check_declared_shapes", check_then_replace)
    with pytest.raises(CheckpointError, match="changed while it was being read"):
        load_generator(saved)


def test_a_file_cut_short_in_place_after_a_load_leaves_the_loaded_model_whole(saved):
    generator, _ = load_generator(saved)
    before = {name: t.clone() for name, t in generator.state_dict().items()}
    with open(saved, "r+b") as handle:  # as cp does: the same inode, truncated and rewritten
        data = handle.read()
        handle.seek(0)
        handle.truncate()
        handle.write(data[: len(data) // 2])
    assert all(torch.equal(before[name], t) for name, t in generator.state_dict().items())
    with pytest.raises(CheckpointError, match="truncated"):
        load_generator(saved)


def test_loads_during_a_rewrite_in_place_either_succeed_or_say_so(saved):
    """A checkpoint being overwritten in place (cp over it) while it loads, over and over."""
    import threading

    data = saved.read_bytes()
    stop = threading.Event()

    def rewrite():
        while not stop.is_set():
            with open(saved, "r+b") as handle:
                handle.truncate(0)
                for start in range(0, len(data), 4096):
                    handle.write(data[start:start + 4096])

    writer = threading.Thread(target=rewrite)
    writer.start()
    outcomes = set()
    try:
        for _ in range(60):
            try:
                load_generator(saved)
                outcomes.add("loaded")
            except CheckpointError:
                outcomes.add("refused")
    finally:
        stop.set()
        writer.join()
    assert outcomes <= {"loaded", "refused"} and outcomes
