"""Safetensors checkpoints that carry their own model config.

Layout: tensors ``generator.<name>`` (always, including the frozen encoder, so
an inference checkpoint needs no download) and optionally
``discriminator.<name>``; string metadata:

=================  ========================================================
format             "rptgan"
format_version     integer, ``FORMAT_VERSION`` when written
config             the ModelConfig as JSON
keypoint_format    "openpose18"
image_size         "[height, width]" of the model canvas
dtype              storage dtype of the floating-point tensors
training           JSON summary of how it was trained (steps, data, metrics)
=================  ========================================================

Nothing here unpickles: pickled ``.pt``/``.ckpt`` files are refused with a
message, because loading a pickle can run arbitrary code.
"""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save_file
from torch import nn

from .config import ConfigError, ModelConfig
from .errors import RptganError
from .jsonio import parse_json
from .limits import MAX_CHECKPOINT_HEADER_BYTES
from .networks import (
    PoseTransferDiscriminator,
    PoseTransferGenerator,
    build_discriminator,
    build_generator,
)
from .pose.skeleton import KEYPOINT_FORMAT

FORMAT = "rptgan"
FORMAT_VERSION = 1
GENERATOR_PREFIX = "generator."
DISCRIMINATOR_PREFIX = "discriminator."
# The floating-point dtypes by name: what checkpoints store and what the pipeline computes in.
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_FILE_MODE = 0o666


class CheckpointError(RptganError, ValueError):
    """A checkpoint file is unusable; the message names the file and the problem."""


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint's metadata says about it."""

    path: str
    config: ModelConfig
    format_version: int
    dtype: str
    training: Mapping[str, Any] = field(default_factory=dict)
    has_discriminator: bool = False


# writing ------------------------------------------------------------------------


def _prefixed(module: nn.Module, prefix: str, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    out = {}
    for name, tensor in module.state_dict().items():
        tensor = tensor.detach()
        if tensor.is_floating_point():
            tensor = tensor.to(dtype)
        out[prefix + name] = tensor.contiguous().cpu()
    return out


def save_checkpoint(path: str | os.PathLike, generator: PoseTransferGenerator,
                    discriminator: PoseTransferDiscriminator | None = None,
                    training: Mapping[str, Any] | None = None, dtype: str = "float32") -> str:
    """Write ``generator`` (and optionally ``discriminator``) to ``path`` as safetensors.

    The write is atomic: the file appears complete under its name or not at
    all, and an existing file is replaced only once the new one is whole.

    Args:
        training: a JSON-serialisable summary stored in the metadata.
        dtype: storage dtype of floating-point tensors: float32, float16 or bfloat16.

    Returns:
        The path written.
    """
    if dtype not in DTYPES:
        raise CheckpointError(f"storage dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    config = generator.config
    tensors = _prefixed(generator, GENERATOR_PREFIX, DTYPES[dtype])
    if discriminator is not None:
        tensors.update(_prefixed(discriminator, DISCRIMINATOR_PREFIX, DTYPES[dtype]))
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": config.to_json(),
        "keypoint_format": config.keypoint_format,
        "image_size": json.dumps(list(config.image_size)),
        "dtype": dtype,
        "training": json.dumps(dict(training or {}), sort_keys=True),
    }
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=directory)
    os.close(handle)
    try:
        save_file(tensors, temporary, metadata=metadata)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        # mkstemp creates the file private (0600); a checkpoint is shared like any saved file,
        # e.g. with a ComfyUI running as another user.
        os.chmod(temporary, _FILE_MODE & ~_current_umask())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# reading ------------------------------------------------------------------------


def _looks_pickled(head: bytes) -> bool:
    # torch.save's zip container, or a raw pickle stream (protocol 2+ opcode).
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def _open_file(path: str):
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint is not a file: {path}")
    try:
        return open(path, "rb")
    except OSError as error:
        raise CheckpointError(f"{path} could not be opened: {error}") from None


def _header_from(handle: BinaryIO, path: str, size: int) -> tuple[dict[str, Any], int]:
    """The safetensors header read from ``handle``'s start, and the bytes the whole file
    declares it needs (length, header and tensors)."""
    head = handle.read(8)
    if _looks_pickled(head):
        raise CheckpointError(
            f"{path} is a pickled PyTorch checkpoint; rptgan only loads .safetensors files, because "
            "unpickling a file can run arbitrary code. Re-save the weights as safetensors with the tool "
            "that made them (or train with training/train.py, which writes safetensors)."
        )
    if len(head) < 8:
        raise CheckpointError(f"{path} is not a safetensors file: only {size} bytes")
    (header_length,) = struct.unpack("<Q", head)
    if header_length == 0 or header_length > MAX_CHECKPOINT_HEADER_BYTES:
        raise CheckpointError(f"{path} is not a safetensors file (no valid header)")
    raw = handle.read(header_length)
    if len(raw) < header_length:
        raise CheckpointError(f"{path} is truncated: its header needs {header_length} bytes, the file has {size - 8}")
    header = parse_json(raw, f"{path} is not a safetensors file: its header", CheckpointError,
                        MAX_CHECKPOINT_HEADER_BYTES)
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a safetensors file (header is not a JSON object)")
    data_end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(v) is int for v in offsets)
                or not 0 <= offsets[0] <= offsets[1]):
            raise CheckpointError(f"{path} is not a safetensors file: tensor {name!r} has no valid data_offsets")
        data_end = max(data_end, offsets[1])
    available = size - 8 - header_length
    if data_end > available:
        raise CheckpointError(
            f"{path} is truncated: its tensors need {data_end} bytes, the file holds {available} (an interrupted "
            "download or copy?)"
        )
    return header, 8 + header_length + data_end


def _read_header(path: str) -> tuple[dict[str, Any], int]:
    """The file's header and the bytes its whole content takes (see ``_header_from``)."""
    with _open_file(path) as handle:
        return _header_from(handle, path, os.fstat(handle.fileno()).st_size)


def read_checkpoint_info(path: str | os.PathLike) -> CheckpointInfo:
    """Validate the file and its metadata without reading the tensors."""
    path = os.fspath(path)
    return _info_from_header(path, _read_header(path)[0])


def _info_from_header(path: str, header: dict[str, Any]) -> CheckpointInfo:
    metadata = header.get("__metadata__") or {}
    if metadata.get("format") != FORMAT:
        names = [name for name in header if name != "__metadata__"][:3]
        raise CheckpointError(
            f"{path} is a safetensors file but not an RPT-GAN checkpoint (its metadata has no format={FORMAT!r}; "
            f"first tensors: {names}). Choose a checkpoint written by rptgan's training script."
        )
    try:
        version = int(metadata.get("format_version", ""))
    except ValueError:
        raise CheckpointError(f"{path}: format_version {metadata.get('format_version')!r} is not an integer") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} uses checkpoint format {version}, newer than the {FORMAT_VERSION} this version reads; "
            "update comfyui-rptgan"
        )
    if metadata.get("keypoint_format") != KEYPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: keypoint format {metadata.get('keypoint_format')!r} is not supported "
            f"(expected {KEYPOINT_FORMAT!r})"
        )
    try:
        config = ModelConfig.from_json(metadata.get("config", ""))
    except ConfigError as error:
        raise CheckpointError(f"{path}: invalid model config in metadata: {error}") from None
    training = parse_json(metadata.get("training", "{}"), f"{path}: the training summary in its metadata",
                          CheckpointError)
    return CheckpointInfo(
        path=path, config=config, format_version=version, dtype=metadata.get("dtype", "float32"),
        training=training, has_discriminator=any(name.startswith(DISCRIMINATOR_PREFIX) for name in header),
    )


def _load_into(module: nn.Module, tensors: Mapping[str, torch.Tensor], prefix: str, path: str) -> None:
    """Fill ``module`` (whose keys and shapes ``_check_declared_shapes`` has matched) from ``tensors``."""
    own = {name[len(prefix):]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}
    expected = module.state_dict()
    for name, tensor in own.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: tensor {prefix}{name} contains NaN or infinity (a diverged training run?)")
    # Keep each parameter's own dtype: the file may be stored in half precision.
    module.load_state_dict({name: tensor.to(expected[name].dtype) for name, tensor in own.items()})


def _read_tensors(path: str, header: dict[str, Any], total: int) -> dict[str, torch.Tensor]:
    """Every tensor of the file, from one read of its first ``total`` bytes into memory, whose
    header must be ``header`` (the one its config and shapes were checked in). No memory map:
    a file rewritten in place while it loads would otherwise kill the process (SIGBUS), and
    one replaced between two reads would pair one file's config with another's weights."""
    with _open_file(path) as handle:
        before = os.fstat(handle.fileno())
        data = handle.read(total)
        after = os.fstat(handle.fileno())
    changed = (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(data) < total
    if changed or _header_from(io.BytesIO(data), path, len(data))[0] != header:
        raise CheckpointError(f"{path} changed while it was being read (is it still being copied or saved?); "
                              "load it again once it is complete")
    try:
        return load(data)
    except (SafetensorError, ValueError) as error:
        raise CheckpointError(f"{path} could not be read as safetensors: {error}") from None


def _check_declared_shapes(path: str, header: dict[str, Any], build, prefix: str) -> None:
    """Compare the network the metadata's config describes, built on the meta device (no
    memory), with the tensor names and shapes the file's header declares, before anything
    is read or allocated: a small file whose config asks for a huge network fails here."""
    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in build().state_dict().items()}
    own = {name[len(prefix):]: tuple(entry.get("shape", ())) for name, entry in header.items()
           if name.startswith(prefix) and isinstance(entry, dict)}
    missing = sorted(set(expected) - set(own))
    unexpected = sorted(set(own) - set(expected))
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {', '.join(prefix + k for k in missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(prefix + k for k in unexpected[:3])})")
    mismatched = [f"{prefix}{name}: file {own[name]} vs model {shape}"
                  for name, shape in expected.items() if name in own and own[name] != shape]
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatches ({'; '.join(mismatched[:3])})")
    if problems:
        raise CheckpointError(f"{path} does not match its own config: " + "; ".join(problems))


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu",
                   dtype: torch.dtype = torch.float32) -> tuple[PoseTransferGenerator, CheckpointInfo]:
    """Rebuild the generator from a checkpoint, in eval mode on ``device`` in ``dtype``."""
    info, generator = _load_network(path, build_generator, GENERATOR_PREFIX)
    return generator.to(device=device, dtype=dtype).eval(), info


def load_discriminator(path: str | os.PathLike, device: str | torch.device = "cpu") -> PoseTransferDiscriminator:
    """Rebuild the discriminator from a checkpoint that holds one."""
    return _load_network(path, build_discriminator, DISCRIMINATOR_PREFIX, need_discriminator=True)[1].to(device)


def _load_network(path: str | os.PathLike, build, prefix: str, need_discriminator: bool = False):
    """(info, the network ``build(config)`` filled from the file's ``prefix`` tensors): the config
    and declared shapes are checked before anything is allocated or any tensor read."""
    path = os.fspath(path)
    header, total = _read_header(path)
    info = _info_from_header(path, header)
    if need_discriminator and not info.has_discriminator:
        raise CheckpointError(f"{path} holds no discriminator (an inference-only checkpoint)")
    _check_declared_shapes(path, header, lambda: build(info.config), prefix)
    tensors = _read_tensors(path, header, total)
    network = build(info.config)
    _load_into(network, tensors, prefix, path)
    return info, network
