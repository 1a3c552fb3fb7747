"""Reading images the way people actually have them: RGBA, greyscale, palette,
CMYK, 16-bit, rotated by an EXIF tag.

``load_image`` returns float32 RGB in [0, 1] plus the alpha channel when the
file has one. 16-bit files keep their precision: greyscale through Pillow,
colour through OpenCV when it is installed (Pillow itself reduces 16-bit colour
to 8 bits).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# The files the pack treats as images, everywhere: the nodes' dropdowns, dataset folders,
# evaluation folders and dataset preparation.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")

_EXIF_ORIENTATION = 0x0112
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class ImageLoadError(ValueError):
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


def _orientation(path: str) -> int:
    try:
        with Image.open(path) as picture:
            return int(picture.getexif().get(_EXIF_ORIENTATION, 1))
    except (OSError, ValueError):
        return 1


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an (H, W, ...) array."""
    operations = {
        2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, -1)[::-1],
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(operations[orientation](array)) if orientation in operations else array


def _sixteen_bit_colour(path: str) -> LoadedImage | None:
    """16-bit colour through OpenCV, or None when OpenCV is absent or the file is not 16-bit colour."""
    try:
        import cv2
    except ImportError:
        return None
    data = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if data is None or data.dtype != np.uint16 or data.ndim != 3 or data.shape[2] not in (3, 4):
        return None
    data = _orient(data, _orientation(path)).astype(np.float32) / 65535.0
    rgb = np.ascontiguousarray(data[..., 2::-1])  # OpenCV stores BGR(A)
    alpha = np.ascontiguousarray(data[..., 3]) if data.shape[2] == 4 else None
    return LoadedImage(rgb, alpha, 16)


def _png_is_sixteen_bit_colour(head: bytes) -> bool:
    # PNG IHDR: bit depth at byte 24, colour type at byte 25 (2 RGB, 6 RGBA).
    return head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 26 and head[24] == 16 and head[25] in (2, 6)


def load_image(path: str | os.PathLike) -> LoadedImage:
    """Read an image file; see the module docstring for what is handled.

    Raises:
        ImageLoadError: missing file, not an image, truncated or corrupt data,
            or a picture too large to decode safely.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageLoadError(f"image file not found: {path}")
    with open(path, "rb") as handle:
        head = handle.read(32)
    if _png_is_sixteen_bit_colour(head) or head[:4] in (b"II*\x00", b"MM\x00*"):
        loaded = _sixteen_bit_colour(path)
        if loaded is not None:
            return loaded
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as picture:
                picture.seek(0)
                picture.load()
                return image_from_pil(picture)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageLoadError(f"{path}: image is too large to load safely ({error})") from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{path} is not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageLoadError(f"{path}: the image data is corrupt or truncated ({error})") from None
