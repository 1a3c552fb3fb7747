"""Resumable training state: networks, optimizers, schedulers and progress, without pickles.

A state is a folder ``<output>/state/step-<N>/`` holding

* ``<module>.safetensors``: each network's state dict (full precision);
* ``<optimizer>.safetensors``: each optimizer's per-parameter tensors, with its
  non-tensor values (param groups, scalars) as JSON in the metadata;
* ``state.json``: scheduler states, the mixed-precision scaler state and the
  progress (step, epoch, position in the epoch, seed, metrics).

Randomness needs no saved generator state: the data order is a function of
(seed, epoch) and every augmentation of (seed, draw), so a run resumed at a
step sees exactly the data an uninterrupted run would.

Writes are atomic: the folder is written under a temporary name, flushed to
disk, then renamed, and ``<output>/state/latest`` (a one-line pointer) is
replaced last. A crash at any moment leaves the previous state intact, and
no reader ever sees a half-written state. Only safetensors and JSON are read
back, so nothing is unpickled.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import save_file
from torch import nn

from ..config import ModelConfig
from ..errors import RptganError
from ..files import load_weights, read_safetensors
from ..jsonio import read_json_file

STATE_FOLDER = "state"
LATEST = "latest"
_PREFIX = "step-"


class TrainingStateError(RptganError, RuntimeError):
    """A training state folder is missing, incomplete or does not fit the run."""


def _fsync_path(path: str) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if os.path.isdir(path) else os.O_RDONLY
    try:
        handle = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # some filesystems cannot fsync folders
    finally:
        os.close(handle)


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for param_id, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param_id}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{param_id}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _load_optimizer(optimizer: torch.optim.Optimizer, path: str) -> None:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        meta = json.loads(handle.metadata()["optimizer"])
    tensors = read_safetensors(path)
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        param_id, key = name.split(".", 1)
        state.setdefault(int(param_id), {})[key] = tensor
    for name, value in meta["scalars"].items():
        param_id, key = name.split(".", 1)
        state.setdefault(int(param_id), {})[key] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (ValueError, KeyError) as error:
        raise TrainingStateError(f"{path} does not fit this optimizer: {error}") from None


def state_root(output_dir: str | os.PathLike) -> str:
    return os.path.join(os.fspath(output_dir), STATE_FOLDER)


def save_training_state(output_dir: str | os.PathLike, step: int, modules: Mapping[str, nn.Module],
                        optimizers: Mapping[str, torch.optim.Optimizer], state: Mapping[str, Any],
                        keep: int = 2) -> str:
    """Write the state for ``step`` atomically; keep the newest ``keep`` states.

    Args:
        modules: name -> network (unwrapped from any DDP wrapper).
        optimizers: name -> optimizer.
        state: JSON-serialisable rest (scheduler and scaler state dicts, progress).

    Returns:
        The folder written.
    """
    root = state_root(output_dir)
    os.makedirs(root, exist_ok=True)
    final = os.path.join(root, f"{_PREFIX}{step:08d}")
    temporary = tempfile.mkdtemp(prefix=".tmp-", dir=root)
    try:
        for name, module in modules.items():
            tensors = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
            save_file(tensors, os.path.join(temporary, f"{name}.safetensors"))
        for name, optimizer in optimizers.items():
            tensors, meta = _optimizer_tensors(optimizer)
            save_file(tensors, os.path.join(temporary, f"{name}.safetensors"), metadata={"optimizer": json.dumps(meta)})
        with open(os.path.join(temporary, "state.json"), "w", encoding="utf-8") as handle:
            json.dump({"step": step, **state}, handle, indent=1, sort_keys=True)
        for name in os.listdir(temporary):
            _fsync_path(os.path.join(temporary, name))
        _fsync_path(temporary)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(temporary, final)
    finally:
        if os.path.exists(temporary):
            shutil.rmtree(temporary, ignore_errors=True)
    _fsync_path(root)
    pointer = os.path.join(root, LATEST)
    handle, tmp_pointer = tempfile.mkstemp(prefix=".tmp-latest-", dir=root)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(os.path.basename(final) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp_pointer, pointer)
    _fsync_path(root)
    for old in sorted(n for n in os.listdir(root) if n.startswith(_PREFIX))[:-keep]:
        shutil.rmtree(os.path.join(root, old), ignore_errors=True)
    for leftover in (os.path.join(root, n) for n in os.listdir(root) if n.startswith(".tmp-")):
        # Left by an earlier crash: never complete, never read.
        if os.path.isdir(leftover):
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            os.remove(leftover)
    return final


def _state_json(folder: str) -> dict[str, Any]:
    """A state folder's state.json, or TrainingStateError when it is missing or damaged."""
    path = os.path.join(folder, "state.json")
    if not os.path.isfile(path):
        raise TrainingStateError(f"{folder} is not a training state (no state.json)")
    state = read_json_file(path, f"{path}", TrainingStateError)
    if not isinstance(state, dict):
        raise TrainingStateError(f"{path} is damaged: it is not a JSON object")
    return state


def _readable(folder: str) -> bool:
    try:
        _state_json(folder)
    except TrainingStateError:
        return False
    return True


def latest_state(output_dir: str | os.PathLike) -> str | None:
    """The newest complete state folder of a run whose state.json reads, or None when it has
    none: a damaged newest state (a disk that filled, a file cut short) falls back to the one
    before it."""
    root = state_root(output_dir)
    pointer = os.path.join(root, LATEST)
    if os.path.isfile(pointer):
        with open(pointer, encoding="utf-8") as handle:
            name = handle.read().strip()
        candidate = os.path.join(root, name)
        if name.startswith(_PREFIX) and _readable(candidate):
            return candidate
    if not os.path.isdir(root):
        return None
    # No pointer (or a stale one): every renamed step folder is complete by construction.
    for name in sorted((n for n in os.listdir(root) if n.startswith(_PREFIX)), reverse=True):
        if _readable(os.path.join(root, name)):
            return os.path.join(root, name)
    return None


def load_training_state(folder: str, modules: Mapping[str, nn.Module],
                        optimizers: Mapping[str, torch.optim.Optimizer]) -> dict[str, Any]:
    """Restore networks and optimizers from ``folder``; returns the JSON rest (with "step")."""
    state = _state_json(folder)
    for name, module in modules.items():
        path = os.path.join(folder, f"{name}.safetensors")
        if not os.path.isfile(path):
            raise TrainingStateError(f"{folder}: {name}.safetensors is missing")
        try:
            tensors = read_safetensors(path)
        except (OSError, SafetensorError) as error:
            raise TrainingStateError(f"{path} could not be read: {error}") from None
        load_weights(module, tensors, path, f"the state of this run's {name} (a different model config?)",
                     TrainingStateError, strict=True)
    for name, optimizer in optimizers.items():
        path = os.path.join(folder, f"{name}.safetensors")
        if not os.path.isfile(path):
            raise TrainingStateError(f"{folder}: {name}.safetensors is missing")
        _load_optimizer(optimizer, path)
    return state


def check_same_model(state: str, saved: dict[str, Any] | None, model_config: ModelConfig) -> None:
    """Refuse to resume a state trained with another model config: the weights would load (the
    shapes can agree) and the run would go on as a different model without a word. States
    saved before the config was kept in them are resumed as they were."""
    if saved is None:
        return
    changed = [f"{name}: {before!r} -> {now!r}" for name, before, now in
               ModelConfig.from_dict(saved).differences(model_config)]
    if changed:
        raise TrainingStateError(f"{state} was trained with another model config ({', '.join(changed[:4])}); "
                                 "choose another --output-dir, or set the model back, to resume it")
