"""Metrics: SSIM equal to scikit-image's, DeepFashion padding, Market masked SSIM, IS/FID/LPIPS from local files."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from safetensors.torch import save_file
from skimage.metrics import structural_similarity
from torchvision.models import alexnet, inception_v3

from rptgan_core.training.metrics import (
    LPIPS,
    InceptionMetrics,
    MetricWeightsError,
    body_mask,
    deepfashion_pad,
    frechet_distance,
    masked_ssim,
    ssim,
)
from rptgan_core.training.synthetic import render_sample


def _skimage(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=255, channel_axis=-1)


def test_ssim_matches_scikit_image_on_noise_and_on_pictures():
    rng = np.random.default_rng(0)
    noise_a = rng.integers(0, 256, (3, 37, 29, 3), dtype=np.uint8)
    noise_b = np.clip(noise_a.astype(int) + rng.integers(-70, 70, noise_a.shape), 0, 255).astype(np.uint8)
    people_a = np.stack([render_sample(0, i, 0).image for i in range(3)])
    people_b = np.stack([render_sample(0, i, 1).image for i in range(3)])
    for a, b in ((noise_a, noise_b), (people_a, people_b)):
        ours = ssim(a, b)
        reference = np.array([_skimage(x, y) for x, y in zip(a, b)])
        assert np.abs(ours - reference).max() < 1e-4
    assert ssim(people_a[0], people_a[0])[0] == pytest.approx(1.0)


def test_ssim_refuses_float_images_and_mismatched_shapes():
    with pytest.raises(ValueError, match="uint8"):
        ssim(np.zeros((16, 16, 3), np.float32), np.zeros((16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="differ in shape"):
        ssim(np.zeros((16, 16, 3), np.uint8), np.zeros((16, 17, 3), np.uint8))


def test_deepfashion_results_are_padded_with_white_to_256_square():
    padded = deepfashion_pad(np.zeros((2, 256, 176, 3), np.uint8))
    assert padded.shape == (2, 256, 256, 3)
    assert (padded[:, :, :40] == 255).all() and (padded[:, :, -40:] == 255).all()
    assert (padded[:, :, 40:216] == 0).all()


def test_masked_ssim_ignores_everything_off_the_body():
    sample = render_sample(0, 1, 0, 128, 64)
    keypoints = sample.pose.keypoints[0]
    mask = body_mask(keypoints, 128, 64)
    assert 0.05 < mask.mean() < 0.6
    changed = sample.image.copy()
    noise = np.random.default_rng(0).integers(0, 256, changed.shape, dtype=np.uint8)
    changed[mask == 0] = noise[mask == 0]
    assert masked_ssim(changed, sample.image, keypoints)[0] == pytest.approx(1.0)
    assert ssim(changed, sample.image)[0] < 0.8


def test_learned_metrics_say_which_file_is_missing(tmp_path):
    with pytest.raises(MetricWeightsError, match="--inception-weights"):
        InceptionMetrics(None)
    with pytest.raises(MetricWeightsError, match="--alexnet-weights"):
        LPIPS(None, None)
    pickled = tmp_path / "inception.pth"
    pickled.write_bytes(b"\x80\x04")
    with pytest.raises(MetricWeightsError, match="must be a .safetensors"):
        InceptionMetrics(pickled)


def test_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 5))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + 3) == pytest.approx(45.0, rel=1e-6)
    # fewer samples than features (the Gram-matrix route) agrees with the textbook matrix square root
    few_a, few_b = rng.normal(size=(20, 50)), rng.normal(size=(30, 50)) * 2 + 1
    cov_a, cov_b = np.cov(few_a, rowvar=False), np.cov(few_b, rowvar=False)
    textbook = (((few_a.mean(0) - few_b.mean(0)) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b)
                - 2 * np.trace(scipy.linalg.sqrtm(cov_a @ cov_b)).real)
    assert frechet_distance(few_a, few_b) == pytest.approx(textbook, rel=1e-6)


def test_is_fid_and_lpips_run_from_local_weight_files(tmp_path):
    torch.manual_seed(0)
    inception_path = tmp_path / "inception.safetensors"
    save_file({k: v.half() if v.is_floating_point() else v
               for k, v in inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict().items()},
              str(inception_path))
    images = np.stack([render_sample(0, i, 0, 64, 48).image for i in range(3)])
    others = np.stack([render_sample(0, i, 1, 64, 48).image for i in range(3)])
    metrics = InceptionMetrics(inception_path)
    mean, std = metrics.inception_score(images, splits=1)
    assert mean >= 1.0 and std == 0
    features, logits = metrics.features_and_logits(images)
    assert features.shape == (3, 2048) and logits.shape == (3, 1000)
    different = metrics.fid(images, others)
    assert different > 0
    # Random weights give huge activations; "zero" is relative to their scale.
    assert abs(frechet_distance(features, features)) < 1e-9 * different

    trunk = tmp_path / "alexnet.safetensors"
    save_file({k: v for k, v in alexnet(weights=None).state_dict().items() if k.startswith("features.")}, str(trunk))
    lins = tmp_path / "lpips.safetensors"
    save_file({f"lin{i}.model.1.weight": torch.rand(1, w, 1, 1) for i, w in enumerate((64, 192, 384, 256, 256))},
              str(lins))
    lpips = LPIPS(trunk, lins)
    scores = lpips.score(images, others)
    assert scores.shape == (3,) and (scores > 0).all()
    assert np.allclose(lpips.score(images, images), 0.0, atol=1e-6)
    with pytest.raises(MetricWeightsError, match="lin0.model.1.weight"):
        LPIPS(trunk, trunk)
