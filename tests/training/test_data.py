"""Datasets: PATN and generic layouts, identities, clear errors for bad data, seeded order, pair flip."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from rptgan_core.pose import FLIP_PERMUTATION, Pose, pose_to_openpose_frame
from rptgan_core.training.augment import AugmentConfig
from rptgan_core.training.data import (
    DatasetError,
    EpochSampler,
    PairDataset,
    identity_from_name,
    read_generic_folder,
    read_patn_split,
)
from rptgan_core.training.synthetic import render_sample


@pytest.fixture
def dataset_copy(synthetic_root, tmp_path) -> str:
    root = str(tmp_path / "data")
    shutil.copytree(synthetic_root, root)
    return root


def _rewrite(path: str, edit) -> None:
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(edit(lines)) + "\n")


@pytest.mark.parametrize("name, scheme, expected", [
    ("0002_c1s1_000451_03.jpg", "auto", "0002"),
    ("fashionWOMENDressesid0000262902_1front.jpg", "auto", "id00002629"),
    ("fashionMENDenimid0000008001_1front.jpg", "deepfashion", "id00000080"),
    ("p00012_03.png", "prefix", "p00012"),
    ("alice/photo_1.png", "auto", "alice"),
])
def test_identity_from_file_names(name, scheme, expected):
    assert identity_from_name(name, scheme) == expected


def test_deepfashion_scheme_refuses_a_name_without_an_id():
    with pytest.raises(DatasetError, match="no DeepFashion identity"):
        identity_from_name("0002_c1s1.jpg", "deepfashion")


def test_missing_image_names_the_pairs_file_line_and_image(dataset_copy):
    os.remove(os.path.join(dataset_copy, "train", "p00001_02.png"))
    with pytest.raises(DatasetError, match=r"synthetic-pairs-train\.csv, line \d+: image 'p00001_02\.png' not found"):
        read_patn_split(dataset_copy, "train")


def test_malformed_pairs_row_names_file_and_line(dataset_copy):
    _rewrite(os.path.join(dataset_copy, "synthetic-pairs-train.csv"),
             lambda lines: lines[:3] + ["only-one-name"] + lines[3:])
    with pytest.raises(DatasetError, match=r"synthetic-pairs-train\.csv, line 4: expected two image names"):
        read_patn_split(dataset_copy, "train")


def test_malformed_annotation_row_names_file_and_line(dataset_copy):
    _rewrite(os.path.join(dataset_copy, "synthetic-annotation-train.csv"),
             lambda lines: lines[:2] + ["broken-row"] + lines[2:])
    with pytest.raises(DatasetError, match=r"synthetic-annotation-train\.csv, line 3: expected 3"):
        read_patn_split(dataset_copy, "train")


def test_keypoint_list_of_wrong_length_names_file_and_line(dataset_copy):
    def drop_one(lines):
        name, ys, xs = lines[4].split(":")
        lines[4] = f"{name}:[{ys.strip('[]').rsplit(',', 1)[0]}]:{xs}"
        return lines
    _rewrite(os.path.join(dataset_copy, "synthetic-annotation-train.csv"), drop_one)
    with pytest.raises(DatasetError, match=r"line 5, keypoints_y: 17 keypoints, expected 18"):
        read_patn_split(dataset_copy, "train")


def test_empty_pairs_file_is_reported(dataset_copy):
    _rewrite(os.path.join(dataset_copy, "synthetic-pairs-train.csv"), lambda lines: lines[:1])
    with pytest.raises(DatasetError, match="the pairs file has no pairs"):
        read_patn_split(dataset_copy, "train")


def test_pair_member_without_annotation_is_reported(dataset_copy):
    _rewrite(os.path.join(dataset_copy, "synthetic-annotation-train.csv"),
             lambda lines: [line for line in lines if not line.startswith("p00000_01.png")])
    with pytest.raises(DatasetError, match=r"line \d+: 'p00000_01\.png' has no row in"):
        read_patn_split(dataset_copy, "train")


def test_missing_split_files_are_named(tmp_path):
    os.makedirs(tmp_path / "train")
    with pytest.raises(DatasetError, match=r"no annotation CSV \(\*-annotation-train\.csv\)"):
        read_patn_split(str(tmp_path), "train")


def test_items_are_canvas_tensors_with_identity_labels(synthetic_root):
    pairs = read_patn_split(synthetic_root, "train")
    dataset = PairDataset(pairs, (64, 48), fill=0.0)
    item = dataset[5]
    assert item["source"].shape == item["target"].shape == (3, 64, 48)
    assert 0 <= float(item["source"].min()) and float(item["source"].max()) <= 1
    assert item["target_keypoints"].shape == (18, 3)
    assert 0 <= int(item["identity"]) < 4
    test = PairDataset(read_patn_split(synthetic_root, "test"), (64, 48), 0.0, identities=dataset.identities)
    assert int(test[0]["identity"]) == -1  # unseen people are ignored by the identity loss


def test_letterboxing_moves_keypoints_with_the_image(synthetic_root):
    pairs = read_patn_split(synthetic_root, "train")
    item = PairDataset(pairs, (128, 128), fill=0.0)[0]  # 64x48 doubled to 128x96, padded 16 px each side
    original = pairs.pairs[0].target_keypoints
    seen = original[:, 2] > 0
    expected_x = (original[seen, 0] + 0.5) * 2 - 0.5 + 16
    assert np.allclose(item["target_keypoints"][seen, 0].numpy(), expected_x, atol=1e-3)
    assert float(item["target"][:, :, :16].abs().max()) == 0.0


def test_flip_mirrors_the_whole_pair_and_swaps_keypoints(synthetic_root):
    pairs = read_patn_split(synthetic_root, "train")
    plain = PairDataset(pairs, (64, 48), 0.0)
    only_flip = AugmentConfig().disabled()
    only_flip = AugmentConfig(**{**{f: getattr(only_flip, f) for f in only_flip.__dataclass_fields__},
                                 "flip": type(only_flip.flip)(enabled=True, p=1.0)})
    flipped = PairDataset(pairs, (64, 48), 0.0, augment=only_flip)
    a, b = plain[3], flipped[3]
    assert torch.equal(b["source"], a["source"].flip(-1))
    assert torch.equal(b["target"], a["target"].flip(-1))
    expected = Pose(a["target_keypoints"].numpy(), 48, 64).flipped().keypoints[0]
    assert np.allclose(b["target_keypoints"].numpy(), expected)
    # the right wrist of the mirrored person is the old left wrist, mirrored
    assert FLIP_PERMUTATION[4] == 7
    if a["target_keypoints"][7, 2] > 0:
        assert abs(float(b["target_keypoints"][4, 0]) - (47 - float(a["target_keypoints"][7, 0]))) < 1e-4


def test_augmentation_changes_the_source_only(synthetic_root):
    pairs = read_patn_split(synthetic_root, "train")
    config = AugmentConfig()
    no_flip = AugmentConfig(**{**{f: getattr(config, f) for f in config.__dataclass_fields__},
                               "flip": type(config.flip)(enabled=False)})
    plain, augmented = PairDataset(pairs, (64, 48), 0.0), PairDataset(pairs, (64, 48), 0.0, augment=no_flip, seed=1)
    changed = 0
    for draw in range(12):
        a, b = plain[draw], augmented[draw]
        assert torch.equal(a["target"], b["target"])
        changed += not torch.equal(a["source"], b["source"])
    assert changed >= 6
    # the same draw gives the same augmentation; the next epoch's draw of the same pair another one
    assert torch.equal(augmented[2]["source"], augmented[2]["source"])
    assert not torch.equal(augmented[2]["source"], augmented[2 + len(pairs)]["source"])


def test_sampler_order_depends_only_on_seed_and_epoch_and_resumes_mid_epoch():
    sampler = EpochSampler(50, seed=4)
    sampler.start_epoch(3)
    full = list(sampler)
    assert sorted(d - 150 for d in full) == list(range(50))
    again = EpochSampler(50, seed=4)
    again.start_epoch(3, skip=20)
    assert list(again) == full[20:]
    again.start_epoch(4)
    assert list(again) != [d + 50 for d in full]
    assert list(EpochSampler(50, seed=5).__iter__()) != list(EpochSampler(50, seed=4).__iter__())


def test_generic_layout_reads_folders_and_openpose_json(tmp_path):
    for person, identity in (("alice", 1), ("bob", 2)):
        folder = tmp_path / person
        folder.mkdir()
        for k in range(3):
            sample = render_sample(0, identity, k, 64, 48)
            Image.fromarray(sample.image).save(folder / f"{k}.png")
            (folder / f"{k}.json").write_text(json.dumps([pose_to_openpose_frame(sample.pose, normalised=True)]))
    pairs = read_generic_folder(str(tmp_path))
    assert len(pairs) == 12 and pairs.identities == ["alice", "bob"]
    expected = render_sample(0, 1, 1, 64, 48).pose.keypoints[0]
    record = next(p for p in pairs.pairs if p.source.endswith(os.path.join("alice", "1.png")))
    assert np.allclose(record.source_keypoints, expected, atol=1e-2)
    os.remove(tmp_path / "bob" / "2.json")
    with pytest.raises(DatasetError, match=r"bob.2\.png: no pose file"):
        read_generic_folder(str(tmp_path))
