"""The RPT-GAN networks, built from a ModelConfig."""

from __future__ import annotations

import os

from ..config import ModelConfig
from .discriminator import PatchDiscriminator, PoseTransferDiscriminator
from .encoders import ConvEncoder, EncoderWeightsError, ResNet50Encoder, build_encoder, load_imagenet_resnet50
from .flow_generator import FlowPoseTransferGenerator
from .generator import PoseTransferGenerator, ResidualDownUp

Generator = PoseTransferGenerator | FlowPoseTransferGenerator
Discriminator = PoseTransferDiscriminator | PatchDiscriminator


def build_generator(config: ModelConfig, encoder_weights: str | os.PathLike | None = None) -> Generator:
    """The generator ``config.generator`` names; ``encoder_weights`` is "imagenet", a local
    ResNet-50 .safetensors file, or None (random init: tests, or weights loaded later)."""
    if config.generator == "flow":
        if encoder_weights is not None:
            raise EncoderWeightsError("the flow generator has no ResNet-50 encoder to load weights into")
        return FlowPoseTransferGenerator(config)
    return PoseTransferGenerator(config, encoder_weights)


def build_discriminator(config: ModelConfig) -> Discriminator:
    if config.discriminator == "patch":
        return PatchDiscriminator(config)
    return PoseTransferDiscriminator(config)


__all__ = [
    "ConvEncoder", "Discriminator", "EncoderWeightsError", "FlowPoseTransferGenerator", "Generator",
    "PatchDiscriminator", "PoseTransferDiscriminator", "PoseTransferGenerator", "ResNet50Encoder",
    "ResidualDownUp", "build_discriminator", "build_encoder", "build_generator", "load_imagenet_resnet50",
]
