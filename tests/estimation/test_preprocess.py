"""The shared pre-processing: colour formats, bar removal, working scale, mapping back."""

import numpy as np
import pytest

from rptgan_core.estimation import prepare_image
from rptgan_core.estimation.preprocess import as_rgb, content_box, working_scale
from rptgan_core.pose import Pose


def test_greyscale_and_single_channel_become_rgb():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for image in (grey, grey[:, :, None]):
        rgb = as_rgb(image)
        assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
        assert (rgb == grey[:, :, None]).all()


def test_rgba_is_composited_over_white():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[0, 0, 3] = 255  # opaque red-ish
    rgba[0, 1, 3] = 0    # fully transparent
    rgba[1, :, 3] = 128  # half
    rgb = as_rgb(rgba)
    assert rgb[0, 0].tolist() == [200, 0, 0]
    assert rgb[0, 1].tolist() == [255, 255, 255]
    assert rgb[1, 0].tolist() == [227, 127, 127]


@pytest.mark.parametrize("image, message", [
    (np.zeros((4, 4, 3), np.float32), "uint8"),
    (np.zeros((4, 4, 2), np.uint8), "shape"),
    (np.zeros((0, 4, 3), np.uint8), "empty"),
    (np.zeros((2, 4, 4, 3), np.uint8), "shape"),
])
def test_bad_images_are_named(image, message):
    with pytest.raises(ValueError, match=message):
        as_rgb(image)


def test_non_arrays_are_refused():
    with pytest.raises(TypeError, match="numpy array"):
        as_rgb([[0, 0, 0]])


def test_letterbox_bars_are_cut_even_with_jpeg_noise():
    rng = np.random.default_rng(0)
    image = np.zeros((120, 200, 3), np.uint8)
    image += rng.integers(0, 6, image.shape, dtype=np.uint8)  # bars are never perfectly flat
    image[15:105, 40:170] = rng.integers(0, 256, (90, 130, 3), dtype=np.uint8)
    assert content_box(image) == (15, 40, 90, 130)


def test_flat_images_have_no_content():
    assert content_box(np.full((50, 60, 3), 77, np.uint8)) is None
    halves = np.zeros((50, 60, 3), np.uint8)
    halves[:, 30:] = 255
    assert content_box(halves) is None


def test_a_picture_without_bars_is_kept_whole():
    image = np.random.default_rng(1).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    assert content_box(image) == (0, 0, 40, 30)


@pytest.mark.parametrize("size, expected", [((100, 50), 2.56), ((4000, 3000), 0.256), ((512, 300), 1.0)])
def test_working_scale_brings_the_long_side_into_range(size, expected):
    assert working_scale(*size, min_side=256, max_side=1024) == pytest.approx(expected)


def test_prepared_image_maps_points_back_onto_the_photo():
    rng = np.random.default_rng(2)
    photo = np.zeros((300, 2000, 3), np.uint8)
    photo[50:250, 100:1900] = rng.integers(0, 256, (200, 1800, 3), dtype=np.uint8)
    prepared = prepare_image(photo, min_side=256, max_side=1024)
    assert prepared.content == (50, 100, 200, 1800)
    assert prepared.image.shape == (114, 1024, 3)
    # A point at the content's centre and one beyond its right edge.
    h, w = prepared.image.shape[:2]
    found = Pose(np.array([[[(w - 1) / 2, (h - 1) / 2, 1.0]] + [[w + 5.0, 3.0, 1.0]] + [[0, 0, 0]] * 16]), w, h)
    back = prepared.to_source(found)
    assert (back.width, back.height) == (2000, 300)
    np.testing.assert_allclose(back.keypoints[0, 0], [100 + 1799 / 2, 50 + 199 / 2, 1.0], atol=1e-3)
    assert back.keypoints[0, 1].tolist() == [0.0, 0.0, 0.0]
