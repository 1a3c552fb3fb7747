"""File helpers shared by the nodes and the scripts: hashes, safetensors reads, weights into networks."""

from __future__ import annotations

import hashlib
import os
from typing import Callable, Mapping

import torch
from safetensors.torch import load
from torch import nn


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


def load_weights(module: nn.Module, tensors: Mapping[str, torch.Tensor], source: str, kind: str,
                 error: type[Exception], name_in_file: Callable[[str], str] = lambda name: name,
                 strict: bool = False, assign: bool = False) -> None:
    """Fill every tensor of ``module``'s state dict from ``tensors[name_in_file(name)]``.

    Every name is checked before anything is loaded, so a file of another network
    fails with one ``error`` naming the file's own names: "<source> is not <kind>: N
    tensors missing (e.g. ...); M with the wrong shape (e.g. name (shape) instead
    of (shape))" and, with ``strict``, "K the network does not have". Tensors take
    the dtype of the module's own; ``assign`` puts them in place of the module's
    (for a network built on the meta device).
    """
    expected = module.state_dict()
    state, missing, wrong_shape = {}, [], []
    for name, tensor in expected.items():
        key = name_in_file(name)
        value = tensors.get(key)
        if value is None:
            missing.append(key)
        elif value.shape != tensor.shape:
            wrong_shape.append(f"{key} {tuple(value.shape)} instead of {tuple(tensor.shape)}")
        else:
            state[name] = value.to(tensor.dtype)
    unexpected = sorted(set(tensors) - {name_in_file(name) for name in expected}) if strict else []
    if missing or wrong_shape or unexpected:
        problems = [f"{len(missing)} tensors missing (e.g. {', '.join(missing[:3])})"] if missing else []
        problems += [f"{len(wrong_shape)} with the wrong shape (e.g. {wrong_shape[0]})"] if wrong_shape else []
        problems += [f"{len(unexpected)} the network does not have (e.g. {', '.join(unexpected[:3])})"] \
            if unexpected else []
        raise error(f"{source} is not {kind}: {'; '.join(problems)}")
    module.load_state_dict(state, assign=assign)
