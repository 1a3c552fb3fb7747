"""Evaluation metrics as the pose-transfer field computes them.

* ``ssim``: scikit-image's Gaussian SSIM (sigma 1.5, population covariance, on
  uint8 RGB, mean over the three channels), in PyTorch so it runs batched. The
  data range is 255, or, as PATN's and GFLA's scripts pass it, each generated
  image's own ``max - min`` (``per_image_range=True``).
* ``deepfashion_pad``: DeepFashion results (256x176) padded back to 256x256
  with white before scoring, as PATN's scripts do.
* ``body_mask`` / ``masked_ssim``: Market-1501's masked SSIM, both images
  multiplied by the body mask PATN's scripts draw from the target keypoints.
* ``InceptionMetrics`` (IS, FID) and ``LPIPS``: only from weight files the user
  gives (torchvision's Inception-v3 or pytorch-fid's FID-Inception, AlexNet and
  the LPIPS v0.1 linear layers, as .safetensors); nothing is downloaded, and a
  missing file raises ``MetricWeightsError`` saying what to provide.

Images are uint8 arrays (N, H, W, 3) or (H, W, 3) unless a docstring says otherwise.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn
from torchvision.models import alexnet, inception_v3

from ..errors import RptganError
from ..files import load_weights, read_safetensors
from ..pose.skeleton import LIMBS

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # scipy's gaussian_filter default, which scikit-image uses
DEEPFASHION_SIZE = (256, 256)


def _as_batch(images: np.ndarray, name: str) -> torch.Tensor:
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"{name} must be (N, H, W, 3) or (H, W, 3) RGB, got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (the field scores 8-bit images), got {array.dtype}")
    return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).double()


def _gaussian_kernel() -> torch.Tensor:
    radius = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (x / SSIM_SIGMA) ** 2)
    return kernel / kernel.sum()


def ssim(generated: np.ndarray, reference: np.ndarray, per_image_range: bool = False) -> np.ndarray:
    """Per-image SSIM, equal (within 1e-6) to ``skimage.metrics.structural_similarity(reference, generated,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=R, channel_axis=-1)``.

    Args:
        generated, reference: uint8 (N, H, W, 3) or (H, W, 3), the same shape.
        per_image_range: R = ``generated.max() - generated.min()`` of each image
            (over all channels), as PATN's ``getMetrics_*.py`` and GFLA's
            ``ssim_256`` pass it; otherwise R = 255. A generated image of one
            flat colour has R = 0, and its SSIM is what scikit-image gives then
            (0 against a textured reference, NaN against a flat one).

    Returns:
        float64 array (N,).
    """
    return ssim_map(generated, reference, per_image_range).mean(axis=(1, 2))


def ssim_map(generated: np.ndarray, reference: np.ndarray, per_image_range: bool = False) -> np.ndarray:
    """The SSIM map behind ``ssim`` (``per_image_range`` as there), averaged over the colour channels.

    Scikit-image averages the SSIM map over the pixels at least the window
    radius (5) from the border, where the filter never reads padding; here the
    same pixels come from a valid (unpadded) convolution, so the map is
    (N, H - 2r, W - 2r) for radius r = ``ssim_border()``.
    """
    x, y = _as_batch(generated, "generated").numpy(), _as_batch(reference, "reference").numpy()
    if x.shape != y.shape:
        raise ValueError(f"generated {tuple(x.shape)} and reference {tuple(y.shape)} differ in shape")
    kernel = _gaussian_kernel().numpy()
    size = len(kernel)
    if min(x.shape[-2:]) < size:
        raise ValueError(f"images must be at least {size}x{size} pixels for SSIM, got {x.shape[-1]}x{x.shape[-2]}")

    def blur(t: np.ndarray) -> np.ndarray:
        # Separable valid correlation in float64; numpy's strided windows and BLAS run it
        # an order of magnitude faster than a float64 grouped convolution in torch.
        rows = sliding_window_view(t, size, axis=3) @ kernel
        return sliding_window_view(rows, size, axis=2) @ kernel

    if per_image_range:
        flat = x.reshape(len(x), -1)
        data_range = (flat.max(axis=1) - flat.min(axis=1)).reshape(-1, 1, 1, 1)
    else:
        data_range = np.full((len(x), 1, 1, 1), 255.0)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean(axis=1)


def ssim_border() -> int:
    """Pixels ``ssim_map`` loses on each side: the Gaussian window's radius."""
    return len(_gaussian_kernel()) // 2


def deepfashion_pad(images: np.ndarray) -> np.ndarray:
    """Pad (N, 256, 176, 3) results left and right with white to (N, 256, 256, 3), as DeepFashion is scored."""
    array = np.asarray(images)
    single = array.ndim == 3
    array = array[None] if single else array
    height, width = array.shape[1:3]
    if height > DEEPFASHION_SIZE[0] or width > DEEPFASHION_SIZE[1]:
        raise ValueError(f"DeepFashion padding expects images at most 256x256, got {width}x{height}")
    left = (DEEPFASHION_SIZE[1] - width) // 2
    right = DEEPFASHION_SIZE[1] - width - left
    top = (DEEPFASHION_SIZE[0] - height) // 2
    bottom = DEEPFASHION_SIZE[0] - height - top
    padded = np.pad(array, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=255)
    return padded[0] if single else padded


MASK_RADIUS = 4  # PATN's produce_ma_mask: half-width of the limb rectangles, radius of the joint discs
# PATN's mask limbs (0-based): OpenPose's first 17 limbs, neck to both ears (where OpenPose draws the
# shoulder-ear lines), hip to hip, the hip-shoulder diagonals and ear to ear.
MASK_LIMBS: tuple[tuple[int, int], ...] = (*LIMBS[:17], (1, 16), (1, 17), (8, 11), (11, 5), (8, 2), (16, 17))


def _fill_polygon(mask: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    """Set the pixels whose centres (integer row, column) lie inside the polygon, on an edge or on a
    vertex, as scikit-image's ``draw.polygon`` classifies them (O'Rourke's ray crossing: a point is on an
    edge where the crossings to its left and right differ in parity; a vertex within 1e-12)."""
    height, width = mask.shape
    top, bottom = int(max(0.0, rows.min())), min(height - 1, int(math.ceil(rows.max())))
    left, right = int(max(0.0, cols.min())), min(width - 1, int(math.ceil(cols.max())))
    if top > bottom or left > right:
        return
    r, c = np.mgrid[top:bottom + 1, left:right + 1].astype(np.float64)
    right_crossings = np.zeros(r.shape, dtype=np.int64)
    left_crossings = np.zeros(r.shape, dtype=np.int64)
    vertex = np.zeros(r.shape, dtype=bool)
    x1, y1 = cols[-1] - c, rows[-1] - r
    for i in range(len(rows)):
        x0, y0 = cols[i] - c, rows[i] - r
        vertex |= (np.abs(x0) < 1e-12) & (np.abs(y0) < 1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            crossing = (x0 * y1 - x1 * y0) / (y1 - y0)
        right_crossings += ((y0 > 0) != (y1 > 0)) & (crossing > 0)
        left_crossings += ((y0 < 0) != (y1 < 0)) & (crossing < 0)
        x1, y1 = x0, y0
    inside = vertex | ((right_crossings & 1) != (left_crossings & 1)) | (right_crossings & 1).astype(bool)
    mask[top:bottom + 1, left:right + 1] |= inside


def _filter(mask: np.ndarray, size: int, combine) -> np.ndarray:
    """A size x size max or min filter with mirrored borders (scipy.ndimage's 'reflect')."""
    half = size // 2
    padded = np.pad(mask, half, mode="symmetric")
    height, width = mask.shape
    out = padded[half:half + height, half:half + width].copy()
    for dy in range(size):
        for dx in range(size):
            out = combine(out, padded[dy:dy + height, dx:dx + width])
    return out


def body_mask(keypoints: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) uint8 0/1 body mask from (18, 3) keypoints (x, y px, conf; 0 = missing), as PATN's
    ``produce_ma_mask`` draws it.

    Each limb of ``MASK_LIMBS`` with both ends present is a rectangle reaching
    ``MASK_RADIUS`` (4) px either side of the segment; each present joint a disc
    of pixels closer than 4 px; the union is closed with a 5x5 square
    (dilation, then erosion, both with mirrored borders). PATN draws at the
    annotation's integer pixels; here they are used as given.
    """
    points = np.asarray(keypoints, dtype=np.float64)
    if points.shape != (18, 3):
        raise ValueError(f"keypoints must be (18, 3) (x, y, confidence), got shape {points.shape}")
    mask = np.zeros((height, width), dtype=bool)
    present = points[:, 2] > 0
    yx = points[:, [1, 0]]
    for a, b in MASK_LIMBS:
        if not (present[a] and present[b]) or np.array_equal(yx[a], yx[b]):
            continue
        direction = yx[a] - yx[b]
        normal = MASK_RADIUS * np.array([-direction[1], direction[0]]) / np.linalg.norm(direction)
        corners = np.stack([yx[a] + normal, yx[a] - normal, yx[b] - normal, yx[b] + normal])
        _fill_polygon(mask, corners[:, 0], corners[:, 1])
    rows, cols = np.mgrid[0:height, 0:width]
    for (y, x), here in zip(yx, present):
        if here:
            mask |= (rows - y) ** 2 + (cols - x) ** 2 < MASK_RADIUS ** 2
    closed = _filter(_filter(mask, 5, np.maximum), 5, np.minimum)
    return closed.astype(np.uint8)


def masked_ssim(generated: np.ndarray, reference: np.ndarray, target_keypoints: np.ndarray,
                per_image_range: bool = False) -> np.ndarray:
    """Market's masked SSIM: both images times the target's body mask (``body_mask``), then ``ssim``
    (with the masked generated image's range when ``per_image_range``, as PATN scores it).

    Args:
        target_keypoints: (N, 18, 3) or (18, 3) in the images' pixels.
    """
    gen = np.asarray(generated)
    ref = np.asarray(reference)
    single = gen.ndim == 3
    gen, ref = (gen[None], ref[None]) if single else (gen, ref)
    points = np.asarray(target_keypoints, dtype=np.float32).reshape(len(gen), -1, 3)
    masks = np.stack([body_mask(p, gen.shape[1], gen.shape[2]) for p in points])[..., None]
    return ssim(gen * masks, ref * masks, per_image_range)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) float in [0, 1] -> (N, H, W, 3) uint8, rounded as an image file would store it."""
    return (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


# learned metrics ------------------------------------------------------------------


class MetricWeightsError(RptganError, RuntimeError):
    """A metric's network weights were not given or could not be read."""


def _load_safetensors(path: str | os.PathLike | None, what: str, flag: str) -> dict[str, torch.Tensor]:
    if not path:
        raise MetricWeightsError(
            f"{what} needs its network weights, which are not bundled or downloaded: pass {flag} with a local "
            ".safetensors file (see docs/training.md, 'Evaluation')"
        )
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MetricWeightsError(f"{what}: weight file not found: {path}")
    if not path.endswith(".safetensors"):
        raise MetricWeightsError(f"{what}: {path} must be a .safetensors file (pickled weights are not loaded)")
    try:
        return read_safetensors(path)
    except Exception as error:  # safetensors raises its own error types
        raise MetricWeightsError(f"{what}: {path} is not readable safetensors: {error}") from None


def _fill(module: nn.Module, state: dict[str, torch.Tensor], path: str, what: str, prefix: str = "") -> None:
    load_weights(module, state, path, f"the {what} network", MetricWeightsError, name_in_file=lambda key: prefix + key)


FID_CLASSES = 1008  # pytorch-fid's FID-Inception (TF's 2015-12-05 graph) has 1008 logits; torchvision's 1000
_STEM = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2")
_MIXED = ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
          "Mixed_7a", "Mixed_7b", "Mixed_7c")


def _fid_average_pool(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _fid_max_pool(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


def _fid_block(name: str, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One Mixed block of TF's Inception graph, which pytorch-fid's FID-Inception reproduces: torchvision's
    branches, but the pool branch averages without the zero padding (and Mixed_7c max-pools)."""
    if name in ("Mixed_6a", "Mixed_7a"):
        return block(x)
    if name.startswith("Mixed_5"):
        branches = [block.branch1x1(x), block.branch5x5_2(block.branch5x5_1(x)),
                    block.branch3x3dbl_3(block.branch3x3dbl_2(block.branch3x3dbl_1(x)))]
    elif name.startswith("Mixed_6"):
        seven = block.branch7x7_3(block.branch7x7_2(block.branch7x7_1(x)))
        double = block.branch7x7dbl_1(x)
        for layer in (block.branch7x7dbl_2, block.branch7x7dbl_3, block.branch7x7dbl_4, block.branch7x7dbl_5):
            double = layer(double)
        branches = [block.branch1x1(x), seven, double]
    else:
        three = block.branch3x3_1(x)
        double = block.branch3x3dbl_2(block.branch3x3dbl_1(x))
        branches = [block.branch1x1(x), torch.cat([block.branch3x3_2a(three), block.branch3x3_2b(three)], 1),
                    torch.cat([block.branch3x3dbl_3a(double), block.branch3x3dbl_3b(double)], 1)]
    pool = _fid_max_pool if name == "Mixed_7c" else _fid_average_pool
    return torch.cat([*branches, block.branch_pool(pool(x))], 1)


def tf_resize_bilinear(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) float images resized to ``size`` (height, width) as TF1's ``ResizeBilinear`` with
    align_corners=False: output pixel i reads input coordinate i * in / out (no half-pixel centres),
    interpolating between its floor and the next pixel (clamped at the last)."""
    x = images
    for axis, (old, new) in ((2, (x.shape[2], size[0])), (3, (x.shape[3], size[1]))):
        source = torch.arange(new, dtype=torch.float32) * (old / new)
        low = source.floor().long().clamp(max=old - 1)
        high = (low + 1).clamp(max=old - 1)
        weight = (source - low.float()).view([-1 if d == axis else 1 for d in range(4)])
        x = x.index_select(axis, low) * (1 - weight) + x.index_select(axis, high) * weight
    return x


@dataclass(frozen=True)
class FeatureStatistics:
    """The Gaussian FID fits to a set of feature vectors: ``count`` vectors, their ``mean`` (D,) and
    sample covariance (D, D) (divided by count - 1, as numpy.cov), float64."""

    count: int
    mean: np.ndarray
    covariance: np.ndarray

    @classmethod
    def from_batches(cls, batches: Iterable[np.ndarray]) -> "FeatureStatistics":
        """Statistics of (n_i, D) feature batches, accumulated without keeping the features."""
        count, total, outer = 0, None, None
        for batch in batches:
            batch = np.asarray(batch, np.float64)
            if total is None:
                total, outer = np.zeros(batch.shape[1]), np.zeros((batch.shape[1], batch.shape[1]))
            count += len(batch)
            total += batch.sum(0)
            outer += batch.T @ batch
        if count < 2:
            raise ValueError("FID needs at least two images in each set")
        mean = total / count
        return cls(count, mean, (outer - count * np.outer(mean, mean)) / (count - 1))


class InceptionMetrics(nn.Module):
    """Inception Score and FID from an Inception-v3 state dict in a local .safetensors file.

    Two weight files are understood, told apart by their classifier:
        * pytorch-fid's FID-Inception (``pt_inception-2015-12-05``, 1008 classes,
          converted to safetensors): the network GFLA, DPTN and later work use
          for FID, and the TF graph PATN's Inception Score uses. Its Mixed blocks
          pool as TF's graph does (``_fid_block``).
        * torchvision's ``inception_v3`` ImageNet weights (1000 classes): scores
          compare with each other, not digit for digit with published ones.

    Both take images resized to 299x299 (bilinear, no antialiasing) and scaled
    to [-1, 1] (2x - 1): pytorch-fid's input, and what torchvision's
    ``transform_input`` makes of ImageNet-normalised input for its own weights.
    """

    def __init__(self, weights: str | os.PathLike | None) -> None:
        super().__init__()
        state = _load_safetensors(weights, "IS/FID", "--inception-weights")
        if "fc.weight" not in state:
            raise MetricWeightsError(f"IS/FID: {os.fspath(weights)} has no fc.weight; "
                                     "is it an Inception-v3 state dict?")
        classes = int(state["fc.weight"].shape[0])
        self.fid_inception = classes == FID_CLASSES
        network = inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=classes)
        _fill(network, state, os.fspath(weights), "IS/FID")
        self.network = network.eval().requires_grad_(False)

    @torch.no_grad()
    def features_and_logits(self, images: np.ndarray, batch_size: int = 32,
                            tf_graph: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2048) pool features and (N, classes) logits of uint8 (N, H, W, 3) images.

        By default the input is pytorch-fid's: a bilinear resize to 299x299
        (half-pixel centres, no antialiasing), then 2x - 1. With ``tf_graph``
        (FID-Inception only) it is what TF's ``classify_image_graph_def.pb`` does
        to the images PATN's (and the Inception Score's original)
        ``inception_score.py`` feeds it: TF1's ``ResizeBilinear``
        (``tf_resize_bilinear``), then (x - 128) / 128, and logits = pool_3 times
        the ``softmax/logits`` weights, without the bias.
        """
        if tf_graph and not self.fid_inception:
            raise ValueError("tf_graph needs the FID-Inception weights (the TF graph's own)")
        net = self.network
        feats, logits = [], []
        batch = _as_batch(images, "images").float()
        for start in range(0, len(batch), batch_size):
            x = batch[start:start + batch_size]
            if tf_graph:
                x = (tf_resize_bilinear(x, (299, 299)) - 128) / 128
            else:
                x = F.interpolate(x / 255, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
            for name in _STEM:
                x = getattr(net, name)(x)
            for name in _MIXED:
                x = _fid_block(name, getattr(net, name), x) if self.fid_inception else getattr(net, name)(x)
            pooled = torch.flatten(net.avgpool(x), 1)
            feats.append(pooled.double().numpy())
            logits.append((F.linear(pooled, net.fc.weight) if tf_graph else net.fc(pooled)).double().numpy())
        return np.concatenate(feats), np.concatenate(logits)

    def statistics(self, batches: Iterable[np.ndarray]) -> FeatureStatistics:
        """FID statistics of uint8 image batches (N_i, H, W, 3), e.g. all training images, read a batch at a time."""
        return FeatureStatistics.from_batches(self.features_and_logits(batch)[0] for batch in batches)

    def inception_score(self, images: np.ndarray, splits: int = 10) -> tuple[float, float]:
        """Mean and standard deviation over ``splits`` folds of exp(E KL(p(y|x) || p(y))), p the softmax over
        all logits; fold i holds images [i N / splits, (i + 1) N / splits) (floored), as ``inception_score.py``
        cuts them. FID-Inception weights are run as the TF graph (``tf_graph``)."""
        _, logits = self.features_and_logits(images, tf_graph=self.fid_inception)
        probs = torch.from_numpy(logits).softmax(dim=1).numpy()
        splits = min(splits, len(probs))
        scores = []
        for i in range(splits):
            part = probs[i * len(probs) // splits:(i + 1) * len(probs) // splits]
            marginal = part.mean(axis=0, keepdims=True)
            kl = (part * (np.log(part + 1e-12) - np.log(marginal + 1e-12))).sum(axis=1)
            scores.append(math.exp(kl.mean()))
        return float(np.mean(scores)), float(np.std(scores))

    def fid(self, generated: np.ndarray, reference: np.ndarray | FeatureStatistics) -> float:
        """Fréchet distance between the generated images' features and the reference images' (or their
        precomputed ``statistics``, e.g. of the training set)."""
        a, _ = self.features_and_logits(generated)
        b = reference if isinstance(reference, FeatureStatistics) else self.features_and_logits(reference)[0]
        return frechet_distance(a, b)


def frechet_distance(a: np.ndarray | FeatureStatistics, b: np.ndarray | FeatureStatistics) -> float:
    """||mu_a - mu_b||^2 + Tr(Ca + Cb - 2 (Ca Cb)^(1/2)) for feature sets (N, D) or their statistics."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and max(len(a), len(b)) < a.shape[1]:
        if len(a) < 2 or len(b) < 2:
            raise ValueError("FID needs at least two images in each set")
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        xa, xb = a - a.mean(0), b - b.mean(0)
        na, nb = len(a) - 1, len(b) - 1
        # Fewer images than features: Tr((Ca Cb)^(1/2)) is the nuclear norm of Xa Xb^T / sqrt(na nb)
        # (the same non-zero eigenvalues, cyclically), exact where the D x D route loses precision.
        trace_root = np.linalg.svd(xa @ xb.T, compute_uv=False).sum() / math.sqrt(na * nb)
        difference = ((a.mean(0) - b.mean(0)) ** 2).sum()
        return float(difference + (xa ** 2).sum() / na + (xb ** 2).sum() / nb - 2 * trace_root)
    sa = a if isinstance(a, FeatureStatistics) else FeatureStatistics.from_batches([a])
    sb = b if isinstance(b, FeatureStatistics) else FeatureStatistics.from_batches([b])
    values, vectors = np.linalg.eigh(sa.covariance)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ sb.covariance @ root_a), 0, None)).sum()
    difference = ((sa.mean - sb.mean) ** 2).sum()
    return float(difference + np.trace(sa.covariance) + np.trace(sb.covariance) - 2 * trace_root)


class LPIPS(nn.Module):
    """LPIPS (AlexNet variant): unit-normalised relu1..relu5 features, squared differences weighted
    by the LPIPS linear layers, averaged over space and summed over layers. Lower is closer.

    Args:
        alexnet_weights: torchvision ``alexnet`` state dict (.safetensors).
        lpips_weights: the LPIPS v0.1 AlexNet linear layers (.safetensors with
            ``lin0.model.1.weight`` .. ``lin4.model.1.weight``, as the lpips package names them).
    """

    _STAGES = (2, 5, 8, 10, 12)  # after each ReLU of alexnet.features
    _WIDTHS = (64, 192, 384, 256, 256)
    _SHIFT = (-0.030, -0.088, -0.188)
    _SCALE = (0.458, 0.448, 0.450)

    def __init__(self, alexnet_weights: str | os.PathLike | None, lpips_weights: str | os.PathLike | None) -> None:
        super().__init__()
        trunk = _load_safetensors(alexnet_weights, "LPIPS", "--alexnet-weights")
        lins = _load_safetensors(lpips_weights, "LPIPS", "--lpips-weights")
        features = alexnet(weights=None).features[: self._STAGES[-1]]
        _fill(features, trunk, os.fspath(alexnet_weights), "LPIPS (AlexNet)", prefix="features.")
        self.features = features.eval().requires_grad_(False)
        self.lins = nn.ModuleList(nn.Conv2d(w, 1, 1, bias=False) for w in self._WIDTHS)
        for i, lin in enumerate(self.lins):
            key = f"lin{i}.model.1.weight"
            if key not in lins or lins[key].shape != lin.weight.shape:
                raise MetricWeightsError(f"LPIPS: {os.fspath(lpips_weights)} lacks {key} of shape "
                                         f"{tuple(lin.weight.shape)}; is it the LPIPS AlexNet file?")
            lin.weight.data.copy_(lins[key])
        self.requires_grad_(False)
        self.register_buffer("shift", torch.tensor(self._SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(self._SCALE).view(1, 3, 1, 1), persistent=False)

    @torch.no_grad()
    def forward(self, generated: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] each -> (N,) distances."""
        x = (generated - self.shift) / self.scale
        y = (reference - self.shift) / self.scale
        total = generated.new_zeros(len(generated))
        start = 0
        for stop, lin in zip(self._STAGES, self.lins):
            block = self.features[start:stop]
            x, y = block(x), block(y)
            nx = x / (x.norm(dim=1, keepdim=True) + 1e-10)
            ny = y / (y.norm(dim=1, keepdim=True) + 1e-10)
            total = total + lin((nx - ny) ** 2).mean(dim=(1, 2, 3))
            start = stop
        return total

    def score(self, generated: np.ndarray, reference: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Per-image LPIPS of uint8 (N, H, W, 3) arrays."""
        a = _as_batch(generated, "generated").float() / 127.5 - 1
        b = _as_batch(reference, "reference").float() / 127.5 - 1
        return torch.cat([self(a[i:i + batch_size], b[i:i + batch_size])
                          for i in range(0, len(a), batch_size)]).double().numpy()
