"""Evaluation metrics as the pose-transfer field computes them.

* ``ssim``: structural similarity exactly as the PATN scripts call scikit-image
  (Gaussian weights, sigma 1.5, population covariance, data range 255, on uint8
  RGB, mean over the three channels), in PyTorch so it runs batched.
* ``deepfashion_pad``: DeepFashion results (256x176) padded back to 256x256
  with white before scoring, as the field's numbers are computed.
* ``body_mask`` / ``masked_ssim``: Market-1501's masked SSIM, both images
  multiplied by a body mask drawn from the target keypoints.
* ``InceptionMetrics`` (IS, FID) and ``LPIPS``: only from weight files the user
  gives (torchvision Inception-v3 / AlexNet state dicts and the LPIPS linear
  layers, as .safetensors); nothing is downloaded, and a missing file raises
  ``MetricWeightsError`` saying what to provide.

Images are uint8 arrays (N, H, W, 3) or (H, W, 3) unless a docstring says otherwise.
"""

from __future__ import annotations

import math
import os

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from safetensors.torch import load_file
from torch import nn
from torchvision.models import alexnet, inception_v3

from .pose.skeleton import LIMBS

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


def ssim(generated: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-image SSIM, equal (within 1e-6) to ``skimage.metrics.structural_similarity(a, b,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1)``.

    Returns:
        float64 array (N,).
    """
    return ssim_map(generated, reference).mean(axis=(1, 2))


def ssim_map(generated: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The SSIM map behind ``ssim``, averaged over the colour channels.

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

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
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


def body_mask(keypoints: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) uint8 0/1 body mask from (18, 3) keypoints (x, y px, conf; 0 = missing).

    Limbs are thick strokes (a twelfth of the image height), joints discs, the
    torso the polygon of shoulders and hips; the result is dilated by a 5x5
    square, as PG2's Market mask is.
    """
    image = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(image)
    stroke = max(2, round(height / 12))
    present = keypoints[:, 2] > 0
    for a, b in LIMBS[:17]:
        if present[a] and present[b]:
            draw.line((*keypoints[a, :2], *keypoints[b, :2]), fill=1, width=stroke)
    for x, y, c in keypoints:
        if c > 0:
            draw.ellipse((x - stroke / 2, y - stroke / 2, x + stroke / 2, y + stroke / 2), fill=1)
    torso = [i for i in (2, 5, 11, 8) if present[i]]
    if len(torso) >= 3:
        draw.polygon([tuple(keypoints[i, :2]) for i in torso], fill=1)
    mask = torch.from_numpy(np.asarray(image, dtype=np.float32))[None, None]
    return (F.max_pool2d(mask, 5, stride=1, padding=2)[0, 0] > 0).numpy().astype(np.uint8)


def masked_ssim(generated: np.ndarray, reference: np.ndarray, target_keypoints: np.ndarray) -> np.ndarray:
    """Market's masked SSIM: both images times the target's body mask, then ``ssim``.

    Args:
        target_keypoints: (N, 18, 3) or (18, 3) in the images' pixels.
    """
    gen = np.asarray(generated)
    ref = np.asarray(reference)
    single = gen.ndim == 3
    gen, ref = (gen[None], ref[None]) if single else (gen, ref)
    points = np.asarray(target_keypoints, dtype=np.float32).reshape(len(gen), -1, 3)
    masks = np.stack([body_mask(p, gen.shape[1], gen.shape[2]) for p in points])[..., None]
    return ssim(gen * masks, ref * masks)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) float in [0, 1] -> (N, H, W, 3) uint8, rounded as an image file would store it."""
    return (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


# learned metrics ------------------------------------------------------------------


class MetricWeightsError(RuntimeError):
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
        return load_file(path)
    except Exception as error:  # safetensors raises its own error types
        raise MetricWeightsError(f"{what}: {path} is not readable safetensors: {error}") from None


def _fill(module: nn.Module, state: dict[str, torch.Tensor], path: str, what: str, prefix: str = "") -> None:
    wanted = module.state_dict()
    missing = [k for k in wanted if prefix + k not in state]
    if missing:
        raise MetricWeightsError(f"{what}: {path} lacks {len(missing)} expected tensors (e.g. {prefix + missing[0]}); "
                                 "is it the right network?")
    for key, tensor in wanted.items():
        if state[prefix + key].shape != tensor.shape:
            raise MetricWeightsError(f"{what}: {path}: {prefix + key} has shape {tuple(state[prefix + key].shape)}, "
                                     f"expected {tuple(tensor.shape)}")
    module.load_state_dict({k: state[prefix + k] for k in wanted})


class InceptionMetrics(nn.Module):
    """Inception Score and FID from torchvision's Inception-v3 architecture and a local state dict.

    Scores computed with torchvision's ImageNet weights are comparable with each
    other, not digit for digit with TF-Inception numbers in papers.
    """

    def __init__(self, weights: str | os.PathLike | None) -> None:
        super().__init__()
        state = _load_safetensors(weights, "IS/FID", "--inception-weights")
        network = inception_v3(weights=None, aux_logits=True, init_weights=False)
        _fill(network, state, os.fspath(weights), "IS/FID")
        self.network = network.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    @torch.no_grad()
    def features_and_logits(self, images: np.ndarray, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2048) pool features and (N, 1000) logits of uint8 (N, H, W, 3) images (resized to 299x299)."""
        net = self.network
        feats, logits = [], []
        batch = _as_batch(images, "images").float() / 255
        for start in range(0, len(batch), batch_size):
            x = F.interpolate(batch[start:start + batch_size], size=(299, 299), mode="bilinear", align_corners=False)
            x = (x - self.mean) / self.std
            for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
                         "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b",
                         "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool"):
                x = getattr(net, name)(x)
            pooled = torch.flatten(x, 1)
            feats.append(pooled.double().numpy())
            logits.append(net.fc(pooled).double().numpy())
        return np.concatenate(feats), np.concatenate(logits)

    def inception_score(self, images: np.ndarray, splits: int = 10) -> tuple[float, float]:
        """Mean and standard deviation of exp(E KL(p(y|x) || p(y))) over ``splits`` folds."""
        _, logits = self.features_and_logits(images)
        probs = torch.from_numpy(logits).softmax(dim=1).numpy()
        scores = []
        for part in np.array_split(probs, min(splits, len(probs))):
            marginal = part.mean(axis=0, keepdims=True)
            kl = (part * (np.log(part + 1e-12) - np.log(marginal + 1e-12))).sum(axis=1)
            scores.append(math.exp(kl.mean()))
        return float(np.mean(scores)), float(np.std(scores))

    def fid(self, generated: np.ndarray, reference: np.ndarray) -> float:
        """Fréchet distance between Gaussians fitted to the two sets' pool features."""
        a, _ = self.features_and_logits(generated)
        b, _ = self.features_and_logits(reference)
        return frechet_distance(a, b)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(Ca + Cb - 2 (Ca Cb)^(1/2)) for feature sets (N, D)."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("FID needs at least two images in each set")
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    xa, xb = a - mu_a, b - mu_b
    na, nb = len(a) - 1, len(b) - 1
    if max(len(a), len(b)) < a.shape[1]:
        # Fewer images than features: Tr((Ca Cb)^(1/2)) is the nuclear norm of Xa Xb^T / sqrt(na nb)
        # (the same non-zero eigenvalues, cyclically), exact where the D x D route loses precision.
        trace_root = np.linalg.svd(xa @ xb.T, compute_uv=False).sum() / math.sqrt(na * nb)
    else:
        cov_a, cov_b = xa.T @ xa / na, xb.T @ xb / nb
        values, vectors = np.linalg.eigh(cov_a)
        root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
        trace_root = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    trace_a, trace_b = (xa ** 2).sum() / na, (xb ** 2).sum() / nb
    return float(((mu_a - mu_b) ** 2).sum() + trace_a + trace_b - 2 * trace_root)


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
