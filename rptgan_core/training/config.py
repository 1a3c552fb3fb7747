"""Training configuration: typed, read from JSON, overridable from the command line.

A training config is a JSON object; every key is optional and falls back to
the dataclass default. Presets are JSON files (``training/configs/<name>.json``).
Overrides are ``dotted.key=value`` strings whose value is parsed as JSON
(``augment.erasing.p=0.5``, ``data.root="/data/market"``), or taken as a plain
string when it is not JSON (``data.root=/data/market``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from ..config import get_config
from ..errors import RptganError
from ..jsonio import parse_json, read_json_file
from .augment import AugmentConfig
from .losses import LossConfig
from .protocols import CONVENTIONS, PROTOCOLS

LAYOUTS = ("patn", "generic")
MIXED_PRECISION = (None, "no", "fp16", "bf16", "auto")


class TrainConfigError(RptganError, ValueError):
    """A training config is invalid; the message names the key."""


@dataclass(frozen=True)
class DataConfig:
    """Where the pairs come from and how results are scored.

    Attributes:
        layout: "patn" (image folder + annotation CSV + pairs CSV) or "generic"
            (identity folders, one OpenPose JSON per image).
        root: the dataset folder; for "generic", the training folder.
        train_split, eval_split: PATN split names (``<root>/<split>/``, ``*-<split>.csv``).
        eval_root: generic layout: the held-out folder (identities disjoint from ``root``).
        train_annotation, eval_annotation: PATN layout: the annotation CSV of each
            split, relative to ``root`` (or absolute), when the folder holds more
            than one ``*-annotation-<split>.csv`` or none by that pattern.
        identity: identity scheme for PATN names ("auto", "deepfashion", "prefix").
        protocol: how held-out pairs are scored during training: "plain", "patn"
            (PATN's scripts, which the paper's numbers follow) or "gfla" (see
            ``rptgan_core.training.protocols``).
        evaluation: SSIM convention: "plain", "deepfashion" (white padding to
            256x256) or "market" (adds masked SSIM).
        eval_pairs: test pairs scored during training (the first ones, a fixed set).
        synthetic: SyntheticPeople spec; when set, the dataset is generated into
            ``root`` first if it is not there.
        extra_train_roots: more PATN-layout folders whose training split joins the
            training pairs (each letterboxed onto the model's canvas like the
            rest; identities read as "auto"); held-out pairs come from ``root`` only.
    """

    layout: str = "patn"
    root: str = ""
    train_split: str = "train"
    eval_split: str = "test"
    eval_root: str | None = None
    train_annotation: str | None = None
    eval_annotation: str | None = None
    identity: str = "auto"
    protocol: str = "plain"
    evaluation: str = "plain"
    eval_pairs: int = 200
    synthetic: dict | None = None
    extra_train_roots: tuple[str, ...] = ()


@dataclass(frozen=True)
class OptimConfig:
    """Adam for both networks; the learning rate is multiplied by ``lr_decay`` every
    ``lr_decay_epochs`` epochs (or every ``lr_decay_steps`` optimizer steps when set)."""

    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay: float = 0.1
    lr_decay_epochs: float = 20.0
    lr_decay_steps: int | None = None


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs.

    Attributes:
        model: ModelConfig preset ("deepfashion", "market", "synthetic", ...).
        model_overrides: ModelConfig fields to change (num_identities is set
            from the training data and cannot be overridden).
        encoder_weights: "imagenet" or a local ResNet-50 .safetensors for the
            resnet50 encoder (required for it: ``check_encoder_weights``); unused
            by the conv encoder.
        init_from: an RPT-GAN checkpoint whose weights start a new run
            (fine-tuning, e.g. on your own data); its model config must match.
            Ignored when the run resumes from its own state.
        batch_size: per process, per micro-batch.
        gradient_accumulation: micro-batches per optimizer step.
        max_steps: optimizer steps to train; when None, ``epochs`` decides.
        epochs: passes over the training pairs (may be fractional).
        mixed_precision: "no", "fp16", "bf16", or "auto": bf16 where the device computes
            it natively (a CUDA GPU with bf16, a CPU with AVX512-BF16 or AMX), "no"
            elsewhere; None takes accelerate's launch setting.
        log_every, eval_every, sample_every, save_every: in optimizer steps (0 = never).
        keep_states: resumable training states kept in ``output_dir/state``.
        checkpoint_dtype: storage dtype of the inference checkpoint.
    """

    model: str = "deepfashion"
    model_overrides: dict = field(default_factory=dict)
    encoder_weights: str | None = None
    init_from: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    batch_size: int = 32
    gradient_accumulation: int = 1
    max_steps: int | None = None
    epochs: float = 60.0
    num_workers: int = 2
    seed: int = 0
    mixed_precision: str | None = None
    log_every: int = 10
    eval_every: int = 1000
    sample_every: int = 1000
    save_every: int = 1000
    keep_states: int = 2
    output_dir: str = "runs/rptgan"
    checkpoint_name: str = "rptgan.safetensors"
    checkpoint_dtype: str = "float16"

    def __post_init__(self) -> None:
        checks = [
            (self.data.layout in LAYOUTS, f"data.layout must be one of {LAYOUTS}"),
            (self.data.evaluation in CONVENTIONS, f"data.evaluation must be one of {CONVENTIONS}"),
            (self.data.protocol in PROTOCOLS, f"data.protocol must be one of {tuple(PROTOCOLS)}"),
            (self.mixed_precision in MIXED_PRECISION, f"mixed_precision must be one of {MIXED_PRECISION}"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.gradient_accumulation >= 1, "gradient_accumulation must be at least 1"),
            (self.max_steps is None or self.max_steps >= 1, "max_steps must be at least 1"),
            (self.epochs > 0, "epochs must be positive"),
            (self.num_workers >= 0, "num_workers must not be negative"),
            (self.keep_states >= 1, "keep_states must be at least 1"),
            ("num_identities" not in self.model_overrides,
             "model_overrides.num_identities is set from the training data; leave it out"),
            (self.checkpoint_dtype in ("float32", "float16", "bfloat16"),
             "checkpoint_dtype must be float32, float16 or bfloat16"),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainConfigError(message)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


_TYPE_NAMES = {int: "a whole number", float: "a number", bool: "true or false", str: "text", dict: "a JSON object",
               type(None): "null"}


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return " or ".join(_type_name(option) for option in typing.get_args(hint))
    if typing.get_origin(hint) in (tuple, list):
        return "a list"
    return _TYPE_NAMES.get(hint, str(hint))


def _matches(hint: Any, value: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_matches(option, value) for option in typing.get_args(hint))
    if origin in (tuple, list):
        item = typing.get_args(hint)[0] if typing.get_args(hint) else Any
        return isinstance(value, (list, tuple)) and all(_matches(item, v) for v in value)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _check_type(key: str, hint: Any, value: Any) -> None:
    """A setting must hold its declared type: checks after this compare numbers with numbers."""
    if not _matches(hint, value):
        raise TrainConfigError(f"{key} must be {_type_name(hint)}, got {json.dumps(value, default=str)[:60]}")


def _build(kind: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise TrainConfigError(f"{where or 'config'} must be a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(kind)
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise TrainConfigError(f"unknown setting {where + '.' if where else ''}{unknown[0]}; "
                               f"{where or 'the config'} has {sorted(names)}")
    values = {}
    for name, value in data.items():
        hint = hints[name]
        key = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, key)
        else:
            _check_type(key, hint, value)
            values[name] = value
    try:
        return kind(**values)
    except TypeError as error:
        raise TrainConfigError(f"{where or 'config'}: {error}") from None


def train_config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Build a TrainConfig from a (partial) nested dict; unknown keys raise TrainConfigError."""
    return _build(TrainConfig, data, "")


def _parse_value(text: str) -> Any:
    try:
        return parse_json(text, "the value")
    except ValueError:  # not JSON: the text itself
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set ``dotted.key=value`` overrides in a nested dict (a copy)."""
    out = json.loads(json.dumps(data))
    for item in overrides:
        if "=" not in item:
            raise TrainConfigError(f"override {item!r} must look like key.path=value")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise TrainConfigError(f"override {key}: {part} is not a section")
        node[parts[-1]] = _parse_value(text)
    return out


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    path = os.fspath(path)
    try:
        data = read_json_file(path, path, TrainConfigError)
    except FileNotFoundError:
        raise TrainConfigError(f"config file not found: {path}") from None
    if not isinstance(data, dict):
        raise TrainConfigError(f"{path}: a training config must be a JSON object")
    return data


def without_augmentation(config: TrainConfig) -> TrainConfig:
    """The same run with all six augmentations off (the ablation's other arm)."""
    return dataclasses.replace(config, augment=config.augment.disabled())


def check_encoder_weights(config: TrainConfig) -> None:
    """Refuse a run whose model has the frozen ResNet-50 encoder but no ``encoder_weights``: the trunk
    would stay random and never train (the paper's trunk is ImageNet's)."""
    if config.encoder_weights:
        return
    model = get_config(config.model, **config.model_overrides)
    if model.encoder == "resnet50":
        raise TrainConfigError(
            f"model {config.model!r} has the frozen ResNet-50 encoder, but encoder_weights is not set: it would "
            "stay random and never train. Set encoder_weights to \"imagenet\" (torchvision's download or cache) "
            "or to a local ResNet-50 .safetensors (--set encoder_weights=...)"
        )
