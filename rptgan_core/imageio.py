"""Reading images the way people actually have them: RGBA, greyscale, palette,
CMYK, 16-bit, rotated by an EXIF tag.

``load_image`` returns float32 RGB in [0, 1] plus the alpha channel when the
file has one. 16-bit files keep their precision: greyscale through Pillow,
colour through OpenCV when it is installed (Pillow itself reduces 16-bit colour
to 8 bits). It is the one reader of image files for the nodes, training,
evaluation and dataset preparation, and it refuses a picture of more than
``MAX_IMAGE_PIXELS`` from its header, whatever its format and bit depth, before
decoding anything.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Callable, TypeVar

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import RptganError
from .limits import MAX_IMAGE_PIXELS

# The files the pack treats as images, everywhere: the nodes' dropdowns, dataset folders,
# evaluation folders and dataset preparation.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")

_EXIF_ORIENTATION = 0x0112
_TIFF_BITS_PER_SAMPLE = 258
_TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
T = TypeVar("T")


class ImageLoadError(RptganError, ValueError):
    """A file could not be read as an image; the message names the file and why."""


@dataclass(frozen=True)
class LoadedImage:
    """A decoded picture.

    Attributes:
        rgb: float32 (H, W, 3) in [0, 1], upright (EXIF orientation applied).
        alpha: float32 (H, W) in [0, 1] (1 opaque), or None when the file has no transparency.
        bit_depth: bits per channel of the decoded data (8 or 16; 32 for float files).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    def composited(self, background: float) -> np.ndarray:
        """RGB with transparent parts replaced by the grey level ``background`` in [0, 1]."""
        if self.alpha is None:
            return self.rgb
        a = self.alpha[..., None]
        return (self.rgb * a + background * (1 - a)).astype(np.float32)


def _grey_levels(array: np.ndarray, mode: str) -> tuple[np.ndarray, int]:
    """Single-channel integer or float data to [0, 1] and its bit depth."""
    if mode in _SIXTEEN_BIT_MODES:
        return array.astype(np.float32) / 65535.0, 16
    if mode == "F":
        values = array.astype(np.float32)
        if not np.isfinite(values).all():
            raise ImageLoadError("the image holds NaN or infinite values")
        peak = float(np.nanmax(values)) if values.size else 0.0
        scale = 1.0 if peak <= 1.0 else 255.0 if peak <= 255.0 else 65535.0
        return np.clip(values / scale, 0, 1), 32
    # Mode "I" (32-bit integers) holds 16-bit files in older Pillow versions and
    # 8-bit data from a few writers; values above 255 can only be 16-bit.
    values = array.astype(np.float32)
    peak = float(values.max()) if values.size else 0.0
    if peak > 255:
        return np.clip(values / 65535.0, 0, 1), 16
    return np.clip(values / 255.0, 0, 1), 8


def image_from_pil(picture: Image.Image) -> LoadedImage:
    """Decode an open Pillow image (first frame), applying its EXIF orientation."""
    picture = ImageOps.exif_transpose(picture) or picture
    mode = picture.mode
    alpha = None
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        grey, depth = _grey_levels(np.asarray(picture), mode)
        return LoadedImage(np.repeat(grey[..., None], 3, axis=2).astype(np.float32), None, depth)
    if mode in _ALPHA_MODES:
        alpha = np.asarray(picture.getchannel("A"), dtype=np.float32) / 255.0
    elif mode == "P" and "transparency" in picture.info:
        picture = picture.convert("RGBA")
        alpha = np.asarray(picture.getchannel("A"), dtype=np.float32) / 255.0
    rgb = np.asarray(picture.convert("RGB"), dtype=np.float32) / 255.0
    return LoadedImage(rgb, alpha, 8)


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an (H, W, ...) array."""
    operations = {
        2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, -1)[::-1],
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(operations[orientation](array)) if orientation in operations else array


def _sixteen_bit_colour(path: str, orientation: int) -> LoadedImage | None:
    """16-bit colour through OpenCV, or None when OpenCV is absent or the file is not 16-bit colour."""
    try:
        import cv2
    except ImportError:
        return None
    try:
        data = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as error:
        raise ImageLoadError(f"{path}: OpenCV could not decode the 16-bit image ({error})") from None
    if data is None or data.dtype != np.uint16 or data.ndim != 3 or data.shape[2] not in (3, 4):
        return None
    data = _orient(data, orientation).astype(np.float32) / 65535.0
    rgb = np.ascontiguousarray(data[..., 2::-1])  # OpenCV stores BGR(A)
    alpha = np.ascontiguousarray(data[..., 3]) if data.shape[2] == 4 else None
    return LoadedImage(rgb, alpha, 16)


def _is_sixteen_bit_colour(picture: Image.Image, head: bytes) -> bool:
    """Pillow opens 16-bit colour as 8-bit RGB(A); the file says otherwise."""
    if picture.mode not in ("RGB", "RGBA"):
        return False
    if picture.format == "PNG":  # IHDR: bit depth at byte 24, colour type at byte 25 (2 RGB, 6 RGBA)
        return len(head) >= 26 and head[24] == 16 and head[25] in (2, 6)
    if picture.format == "TIFF":
        bits = picture.tag_v2.get(_TIFF_BITS_PER_SAMPLE, (8,))
        return 16 in (bits if isinstance(bits, tuple) else (bits,))
    return False


def _checked_size(picture: Image.Image, path: str) -> tuple[int, int]:
    """(width, height) upright, refused above ``MAX_IMAGE_PIXELS``."""
    width, height = picture.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageLoadError(f"{path}: {width}x{height} is {width * height:,} pixels, more than the "
                             f"{MAX_IMAGE_PIXELS:,} an image may have")
    orientation = int(picture.getexif().get(_EXIF_ORIENTATION, 1))
    return (height, width) if orientation in _TRANSPOSED_ORIENTATIONS else (width, height)


def _read(path: str, action: Callable[[Image.Image], T]) -> T:
    """``action(picture)`` on the lazily opened file (Pillow reads the header first), every
    failure to open or decode it as ``ImageLoadError`` naming the file."""
    if not os.path.isfile(path):
        raise ImageLoadError(f"image file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as picture:
                return action(picture)
    except ImageLoadError as error:
        if str(error).startswith(path):
            raise
        raise ImageLoadError(f"{path}: {error}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageLoadError(f"{path}: image is too large to load safely ({error})") from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{path} is not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageLoadError(f"{path}: the image data is corrupt or truncated ({error})") from None


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image file as ``load_image`` returns it (EXIF orientation applied),
    read from its header alone.

    Raises:
        ImageLoadError: as ``load_image``.
    """
    path = os.fspath(path)
    return _read(path, lambda picture: _checked_size(picture, path))


def load_image(path: str | os.PathLike) -> LoadedImage:
    """Read an image file; see the module docstring for what is handled.

    Raises:
        ImageLoadError: missing file, not an image, truncated or corrupt data,
            NaN in a float image, or more than ``MAX_IMAGE_PIXELS``.
    """
    path = os.fspath(path)
    return _read(path, lambda picture: _decode(picture, path))


def _decode(picture: Image.Image, path: str) -> LoadedImage:
    _checked_size(picture, path)
    with open(path, "rb") as handle:
        head = handle.read(32)
    if _is_sixteen_bit_colour(picture, head):
        loaded = _sixteen_bit_colour(path, int(picture.getexif().get(_EXIF_ORIENTATION, 1)))
        if loaded is not None:
            return loaded
    picture.seek(0)
    picture.load()
    return image_from_pil(picture)
