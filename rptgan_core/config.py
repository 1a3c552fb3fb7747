"""Model configuration: one typed config builds every variant; presets name the common ones.

A config is plain data (it round-trips through JSON and lives inside every
checkpoint), so a checkpoint rebuilds its own network without outside help.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from .errors import RptganError
from .jsonio import parse_json
from .limits import (
    MAX_CHANNELS,
    MAX_IDENTITIES,
    MAX_IMAGE_SIDE,
    MAX_RES_BLOCKS,
    MAX_STAGES,
)
from .pose.skeleton import KEYPOINT_FORMAT, NUM_KEYPOINTS

ENCODERS = ("resnet50", "conv")
RESNET_LAYERS = {"layer1": (4, 256), "layer2": (8, 512), "layer3": (16, 1024)}
NORMS = ("instance", "batch", "none")
UPSAMPLES = ("transposed", "resize")
GENERATORS = ("rptgan", "flow")
FLOW_PRIORS = ("none", "coarse", "multiscale", "nearest")
DISCRIMINATORS = ("rptgan", "patch")




class ConfigError(RptganError, ValueError):
    """A model config is inconsistent; the message names the field."""


@dataclass(frozen=True)
class ModelConfig:
    """Everything that shapes the generator and the discriminator.

    Attributes:
        name: preset name, or "custom".
        image_height, image_width: model canvas in pixels; both divisible by
            ``2 * encoder_stride``. Other sizes are letterboxed to it.
        letterbox_fill: value in [0, 1] that pads letterboxed images (0 black,
            as the paper pads Market-1501; 1 white, DeepFashion's background).
        pose_sigma: Gaussian pose-map width in pixels at this canvas height.
        encoder: "resnet50" (the paper's frozen ImageNet trunk) or "conv" (a
            light trainable encoder).
        encoder_layer: last ResNet-50 stage used ("layer1".."layer3").
        conv_encoder_channels: widths of the conv encoder's stride-2 stages.
        generator_channels: width of the residual trunk.
        pose_channels: widths of the pose encoder's stride-2 stages.
        num_res_blocks: residual down/up blocks (9 in the paper).
        decoder_channels: widths of the decoder's x2 upsampling stages back to full size.
        upsample: how the decoder doubles the size: "transposed" (4x4 stride-2
            transposed conv, the paper's) or "resize" (nearest x2 then 3x3 conv,
            which leaves no checkerboard on flat backgrounds).
        norm: "instance", "batch" or "none" in the generator.
        discriminator_channels: widths of the Conv-ReLU-Pool stages.
        num_identities: classes of the discriminator's identity head (0: none).
        generator: "rptgan" (the paper's: source features and the target pose
            only) or "flow" (source image and pose, target pose, source features
            warped to the target; see ``networks.flow_generator``).
        flow_refinements: flow generator: scales below 1/8 where the flow is
            refined (1: at 1/4; 2: at 1/4 and 1/2).
        flow_prior: flow generator: where the flow starts. "none": from zero;
            "coarse": from the flow the source and target keypoints imply (limb
            by limb, ``networks.flow_generator.keypoint_flow``) at 1/8, resized
            to the finer scales; "multiscale": from that flow computed at every
            scale, limbs with a narrower reach than the torso, so a thin limb
            keeps its shape at full size; "nearest": the same, but each point
            follows the segment nearest to it instead of a blend of those
            around it, and hands and feet follow their forearm and shin.
            Configs saved with a boolean read true as "coarse" and false as "none".
        discriminator: "rptgan" (the paper's image-only Conv-ReLU-Pool with
            real/fake and identity heads) or "patch" (spectral-norm patch
            discriminator conditioned on the source image and the target pose).
    """

    name: str = "custom"
    image_height: int = 256
    image_width: int = 176
    letterbox_fill: float = 1.0
    pose_sigma: float = 6.0
    keypoint_format: str = KEYPOINT_FORMAT
    encoder: str = "resnet50"
    encoder_layer: str = "layer2"
    conv_encoder_channels: tuple[int, ...] = (32, 64, 128)
    generator_channels: int = 160
    pose_channels: tuple[int, ...] = (32, 64, 96)
    num_res_blocks: int = 9
    decoder_channels: tuple[int, ...] = (96, 48, 24)
    norm: str = "instance"
    upsample: str = "transposed"
    discriminator_channels: tuple[int, ...] = (32, 64, 128, 256, 256)
    num_identities: int = 0
    generator: str = "rptgan"
    flow_refinements: int = 1
    flow_prior: str = "none"
    discriminator: str = "rptgan"

    def __post_init__(self) -> None:
        if isinstance(self.flow_prior, bool):  # configs saved before the prior had variants
            object.__setattr__(self, "flow_prior", "coarse" if self.flow_prior else "none")
        self._check_types()
        if self.encoder not in ENCODERS:
            raise ConfigError(f"encoder must be one of {ENCODERS}, got {self.encoder!r}")
        if self.encoder == "resnet50" and self.encoder_layer not in RESNET_LAYERS:
            raise ConfigError(f"encoder_layer must be one of {tuple(RESNET_LAYERS)}, got {self.encoder_layer!r}")
        if self.norm not in NORMS:
            raise ConfigError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.upsample not in UPSAMPLES:
            raise ConfigError(f"upsample must be one of {UPSAMPLES}, got {self.upsample!r}")
        if self.generator not in GENERATORS:
            raise ConfigError(f"generator must be one of {GENERATORS}, got {self.generator!r}")
        if self.discriminator not in DISCRIMINATORS:
            raise ConfigError(f"discriminator must be one of {DISCRIMINATORS}, got {self.discriminator!r}")
        if self.generator == "flow" and (self.encoder != "conv" or len(self.conv_encoder_channels) != 3):
            raise ConfigError("the flow generator needs encoder 'conv' with three conv_encoder_channels "
                              f"(features at 1/2, 1/4, 1/8), got {self.encoder!r} {self.conv_encoder_channels}")
        if self.flow_prior not in FLOW_PRIORS:
            raise ConfigError(f"flow_prior must be one of {FLOW_PRIORS}, got {self.flow_prior!r}")
        if self.flow_refinements not in (1, 2):
            raise ConfigError(f"flow_refinements must be 1 or 2, got {self.flow_refinements!r}")
        if self.keypoint_format != KEYPOINT_FORMAT:
            raise ConfigError(f"keypoint_format must be {KEYPOINT_FORMAT!r}, got {self.keypoint_format!r}")
        stride = self.encoder_stride
        if len(self.pose_channels) != len(self.decoder_channels) or 2 ** len(self.pose_channels) != stride:
            raise ConfigError(
                f"pose_channels and decoder_channels need log2(encoder stride {stride}) stages each, "
                f"got {len(self.pose_channels)} and {len(self.decoder_channels)}"
            )
        multiple = 2 * stride
        if self.image_height % multiple or self.image_width % multiple or min(self.image_height, self.image_width) <= 0:
            raise ConfigError(
                f"image size {self.image_height}x{self.image_width} must be positive multiples of {multiple} "
                f"(twice the encoder stride {stride})"
            )
        if not 0.0 <= self.letterbox_fill <= 1.0:
            raise ConfigError(f"letterbox_fill must be in [0, 1], got {self.letterbox_fill}")
        if not (math.isfinite(self.pose_sigma) and 0 < self.pose_sigma <= self.image_height):
            raise ConfigError(f"pose_sigma must be a positive number of pixels at most the canvas height, "
                              f"got {self.pose_sigma!r}")
        if not 0 <= self.num_res_blocks <= MAX_RES_BLOCKS:
            raise ConfigError(f"num_res_blocks must be in 0..{MAX_RES_BLOCKS}, got {self.num_res_blocks}")
        if not 0 <= self.num_identities <= MAX_IDENTITIES:
            raise ConfigError(f"num_identities must be in 0..{MAX_IDENTITIES}, got {self.num_identities}")
        if max(self.image_height, self.image_width) > MAX_IMAGE_SIDE:
            raise ConfigError(f"image size {self.image_height}x{self.image_width} exceeds {MAX_IMAGE_SIDE} px a side")
        for name in ("conv_encoder_channels", "pose_channels", "decoder_channels", "discriminator_channels"):
            if not 1 <= len(getattr(self, name)) <= MAX_STAGES:
                raise ConfigError(f"{name} must have 1..{MAX_STAGES} stages, got {len(getattr(self, name))}")
        widths = {"generator_channels": (self.generator_channels,), "conv_encoder_channels": self.conv_encoder_channels,
                  "pose_channels": self.pose_channels, "decoder_channels": self.decoder_channels,
                  "discriminator_channels": self.discriminator_channels}
        for name, values in widths.items():
            if not all(1 <= value <= MAX_CHANNELS for value in values):
                raise ConfigError(f"{name} must be widths in 1..{MAX_CHANNELS}, got {list(values)}")

    def _check_types(self) -> None:
        """Each field holds its declared type (JSON gives lists for the tuples), or ConfigError names it."""
        scalars = {"int": (int, "an integer"), "float": ((int, float), "a number"), "str": (str, "a string")}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if spec.type in scalars:
                types, wanted = scalars[spec.type]
                if isinstance(value, bool) or not isinstance(value, types):
                    raise ConfigError(f"{spec.name} must be {wanted}, got {value!r}")
            elif spec.type.startswith("tuple"):
                if not isinstance(value, (list, tuple)) or not all(
                        isinstance(v, int) and not isinstance(v, bool) for v in value):
                    raise ConfigError(f"{spec.name} must be a list of integers, got {value!r}")
                object.__setattr__(self, spec.name, tuple(value))

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the model canvas."""
        return (self.image_height, self.image_width)

    @property
    def num_keypoints(self) -> int:
        return NUM_KEYPOINTS

    @property
    def encoder_stride(self) -> int:
        if self.encoder == "resnet50":
            return RESNET_LAYERS[self.encoder_layer][0]
        return 2 ** len(self.conv_encoder_channels)

    @property
    def encoder_out_channels(self) -> int:
        if self.encoder == "resnet50":
            return RESNET_LAYERS[self.encoder_layer][1]
        return self.conv_encoder_channels[-1]

    def replace(self, **changes: Any) -> "ModelConfig":
        """A copy with ``changes``; unknown field names raise ConfigError."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown config fields: {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    def differences(self, other: "ModelConfig", ignore: tuple[str, ...] = ()) -> list[tuple[str, Any, Any]]:
        """(field, this config's value, ``other``'s) for every field but ``ignore`` where they differ."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [(name, mine[name], theirs[name]) for name in mine if name not in ignore and mine[name] != theirs[name]]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Build from a dict; unknown keys raise ConfigError (a config from a newer version)."""
        if not isinstance(data, dict):
            raise ConfigError(f"config must be a JSON object, got {type(data).__name__}")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown config fields: {sorted(unknown)}")
        try:
            return cls(**data)
        except TypeError as error:
            raise ConfigError(f"bad config value: {error}") from None

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        return cls.from_dict(parse_json(text, "config", ConfigError))


_PRESETS: dict[str, ModelConfig] = {}


def register_preset(config: ModelConfig) -> ModelConfig:
    """Make ``config`` available by its name to ``get_config``."""
    _PRESETS[config.name] = config
    return config


def list_presets() -> list[str]:
    return sorted(_PRESETS)


def get_config(name: str, **overrides: Any) -> ModelConfig:
    """The preset ``name`` with ``overrides`` applied (``name`` stays the preset's)."""
    if name not in _PRESETS:
        raise ConfigError(f"unknown preset {name!r}; presets: {', '.join(list_presets())}")
    return _PRESETS[name].replace(**overrides)


# The paper presets use no generator norm and a resize-conv decoder: instance norm
# strips each image's colour and the transposed decoder paints a checkerboard on flat
# backgrounds (docs/architecture.md has the measurements).
_DECODER = {"norm": "none", "upsample": "resize"}

# DeepFashion In-shop at the field's 256x176 crop, white studio background.
register_preset(ModelConfig(name="deepfashion", letterbox_fill=1.0, **_DECODER))

# Market-1501's 128x64 crops are scaled 2x to 256x128 and zero-padded to the
# same 256x176 canvas, as the paper resizes and zero-pads them; 751 training identities.
register_preset(ModelConfig(name="market", letterbox_fill=0.0, num_identities=751, **_DECODER))

# SyntheticPeople demo: a small canvas and the trainable conv encoder, so it
# trains on a CPU in minutes and needs no ImageNet weights.
register_preset(ModelConfig(
    name="synthetic", image_height=128, image_width=96, letterbox_fill=0.0, pose_sigma=3.0,
    encoder="conv", conv_encoder_channels=(32, 64, 128), generator_channels=128, pose_channels=(16, 32, 64),
    num_res_blocks=9, decoder_channels=(64, 32, 16), discriminator_channels=(32, 64, 128, 128), **_DECODER,
))

# The flow generator (networks/flow_generator.py) on each canvas, with the patch
# discriminator conditioned on the source and the target pose. docs/architecture.md
# compares it with the paper's generator at the same budget.
_FLOW = {"generator": "flow", "discriminator": "patch", "encoder": "conv", "norm": "none", "upsample": "resize",
         "flow_prior": "nearest"}
register_preset(ModelConfig(
    name="synthetic-flow", image_height=128, image_width=96, letterbox_fill=0.0, pose_sigma=3.0,
    conv_encoder_channels=(32, 64, 128), pose_channels=(16, 32, 64), generator_channels=128, num_res_blocks=2,
    decoder_channels=(64, 32, 16), discriminator_channels=(32, 64, 128), **_FLOW,
))
register_preset(ModelConfig(
    name="deepfashion-flow", image_height=256, image_width=176, letterbox_fill=1.0, pose_sigma=6.0,
    conv_encoder_channels=(48, 96, 192), pose_channels=(24, 48, 96), generator_channels=192, num_res_blocks=3,
    decoder_channels=(96, 48, 32), discriminator_channels=(64, 128, 256), **_FLOW,
))
# Market-1501 at its own 128x64 (the paper's "market" preset pads it into the 256x176 canvas).
register_preset(ModelConfig(
    name="market-flow", image_height=128, image_width=64, letterbox_fill=0.0, pose_sigma=3.0,
    conv_encoder_channels=(32, 64, 128), pose_channels=(16, 32, 64), generator_channels=128, num_res_blocks=2,
    decoder_channels=(64, 32, 16), discriminator_channels=(32, 64, 128), **_FLOW,
))

# Test sizes: seconds on a CPU. They keep instance norm and the transposed-conv decoder
# (the first design), so the tests exercise both generator variants.
register_preset(ModelConfig(
    name="tiny", image_height=32, image_width=16, letterbox_fill=0.0, pose_sigma=1.5, encoder="conv",
    conv_encoder_channels=(8, 16), generator_channels=16, pose_channels=(8, 8), num_res_blocks=2,
    decoder_channels=(16, 8), discriminator_channels=(8, 16), num_identities=4,
))
register_preset(ModelConfig(
    name="tiny-flow", image_height=32, image_width=32, letterbox_fill=0.0, pose_sigma=1.5,
    conv_encoder_channels=(8, 16, 16), pose_channels=(8, 8, 8), generator_channels=16, num_res_blocks=1,
    decoder_channels=(16, 8, 8), discriminator_channels=(8, 16), **{**_FLOW, "flow_prior": "none"},
))
register_preset(ModelConfig(
    name="tiny-resnet", image_height=64, image_width=32, letterbox_fill=0.0, pose_sigma=1.5, encoder="resnet50",
    encoder_layer="layer1", generator_channels=16, pose_channels=(8, 8), num_res_blocks=1,
    decoder_channels=(16, 8), discriminator_channels=(8, 16), num_identities=4,
))
