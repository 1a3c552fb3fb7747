"""The six augmentations: each changes the input, stays in range, is seeded, and can be switched off."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rptgan_core.training.augment import (
    AugmentConfig,
    ColourJitter,
    GridDistortion,
    RandomCrop,
    RandomErasing,
    ResizePad,
    augment_input,
    colour_jitter,
    grid_distortion,
    random_crop,
    random_erasing,
    resize_pad,
    should_flip,
)
from rptgan_core.training.synthetic import render_sample


@pytest.fixture
def image() -> torch.Tensor:
    return torch.from_numpy(render_sample(0, 0, 0, 64, 48).image).permute(2, 0, 1).float() / 255


OPERATIONS = {
    "resize_pad": lambda x, g: resize_pad(x, ResizePad(), g, 0.0),
    "erasing": lambda x, g: random_erasing(x, RandomErasing(), g),
    "crop": lambda x, g: random_crop(x, RandomCrop(), g),
    "jitter": lambda x, g: colour_jitter(x, ColourJitter(), g),
    "distortion": lambda x, g: grid_distortion(x, GridDistortion(), g),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_each_augmentation_changes_the_image_within_range_and_is_seeded(name, image):
    run = OPERATIONS[name]
    out = run(image, torch.Generator().manual_seed(1))
    assert out.shape == image.shape
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert (out - image).abs().mean() > 1e-3
    assert torch.equal(out, run(image, torch.Generator().manual_seed(1)))
    assert not torch.equal(out, run(image, torch.Generator().manual_seed(2)))


def test_resize_pad_shrinks_the_content_and_fills_the_border(image):
    out = resize_pad(image, ResizePad(min_scale=0.5, max_scale=0.5), torch.Generator().manual_seed(0), 0.0)
    filled = (out.abs().sum(0) == 0).float().mean()
    assert filled > 0.7  # three quarters of the area is padding at half size


def test_erasing_replaces_one_rectangle_with_noise(image):
    out = random_erasing(image, RandomErasing(min_area=0.1, max_area=0.1), torch.Generator().manual_seed(3))
    changed = (out != image).any(0)
    rows, cols = changed.any(1).nonzero(), changed.any(0).nonzero()
    box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    assert abs(int(box) - 0.1 * 64 * 48) < 0.05 * 64 * 48


def test_all_switched_off_is_the_identity(image):
    config = AugmentConfig().disabled()
    assert not config.any_enabled
    assert torch.equal(augment_input(image, config, torch.Generator().manual_seed(0)), image)
    assert not should_flip(config, torch.Generator().manual_seed(0))


def test_probability_zero_switches_one_off(image):
    config = AugmentConfig().disabled()
    config = dataclasses.replace(config, jitter=ColourJitter(enabled=True, p=0.0))
    assert torch.equal(augment_input(image, config, torch.Generator().manual_seed(0)), image)
    config = dataclasses.replace(config, jitter=ColourJitter(enabled=True, p=1.0))
    assert not torch.equal(augment_input(image, config, torch.Generator().manual_seed(0)), image)
