"""rptgan_core.imageio: the image files people actually have."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rptgan_core.imageio import ImageLoadError, load_image


def _gradient(height=6, width=8) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 30, y * 40, (x + y) * 10], axis=-1).astype(np.uint8)


def test_rgb_png(tmp_path):
    array = _gradient()
    Image.fromarray(array).save(tmp_path / "a.png")
    loaded = load_image(tmp_path / "a.png")
    assert loaded.rgb.dtype == np.float32 and loaded.rgb.shape == (6, 8, 3)
    np.testing.assert_allclose(loaded.rgb, array / 255.0, atol=1e-6)
    assert loaded.alpha is None and loaded.bit_depth == 8


def test_rgba_keeps_alpha_and_composites(tmp_path):
    array = np.zeros((4, 5, 4), np.uint8)
    array[..., 0] = 200
    array[..., 3] = 64
    Image.fromarray(array, "RGBA").save(tmp_path / "a.png")
    loaded = load_image(tmp_path / "a.png")
    np.testing.assert_allclose(loaded.alpha, 64 / 255, atol=1e-6)
    white = loaded.composited(1.0)
    np.testing.assert_allclose(white[..., 0], 200 / 255 * 64 / 255 + (1 - 64 / 255), atol=1e-5)
    np.testing.assert_allclose(white[..., 1], 1 - 64 / 255, atol=1e-5)


def test_palette_with_transparency(tmp_path):
    picture = Image.new("P", (4, 4), 1)
    picture.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    picture.putpixel((0, 0), 0)
    picture.save(tmp_path / "p.png", transparency=0)
    loaded = load_image(tmp_path / "p.png")
    assert loaded.alpha[0, 0] == 0 and loaded.alpha[1, 1] == 1
    np.testing.assert_allclose(loaded.rgb[1, 1], [1, 0, 0])


def test_greyscale_becomes_three_equal_channels(tmp_path):
    Image.fromarray(np.arange(20, dtype=np.uint8).reshape(4, 5) * 10, "L").save(tmp_path / "g.png")
    loaded = load_image(tmp_path / "g.png")
    assert loaded.rgb.shape == (4, 5, 3)
    np.testing.assert_allclose(loaded.rgb[..., 0], loaded.rgb[..., 2])
    assert loaded.rgb[3, 4, 0] == pytest.approx(190 / 255)


def test_sixteen_bit_greyscale_keeps_its_range(tmp_path):
    values = (np.arange(20).reshape(4, 5) * 3000).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    loaded = load_image(tmp_path / "g16.png")
    assert loaded.bit_depth == 16
    np.testing.assert_allclose(loaded.rgb[..., 1], values / 65535.0, atol=1e-6)
    assert 0 < loaded.rgb.max() < 1  # not saturated the way a plain RGB conversion would


def test_sixteen_bit_colour(tmp_path):
    cv2 = pytest.importorskip("cv2")
    rgb = np.zeros((3, 4, 3), np.uint16)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 1000, 30000, 65535
    cv2.imwrite(str(tmp_path / "c16.png"), rgb[..., ::-1])  # OpenCV writes BGR
    loaded = load_image(tmp_path / "c16.png")
    assert loaded.bit_depth == 16
    np.testing.assert_allclose(loaded.rgb[0, 0], [1000 / 65535, 30000 / 65535, 1.0], atol=1e-6)


def test_exif_orientation_is_applied(tmp_path):
    array = np.zeros((10, 30, 3), np.uint8)
    array[:, :5] = 255  # bright left edge
    picture = Image.fromarray(array)
    exif = picture.getexif()
    exif[0x0112] = 6  # stored rotated: display turned 90 degrees clockwise
    picture.save(tmp_path / "r.jpg", exif=exif, quality=95)
    loaded = load_image(tmp_path / "r.jpg")
    assert loaded.rgb.shape == (30, 10, 3)
    assert loaded.rgb[:5].mean() > 0.9 and loaded.rgb[-5:].mean() < 0.1  # the left edge is now on top


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (4, 4), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    loaded = load_image(tmp_path / "c.jpg")
    assert loaded.rgb[..., 0].mean() > 0.9 and loaded.rgb[..., 1].mean() < 0.1


@pytest.mark.parametrize("content, message", [
    (b"", "not an image"),
    (b"hello, this is text" * 10, "not an image"),
])
def test_not_an_image(tmp_path, content, message):
    (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(ImageLoadError, match=message):
        load_image(tmp_path / "x.png")


def test_truncated_file(tmp_path):
    Image.fromarray((np.random.rand(64, 64, 3) * 255).astype(np.uint8)).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="corrupt or truncated"):
        load_image(tmp_path / "t.png")


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="not found"):
        load_image(tmp_path / "nope.png")
