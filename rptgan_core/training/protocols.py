"""The field's two scoring protocols, named, and the result files their scripts write.

A number is only comparable with numbers computed the same way. Three protocols:

* ``plain``: the project's own: SSIM with data range 255; with the
  "deepfashion" convention results are padded to 256x256 with white first;
  IS on the images as they are; FID against the test targets.
* ``patn``: PATN's ``tool/getMetrics_{fashion,market}.py`` (and the RPT-GAN
  paper, which compares with PATN): SSIM with each generated image's own data
  range (``generated.max() - generated.min()``), DeepFashion padded to 256x256
  with white (40 px a side) before SSIM *and* IS, Market's masked SSIM with
  PATN's body mask. PATN scores the 5-panel ``<from>___<to>_vis.jpg`` files its
  test script writes (JPEG quality 75, uint8 by truncation); ``as_written``
  turns a model's output into exactly those panels.
* ``gfla``: GFLA's ``script/metrics.py`` (DPTN, CASD, NTED, PIDM, CFLD use it):
  ``ssim_256``, the same SSIM with the generated image's range, on the
  unpadded 256x176 images; FID with pytorch-fid's FID-Inception against the
  *training* images; LPIPS (AlexNet, lpips v0.1). GFLA scores the single
  ``<from>_2_<to>_vis.jpg`` JPEGs its test script writes.

Everything here works on uint8 (N, H, W, 3) RGB arrays (float32 in [0, 1] where
a docstring says so) and (N, 18, 3) keypoints (x, y in pixels, confidence; 0 =
missing), except ``find_result`` / ``read_result`` / ``image_folder_batches``,
which read files.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
from PIL import Image

from ..imageio import IMAGE_EXTENSIONS, ImageLoadError, load_image
from ..pose import Pose, draw_skeleton
from .data import DatasetError
from .metrics import deepfashion_pad, masked_ssim, ssim

CONVENTIONS = ("plain", "deepfashion", "market")
JPEG_QUALITY = 75  # PIL's and imageio's default, with which PATN's and GFLA's test scripts save results
PATN_PANELS = 5  # source | source pose | target | target pose | generated (PATN's get_current_visuals)
PATN_SOURCE, PATN_TARGET, PATN_GENERATED = 0, 2, 4


@dataclass(frozen=True)
class Protocol:
    """How one protocol scores.

    Attributes:
        name: "plain", "patn" or "gfla".
        per_image_range: SSIM's data range is each generated image's max - min (else 255).
        pad_ssim: pad 256x176 DeepFashion results to 256x256 with white before SSIM
            (only under the "deepfashion" convention).
        pad_inception: the same padding before the Inception Score.
        fid_reference: "test" (FID against the scored targets) or "train" (against
            the training split's images, as GFLA and later work compute it).
        writer: how the protocol's test script stores a result: "patn" (5-panel
            JPEG), "gfla" (the generated image alone, JPEG), or None.
    """

    name: str
    per_image_range: bool
    pad_ssim: bool
    pad_inception: bool
    fid_reference: str
    writer: str | None


PROTOCOLS: dict[str, Protocol] = {
    "plain": Protocol("plain", per_image_range=False, pad_ssim=True, pad_inception=False, fid_reference="test",
                      writer=None),
    "patn": Protocol("patn", per_image_range=True, pad_ssim=True, pad_inception=True, fid_reference="test",
                     writer="patn"),
    "gfla": Protocol("gfla", per_image_range=True, pad_ssim=False, pad_inception=False, fid_reference="train",
                     writer="gfla"),
}


def get_protocol(name: str | Protocol) -> Protocol:
    """The protocol called ``name`` ("plain", "patn", "gfla")."""
    if isinstance(name, Protocol):
        return name
    if name not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {tuple(PROTOCOLS)}, got {name!r}")
    return PROTOCOLS[name]


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")


def ssim_scores(images: np.ndarray, target: np.ndarray, target_keypoints: np.ndarray, convention: str,
                protocol: str | Protocol) -> dict[str, np.ndarray]:
    """Per-image ``ssim`` (and ``masked_ssim`` under the "market" convention) of ``images`` against ``target``.

    Args:
        images, target: uint8 (N, H, W, 3) at the target's size (a generated
            image, or a baseline such as the source image).
        target_keypoints: (N, 18, 3) on the target's pixels (for the mask).
        convention: "plain", "deepfashion" (256x176 results, padded when the
            protocol pads) or "market" (adds masked SSIM with PATN's mask).
        protocol: a name in ``PROTOCOLS`` or a ``Protocol``.

    Returns:
        {"ssim": float64 (N,), and "masked_ssim": float64 (N,) for "market"}.
    """
    _check_convention(convention)
    rules = get_protocol(protocol)
    if convention == "deepfashion" and rules.pad_ssim:
        images, target = deepfashion_pad(images), deepfashion_pad(target)
    scores = {"ssim": ssim(images, target, rules.per_image_range)}
    if convention == "market":
        scores["masked_ssim"] = masked_ssim(images, target, target_keypoints, rules.per_image_range)
    return scores


def inception_images(images: np.ndarray, convention: str, protocol: str | Protocol) -> np.ndarray:
    """The uint8 (N, H, W, 3) images the Inception Score is computed on: padded to 256x256 for PATN's DeepFashion."""
    _check_convention(convention)
    if convention == "deepfashion" and get_protocol(protocol).pad_inception:
        return deepfashion_pad(images)
    return np.asarray(images)


# how the peers' test scripts store results ----------------------------------------


def quantise_as_written(images: np.ndarray) -> np.ndarray:
    """float32 (N, H, W, 3) in [0, 1] -> uint8 as PATN's and GFLA's ``tensor2im`` store it: the network's
    [-1, 1] value v becomes ``(v + 1) / 2 * 255`` in float32, truncated (not rounded)."""
    array = np.asarray(images, dtype=np.float32)
    if array.min(initial=0.0) < 0 or array.max(initial=0.0) > 1:
        raise ValueError("images must be floats in [0, 1]")
    signed = array * np.float32(2) - np.float32(1)
    return ((signed + np.float32(1)) / np.float32(2) * np.float32(255)).astype(np.uint8)


def jpeg_roundtrip(images: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """uint8 (N, H, W, 3) images saved as JPEG (PIL, 4:2:0, ``quality``) and read back."""
    out = []
    for image in np.asarray(images):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            out.append(np.asarray(decoded.convert("RGB")))
    return np.stack(out)


def _pose_panel(keypoints: np.ndarray, height: int, width: int) -> np.ndarray:
    return draw_skeleton(Pose(np.asarray(keypoints, np.float32), width, height),
                         np.zeros((height, width, 3), np.uint8), stick_width=1, joint_radius=2)


def patn_vis(source: np.ndarray, target: np.ndarray, generated: np.ndarray, source_keypoints: np.ndarray,
             target_keypoints: np.ndarray) -> np.ndarray:
    """PATN's 5-panel result images, before JPEG: uint8 (N, H, 5W, 3).

    Args:
        source, target, generated: float32 (N, H, W, 3) in [0, 1] (quantised
            with ``quantise_as_written``).
        source_keypoints, target_keypoints: (N, 18, 3); the pose panels are
            drawn as skeletons on black (PATN draws its own; only the pixels next
            to the panel borders can feel the difference, through JPEG's chroma).
    """
    source, target, generated = (quantise_as_written(a) for a in (source, target, generated))
    height, width = generated.shape[1:3]
    rows = []
    for i in range(len(generated)):
        rows.append(np.concatenate([source[i], _pose_panel(source_keypoints[i], height, width), target[i],
                                    _pose_panel(target_keypoints[i], height, width), generated[i]], axis=1))
    return np.stack(rows)


def split_panels(images: np.ndarray, panels: int) -> list[np.ndarray]:
    """(N, H, panels * W, 3) -> ``panels`` arrays (N, H, W, 3), left to right, as PATN's ``getMetrics`` cuts them
    (width // panels each)."""
    width = images.shape[2] // panels
    return [images[:, :, i * width:(i + 1) * width] for i in range(panels)]


@dataclass(frozen=True)
class WrittenResults:
    """uint8 (N, H, W, 3) images as the protocol's own scripts would score them."""

    generated: np.ndarray
    target: np.ndarray
    source: np.ndarray


def as_written(protocol: str | Protocol, source: np.ndarray, target: np.ndarray, generated: np.ndarray,
               source_keypoints: np.ndarray, target_keypoints: np.ndarray) -> WrittenResults:
    """Results stored the way the protocol's test script stores them, read back the way its metric script reads them.

    "patn": the three images and two pose panels in one 5-panel JPEG
    (quality 75), cut back into panels: PATN scores the generated *and* the
    target panel. "gfla": the generated image quantised and saved as JPEG on its
    own; the target is the dataset's file. "plain": rounded, no JPEG.

    Args:
        source, target, generated: float32 (N, H, W, 3) in [0, 1], the target's size.
        source_keypoints, target_keypoints: (N, 18, 3) on those pixels.
    """
    writer = get_protocol(protocol).writer
    rounded = [np.round(np.asarray(a, np.float32) * 255).astype(np.uint8) for a in (source, target, generated)]
    if writer == "patn":
        panels = split_panels(jpeg_roundtrip(patn_vis(source, target, generated, source_keypoints,
                                                      target_keypoints)), PATN_PANELS)
        return WrittenResults(panels[PATN_GENERATED], panels[PATN_TARGET], panels[PATN_SOURCE])
    if writer == "gfla":
        return WrittenResults(jpeg_roundtrip(quantise_as_written(generated)), rounded[1], rounded[0])
    return WrittenResults(rounded[2], rounded[1], rounded[0])


# reading result folders ------------------------------------------------------------


@dataclass(frozen=True)
class ResultFile:
    """One generated result on disk: ``path``, and ``panels`` = 5 for PATN's ``_vis`` files, else 1."""

    path: str
    panels: int


def _stem(name: str) -> str:
    return os.path.splitext(os.path.basename(name))[0]


def result_names(source: str, target: str) -> list[tuple[str, int]]:
    """The file names (and panel counts) a result for the pair may have, in the order they are looked for.

    * PATN: ``<from>___<to>_vis.jpg`` (or .png), the names as in the pairs CSV,
      extensions kept; 5 panels, the generated one last.
    * GFLA: ``<from stem>_2_<to stem>_vis.jpg`` (or .png): the generated image alone.
    * single images: ``<from stem>___<to stem>.<ext>`` or ``<to stem>.<ext>``.
    """
    src, dst = os.path.basename(source), os.path.basename(target)
    names = [(f"{src}___{dst}_vis{ext}", PATN_PANELS) for ext in (".jpg", ".png")]
    names += [(f"{_stem(src)}_2_{_stem(dst)}_vis{ext}", 1) for ext in (".jpg", ".png")]
    for stem in (f"{_stem(src)}___{_stem(dst)}", _stem(dst)):
        names += [(stem + ext, 1) for ext in IMAGE_EXTENSIONS]
    return names


def find_result(folder: str, source: str, target: str) -> ResultFile:
    """The result file for the pair (source -> target) in ``folder``; DatasetError naming the names tried."""
    names = result_names(source, target)
    for name, panels in names:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return ResultFile(path, panels)
    raise DatasetError(f"{folder}: no generated image for the pair {os.path.basename(source)} -> "
                       f"{os.path.basename(target)} (looked for {names[0][0]}, {names[2][0]}, {names[4][0]}, "
                       f"{_stem(target)}.png and the other image extensions)")


@dataclass(frozen=True)
class ResultImages:
    """uint8 (H, W, 3) images read from a result file; ``target`` and ``source`` only from a 5-panel file."""

    generated: np.ndarray
    target: np.ndarray | None
    source: np.ndarray | None


def _read_uint8(path: str) -> np.ndarray:
    try:
        rgb = load_image(path).composited(1.0)
    except ImageLoadError as error:
        raise DatasetError(str(error)) from None
    return (rgb * 255).round().astype(np.uint8)


def read_result(result: ResultFile) -> ResultImages:
    """The panels of a result file: PATN's 5-panel files give generated, target and source panels."""
    image = _read_uint8(result.path)
    if result.panels == 1:
        return ResultImages(image, None, None)
    if image.shape[1] % result.panels:
        raise DatasetError(f"{result.path}: {image.shape[1]} px wide, not {result.panels} panels of equal width")
    panels = split_panels(image[None], result.panels)
    return ResultImages(panels[PATN_GENERATED][0], panels[PATN_TARGET][0], panels[PATN_SOURCE][0])


def image_folder_batches(folder: str, batch_size: int = 32) -> Iterator[np.ndarray]:
    """Every image directly in ``folder`` (sorted by name) as uint8 (n, H, W, 3) batches, e.g. the training
    images GFLA computes FID against. Images of different sizes go to different batches."""
    if not os.path.isdir(folder):
        raise DatasetError(f"image folder not found: {folder}")
    paths = sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
    if not paths:
        raise DatasetError(f"{folder}: no images")
    batch: list[np.ndarray] = []
    for path in paths:
        image = _read_uint8(path)
        if batch and (len(batch) == batch_size or image.shape != batch[0].shape):
            yield np.stack(batch)
            batch = []
        batch.append(image)
    yield np.stack(batch)
