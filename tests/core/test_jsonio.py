"""Every JSON entry point reads through one bounded parser: nesting and size give the entry
point's own error naming what was read, never RecursionError or a memory blow-up."""

import json
import struct

import pytest
from safetensors.torch import load_file, save_file

from rptgan_core.checkpoint import CheckpointError, read_checkpoint_info, save_checkpoint
from rptgan_core.config import ConfigError, ModelConfig, get_config
from rptgan_core.jsonio import parse_json, read_json_file
from rptgan_core.networks import build_generator
from rptgan_core.pose import PoseError, poses_from_openpose_json
from rptgan_core.training.config import TrainConfigError, read_config_file

DEEP = "[" * 100_000 + "]" * 100_000


def test_the_parser_names_what_it_read():
    assert parse_json('{"a": [1, 2]}', "x") == {"a": [1, 2]}
    with pytest.raises(ValueError, match="the thing is JSON nested too deeply"):
        parse_json(DEEP, "the thing")
    with pytest.raises(ValueError, match="the thing is not valid JSON"):
        parse_json("{nope", "the thing")
    with pytest.raises(ValueError, match="more than the 10 allowed"):
        parse_json("[" + "1," * 10 + "1]", "the thing", max_bytes=10)


def test_a_big_file_is_not_read_past_the_bound(tmp_path):
    path = tmp_path / "big.json"
    path.write_text("[" + "0," * 1000 + "0]")
    with pytest.raises(KeyError, match="more than the 100 allowed"):
        read_json_file(str(path), "big.json", KeyError, max_bytes=100)


def test_pose_json_and_model_configs_refuse_deep_nesting():
    with pytest.raises(PoseError, match="pose JSON is JSON nested too deeply"):
        poses_from_openpose_json(DEEP)
    with pytest.raises(ConfigError, match="config is JSON nested too deeply"):
        ModelConfig.from_json(DEEP)


def test_checkpoint_metadata_nested_too_deeply_is_a_checkpoint_error(tmp_path):
    path = save_checkpoint(tmp_path / "deep.safetensors", build_generator(get_config("tiny")),
                           training={"steps": 1})
    tensors = load_file(str(path))
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        metadata = json.loads(handle.read(length))["__metadata__"]
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={**metadata, "training": DEEP})
    with pytest.raises(CheckpointError, match="training summary in its metadata is JSON nested too deeply"):
        read_checkpoint_info(path)


def test_a_training_config_file_nested_too_deeply(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(DEEP)
    with pytest.raises(TrainConfigError, match="nested too deeply"):
        read_config_file(path)
