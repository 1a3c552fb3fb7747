"""The paper's six augmentations (section 3.4), applied to the generator's input image.

Five of them (resize+pad, random erasing, random crop + upscale, colour
jitter, grid distortion) change only the source image, while the target the
generator must reproduce stays clean: the network learns to undo occlusion,
scale, framing, illumination and distortion. The sixth, the horizontal flip,
mirrors the whole pair, and the keypoints with it (left and right swap), so it
is applied by the dataset to source, target and target pose together.

Images are (3, H, W) float tensors in [0, 1]. Randomness comes only from the
``torch.Generator`` passed in, so an augmented sample is a pure function of
its seed (which makes resumed training see exactly the same inputs).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from ..pose.geometry import resize_image


@dataclass(frozen=True)
class ResizePad:
    """Shrink the input by a factor in [min_scale, max_scale] and pad it back to size at a random place."""

    enabled: bool = True
    p: float = 0.3
    min_scale: float = 0.75
    max_scale: float = 0.95


@dataclass(frozen=True)
class RandomErasing:
    """Fill one rectangle of ``area`` (fraction of the image) and ``aspect`` ratio with uniform noise."""

    enabled: bool = True
    p: float = 0.4
    min_area: float = 0.02
    max_area: float = 0.2
    min_aspect: float = 0.3
    max_aspect: float = 3.3


@dataclass(frozen=True)
class RandomCrop:
    """Crop a window of side fraction in [min_scale, 1) and upscale it to the full size."""

    enabled: bool = True
    p: float = 0.3
    min_scale: float = 0.8


@dataclass(frozen=True)
class ColourJitter:
    """Random brightness, contrast and saturation factors in [1 - x, 1 + x], hue shift in [-hue, hue]."""

    enabled: bool = True
    p: float = 0.5
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    hue: float = 0.05


@dataclass(frozen=True)
class HorizontalFlip:
    """Mirror the pair (source, target and target keypoints, left and right swapped)."""

    enabled: bool = True
    p: float = 0.5


@dataclass(frozen=True)
class GridDistortion:
    """Move the inner nodes of a ``grid`` x ``grid`` lattice by up to ``magnitude`` of a cell, warp smoothly."""

    enabled: bool = True
    p: float = 0.3
    grid: int = 4
    magnitude: float = 0.25


@dataclass(frozen=True)
class AugmentConfig:
    """All six augmentations; each has ``enabled``, a probability ``p`` and its strengths."""

    resize_pad: ResizePad = field(default_factory=ResizePad)
    erasing: RandomErasing = field(default_factory=RandomErasing)
    crop: RandomCrop = field(default_factory=RandomCrop)
    jitter: ColourJitter = field(default_factory=ColourJitter)
    flip: HorizontalFlip = field(default_factory=HorizontalFlip)
    distortion: GridDistortion = field(default_factory=GridDistortion)

    def disabled(self) -> "AugmentConfig":
        """The same settings with every augmentation switched off (the ablation's baseline)."""
        return AugmentConfig(**{f.name: dataclasses.replace(getattr(self, f.name), enabled=False)
                                for f in dataclasses.fields(self)})

    @property
    def any_enabled(self) -> bool:
        return any(getattr(self, f.name).enabled for f in dataclasses.fields(self))


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _chance(generator: torch.Generator, p: float) -> bool:
    return float(torch.rand((), generator=generator)) < p


def resize_pad(image: torch.Tensor, settings: ResizePad, generator: torch.Generator, fill: float) -> torch.Tensor:
    height, width = image.shape[-2:]
    scale = _uniform(generator, settings.min_scale, settings.max_scale)
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    top = int(torch.randint(0, height - h + 1, (), generator=generator))
    left = int(torch.randint(0, width - w + 1, (), generator=generator))
    out = torch.full_like(image, fill)
    out[:, top:top + h, left:left + w] = resize_image(image, h, w)
    return out


def random_erasing(image: torch.Tensor, settings: RandomErasing, generator: torch.Generator) -> torch.Tensor:
    height, width = image.shape[-2:]
    area = _uniform(generator, settings.min_area, settings.max_area) * height * width
    # Log-uniform aspect, as Random Erasing samples it.
    aspect = math.exp(_uniform(generator, math.log(settings.min_aspect), math.log(settings.max_aspect)))
    h = min(height, max(1, round((area * aspect) ** 0.5)))
    w = min(width, max(1, round((area / aspect) ** 0.5)))
    top = int(torch.randint(0, height - h + 1, (), generator=generator))
    left = int(torch.randint(0, width - w + 1, (), generator=generator))
    out = image.clone()
    out[:, top:top + h, left:left + w] = torch.rand((image.shape[0], h, w), generator=generator, dtype=image.dtype)
    return out


def random_crop(image: torch.Tensor, settings: RandomCrop, generator: torch.Generator) -> torch.Tensor:
    height, width = image.shape[-2:]
    scale = _uniform(generator, settings.min_scale, 1.0)
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    top = int(torch.randint(0, height - h + 1, (), generator=generator))
    left = int(torch.randint(0, width - w + 1, (), generator=generator))
    return resize_image(image[:, top:top + h, left:left + w], height, width)


def colour_jitter(image: torch.Tensor, settings: ColourJitter, generator: torch.Generator) -> torch.Tensor:
    out = TF.adjust_brightness(image, _uniform(generator, 1 - settings.brightness, 1 + settings.brightness))
    out = TF.adjust_contrast(out, _uniform(generator, 1 - settings.contrast, 1 + settings.contrast))
    out = TF.adjust_saturation(out, _uniform(generator, 1 - settings.saturation, 1 + settings.saturation))
    if settings.hue > 0:
        out = TF.adjust_hue(out, _uniform(generator, -settings.hue, settings.hue))
    return out.clamp(0, 1)


def grid_distortion(image: torch.Tensor, settings: GridDistortion, generator: torch.Generator) -> torch.Tensor:
    """Smooth random warp: inner lattice nodes move, the border stays put."""
    height, width = image.shape[-2:]
    nodes = settings.grid + 1
    # Offsets in normalised [-1, 1] units: one cell spans 2 / grid.
    offsets = (torch.rand((2, nodes, nodes), generator=generator) * 2 - 1) * settings.magnitude * 2 / settings.grid
    offsets[:, 0, :] = offsets[:, -1, :] = offsets[:, :, 0] = offsets[:, :, -1] = 0
    flow = F.interpolate(offsets[None], size=(height, width), mode="bicubic", align_corners=True)[0]
    ys = torch.linspace(-1, 1, height)
    xs = torch.linspace(-1, 1, width)
    base_y, base_x = torch.meshgrid(ys, xs, indexing="ij")
    grid = torch.stack([base_x + flow[0], base_y + flow[1]], dim=-1)[None].to(image.dtype)
    return F.grid_sample(image[None], grid, mode="bilinear", padding_mode="border", align_corners=True)[0]


def augment_input(image: torch.Tensor, config: AugmentConfig, generator: torch.Generator,
                  fill: float = 0.0) -> torch.Tensor:
    """Apply the five input-only augmentations to a (3, H, W) source image in [0, 1].

    Order: resize+pad, crop + upscale, grid distortion, colour jitter, erasing
    (erasing last, so the occluder itself keeps its noise). ``fill`` pads the
    shrunk image (the dataset's letterbox colour). Returns a new tensor in [0, 1].
    """
    out = image
    if config.resize_pad.enabled and _chance(generator, config.resize_pad.p):
        out = resize_pad(out, config.resize_pad, generator, fill)
    if config.crop.enabled and _chance(generator, config.crop.p):
        out = random_crop(out, config.crop, generator)
    if config.distortion.enabled and _chance(generator, config.distortion.p):
        out = grid_distortion(out, config.distortion, generator)
    if config.jitter.enabled and _chance(generator, config.jitter.p):
        out = colour_jitter(out, config.jitter, generator)
    if config.erasing.enabled and _chance(generator, config.erasing.p):
        out = random_erasing(out, config.erasing, generator)
    return out.clamp(0, 1)


def should_flip(config: AugmentConfig, generator: torch.Generator) -> bool:
    """Whether this pair is mirrored (drawn first, so it doesn't shift the other draws)."""
    return config.flip.enabled and _chance(generator, config.flip.p)
