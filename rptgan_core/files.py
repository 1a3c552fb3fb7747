"""File helpers shared by the nodes and the scripts."""

from __future__ import annotations

import hashlib
import os

import torch
from safetensors.torch import load


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_safetensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file, from one read of its bytes. Not memory-mapped: a
    weight file overwritten in place while it loads would kill the process (SIGBUS).

    Raises:
        OSError: the file cannot be read; safetensors' own error for a damaged file.
    """
    with open(path, "rb") as handle:
        return load(handle.read())
