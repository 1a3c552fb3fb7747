"""evaluate.py and prepare_dataset.py on small synthetic data (synthetic people, not photographs)."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from rptgan_core.checkpoint import CheckpointError, save_checkpoint
from rptgan_core.config import get_config
from rptgan_core.estimation import register_backend
from rptgan_core.networks import build_generator
from rptgan_core.pose import Pose
from rptgan_core.training.data import read_generic_folder, read_patn_split
from rptgan_core.training.synthetic import render_sample


def test_evaluate_scores_a_checkpoint_against_copying_the_source(synthetic_root, tmp_path, load_script, capsys):
    evaluate = load_script("evaluate")
    checkpoint = tmp_path / "tiny.safetensors"
    save_checkpoint(checkpoint, build_generator(get_config("tiny")))
    evaluate.main(["--checkpoint", str(checkpoint), "--data", synthetic_root, "--device", "cpu", "--json",
                   "--save-images", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    scores = json.loads(out.strip().splitlines()[-1])
    assert scores["pairs"] == 6 and 0 < scores["ssim"] < 1 and 0 < scores["ssim_copy_source"] < 1
    assert "synthetic" in scores["data"].lower()
    assert "IS/FID skipped" in err and "--inception-weights" in err and "LPIPS skipped" in err
    # one file per pair, named <from>___<to>: pairs that share a target do not overwrite each other
    assert len(os.listdir(tmp_path / "out")) == len(read_patn_split(synthetic_root, "test").pairs) == 6
    for key in ("ssim_best_blur", "ssim_no_pose", "moved_l1", "moved_l1_copy_source", "body_ssim"):
        assert key in scores, key


def test_evaluate_reports_pckh_beside_copy_source_and_no_pose(synthetic_root, tmp_path, load_script, capsys):
    evaluate = load_script("evaluate")
    register_backend("fake-for-pckh", lambda **options: _FakeEstimator())
    checkpoint = tmp_path / "tiny.safetensors"
    save_checkpoint(checkpoint, build_generator(get_config("tiny")))
    evaluate.main(["--checkpoint", str(checkpoint), "--data", synthetic_root, "--json", "--pckh", "fake-for-pckh"])
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("pckh", "pckh_copy_source", "pckh_no_pose"):
        assert 0 <= scores[key] <= 1 and scores[f"{key}_detected"] == 1.0, key


def test_evaluate_a_folder_of_generated_images(synthetic_root, tmp_path, load_script, capsys):
    evaluate = load_script("evaluate")
    pairs = read_patn_split(synthetic_root, "test")
    folder = tmp_path / "generated"
    folder.mkdir()
    for record in pairs.pairs:  # a perfect generator: the targets themselves, named as PATN names them
        stem = lambda p: os.path.splitext(os.path.basename(p))[0]  # noqa: E731
        shutil.copy(record.target, folder / f"{stem(record.source)}___{stem(record.target)}.png")
    evaluate.main(["--generated", str(folder), "--data", synthetic_root, "--convention", "market", "--json"])
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scores["ssim"] == pytest.approx(1.0) and scores["masked_ssim"] == pytest.approx(1.0)
    assert scores["ssim_copy_source"] < 0.99
    os.remove(next(folder.iterdir()))
    with pytest.raises(SystemExit, match="no generated image for the pair"):
        evaluate.main(["--generated", str(folder), "--data", synthetic_root])


def test_evaluate_refuses_a_checkpoint_before_rendering_the_synthetic_test_set(tmp_path, load_script, monkeypatch):
    # on a fresh clone the demo's test set is rendered first, which takes minutes: a file that
    # cannot be a checkpoint is refused before that
    evaluate = load_script("evaluate")

    def render():
        raise AssertionError("rendered the test set before checking the checkpoint")

    monkeypatch.setattr(evaluate, "synthetic_test_pairs", render)
    pickled = tmp_path / "pickled.safetensors"
    pickled.write_bytes(b"\x80\x04" + b"\x00" * 64)
    with pytest.raises(CheckpointError, match="pickled"):
        evaluate.main(["--checkpoint", str(pickled), "--synthetic-test"])


class _FakeEstimator:
    """Finds one standing person in every photo, except in ones whose top-left pixel is pure white."""

    def estimate(self, image: np.ndarray) -> Pose:
        height, width = image.shape[:2]
        if (image[0, 0] == 255).all():
            return Pose.empty(width, height)
        sample = render_sample(0, 0, 0, height, width)
        return sample.pose


def test_prepare_dataset_writes_both_layouts_with_disjoint_people(tmp_path, load_script):
    register_backend("fake-for-training", lambda **options: _FakeEstimator())
    prepare = load_script("prepare_dataset")
    photos = tmp_path / "photos"
    for person in ("ann", "bo", "cy", "dee", "ed"):
        (photos / person).mkdir(parents=True)
        for k in range(3):
            Image.fromarray(render_sample(1, len(person) + k, k, 128, 96).image).save(photos / person / f"{k}.jpg")
    blank = np.full((128, 96, 3), 255, np.uint8)
    Image.fromarray(blank).save(photos / "ann" / "nobody.jpg")
    out = tmp_path / "prepared"
    result = prepare.prepare(prepare.parse_args([str(photos), str(out), "--estimator", "fake-for-training",
                                                 "--size", "64x48", "--test-fraction", "0.4"]))
    assert any("nobody.jpg" in message for message in result["skipped"])
    train, test = read_patn_split(str(out), "train"), read_patn_split(str(out), "test")
    assert set(train.identities).isdisjoint(test.identities)
    assert len(train.identities) == 3 and len(test.identities) == 2
    assert len(train) == 3 * 6
    with Image.open(train.pairs[0].source) as image:
        assert image.size == (48, 64)
    generic = read_generic_folder(str(out / "train"))
    assert generic.identities == train.identities and len(generic) == len(train)
    record = train.pairs[0]
    assert (record.source_keypoints[:, 2] > 0).sum() >= 8
    assert np.all(record.source_keypoints[record.source_keypoints[:, 2] > 0, 0] < 48)


def test_prepare_dataset_keeps_photos_and_people_whose_names_clean_alike_apart(tmp_path, load_script):
    """c.jpg and c.png of one person, a name with the CSV's separators in it, and two folders
    whose names clean to one: every photo stays its own sample and every person their own."""
    register_backend("fake-for-training", lambda **options: _FakeEstimator())
    prepare = load_script("prepare_dataset")
    photos = tmp_path / "photos"
    for person in ("ann lee", "ann-lee", "bo", "cy"):
        (photos / person).mkdir(parents=True)
        for k, name in enumerate(("c.jpg", "c.png", "x,y:z.jpg")):
            Image.fromarray(render_sample(1, len(person) + k, k, 128, 96).image).save(photos / person / name)
    out = tmp_path / "prepared"
    prepare.prepare(prepare.parse_args([str(photos), str(out), "--estimator", "fake-for-training",
                                        "--size", "64x48", "--test-fraction", "0.25"]))
    train, test = read_patn_split(str(out), "train"), read_patn_split(str(out), "test")
    people = set(train.identities) | set(test.identities)
    assert people == {"ann-lee", "ann-lee-2", "bo", "cy"}
    names = {os.path.basename(p.source) for p in train.pairs + test.pairs}
    assert names == {"c.png", "c-2.png", "x-y-z.png"}
    assert len(train) + len(test) == 4 * 6


def test_prepare_dataset_names_an_unknown_estimator_and_a_bad_folder(tmp_path, load_script):
    prepare = load_script("prepare_dataset")
    with pytest.raises(SystemExit, match="photo folder not found"):
        prepare.prepare(prepare.parse_args([str(tmp_path / "missing"), str(tmp_path / "out")]))
