"""rptgan_core.upscale: resampling, tiling, spandrel models."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from rptgan_core.upscale import (
    RESAMPLING_METHODS,
    UpscaleModelError,
    load_upscale_model,
    resample,
    tile_count,
    tiled_apply,
    upscale_with_model,
)


@pytest.mark.parametrize("method", RESAMPLING_METHODS)
def test_resample_sizes_and_constant_images(method):
    flat = torch.full((2, 3, 10, 14), 0.4)
    out = resample(flat, 25, 33, method)
    assert out.shape == (2, 3, 25, 33) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.full_like(out, 0.4), atol=2e-3, rtol=0)


def test_lanczos_keeps_precision_beyond_eight_bits():
    ramp = torch.linspace(0, 1, 400).reshape(1, 1, 20, 20).expand(1, 3, 20, 20).contiguous()
    out = resample(ramp, 40, 40, "lanczos")
    assert len(torch.unique((out * 65535).round())) > 256


def test_resample_checks_arguments():
    with pytest.raises(ValueError, match="method"):
        resample(torch.rand(1, 3, 4, 4), 8, 8, "magic")
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        resample(torch.rand(3, 4, 4), 8, 8)


def _nearest_x2(piece: torch.Tensor) -> torch.Tensor:
    return piece.repeat_interleave(2, dim=-1).repeat_interleave(2, dim=-2)


def test_tiles_blend_to_the_untiled_result():
    images = torch.rand(2, 3, 70, 90)
    calls = []
    tiled = tiled_apply(_nearest_x2, images, 2, tile=32, overlap=8, callback=lambda d, t: calls.append((d, t)))
    torch.testing.assert_close(tiled, _nearest_x2(images), atol=1e-5, rtol=0)
    total = 2 * tile_count(70, 90, 32, 8)
    assert calls[-1] == (total, total) and len(calls) == total


def test_tiles_of_a_wrong_scale_are_reported():
    with pytest.raises(UpscaleModelError, match="expected 64x64"):
        tiled_apply(lambda p: p, torch.rand(1, 3, 32, 32), 2, tile=32, overlap=0)


@pytest.fixture
def compact_model(tmp_path):
    spandrel = pytest.importorskip("spandrel")
    from spandrel.architectures.Compact.__arch.SRVGG import SRVGGNetCompact

    del spandrel
    torch.manual_seed(0)
    net = SRVGGNetCompact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2)
    path = tmp_path / "compact_x2.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path


def test_spandrel_model_runs_tiled(compact_model):
    descriptor = load_upscale_model(compact_model)
    assert descriptor.scale == 2
    images = torch.rand(1, 3, 40, 50)
    whole = upscale_with_model(descriptor, images, tile=512, overlap=0)
    tiled = upscale_with_model(descriptor, images, tile=24, overlap=4)
    assert whole.shape == tiled.shape == (1, 3, 80, 100)
    # The network sees less context at tile borders, so tiles differ a little; the cross-fade keeps them close.
    assert float((whole - tiled).abs().mean()) < 0.02


def test_pickled_and_foreign_upscale_models_are_refused(tmp_path, compact_model):
    pytest.importorskip("spandrel")
    pickled = tmp_path / "model.pth"
    pickled.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UpscaleModelError, match="only .safetensors"):
        load_upscale_model(pickled)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"something.weight": torch.zeros(3, 3)}, str(foreign))
    with pytest.raises(UpscaleModelError, match="not an upscale model"):
        load_upscale_model(foreign)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(UpscaleModelError, match="could not be read"):
        load_upscale_model(corrupt)
