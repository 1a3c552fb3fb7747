"""Source-image encoders: the paper's frozen ImageNet ResNet-50 trunk, and a light trainable one.

Both take images in [-1, 1], (B, 3, H, W), and return (B, C, H/s, W/s)
features, where ``s`` is ``config.encoder_stride`` and ``C`` is
``config.encoder_out_channels``.
"""

from __future__ import annotations

import os
from typing import Callable

import torch
from torch import nn
from torchvision.models import ResNet50_Weights, resnet50

from ..config import RESNET_LAYERS, ModelConfig
from ..errors import RptganError
from ..files import load_weights, read_safetensors
from .layers import conv_norm_relu

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET = "imagenet"


class EncoderWeightsError(RptganError, RuntimeError):
    """ImageNet weights for the encoder could not be found or read."""


class ResNet50Encoder(nn.Module):
    """ResNet-50 from the stem up to ``layer`` (layer1..layer3), frozen.

    Its weights never train and its batch norms stay in eval mode whatever
    ``train()`` says, as the paper keeps the ImageNet descriptor fixed.
    """

    def __init__(self, layer: str) -> None:
        super().__init__()
        trunk = resnet50(weights=None)
        self.layer = layer
        depth = list(RESNET_LAYERS).index(layer) + 1
        self.stem = nn.Sequential(trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool)
        self.stages = nn.Sequential(*(getattr(trunk, f"layer{i}") for i in range(1, depth + 1)))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "ResNet50Encoder":
        return super().train(False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        normalised = ((image + 1) / 2 - self.mean) / self.std
        return self.stages(self.stem(normalised))

    def load_torchvision_state_dict(self, state: dict[str, torch.Tensor], origin: str) -> None:
        """Take the weights this trunk uses from a full torchvision/timm ResNet-50 state dict."""
        mapping = {"stem.0.": "conv1.", "stem.1.": "bn1."}
        wanted = {}
        for key in self.state_dict():
            source = key
            for ours, theirs in mapping.items():
                if key.startswith(ours):
                    source = theirs + key[len(ours):]
            if key.startswith("stages."):
                index, rest = key[len("stages."):].split(".", 1)
                source = f"layer{int(index) + 1}.{rest}"
            wanted[key] = source
        load_weights(self, state, origin, "a ResNet-50 state dict", EncoderWeightsError, name_in_file=wanted.get)


class ConvEncoder(nn.Module):
    """A trainable encoder: one stride-2 conv stage per entry of ``channels``."""

    def __init__(self, channels: tuple[int, ...], norm: str) -> None:
        super().__init__()
        widths = (3, *channels)
        self.stages = nn.Sequential(
            *(conv_norm_relu(widths[i], widths[i + 1], norm, kernel=3, stride=2) for i in range(len(channels)))
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.stages(image)


def load_imagenet_resnet50(encoder: ResNet50Encoder, source: str | os.PathLike) -> None:
    """Fill ``encoder`` with ImageNet weights.

    Args:
        source: a local ``.safetensors`` file holding a torchvision- or
            timm-style ResNet-50 state dict (e.g. timm's ``resnet50.tv2_in1k``),
            or "imagenet" for torchvision's IMAGENET1K_V2 weights from its cache
            (``$TORCH_HOME/hub/checkpoints``), downloaded when a network exists.

    Pickled ``.pth`` files given as paths are refused: unpickling can run code.
    """
    if str(source) == IMAGENET:
        try:
            state = ResNet50_Weights.IMAGENET1K_V2.get_state_dict(progress=False)
        except Exception as error:  # the download's failure modes are many: URLError, OSError, HTTPError
            raise EncoderWeightsError(
                "ImageNet ResNet-50 weights are not in torchvision's cache and could not be downloaded "
                f"({type(error).__name__}: {error}). Put resnet50-11ad3fa6.pth in {torch.hub.get_dir()}/checkpoints, "
                "or pass a local .safetensors ResNet-50 file."
            ) from None
        encoder.load_torchvision_state_dict(state, "torchvision IMAGENET1K_V2")
        return
    path = os.fspath(source)
    if not os.path.isfile(path):
        raise EncoderWeightsError(f"encoder weight file not found: {path}")
    if not path.endswith(".safetensors"):
        raise EncoderWeightsError(
            f"{path}: only .safetensors weight files are read (pickled .pth/.ckpt files can run code when loaded); "
            "use a safetensors export of ResNet-50 such as timm's resnet50.tv2_in1k"
        )
    try:
        state = read_safetensors(path)
    except Exception as error:  # safetensors raises its own error types for corrupt headers
        raise EncoderWeightsError(f"{path} is not a readable safetensors file: {error}") from None
    encoder.load_torchvision_state_dict(state, path)


EncoderBuilder = Callable[[ModelConfig], nn.Module]
_ENCODERS: dict[str, EncoderBuilder] = {
    "resnet50": lambda config: ResNet50Encoder(config.encoder_layer),
    "conv": lambda config: ConvEncoder(config.conv_encoder_channels, config.norm),
}


def build_encoder(config: ModelConfig, weights: str | os.PathLike | None = None) -> nn.Module:
    """The image encoder for ``config``; ``weights`` ("imagenet" or a .safetensors path)
    only applies to the ResNet-50 encoder; None leaves it randomly initialised."""
    encoder = _ENCODERS[config.encoder](config)
    if weights is not None:
        if not isinstance(encoder, ResNet50Encoder):
            raise EncoderWeightsError(f"encoder weights only apply to the resnet50 encoder, not {config.encoder!r}")
        load_imagenet_resnet50(encoder, weights)
    return encoder
