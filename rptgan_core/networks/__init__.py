"""The RPT-GAN networks, built from a ModelConfig."""

from __future__ import annotations

import os

from ..config import ModelConfig
from .discriminator import PoseTransferDiscriminator
from .encoders import ConvEncoder, EncoderWeightsError, ResNet50Encoder, build_encoder, load_imagenet_resnet50
from .generator import PoseTransferGenerator, ResidualDownUp


def build_generator(config: ModelConfig, encoder_weights: str | os.PathLike | None = None) -> PoseTransferGenerator:
    """The generator for ``config``; ``encoder_weights`` is "imagenet", a local
    ResNet-50 .safetensors file, or None (random init: tests, or weights loaded later)."""
    return PoseTransferGenerator(config, encoder_weights)


def build_discriminator(config: ModelConfig) -> PoseTransferDiscriminator:
    return PoseTransferDiscriminator(config)


__all__ = [
    "ConvEncoder", "EncoderWeightsError", "PoseTransferDiscriminator", "PoseTransferGenerator", "ResNet50Encoder",
    "ResidualDownUp", "build_discriminator", "build_encoder", "build_generator", "load_imagenet_resnet50",
]
