"""Small building blocks shared by the networks."""

from __future__ import annotations

from torch import nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The generator's normalisation: per-image instance norm (results don't depend
    on what else is in the batch), batch norm, or none."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


def conv_norm_relu(in_channels: int, out_channels: int, norm: str, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """Conv (padding keeps size / stride) -> norm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=(kernel - 1) // 2, bias=norm == "none"),
        norm_layer(norm, out_channels),
        nn.ReLU(inplace=True),
    )


def up_norm_relu(in_channels: int, out_channels: int, norm: str, mode: str = "transposed") -> nn.Sequential:
    """Exactly double height and width -> norm -> ReLU.

    ``mode`` "transposed": a 4x4 stride-2 transposed conv; "resize": nearest x2
    then a 3x3 conv (every output pixel sees the same kernel, so flat regions stay flat).
    """
    if mode == "transposed":
        upsample = [nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=norm == "none")]
    elif mode == "resize":
        upsample = [nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=norm == "none")]
    else:
        raise ValueError(f"unknown upsample mode {mode!r}")
    return nn.Sequential(
        *upsample,
        norm_layer(norm, out_channels),
        nn.ReLU(inplace=True),
    )
