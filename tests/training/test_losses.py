"""Losses: the paper's terms, identity labels -1 ignored, the perceptual term only from a local file."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from torchvision.models.vgg import cfgs, make_layers

from rptgan_core.training.losses import (
    LossConfig,
    LossWeightsError,
    PerceptualLoss,
    build_perceptual,
    discriminator_loss,
    generator_loss,
)


def test_generator_loss_is_mse_plus_weighted_adversarial_and_identity():
    generated, target = torch.zeros(2, 3, 8, 8), torch.full((2, 3, 8, 8), 0.5)
    logits = torch.zeros(2)
    identity_logits = torch.zeros(2, 4)
    total, parts = generator_loss(generated, target, logits, identity_logits, torch.tensor([1, 2]),
                                  LossConfig(mse=2.0, adversarial=0.5, identity=0.25))
    assert parts["g_mse"] == pytest.approx(0.25)
    assert parts["g_adv"] == pytest.approx(torch.log(torch.tensor(2.0)).item())
    assert parts["g_id"] == pytest.approx(torch.log(torch.tensor(4.0)).item())
    assert float(total) == pytest.approx(2 * 0.25 + 0.5 * parts["g_adv"] + 0.25 * parts["g_id"], rel=1e-5)


def test_unknown_identities_are_ignored():
    logits = torch.tensor([[10.0, 0.0], [0.0, 10.0]])
    _, parts = discriminator_loss(torch.zeros(2), torch.zeros(2), logits, torch.tensor([0, -1]), LossConfig())
    assert parts["d_id"] < 1e-3  # only the first (correct) row counts
    _, parts = discriminator_loss(torch.zeros(2), torch.zeros(2), logits, torch.tensor([-1, -1]), LossConfig())
    assert "d_id" not in parts


def test_discriminator_loss_rewards_separating_real_from_fake():
    good, _ = discriminator_loss(torch.full((4,), 5.0), torch.full((4,), -5.0), None, torch.zeros(4, dtype=torch.long),
                                 LossConfig())
    bad, _ = discriminator_loss(torch.full((4,), -5.0), torch.full((4,), 5.0), None, torch.zeros(4, dtype=torch.long),
                                LossConfig())
    assert float(good) < 0.02 < 9 < float(bad)


def test_perceptual_needs_a_local_weight_file(tmp_path):
    with pytest.raises(LossWeightsError, match="perceptual_weights"):
        build_perceptual(LossConfig(perceptual=1.0))
    with pytest.raises(LossWeightsError, match="not found"):
        PerceptualLoss(tmp_path / "missing.safetensors")
    with pytest.raises(LossWeightsError, match="weight file was given"):
        generator_loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), torch.zeros(1), None,
                       torch.zeros(1, dtype=torch.long), LossConfig(perceptual=1.0))


def test_perceptual_loss_from_a_vgg19_state_dict(tmp_path):
    features = make_layers(cfgs["E"])[:21]  # the layers of torchvision's vgg19().features
    path = tmp_path / "vgg19.safetensors"
    save_file({f"features.{k}": v.half() for k, v in features.state_dict().items()}, str(path))
    loss = build_perceptual(LossConfig(perceptual=1.0, perceptual_weights=str(path)))
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert float(loss(x, x)) == 0.0
    assert float(loss(x, -x)) > 0
    assert not any(p.requires_grad for p in loss.parameters())


def test_body_l1_averages_over_the_mask_only():
    from rptgan_core.training.losses import body_l1

    target = torch.zeros(2, 3, 8, 8)
    generated = torch.zeros(2, 3, 8, 8)
    generated[:, :, :, 4:] = 1.0  # wrong only on the right half
    left = torch.zeros(2, 1, 8, 8)
    left[..., :4] = 1
    assert float(body_l1(generated, target, left)) == 0.0
    assert float(body_l1(generated, target, 1 - left)) == pytest.approx(1.0)
    assert float(body_l1(generated, target, torch.zeros(2, 1, 8, 8))) == 0.0  # nobody: no term


def test_limb_correction_size_counts_pixels_on_the_limbs_only():
    from rptgan_core.pose import soft_body_mask
    from rptgan_core.training.losses import limb_correction_size

    keypoints = torch.zeros(1, 18, 3)
    for index, (x, y) in {1: (48, 30), 2: (40, 30), 3: (30, 50), 4: (25, 70), 8: (42, 70), 11: (54, 70)}.items():
        keypoints[0, index] = torch.tensor([x, y, 1.0])  # neck, a right arm and the hips
    limbs = soft_body_mask(keypoints, 128, 96, torso=False)[0, 0] > 0
    body = soft_body_mask(keypoints, 128, 96)[0, 0] > 0
    assert limbs.any() and bool((body & ~limbs).any()) and not bool((limbs & ~body).any())
    correction = torch.zeros(1, 2, 128, 96)
    correction[0, 0][~limbs] = 0.5  # off the limbs (the torso included): free
    assert float(limb_correction_size(correction, keypoints)) == 0.0
    correction[0, 0] = 2 / 96  # one pixel to the right, everywhere
    correction[0, 1] = -2 / 128  # and one up
    assert float(limb_correction_size(correction, keypoints)) == pytest.approx(2.0, rel=1e-4)
    assert float(limb_correction_size(correction, torch.zeros(1, 18, 3))) == 0.0  # nobody: no term
