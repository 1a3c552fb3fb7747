import pytest

from rptgan_core.config import ConfigError, ModelConfig, get_config, list_presets


def test_presets_exist_and_round_trip_through_json():
    assert {"deepfashion", "market", "synthetic", "tiny"} <= set(list_presets())
    for name in list_presets():
        config = get_config(name)
        assert ModelConfig.from_json(config.to_json()) == config


def test_deepfashion_and_market_share_the_papers_canvas():
    deepfashion, market = get_config("deepfashion"), get_config("market")
    assert deepfashion.image_size == market.image_size == (256, 176)
    assert deepfashion.encoder == "resnet50" and deepfashion.num_res_blocks == 9
    assert market.letterbox_fill == 0.0 and deepfashion.letterbox_fill == 1.0


def test_overrides_and_unknown_fields():
    assert get_config("tiny", num_identities=7).num_identities == 7
    with pytest.raises(ConfigError, match="unknown config fields"):
        get_config("tiny", widht=3)
    with pytest.raises(ConfigError, match="unknown preset"):
        get_config("nope")
    with pytest.raises(ConfigError, match="unknown config fields"):
        ModelConfig.from_dict({"image_height": 64, "from_the_future": 1})


@pytest.mark.parametrize("changes, message", [
    ({"image_height": 250}, "multiples of 16"),
    ({"encoder": "vgg"}, "encoder must be"),
    ({"encoder_layer": "layer4"}, "encoder_layer"),
    ({"norm": "group"}, "norm must be"),
    ({"upsample": "pixel_shuffle"}, "upsample must be"),
    ({"pose_channels": (8, 8)}, "stages each"),
    ({"letterbox_fill": 2.0}, "letterbox_fill"),
    ({"generator_channels": 0}, "generator_channels must be widths in 1..2048"),
])
def test_inconsistent_configs_name_the_field(changes, message):
    with pytest.raises(ConfigError, match=message):
        get_config("deepfashion", **changes)


def test_a_config_saved_before_the_upsample_field_means_the_papers_transposed_conv():
    data = get_config("synthetic").to_dict()
    del data["upsample"]
    assert ModelConfig.from_dict(data).upsample == "transposed"


@pytest.mark.parametrize("field, value, message", [
    ("pose_sigma", float("nan"), "pose_sigma must be a positive number"),
    ("pose_sigma", 1e9, "at most the canvas height"),
    ("generator_channels", 20000, "generator_channels must be widths in 1..2048"),
    ("generator_channels", "wide", "generator_channels must be an integer"),
    ("num_res_blocks", 10**7, "num_res_blocks must be in 0..64"),
    ("image_height", 65536, "exceeds 2048 px a side"),
    ("pose_channels", [16, "x", 64], "pose_channels must be a list of integers"),
    ("discriminator_channels", list(range(1, 20)), "discriminator_channels must have 1..8 stages"),
    ("letterbox_fill", None, "letterbox_fill must be a number"),
    ("flow_refinements", True, "flow_refinements must be an integer"),
    ("num_identities", 10**9, "num_identities must be in 0..100000"),
])
def test_sizes_and_types_a_file_could_declare_are_bounded_before_anything_is_built(field, value, message):
    data = {**get_config("synthetic-flow").to_dict(), field: value}
    with pytest.raises(ConfigError, match=message):
        ModelConfig.from_dict(data)


def test_differences_name_each_field_that_differs_in_field_order():
    base = get_config("synthetic-flow")
    other = base.replace(pose_sigma=2.5, decoder_channels=(64, 32, 8), name="other")
    assert base.differences(other) == [("name", "synthetic-flow", "other"), ("pose_sigma", 3.0, 2.5),
                                       ("decoder_channels", [64, 32, 16], [64, 32, 8])]
    assert base.differences(other, ignore=("name",))[0][0] == "pose_sigma"
    assert base.differences(base) == []
