import os
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torchvision.models import resnet50

from rptgan_core.config import ConfigError, get_config, list_presets
from rptgan_core.networks import (
    EncoderWeightsError,
    ResidualDownUp,
    ResNet50Encoder,
    build_discriminator,
    build_encoder,
    build_generator,
)
from rptgan_core.networks.flow_generator import FlowPoseTransferGenerator, identity_grid, resize_flow, warp
from rptgan_core.networks.layers import up_norm_relu
from rptgan_core.processing import generator_inputs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_maps_images_and_poses_to_images_in_range(preset):
    config = get_config(preset, num_identities=5)
    generator = build_generator(config).eval()
    discriminator = build_discriminator(config)
    source = torch.rand(2, 3, *config.image_size)
    keypoints = torch.rand(2, 18, 3) * torch.tensor([config.image_width, config.image_height, 1.0])
    with torch.no_grad():
        inputs = generator_inputs(generator, source, keypoints, keypoints.flip(0))
        out = generator(**inputs)
        real_fake, identity = discriminator(out, inputs["source"], inputs["pose_maps"])
    assert out.shape == source.shape
    assert -1 <= float(out.min()) and float(out.max()) <= 1 and torch.isfinite(out).all()
    if config.discriminator == "patch":
        assert real_fake.dim() == 2 and real_fake.shape[0] == 2 and real_fake.shape[1] > 1 and identity is None
    else:
        assert real_fake.shape == (2,) and identity.shape == (2, 5)


def test_generator_refuses_wrong_shapes():
    config = get_config("tiny")
    generator = build_generator(config)
    with pytest.raises(ValueError, match="source must be"):
        generator(torch.zeros(1, 3, 30, 16), torch.zeros(1, 18, 32, 16))
    with pytest.raises(ValueError, match="pose_maps must be"):
        generator(torch.zeros(1, 3, 32, 16), torch.zeros(1, 17, 32, 16))


def test_discriminator_without_identities_has_no_identity_head():
    discriminator = build_discriminator(get_config("tiny", num_identities=0))
    real_fake, identity = discriminator(torch.zeros(3, 3, 32, 16))
    assert real_fake.shape == (3,) and identity is None


def test_residual_block_goes_down_up_and_adds_its_input():
    block = ResidualDownUp(8, "instance")
    x = torch.randn(2, 8, 12, 10)
    assert block(x).shape == x.shape
    torch.nn.init.zeros_(block.up[0].weight)
    torch.nn.init.zeros_(block.up[1].weight)
    torch.nn.init.zeros_(block.up[1].bias)
    assert torch.allclose(block(x), x)


@pytest.mark.parametrize("mode, flat", [("resize", True), ("transposed", False)])
def test_decoder_stage_doubles_the_size_and_only_resize_keeps_flat_input_flat(mode, flat):
    # Why the presets use "resize": a transposed conv paints a 2x2 checkerboard on a flat
    # background (each output parity sees other kernel taps), which costs SSIM on plain walls.
    torch.manual_seed(0)
    stage = up_norm_relu(4, 3, "none", mode)
    out = stage(torch.full((1, 4, 6, 5), 0.7))
    assert out.shape == (1, 3, 12, 10)
    interior = out[..., 2:-2, 2:-2]
    assert torch.allclose(interior, interior[..., :1, :1].expand_as(interior), atol=1e-6) is flat


def test_resnet_encoder_is_frozen_and_stays_in_eval_mode():
    config = get_config("tiny-resnet")
    generator = build_generator(config)
    generator.train()
    assert not generator.encoder.training
    assert all(not p.requires_grad for p in generator.encoder.parameters())
    trainable = {id(p) for p in generator.trainable_parameters()}
    assert trainable and not trainable & {id(p) for p in generator.encoder.parameters()}
    features = generator.encoder(torch.zeros(1, 3, 64, 32))
    assert features.shape == (1, config.encoder_out_channels, 16, 8)


def test_resnet_weights_load_from_a_local_safetensors_file(tmp_path):
    reference = resnet50(weights=None)
    path = tmp_path / "resnet50.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    encoder = build_encoder(get_config("tiny-resnet"), weights=path)
    assert torch.equal(encoder.stem[0].weight, reference.conv1.weight)
    assert torch.equal(encoder.stages[0][0].conv1.weight, reference.layer1[0].conv1.weight)


def test_resnet_weights_refuse_pickles_missing_files_and_foreign_dicts(tmp_path):
    encoder = ResNet50Encoder("layer1")
    pickle_path = tmp_path / "resnet50.pth"
    pickle_path.write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(EncoderWeightsError, match="only .safetensors"):
        build_encoder(get_config("tiny-resnet"), weights=pickle_path)
    with pytest.raises(EncoderWeightsError, match="not found"):
        build_encoder(get_config("tiny-resnet"), weights=tmp_path / "absent.safetensors")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"backbone.weight": torch.zeros(2)}, str(foreign))
    with pytest.raises(EncoderWeightsError, match="not a ResNet-50 state dict"):
        encoder.load_torchvision_state_dict({"backbone.weight": torch.zeros(2)}, str(foreign))
    with pytest.raises(EncoderWeightsError, match="only apply to the resnet50"):
        build_encoder(get_config("tiny"), weights=foreign)


def test_imagenet_weights_without_network_or_cache_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    import torch.hub

    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)

    def no_network(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(EncoderWeightsError, match="could not be downloaded"):
        build_encoder(get_config("tiny-resnet"), weights="imagenet")


def test_tiny_generator_overfits_four_pairs():
    """The loss on four fixed pairs must fall at least 10x: the network can learn."""
    torch.manual_seed(0)
    config = get_config("tiny")
    generator = build_generator(config)
    sources = torch.rand(4, 3, *config.image_size) * 2 - 1
    targets = torch.rand(4, 3, *config.image_size) * 2 - 1
    keypoints = torch.rand(4, 18, 3) * torch.tensor([config.image_width, config.image_height, 1.0])
    maps = generator.render_pose(keypoints)
    optimiser = torch.optim.Adam(generator.trainable_parameters(), lr=2e-3)
    losses = []
    for _ in range(300):
        loss = torch.nn.functional.mse_loss(generator(sources, maps), targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


def _flow_inputs(batch=2, seed=0):
    config = get_config("tiny-flow")
    torch.manual_seed(seed)
    source = torch.rand(batch, 3, *config.image_size) * 2 - 1
    maps = torch.rand(batch, 18, *config.image_size)
    return config, source, maps


def test_identity_warp_returns_its_input_and_a_shift_moves_it():
    image = torch.rand(1, 3, 8, 6)
    zero = torch.zeros(1, 2, 8, 6)
    assert torch.allclose(warp(image, zero), image, atol=1e-6)
    one_pixel_right = zero.clone()
    one_pixel_right[:, 0] = 2 / 6  # normalised units: 2 / width per pixel
    shifted = warp(image, one_pixel_right)
    assert torch.allclose(shifted[..., :-1], image[..., 1:], atol=1e-5)  # each pixel fetches its right neighbour
    assert identity_grid(2, 8, 6, image).shape == (2, 8, 6, 2)
    assert resize_flow(one_pixel_right, (16, 12)).shape == (1, 2, 16, 12)


def test_flow_generator_starts_from_the_identity_flow_and_sees_both_poses():
    config, source, maps = _flow_inputs()
    generator = build_generator(config).eval()
    other = torch.rand_like(maps)
    with torch.no_grad():
        out, parts = generator(source, maps, maps, return_parts=True)
        flows = parts["flows"]
        assert [tuple(f.shape[-2:]) for f in flows] == [(32, 32), (16, 16), (8, 8), (4, 4)]
        assert all(float(f.abs().max()) == 0 for f in flows)  # zero-initialised flow heads
        # the output is the blend of the warped source and the decoder's own picture
        from rptgan_core.networks.flow_generator import warp
        mask, painted = parts["mask"], parts["painted"]
        assert mask.shape == (2, 1, 32, 32) and painted.shape == out.shape
        torch.testing.assert_close(out, mask * warp(source, flows[0]) + (1 - mask) * painted)
        assert not torch.allclose(generator(source, other, maps), out)  # the target pose matters
        assert not torch.allclose(generator(source, maps, other), out)  # and so does the source pose


def test_flow_generator_learns_a_flow_from_the_warp_loss():
    from rptgan_core.training.losses import warp_loss

    config, source, maps = _flow_inputs(batch=1)
    generator = build_generator(config)
    target = torch.roll(source, shifts=2, dims=-1)
    flows = generator(source, maps, maps, return_parts=True)[1]["flows"]
    warp_loss(source, target, flows).backward()
    assert generator.flow_coarse.weight.grad is not None and float(generator.flow_coarse.weight.grad.abs().sum()) > 0


def test_flow_generator_refuses_a_missing_source_pose_and_wrong_shapes():
    config, source, maps = _flow_inputs()
    generator = build_generator(config)
    with pytest.raises(ValueError, match="source image's own pose"):
        generator(source, maps)
    with pytest.raises(ValueError, match="source_pose_maps must be"):
        generator(source, maps, maps[:, :17])
    with pytest.raises(ValueError, match="source must be"):
        generator(source[..., :16], maps, maps)


def test_patch_discriminator_is_conditioned_and_spectrally_normalised():
    config, source, maps = _flow_inputs()
    discriminator = build_discriminator(config)
    image = torch.rand_like(source) * 2 - 1
    logits, identity = discriminator(image, source, maps)
    assert identity is None and logits.shape[0] == 2
    assert not torch.allclose(discriminator(image, source, torch.zeros_like(maps))[0], logits)
    assert any("parametrizations" in name for name, _ in discriminator.named_parameters())
    with pytest.raises(ValueError, match="conditioned"):
        discriminator(image)


def test_configs_without_a_generator_field_build_the_papers_networks():
    data = get_config("synthetic").to_dict()
    del data["generator"], data["discriminator"]  # as in checkpoints written before the flow generator
    config = type(get_config("synthetic")).from_dict(data)
    assert type(build_generator(config)).__name__ == "PoseTransferGenerator"
    assert type(build_discriminator(config)).__name__ == "PoseTransferDiscriminator"


def test_keypoint_flow_is_zero_for_the_same_pose_and_follows_a_moved_limb():
    from rptgan_core.networks.flow_generator import keypoint_flow, keypoints_from_maps
    from rptgan_core.pose import pose_heatmaps
    from rptgan_core.training.synthetic import render_sample

    keypoints = torch.from_numpy(render_sample(0, 3, 0).pose.keypoints[0])
    maps = pose_heatmaps(keypoints, 128, 96, 3.0)[None]
    found, present = keypoints_from_maps(maps)
    assert torch.allclose(found[0][present[0]], keypoints[present[0], :2], atol=1e-3)
    assert float(keypoint_flow(maps, maps, [(16, 12)])[0].abs().max()) < 1e-5
    shifted = keypoints.clone()
    shifted[:, 0] += 8 * (keypoints[:, 2] > 0)  # the whole person 8 px to the right in the target
    flow = keypoint_flow(maps, pose_heatmaps(shifted, 128, 96, 3.0)[None], [(32, 24)])[0]
    on_body = flow[0, 0][flow[0, 0].abs() > 1e-3]
    # on the body each target pixel looks 8 px (2 / 96 per pixel) to the left in the source; the
    # weight of staying put takes a few percent off, and fades the shift away from the body
    assert -8 * 2 / 96 - 1e-4 <= float(on_body.min()) < -0.95 * 8 * 2 / 96 and float(flow[0, 1].abs().max()) < 1e-3
    missing = torch.zeros_like(keypoints)  # nobody in the target: no segment, no flow, nothing non-finite
    assert float(keypoint_flow(maps, pose_heatmaps(missing, 128, 96, 3.0)[None], [(16, 12)])[0].abs().max()) == 0


def test_flow_prior_moves_the_source_before_any_training():
    config = get_config("synthetic-flow")
    assert config.flow_prior == "nearest"
    torch.manual_seed(0)
    source_maps, target_maps = torch.zeros(1, 18, 128, 96), torch.zeros(1, 18, 128, 96)
    source_maps[0, 3, 60, 40] = target_maps[0, 3, 60, 56] = 1.0  # an elbow moves 16 px right
    source_maps[0, 4, 80, 40] = target_maps[0, 4, 80, 56] = 1.0  # and its wrist
    generator = build_generator(config).eval()
    with torch.no_grad():
        flows = generator(torch.rand(1, 3, 128, 96) * 2 - 1, target_maps, source_maps, return_parts=True)[1]["flows"]
    sizes = [tuple(flow.shape[-2:]) for flow in reversed(flows)]
    expected = generator.prior_flows(source_maps, target_maps, sizes)
    for flow, prior in zip(reversed(flows), expected):  # zero-initialised heads: the prior at every scale
        assert torch.allclose(flow, prior)
    assert float(flows[0][0, 0].min()) < -0.28  # on the forearm: look ~16 px (0.33) to the left


def test_old_boolean_flow_prior_reads_as_the_coarse_prior():
    data = {**get_config("synthetic-flow").to_dict(), "flow_prior": True}  # as checkpoints saved it
    assert type(get_config("synthetic")).from_dict(data).flow_prior == "coarse"
    assert type(get_config("synthetic")).from_dict({**data, "flow_prior": False}).flow_prior == "none"
    with pytest.raises(ConfigError, match="flow_prior"):
        get_config("synthetic-flow", flow_prior="sideways")


def _example_wave():
    """The example person's neutral source and the wave's raised-arm frames (synthetic data)."""
    sys.path.insert(0, os.path.join(REPO, "examples"))
    from make_assets import HEIGHT, WIDTH, neutral_angles, wave_angles

    from rptgan_core.training.synthetic import SyntheticPeopleSpec, identity_ranges, render_person, sample_identity

    spec = SyntheticPeopleSpec()
    identity = identity_ranges(spec)["test"][0]
    person = sample_identity(spec.seed, identity)

    def render(angles):
        return render_person(person, angles, HEIGHT, WIDTH, background=True)

    return render(neutral_angles()), [render(wave_angles(t)) for t in (0.5, 0.7, 0.85, 1.0)]


# moved-region L1 of the prior's warp as a share of copy-source's at most, and the whole
# image's L1 as a share of copy-source's at most (coarse: at least, the torso dragged along)
PRIOR_BARS = {"coarse": (0.8, None), "multiscale": (0.8, 0.95), "nearest": (0.55, 0.9)}


@pytest.mark.parametrize("prior", sorted(PRIOR_BARS))
def test_the_keypoint_prior_alone_carries_a_raised_arm(prior):
    """The source warped by the generator's prior alone (no training), against the renderer's
    ground truth: the multiscale prior moves the arm into place without dragging the torso
    along, and the nearest-segment prior keeps the arm's width as well."""
    from rptgan_core.pose import pose_heatmaps
    from rptgan_core.training.pose_metrics import moved_region, region_l1

    generator = FlowPoseTransferGenerator(get_config("synthetic-flow", flow_prior=prior))
    source, frames = _example_wave()
    maps = lambda keypoints: pose_heatmaps(torch.from_numpy(keypoints[0]), 128, 96, 3.0)[None]  # noqa: E731
    image = torch.from_numpy(source.image).permute(2, 0, 1)[None].float() / 255
    moved_l1, whole_l1, copy_moved, copy_whole = [], [], [], []
    for frame in frames:
        flow = generator.prior_flows(maps(source.pose.keypoints), maps(frame.pose.keypoints), [(16, 12), (128, 96)])[-1]
        warped = (warp(image, flow)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        moved = moved_region(source.parts, frame.parts)[None]
        moved_l1.append(float(region_l1(warped[None], frame.image[None], moved)[0]))
        copy_moved.append(float(region_l1(source.image[None], frame.image[None], moved)[0]))
        whole_l1.append(np.abs(warped.astype(float) - frame.image).mean())
        copy_whole.append(np.abs(source.image.astype(float) - frame.image).mean())
    moved_bar, whole_bar = PRIOR_BARS[prior]
    assert np.mean(moved_l1) < moved_bar * np.mean(copy_moved)
    if whole_bar is not None:
        assert np.mean(whole_l1) < whole_bar * np.mean(copy_whole)
    else:
        assert np.mean(whole_l1) > np.mean(copy_whole)
