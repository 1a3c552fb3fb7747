"""One GAN step: both networks learn, and the flow generator's own losses join in when asked."""

from __future__ import annotations

import pytest
import torch

from rptgan_core.config import get_config
from rptgan_core.networks import build_discriminator, build_generator
from rptgan_core.training.losses import LossConfig
from rptgan_core.training.step import gan_step


@pytest.fixture
def accelerator():
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield Accelerator(cpu=True)
    AcceleratorState._reset_state(reset_partial_state=True)


def _batch(height: int, width: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    keypoints = torch.zeros(2, 18, 3)
    keypoints[..., 0] = torch.rand(2, 18, generator=generator) * (width - 8) + 4
    keypoints[..., 1] = torch.rand(2, 18, generator=generator) * (height - 8) + 4
    keypoints[..., 2] = 1.0
    return {"source": torch.rand(2, 3, height, width, generator=generator),
            "target": torch.rand(2, 3, height, width, generator=generator),
            "source_keypoints": keypoints, "target_keypoints": keypoints.flip(0),
            "identity": torch.tensor([0, -1]), "index": torch.arange(2)}


def test_a_flow_step_with_a_prior_trains_both_networks_and_weighs_the_correction_on_the_limbs(accelerator):
    config = get_config("tiny-flow", flow_prior="nearest")
    torch.manual_seed(0)
    generator, discriminator = build_generator(config), build_discriminator(config)
    opt_g = torch.optim.Adam(generator.trainable_parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-3)
    before_g = [p.detach().clone() for p in generator.parameters()]
    before_d = [p.detach().clone() for p in discriminator.parameters()]
    losses = LossConfig(mse=0.0, l1=1.0, warp=1.0, limb_correction=0.01)
    parts = gan_step(_batch(*config.image_size), generator, discriminator, opt_g, opt_d, accelerator, losses)
    assert {"d_real", "d_fake", "g_l1", "g_warp", "g_limb_correction"} <= set(parts)
    assert parts["g_limb_correction"] == 0.0  # the correction heads start at zero: the prior's flow
    assert any(not torch.equal(a, b) for a, b in zip(before_g, generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, discriminator.parameters()))
    # after one update the correction is no longer zero, and the term sees it
    parts = gan_step(_batch(*config.image_size), generator, discriminator, opt_g, opt_d, accelerator, losses)
    assert parts["g_limb_correction"] > 0.0


def test_without_a_prior_there_is_no_correction_to_weigh(accelerator):
    config = get_config("tiny-flow")  # flow_prior "none"
    generator, discriminator = build_generator(config), build_discriminator(config)
    _, parts = generator(torch.zeros(1, 3, *config.image_size), torch.zeros(1, 18, *config.image_size),
                         torch.zeros(1, 18, *config.image_size), return_parts=True)
    assert "correction" not in parts
    opt_g = torch.optim.Adam(generator.trainable_parameters())
    opt_d = torch.optim.Adam(discriminator.parameters())
    losses = LossConfig(mse=0.0, l1=1.0, limb_correction=0.01)
    assert "g_limb_correction" not in gan_step(_batch(*config.image_size), generator, discriminator, opt_g, opt_d,
                                               accelerator, losses)
