"""Hostile inputs, one entry point at a time: run by ``tests/test_hostile_inputs.py`` in a child
process under an address-space limit.

    python tests/hostile_cases.py ENTRY FOLDER

builds each case's input under FOLDER/input (the nodes' input folder), calls the entry
point, and prints one JSON line per case: the error it raised (class and message), what
was expected, and how long it took. Everything a case may write goes to FOLDER/out.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
CASE_SECONDS = 60  # a case that runs longer has hung

CASES: dict[str, dict[str, tuple[Callable[[Path], object], str, str]]] = {}


def case(entry: str, error: str, fragment: str):
    """Register ``function(folder)`` as a case of ``entry`` that must raise ``error`` (a class
    name) with ``fragment`` in its message."""
    def register(function):
        CASES.setdefault(entry, {})[function.__name__] = (function, error, fragment)
        return function
    return register


def _pack():
    from conftest import _load_pack  # tests/conftest.py: the pack loaded as ComfyUI loads it

    return _load_pack()


def _node(name: str):
    return _pack().NODE_CLASS_MAPPINGS[f"RPTGAN_{name}"]()


# checkpoints -------------------------------------------------------------------


def _tiny_checkpoint(folder: Path) -> Path:
    from rptgan_core.checkpoint import save_checkpoint
    from rptgan_core.config import get_config
    from rptgan_core.networks import build_generator

    path = folder / "input" / "tiny.safetensors"
    if not path.exists():
        save_checkpoint(path, build_generator(get_config("tiny-flow")).eval())
    return path


def _with_config(folder: Path, name: str, **changes) -> Path:
    """The tiny checkpoint's tensors under a config with ``changes`` (raw JSON values)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from rptgan_core.files import read_safetensors

    source = _tiny_checkpoint(folder)
    with safe_open(str(source), framework="pt") as handle:
        metadata = dict(handle.metadata())
    config = json.loads(metadata["config"])
    config.update(changes)
    metadata["config"] = json.dumps(config)
    path = folder / "input" / name
    save_file(read_safetensors(source), str(path), metadata=metadata)
    return path


def _load_checkpoint(path: Path):
    from rptgan_core.inference import PoseTransferPipeline

    return PoseTransferPipeline.from_checkpoint(path, device="cpu")


@case("checkpoints", "CheckpointError", "generator_channels")
def huge_width(folder):
    return _load_checkpoint(_with_config(folder, "wide.safetensors", generator_channels=20000))


@case("checkpoints", "CheckpointError", "does not match its own config")
def wide_within_bounds_but_not_in_the_file(folder):
    return _load_checkpoint(_with_config(folder, "w2048.safetensors", generator_channels=2048))


@case("checkpoints", "CheckpointError", "num_res_blocks")
def ten_million_blocks(folder):
    return _load_checkpoint(_with_config(folder, "deep.safetensors", num_res_blocks=10**7))


@case("checkpoints", "CheckpointError", "image size")
def huge_canvas(folder):
    return _load_checkpoint(_with_config(folder, "canvas.safetensors", image_height=65536, image_width=65536))


@case("checkpoints", "CheckpointError", "pose_sigma")
def nan_sigma(folder):
    return _load_checkpoint(_with_config(folder, "nan.safetensors", pose_sigma=math.nan))


@case("checkpoints", "CheckpointError", "generator_channels")
def width_as_text(folder):
    return _load_checkpoint(_with_config(folder, "text.safetensors", generator_channels="wide"))


@case("checkpoints", "CheckpointError", "norm")
def unknown_norm(folder):
    return _load_checkpoint(_with_config(folder, "norm.safetensors", norm=["instance"]))


def _raw_safetensors(folder: Path, name: str, header: bytes, length: int | None = None) -> Path:
    path = folder / "input" / name
    path.write_bytes(struct.pack("<Q", len(header) if length is None else length) + header)
    return path


@case("checkpoints", "CheckpointError", "config")
def config_nested_ten_thousand_deep(folder):
    metadata = {"format": "rptgan", "format_version": "1", "keypoint_format": "openpose18",
                "config": "[" * 10000 + "]" * 10000}
    return _load_checkpoint(_raw_safetensors(folder, "nested.safetensors",
                                             json.dumps({"__metadata__": metadata}).encode()))


@case("checkpoints", "CheckpointError", "no valid header")
def header_length_beyond_the_bound(folder):
    return _load_checkpoint(_raw_safetensors(folder, "long.safetensors", b"{}", length=2**62))


@case("checkpoints", "CheckpointError", "data_offsets")
def offsets_that_are_not_numbers(folder):
    header = {"generator.x": {"dtype": "F32", "shape": [1], "data_offsets": ["a", "b"]}}
    return _load_checkpoint(_raw_safetensors(folder, "offsets.safetensors", json.dumps(header).encode()))


@case("checkpoints", "CheckpointError", "truncated")
def offsets_beyond_the_file(folder):
    header = {"generator.x": {"dtype": "F32", "shape": [2**30], "data_offsets": [0, 2**32]}}
    return _load_checkpoint(_raw_safetensors(folder, "beyond.safetensors", json.dumps(header).encode()))


@case("checkpoints", "CheckpointError", "pickled")
def a_pickle(folder):
    path = folder / "input" / "model.safetensors"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    return _load_checkpoint(path)


@case("checkpoints", "CheckpointError", "not an RPT-GAN checkpoint")
def a_foreign_safetensors_file(folder):
    import torch
    from safetensors.torch import save_file

    path = folder / "input" / "foreign.safetensors"
    save_file({"weight": torch.zeros(3)}, str(path))
    return _load_checkpoint(path)


@case("checkpoints", "CheckpointError", "truncated")
def cut_in_half(folder):
    data = _tiny_checkpoint(folder).read_bytes()
    path = folder / "input" / "half.safetensors"
    path.write_bytes(data[: len(data) // 2])
    return _load_checkpoint(path)


@case("checkpoints", "CheckpointError", "only 0 bytes")
def empty_file(folder):
    path = folder / "input" / "empty.safetensors"
    path.write_bytes(b"")
    return _load_checkpoint(path)


@case("checkpoints", "NodeInputError", "not in the rptgan model folders")
def loader_node_outside_its_folder(folder):
    return _node("CheckpointLoader").load("../input/tiny.safetensors")


# pose JSON -----------------------------------------------------------------------


def _frame(people: list | None = None, width=96, height=128) -> dict:
    return {"people": people if people is not None else [{"pose_keypoints_2d": [10.0, 10.0, 1.0] * 18}],
            "canvas_width": width, "canvas_height": height}


def _read_poses(data):
    from rptgan_core.pose import poses_from_openpose_json

    return poses_from_openpose_json(data)


@case("pose_json", "PoseError", "20001 frames")
def twenty_thousand_and_one_frames(folder):
    return _read_poses([_frame()] * 20001)


@case("pose_json", "PoseError", "canvas")
def canvas_two_to_the_forty(folder):
    return _read_poses(_frame(width=2**40))


@case("pose_json", "PoseError", "canvas")
def canvas_thirty_thousand(folder):
    return _read_poses(_frame(width=30000, height=30000))


@case("pose_json", "PoseError", "canvas")
def canvas_infinite(folder):
    return _read_poses(_frame(width=math.inf))


@case("pose_json", "PoseError", "people")
def a_hundred_and_one_people(folder):
    return _read_poses(_frame([{"pose_keypoints_2d": [10.0, 10.0, 1.0] * 18}] * 101))


@case("pose_json", "PoseError", "nest")
def nested_a_hundred_thousand_deep(folder):
    return _read_poses("[" * 100000 + "]" * 100000)


@case("pose_json", "PoseError", "pose_keypoints_2d")
def keypoints_as_text(folder):
    return _read_poses(_frame([{"pose_keypoints_2d": "10, 10, 1"}]))


@case("pose_json", "PoseError", "pose_keypoints_2d")
def keypoints_one_short(folder):
    return _read_poses(_frame([{"pose_keypoints_2d": [10.0, 10.0, 1.0] * 17 + [10.0, 10.0]}]))


@case("pose_json", "PoseError", "frame 0: keypoints contain NaN")
def keypoints_nan(folder):
    return _read_poses(_frame([{"pose_keypoints_2d": [math.nan, 10.0, 1.0] * 18}]))


@case("pose_json", "PoseError", "people")
def people_as_an_object(folder):
    return _read_poses(_frame({"0": {}}))


@case("pose_json", "NodeInputError", "pose_file")
def a_pose_file_over_the_size_bound(folder):
    path = folder / "input" / "big.json"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[" + ", ".join(["0"] * (34 * 2**20)) + "]")
    return _node("LoadPoseKeypoints").load("big.json")


@case("pose_json", "NodeInputError", "edited_pose")
def an_edited_pose_nested_deep(folder):
    return _node("EditPose").edit([_frame()], edited_pose="[" * 100000)


@case("pose_json", "NodeInputError", "coordinates")
def an_unknown_coordinate_convention(folder):
    return _node("EditPose").edit([_frame()], coordinates="sideways")


@case("pose_json", "NodeInputError", "name")
def a_library_name_out_of_its_folder(folder):
    return _node("SavePoseToLibrary").save([_frame()], "../../escaped")


# PATN CSV --------------------------------------------------------------------------


def _patn(folder: Path, annotation_rows: list[str], pairs_rows: list[str] | None = None) -> Path:
    from PIL import Image

    root = folder / "input" / f"patn-{len(list((folder / 'input').glob('patn-*')))}"
    (root / "test").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (48, 64), (120, 90, 60)).save(root / "test" / name)
    (root / "x-annotation-test.csv").write_text("name:keypoints_y:keypoints_x\n" + "".join(annotation_rows))
    (root / "x-pairs-test.csv").write_text("from,to\n"
                                           + "".join(pairs_rows if pairs_rows is not None else ["a.jpg,b.jpg\n"]))
    return root


def _read_split(root: Path):
    from rptgan_core.training.data import read_patn_split

    return read_patn_split(root, "test")


_ROW = ":" + str([10] * 18) + ":" + str([10] * 18) + "\n"


@case("patn_csv", "DatasetError", "line 2, keypoints_y")
def keypoints_that_are_not_numbers(folder):
    return _read_split(_patn(folder, ["a.jpg:[a, b]:[c, d]\n", "b.jpg" + _ROW]))


@case("patn_csv", "DatasetError", "line 2, keypoints_y")
def seventeen_keypoints(folder):
    return _read_split(_patn(folder, ["a.jpg:" + str([10] * 17) + ":" + str([10] * 17) + "\n", "b.jpg" + _ROW]))


@case("patn_csv", "DatasetError", "c.jpg")
def a_pair_naming_a_missing_image(folder):
    return _read_split(_patn(folder, ["a.jpg" + _ROW, "b.jpg" + _ROW], ["a.jpg,c.jpg\n"]))


@case("patn_csv", "DatasetError", "no pairs")
def no_pairs(folder):
    return _read_split(_patn(folder, ["a.jpg" + _ROW, "b.jpg" + _ROW], []))


@case("patn_csv", "DatasetError", "line 2, keypoints_y")
def a_keypoint_at_ten_to_the_308(folder):
    return _read_split(_patn(folder, ["a.jpg:" + str([10**308] * 18) + ":" + str([10] * 18) + "\n", "b.jpg" + _ROW]))


@case("patn_csv", "DatasetError", "from,to")
def a_pairs_row_with_three_names(folder):
    return _read_split(_patn(folder, ["a.jpg" + _ROW, "b.jpg" + _ROW], ["a.jpg,b.jpg,a.jpg\n"]))


# images -------------------------------------------------------------------------


def _png_header(width: int, height: int, bit_depth: int, colour_type: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` and whose data is one tiny zlib stream."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
            + chunk(b"IEND", b""))


def _load_image(path: Path):
    from rptgan_core.imageio import load_image

    return load_image(path)


def _load_declared(folder: Path, name: str, width: int, height: int, bit_depth: int, colour_type: int):
    path = folder / "input" / name
    path.write_bytes(_png_header(width, height, bit_depth, colour_type))
    return _load_image(path)


@case("images", "ImageLoadError", "pixels")
def a_16_bit_png_declaring_ten_thousand_squared(folder):
    return _load_declared(folder, "bomb16.png", 10000, 10000, 16, 2)


@case("images", "ImageLoadError", "pixels")
def a_16_bit_rgba_png_declaring_thirty_thousand_squared(folder):
    return _load_declared(folder, "bomb16a.png", 30000, 30000, 16, 6)


@case("images", "ImageLoadError", "too large")
def an_8_bit_png_declaring_thirty_thousand_squared(folder):
    return _load_declared(folder, "bomb8.png", 30000, 30000, 8, 2)


@case("images", "ImageLoadError", "NaN")
def a_float_tiff_holding_nan(folder):
    from PIL import Image

    values = np.full((8, 8), 0.5, np.float32)
    values[2, 3] = np.nan
    path = folder / "input" / "nan.tif"
    Image.fromarray(values, mode="F").save(path)
    return _load_image(path)


@case("images", "ImageLoadError", "cut.png: the image data is corrupt or truncated")
def a_truncated_png(folder):
    from PIL import Image

    path = folder / "input" / "cut.png"
    Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:300])
    return _load_image(path)


@case("images", "ImageLoadError", "not an image")
def text_named_png(folder):
    path = folder / "input" / "text.png"
    path.write_text("hello " * 100)
    return _load_image(path)


@case("images", "DatasetError", "pixels")
def a_bomb_in_a_training_set(folder):
    from rptgan_core.training.data import load_image_tensor

    path = folder / "input" / "train-bomb.png"
    path.write_bytes(_png_header(10000, 10000, 16, 2))
    return load_image_tensor(str(path), 1.0)


@case("images", "NodeInputError", "pixels")
def a_one_by_hundred_thousand_png_padded_to_an_aspect(folder):
    from PIL import Image

    Image.new("RGB", (1, 100000), (200, 200, 200)).save(folder / "input" / "thin.png")
    return _node("LoadPersonImage").load("thin.png", aspect="deepfashion (176x256)")


@case("images", "InputFileError", "outside the input folder")
def a_path_out_of_the_input_folder(folder):
    (folder / "secret.png").write_bytes(b"")
    return _node("LoadPersonImage").load("../secret.png")


@case("images", "InputFileError", "absolute path")
def an_absolute_path(folder):
    return _node("LoadPersonImage").load(str(folder / "input" / "text.png"))


@case("images", "InputFileError", "NUL")
def a_nul_in_the_name(folder):
    return _node("LoadPersonImage").load("a\x00.png")


# tensors into nodes ---------------------------------------------------------------


def _model():
    return _node("CheckpointLoader").load("tiny-node.safetensors", "cpu", "float32")[0]


def _transfer(image, pose=None, **options):
    return _node("PoseTransfer").generate(image, pose if pose is not None else [_frame(width=32, height=32)],
                                          _model(), **options)


def _image(*shape, value=0.5):
    import torch

    return torch.full(shape, value)


@case("tensors", "NodeInputError", "NaN")
def an_image_holding_nan(folder):
    image = _image(1, 32, 32, 3)
    image[0, 1, 1, 0] = math.nan
    return _transfer(image)


@case("tensors", "NodeInputError", "image")
def an_image_without_channels(folder):
    return _transfer(_image(1, 32, 32))


@case("tensors", "NodeInputError", "0..1")
def an_image_in_0_to_255(folder):
    return _transfer(_image(1, 32, 32, 3, value=200.0))


@case("tensors", "NodeInputError", "pose")
def no_pose(folder):
    return _node("PoseTransfer").generate(_image(1, 32, 32, 3), None, _model())


@case("tensors", "NodeInputError", "coordinates")
def a_transfer_with_an_unknown_convention(folder):
    return _transfer(_image(1, 32, 32, 3), coordinates="sideways")


@case("tensors", "NodeInputError", "pixels")
def an_upscale_to_twelve_thousand_pixels_a_side(folder):
    return _node("Upscale").upscale(_image(1, 800, 800, 3), scale=16.0)


@case("tensors", "NodeInputError", "keypoint_x")
def an_edit_to_a_nan_position(folder):
    return _node("EditPose").edit([_frame()], keypoint="nose", keypoint_x=math.nan)


# command lines --------------------------------------------------------------------


_LOG_LINE = re.compile(r"^([WIE]\d{4} |INFO: |WARNING: All log messages)")  # MediaPipe's own logging


def _cli(folder: Path, script: str, *arguments: str) -> None:
    """Run one of the project's scripts; a refusal is its own message and exit status, not a traceback."""
    done = subprocess.run([sys.executable, str(REPO / script), *arguments], capture_output=True, text=True,
                          timeout=CASE_SECONDS, cwd=folder / "out", env={**os.environ, "PYTHONPATH": str(REPO)})
    if "Traceback" in done.stderr:
        raise RuntimeError(f"{script} crashed: {done.stderr.strip().splitlines()[-1]}")
    if done.returncode not in (1, 2):
        raise RuntimeError(f"{script} ended with status {done.returncode}: {done.stderr.strip()[-300:]}")
    if done.returncode == 0:
        raise RuntimeError(f"{script} accepted it")
    said = [line for line in done.stderr.splitlines() if line.strip() and not _LOG_LINE.match(line)]
    raise SystemExit(" | ".join(said)[-400:] or f"exit {done.returncode}")


@case("clis", "SystemExit", "nested.json is JSON nested too deeply")
def train_with_a_config_nested_deep(folder):
    path = folder / "input" / "nested.json"
    path.write_text("[" * 100000)
    return _cli(folder, "training/train.py", "--config", str(path), "--output-dir", str(folder / "out" / "run"))


@case("clis", "SystemExit", "batch_size")
def train_with_a_batch_size_of_text(folder):
    return _cli(folder, "training/train.py", "--preset", "synthetic-flow", "--set", 'batch_size="many"',
                "--output-dir", str(folder / "out" / "run"))


@case("clis", "SystemExit", "model_overrides")
def train_with_overrides_that_are_a_list(folder):
    return _cli(folder, "training/train.py", "--preset", "synthetic-flow", "--set", "model_overrides=[1, 2]",
                "--output-dir", str(folder / "out" / "run"))


@case("clis", "SystemExit", "pickled")
def evaluate_a_pickled_checkpoint(folder):
    path = folder / "input" / "pickled.safetensors"
    path.write_bytes(b"\x80\x04" + b"\x00" * 64)
    return _cli(folder, "training/evaluate.py", "--checkpoint", str(path), "--synthetic-test")


@case("clis", "SystemExit", "size")
def prepare_a_dataset_of_zero_pixels(folder):
    (folder / "input" / "photos" / "someone").mkdir(parents=True, exist_ok=True)
    return _cli(folder, "training/prepare_dataset.py", str(folder / "input" / "photos"), str(folder / "out" / "data"),
                "--size", "0x0")


@case("clis", "SystemExit", "video not found")
def prepare_from_a_video_that_is_not_there(folder):
    return _cli(folder, "training/prepare_video.py", str(folder / "input" / "absent.avi"), str(folder / "out" / "v"))


# the runner ------------------------------------------------------------------------


def _prepare(folder: Path) -> None:
    for name in ("input", "out", "out/temp", "out/models", "out/upscale", "out/poses"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    os.environ.update({
        "RPTGAN_INPUT_DIR": str(folder / "input"), "RPTGAN_TEMP_DIR": str(folder / "out" / "temp"),
        "RPTGAN_MODELS_DIR": str(folder / "out" / "models"), "RPTGAN_UPSCALE_DIR": str(folder / "out" / "upscale"),
        "RPTGAN_POSE_LIBRARY_DIR": str(folder / "out" / "poses"),
    })
    from rptgan_core.checkpoint import save_checkpoint
    from rptgan_core.config import get_config
    from rptgan_core.networks import build_generator

    save_checkpoint(folder / "out" / "models" / "tiny-node.safetensors",
                    build_generator(get_config("tiny-flow")).eval())


def _timeout(*_):
    raise TimeoutError(f"still running after {CASE_SECONDS} s")


def main(entry: str, folder: str) -> None:
    import resource

    folder = Path(folder)
    _prepare(folder)
    signal.signal(signal.SIGALRM, _timeout)
    for name, (function, error, fragment) in CASES[entry].items():
        start = time.perf_counter()
        signal.alarm(CASE_SECONDS)
        try:
            function(folder)
            raised, message = ["nothing"], "the input was accepted"
        except BaseException as caught:  # noqa: BLE001 - the class is what is being tested
            raised, message = [kind.__name__ for kind in type(caught).__mro__], str(caught)
        finally:
            signal.alarm(0)
        print(json.dumps({"case": name, "raised": raised, "message": message[:500], "expected": error,
                          "fragment": fragment, "seconds": round(time.perf_counter() - start, 2),
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
