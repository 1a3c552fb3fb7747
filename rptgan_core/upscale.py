"""Making pictures bigger: classic resampling, and upscale models (ESRGAN and
friends, loaded with spandrel) applied tile by tile so large images fit in memory.

Images are float (B, C, H, W) in [0, 1] throughout.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .errors import RptganError
from .files import read_safetensors
from .limits import MAX_IMAGE_PIXELS

RESAMPLING_METHODS = ("lanczos", "bicubic", "bilinear", "area", "nearest")
TileCallback = Callable[[int, int], None]
"""Called as ``callback(done, total)`` after each tile; raising from it stops the run."""


class UpscaleModelError(RptganError, ValueError):
    """An upscale model file is missing, unreadable, or not a single-image model."""


def check_output_size(height: int, width: int) -> None:
    """Refuse an output image of more than ``MAX_IMAGE_PIXELS`` before it is allocated."""
    if height * width > MAX_IMAGE_PIXELS:
        raise ValueError(f"the output would be {width}x{height}, {height * width:,} pixels per image, more than "
                         f"the {MAX_IMAGE_PIXELS:,} an image may have")


def resample(images: torch.Tensor, height: int, width: int, method: str = "lanczos") -> torch.Tensor:
    """Resize (B, C, H, W) to ``height`` x ``width``.

    lanczos uses Pillow's filter in 32-bit float per channel (no 8-bit rounding);
    bicubic and bilinear are antialiased when shrinking; area averages pixels.
    """
    if method not in RESAMPLING_METHODS:
        raise ValueError(f"resampling method must be one of {RESAMPLING_METHODS}, got {method!r}")
    if images.dim() != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
    if height <= 0 or width <= 0:
        raise ValueError(f"target size must be positive, got {width}x{height}")
    check_output_size(height, width)
    if tuple(images.shape[-2:]) == (height, width):
        return images
    if method == "lanczos":
        planes = images.detach().float().cpu().numpy()
        out = np.stack([
            np.stack([np.asarray(Image.fromarray(plane).resize((width, height), Image.Resampling.LANCZOS))
                      for plane in picture])
            for picture in planes
        ])
        return torch.from_numpy(out).to(images.device, images.dtype).clamp(0, 1)
    shrinking = height < images.shape[-2] or width < images.shape[-1]
    if method in ("bicubic", "bilinear"):
        out = F.interpolate(images, size=(height, width), mode=method, align_corners=False, antialias=shrinking)
    elif method == "area":
        out = F.interpolate(images, size=(height, width), mode="area")
    else:
        out = F.interpolate(images, size=(height, width), mode="nearest-exact")
    return out.clamp(0, 1)


def _feather(length: int, overlap: int, at_start: bool, at_end: bool) -> torch.Tensor:
    """1-D blending weights: ramps over ``overlap`` pixels on inner edges, 1 elsewhere."""
    weights = torch.ones(length)
    ramp = torch.linspace(0, 1, overlap + 2)[1:-1] if overlap > 0 else torch.ones(0)
    if not at_start and overlap > 0:
        weights[:overlap] = ramp
    if not at_end and overlap > 0:
        weights[-overlap:] = torch.minimum(weights[-overlap:], ramp.flip(0))
    return weights


def _starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, size - tile, step))
    return starts + [size - tile]


def tile_count(height: int, width: int, tile: int, overlap: int) -> int:
    """How many tiles ``tiled_apply`` runs for one image."""
    return len(_starts(height, tile, overlap)) * len(_starts(width, tile, overlap))


def tiled_apply(model: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, scale: int,
                tile: int = 512, overlap: int = 32, callback: TileCallback | None = None) -> torch.Tensor:
    """Run an upscaling ``model`` over overlapping ``tile`` x ``tile`` pieces and blend them.

    Args:
        model: maps (1, C, h, w) to (1, C, h * scale, w * scale).
        images: (B, C, H, W) in [0, 1], on the model's device and dtype.
        overlap: pixels shared by neighbouring tiles, cross-faded to hide seams.

    Returns:
        (B, C, H * scale, W * scale) float32 on the CPU, in [0, 1].
    """
    if tile < 16 or not 0 <= overlap < tile // 2:
        raise ValueError(f"tile must be at least 16 and overlap in [0, tile/2), got tile {tile}, overlap {overlap}")
    batch, channels, height, width = images.shape
    rows, cols = _starts(height, tile, overlap), _starts(width, tile, overlap)
    total, done = batch * len(rows) * len(cols), 0
    out = torch.zeros(batch, channels, height * scale, width * scale)
    for b in range(batch):
        accumulated = torch.zeros(channels, height * scale, width * scale)
        weight_sum = torch.zeros(1, height * scale, width * scale)
        for top in rows:
            for left in cols:
                h, w = min(tile, height), min(tile, width)
                piece = images[b : b + 1, :, top : top + h, left : left + w]
                with torch.inference_mode():
                    result = model(piece).float().cpu()[0]
                if tuple(result.shape[-2:]) != (h * scale, w * scale):
                    raise UpscaleModelError(
                        f"upscale model turned a {w}x{h} tile into {result.shape[-1]}x{result.shape[-2]}, "
                        f"expected {w * scale}x{h * scale} (scale {scale})"
                    )
                wy = _feather(h * scale, overlap * scale, top == 0, top + h >= height)
                wx = _feather(w * scale, overlap * scale, left == 0, left + w >= width)
                weights = (wy[:, None] * wx[None, :])[None]
                ys, xs = slice(top * scale, (top + h) * scale), slice(left * scale, (left + w) * scale)
                accumulated[:, ys, xs] += result * weights
                weight_sum[:, ys, xs] += weights
                done += 1
                if callback is not None:
                    callback(done, total)
        out[b] = accumulated / weight_sum.clamp_min(1e-8)
    return out.clamp(0, 1)


def load_upscale_model(state_dict_or_path: str | os.PathLike | Mapping[str, torch.Tensor]):
    """A spandrel ``ImageModelDescriptor`` from a ``.safetensors`` file or a state dict.

    Pickled ``.pth``/``.pt``/``.ckpt`` files are not opened here (unpickling can run
    code): pass their state dict from a loader you trust, or convert them to safetensors.
    """
    try:
        from spandrel import ImageModelDescriptor, ModelLoader
    except ImportError:
        raise UpscaleModelError("upscale models need the 'spandrel' package: pip install spandrel") from None
    if isinstance(state_dict_or_path, Mapping):
        state_dict, where = dict(state_dict_or_path), "state dict"
    else:
        where = os.fspath(state_dict_or_path)
        if not os.path.isfile(where):
            raise UpscaleModelError(f"upscale model not found: {where}")
        if not where.lower().endswith((".safetensors", ".sft")):
            raise UpscaleModelError(
                f"{where}: only .safetensors upscale models are read directly; a pickled file could run code "
                "when opened. Convert it to safetensors, or load it inside ComfyUI."
            )
        from safetensors import SafetensorError
        try:
            state_dict = read_safetensors(where)
        except (SafetensorError, OSError) as error:
            raise UpscaleModelError(f"{where} could not be read as safetensors: {error}") from None
    # Some trainers save DataParallel weights with a "module." prefix.
    if state_dict and all(name.startswith("module.") for name in state_dict):
        state_dict = {name[len("module."):]: tensor for name, tensor in state_dict.items()}
    try:
        descriptor = ModelLoader().load_from_state_dict(state_dict)
    except Exception as error:  # spandrel raises several types for unknown architectures
        raise UpscaleModelError(f"{where} is not an upscale model spandrel recognises: {error}") from None
    if not isinstance(descriptor, ImageModelDescriptor):
        raise UpscaleModelError(f"{where} is a {type(descriptor).__name__}, not a single-image upscale model")
    return descriptor.eval()


def upscale_with_model(descriptor, images: torch.Tensor, tile: int = 512, overlap: int = 32,
                       device: str | torch.device = "cpu", callback: TileCallback | None = None) -> torch.Tensor:
    """Upscale (B, 3, H, W) in [0, 1] by the model's own scale; returns float32 CPU (B, 3, sH, sW).

    On a CUDA out-of-memory error the tile size is halved (down to 128) and the run repeated.
    """
    if images.shape[1] != descriptor.input_channels:
        raise UpscaleModelError(
            f"upscale model expects {descriptor.input_channels}-channel images, got {images.shape[1]} channels"
        )
    scale = int(descriptor.scale)
    try:
        check_output_size(images.shape[2] * scale, images.shape[3] * scale)
    except ValueError as error:
        raise UpscaleModelError(f"a {scale}x model on {images.shape[3]}x{images.shape[2]}: {error}") from None
    descriptor.to(device)
    try:
        while True:
            try:
                return tiled_apply(descriptor, images.to(device, torch.float32), scale, tile,
                                   min(overlap, tile // 2 - 1), callback)
            except torch.cuda.OutOfMemoryError:
                if tile <= 128:
                    raise
                tile //= 2
    finally:
        descriptor.to("cpu")
