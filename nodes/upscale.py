"""Upscale node: classic resampling, or an upscale model from models/upscale_models run in tiles."""

from __future__ import annotations

import os
import threading

from rptgan_core.upscale import (
    RESAMPLING_METHODS,
    UpscaleModelError,
    check_output_size,
    load_upscale_model,
    resample,
    tile_count,
    upscale_with_model,
)

from . import comfy_compat
from .convert import NodeInputError, check_image, chw_to_image, image_to_chw
from .node_types import CATEGORY

NO_MODEL = "none"
_SAFETENSORS = (".safetensors", ".sft")
_models: dict[tuple, object] = {}
_models_lock = threading.Lock()


def _load_named_model(name: str):
    """An upscale model from ComfyUI's upscale_models folder, loaded once per file version.

    .safetensors files are read directly. Pickled files (.pth, ...) are only opened
    inside ComfyUI, through its own weights-only loader (the one its Load Upscale
    Model node uses); elsewhere they are refused.
    """
    try:
        path = comfy_compat.model_path(comfy_compat.UPSCALE_FOLDER, name)
    except FileNotFoundError as error:
        raise NodeInputError(f"upscale_model: {error}") from None
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_mtime_ns, stat.st_size)
    with _models_lock:
        if key not in _models:
            if path.lower().endswith(_SAFETENSORS) or not comfy_compat.in_comfyui():
                descriptor = load_upscale_model(path)
            else:
                import comfy.utils

                descriptor = load_upscale_model(comfy.utils.load_torch_file(path, safe_load=True))
            _models.clear()
            _models[key] = descriptor
        return _models[key]


def _device() -> str:
    device = comfy_compat.compute_device("auto")
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return device


class Upscale:
    """Makes images bigger by ``scale``: with an upscale model when one is chosen or
    connected (then resampled to the exact scale), else by classic resampling."""

    DESCRIPTION = (
        "Upscales images. Without a model: lanczos, bicubic, bilinear, area or nearest resampling. With an upscale "
        "model (models/upscale_models, loaded by spandrel as ComfyUI does, or ComfyUI's Load Upscale Model node "
        "connected): the model runs in overlapping tiles, then the result is resampled to the requested scale."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    OUTPUT_TOOLTIPS = ("the enlarged images",)
    FUNCTION = "upscale"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "the images to enlarge"}),
                "method": (list(RESAMPLING_METHODS), {"default": "lanczos",
                                                      "tooltip": "resampling, and the final step after a model"}),
                "scale": ("FLOAT", {"default": 2.0, "min": 0.05, "max": 16.0, "step": 0.05,
                                    "tooltip": "output size / input size"}),
                "upscale_model": ([NO_MODEL] + comfy_compat.model_files(comfy_compat.UPSCALE_FOLDER),
                                  {"default": NO_MODEL, "tooltip": "a model from models/upscale_models, or none"}),
                "tile": ("INT", {"default": 512, "min": 64, "max": 4096, "step": 32,
                                 "tooltip": "tile side for an upscale model (halved on CUDA out-of-memory)"}),
                "overlap": ("INT", {"default": 32, "min": 0, "max": 256, "step": 8,
                                    "tooltip": "pixels the tiles share, cross-faded"}),
            },
            "optional": {
                "model": ("UPSCALE_MODEL", {"tooltip": "from ComfyUI's Load Upscale Model; overrides upscale_model"}),
            },
        }

    def upscale(self, image, method: str = "lanczos", scale: float = 2.0, upscale_model: str = NO_MODEL,
                tile: int = 512, overlap: int = 32, model=None):
        image = check_image(image)
        if method not in RESAMPLING_METHODS:
            raise NodeInputError(f"method: unknown choice {method!r}; choose one of {list(RESAMPLING_METHODS)}")
        if not scale > 0:
            raise NodeInputError(f"scale must be positive, got {scale}")
        if overlap >= tile // 2:
            raise NodeInputError(f"overlap ({overlap}) must be less than half the tile size ({tile})")
        images = image_to_chw(image)
        height, width = max(1, round(images.shape[2] * scale)), max(1, round(images.shape[3] * scale))
        try:
            check_output_size(height, width)
        except ValueError as error:
            raise NodeInputError(f"scale: {scale} on {images.shape[3]}x{images.shape[2]}: {error}") from None
        descriptor = model if model is not None else (
            _load_named_model(upscale_model) if upscale_model != NO_MODEL else None)
        if descriptor is not None:
            steps = len(images) * tile_count(images.shape[2], images.shape[3], tile, overlap)
            try:
                images = upscale_with_model(descriptor, images, tile, overlap, _device(),
                                            comfy_compat.progress_callback(steps))
            except UpscaleModelError as error:
                raise NodeInputError(f"upscale model: {error}") from None
        return (chw_to_image(resample(images, height, width, method)),)
