"""Training configs: presets, overrides, clear errors."""

from __future__ import annotations

import pytest

from rptgan_core.training.config import TrainConfigError, apply_overrides, train_config_from_dict


def test_presets_resolve_with_overrides_and_shortcuts(load_script):
    train = load_script("train")
    assert {"deepfashion", "market", "synthetic"} <= set(train.preset_names())
    args = train.parse_args(["--preset", "synthetic", "--set", "augment.erasing.p=0.9", "--set", "optim.lr=0.001",
                             "--max-steps", "7", "--data", "/data/x", "--no-augment"])
    config = train.build_config(args)
    assert config.model == "synthetic" and config.max_steps == 7 and config.data.root == "/data/x"
    assert config.optim.lr == 0.001
    assert config.augment.erasing.p == 0.9 and not config.augment.any_enabled
    market = train.build_config(train.parse_args(["--preset", "market"]))
    assert market.data.evaluation == "market" and market.batch_size == 32 and market.optim.lr == 2e-4
    deepfashion = train.build_config(train.parse_args(["--preset", "deepfashion"]))
    assert deepfashion.data.evaluation == "deepfashion" and deepfashion.optim.lr_decay == 0.1
    assert deepfashion.optim.lr_decay_epochs == 20


def test_unknown_keys_and_bad_values_are_named():
    with pytest.raises(TrainConfigError, match="unknown setting augment.blur"):
        train_config_from_dict({"augment": {"blur": {}}})
    with pytest.raises(TrainConfigError, match="unknown setting optim.momentum"):
        train_config_from_dict({"optim": {"momentum": 0.9}})
    with pytest.raises(TrainConfigError, match="num_identities is set from the training data"):
        train_config_from_dict({"model_overrides": {"num_identities": 3}})
    with pytest.raises(TrainConfigError, match="batch_size"):
        train_config_from_dict({"batch_size": 0})
    with pytest.raises(TrainConfigError, match="must look like key.path=value"):
        apply_overrides({}, ["no-equals-sign"])


def test_override_values_parse_as_json_or_fall_back_to_text():
    data = apply_overrides({"data": {"root": "a"}},
                           ["data.root=/some/path", "max_steps=12", "augment.flip.enabled=false"])
    assert data == {"data": {"root": "/some/path"}, "max_steps": 12, "augment": {"flip": {"enabled": False}}}


def test_a_resnet_model_without_encoder_weights_is_refused(load_script, tmp_path):
    train = load_script("train")
    custom = tmp_path / "custom.json"
    custom.write_text('{"model": "deepfashion", "data": {"root": "data/fashion"}}')
    with pytest.raises(TrainConfigError, match="encoder_weights is not set"):
        train.build_config(train.parse_args(["--config", str(custom)]))
    with pytest.raises(TrainConfigError, match="frozen ResNet-50"):
        train.build_config(train.parse_args(["--preset", "market", "--set", "encoder_weights=null"]))
    # the conv encoder needs none, and naming the weights is enough
    custom.write_text('{"model": "synthetic"}')
    assert train.build_config(train.parse_args(["--config", str(custom)])).encoder_weights is None
    named = train.build_config(train.parse_args(["--preset", "deepfashion", "--set",
                                                 "encoder_weights=r50.safetensors"]))
    assert named.encoder_weights == "r50.safetensors"


def test_the_annotation_csv_can_be_named_when_two_match(synthetic_root, tmp_path):
    import shutil

    from rptgan_core.training.data import DatasetError, read_patn_split

    root = tmp_path / "data"
    shutil.copytree(synthetic_root, root)
    original = next(root.glob("*-annotation-test.csv"))
    shutil.copy(original, root / "other-annotation-test.csv")
    with pytest.raises(DatasetError, match="data.eval_annotation"):
        read_patn_split(str(root), "test")
    config = train_config_from_dict({"data": {"root": str(root), "eval_annotation": original.name}})
    assert len(read_patn_split(str(root), "test", annotation=str(root / config.data.eval_annotation))) > 0


def test_paper_presets_score_with_patns_protocol(load_script):
    train = load_script("train")
    assert train.build_config(train.parse_args(["--preset", "deepfashion"])).data.protocol == "patn"
    assert train.build_config(train.parse_args(["--preset", "synthetic"])).data.protocol == "plain"
    with pytest.raises(TrainConfigError, match="data.protocol must be one of"):
        train_config_from_dict({"data": {"protocol": "dptn"}})
