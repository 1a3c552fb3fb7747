"""Evaluation beside its baselines: copy-source, best blur, no pose; moved-region and body metrics."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from rptgan_core.config import get_config
from rptgan_core.networks import build_generator
from rptgan_core.training.data import PairList, PairRecord, read_patn_split
from rptgan_core.training.evaluation import (
    ScoredBatch,
    evaluate_generator,
    format_scores,
    generate_pairs,
    pair_names,
    score_batch,
    summarise,
)
from rptgan_core.training.metrics import ssim_map
from rptgan_core.training.pose_metrics import (
    BLUR_SIGMAS,
    gaussian_blur,
    keypoint_part_labels,
    moved_region,
    region_l1,
    region_ssim,
)
from rptgan_core.training.synthetic import SyntheticPeopleSpec, render_sample, write_dataset


def _record(source: str, target: str) -> PairRecord:
    return PairRecord(source, target, np.zeros((18, 3), np.float32), np.zeros((18, 3), np.float32), "p")


def test_pair_names_follow_patn_and_never_collide():
    records = [_record("/d/test/a.png", "/d/test/b.png"), _record("/d/test/b.png", "/d/test/a.png")]
    assert pair_names(records) == ["a___b", "b___a"]
    # one folder per person: the same file names in several folders
    shared = [_record("/d/anna/1.png", "/d/anna/2.png"), _record("/d/ben/1.png", "/d/ben/2.png")]
    names = pair_names(shared)
    assert names == ["anna~1___anna~2", "ben~1___ben~2"] and len(set(names)) == 2


def test_moved_region_is_the_targets_body_where_the_part_changed():
    source = np.array([[0, 1, 1, 4]], np.uint8)
    target = np.array([[1, 1, 0, 5]], np.uint8)
    assert moved_region(source, target).tolist() == [[True, False, False, True]]
    with pytest.raises(ValueError, match="shape"):
        moved_region(source, target[:, :3])


def test_region_l1_averages_inside_the_mask_and_is_nan_for_an_empty_one():
    generated = np.zeros((2, 4, 4, 3), np.uint8)
    reference = np.full((2, 4, 4, 3), 10, np.uint8)
    reference[0, 0, 0] = 250
    mask = np.zeros((2, 4, 4), bool)
    mask[0, 0, :2] = True
    result = region_l1(generated, reference, mask)
    assert result[0] == pytest.approx((250 + 10) / 2) and np.isnan(result[1])


def test_region_ssim_equals_whole_image_ssim_for_a_full_mask():
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (2, 32, 24, 3), dtype=np.uint8) for _ in range(2))
    maps = ssim_map(a, b)
    full = region_ssim(maps, np.ones((2, 32, 24), bool))
    assert np.allclose(full, maps.mean(axis=(1, 2)))
    assert np.isnan(region_ssim(maps, np.zeros((2, 32, 24), bool))).all()


def test_gaussian_blur_smooths_and_keeps_a_flat_image_flat():
    flat = np.full((1, 40, 30, 3), 77, np.uint8)
    assert (gaussian_blur(flat, 32.0) == 77).all()
    noise = np.random.default_rng(1).integers(0, 256, (1, 40, 30, 3), dtype=np.uint8)
    assert gaussian_blur(noise, 4.0).std() < noise.std() / 4


def test_keypoint_labels_draw_torso_limbs_and_head():
    sample = render_sample(0, 3, 1)
    labels = keypoint_part_labels(sample.pose.keypoints[0], 128, 96)
    assert {1, 3, 4, 5, 6, 7, 8, 9, 10, 11} <= set(np.unique(labels).tolist())
    # the drawn body lies mostly on the rendered body
    assert ((labels > 0) & (sample.parts > 0)).sum() / (labels > 0).sum() > 0.7


def _batch(generated, target, source, source_labels, target_labels, variants=None) -> ScoredBatch:
    n = len(target)
    return ScoredBatch(generated, target, source, np.zeros((n, 18, 3)), np.zeros((n, 18, 3)),
                       [f"p{i}" for i in range(n)], source_labels, target_labels, variants or {})


def test_baselines_are_scored_the_same_way_and_the_best_blur_is_picked_per_metric():
    rng = np.random.default_rng(2)
    target = rng.integers(0, 256, (3, 32, 24, 3), dtype=np.uint8)
    source = rng.integers(0, 256, (3, 32, 24, 3), dtype=np.uint8)
    labels_t = np.zeros((3, 32, 24), np.uint8)
    labels_t[:, 8:24, 6:18] = 1
    labels_s = np.zeros_like(labels_t)
    scores = score_batch(_batch(target.copy(), target, source, labels_s, labels_t,
                                {"no_pose": source.copy()}), "plain")
    assert np.allclose(scores["ssim"], 1.0) and np.allclose(scores["moved_l1"], 0.0)
    assert np.allclose(scores["ssim_copy_source"], scores["ssim_no_pose"])
    assert np.allclose(scores["moved_l1_copy_source"], region_l1(source, target, labels_t > 0))
    assert all(f"ssim_blur_{s:g}" in scores for s in BLUR_SIGMAS)
    summary = summarise({k: [v] for k, v in scores.items()})
    blur_ssims = {s: float(scores[f"ssim_blur_{s:g}"].mean()) for s in BLUR_SIGMAS}
    assert summary["ssim_best_blur"] == pytest.approx(max(blur_ssims.values()))
    assert summary["ssim_best_blur_sigma"] == max(blur_ssims, key=blur_ssims.get)
    blur_l1 = {s: float(scores[f"moved_l1_blur_{s:g}"].mean()) for s in BLUR_SIGMAS}
    assert summary["moved_l1_best_blur"] == pytest.approx(min(blur_l1.values()))
    assert summary["pairs"] == 3 and not any(re.search(r"_blur_\d", k) for k in summary)
    line = format_scores(summary)
    assert "copy-source" in line and "best blur" in line and "no pose" in line


@pytest.fixture(scope="module")
def synthetic_pairs(tmp_path_factory) -> PairList:
    root = tmp_path_factory.mktemp("people")
    write_dataset(root, SyntheticPeopleSpec(train_identities=1, test_identities=2, images_per_identity=3,
                                            height=32, width=32, test_pairs_per_identity=2))
    return read_patn_split(root, "test")


def test_generate_pairs_runs_the_model_with_no_pose_and_its_own_pose(synthetic_pairs):
    torch.manual_seed(0)
    generator = build_generator(get_config("tiny-flow"))
    batches = list(generate_pairs(generator, synthetic_pairs, fill=0.0, batch_size=3))
    assert sum(len(b.generated) for b in batches) == len(synthetic_pairs) == 4
    batch = batches[0]
    assert set(batch.variants) == {"no_pose", "own_pose"}
    assert batch.generated.shape == batch.target.shape == batch.variants["no_pose"].shape
    assert not np.array_equal(batch.generated, batch.variants["no_pose"])
    # SyntheticPeople's own part maps are used, not keypoint strokes
    assert batch.target_labels.max() > 0 and batch.source_labels.shape == batch.target.shape[:3]
    scores = evaluate_generator(generator, synthetic_pairs, fill=0.0, batch_size=3)
    for key in ("ssim", "ssim_copy_source", "ssim_best_blur", "ssim_no_pose", "ssim_own_pose", "moved_l1",
                "moved_l1_copy_source", "moved_l1_best_blur", "moved_l1_no_pose", "body_ssim"):
        assert key in scores and np.isfinite(scores[key]), key
    assert scores["pairs"] == 4
    assert not any(np.array_equal(a.generated, b) for a in batches for b in a.variants.values())


def test_pckh_scales_by_the_targets_head_box_and_counts_missed_keypoints_wrong():
    from rptgan_core.training.pose_metrics import pckh

    target = np.zeros((18, 3), np.float32)
    target[[0, 1, 14, 15], :] = [[50, 20, 1], [50, 40, 1], [45, 16, 1], [55, 16, 1]]  # head box 10 x 24
    target[4] = [80, 90, 1]
    detected = target.copy()
    assert pckh(detected, target) == (5, 5)
    detected[4, 0] += 4.9  # within half the box width
    assert pckh(detected, target) == (5, 5)
    detected[4, 0] += 0.2
    assert pckh(detected, target) == (4, 5)
    detected[0, 2] = 0  # the detector missed the nose
    assert pckh(detected, target) == (3, 5)
    assert pckh(detected, np.zeros((18, 3), np.float32)) == (0, 0)


@pytest.mark.slow
def test_evaluate_script_scores_the_synthetic_test_beside_its_baselines_as_json(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from rptgan_core.checkpoint import save_checkpoint

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    torch.manual_seed(0)
    checkpoint = save_checkpoint(tmp_path / "flow.safetensors", build_generator(get_config("synthetic-flow")))
    saved = tmp_path / "images"
    result = subprocess.run([sys.executable, os.path.join(repo, "training", "evaluate.py"), "--checkpoint",
                             str(checkpoint), "--synthetic-test", "--limit", "12", "--json",
                             "--save-images", str(saved)],
                            capture_output=True, text=True, timeout=900, cwd=repo,
                            env={**os.environ, "PYTHONPATH": repo})
    assert result.returncode == 0, result.stderr[-2000:]
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("pairs", "ssim", "ssim_copy_source", "ssim_best_blur", "ssim_no_pose", "moved_l1",
                "moved_l1_copy_source", "moved_l1_best_blur"):
        assert key in scores, key
    assert scores["pairs"] == 12 and "SyntheticPeople" in scores["data"]
    assert "copy-source" in result.stdout and "best blur" in result.stdout
    assert len(list(saved.glob("*___*.png"))) == 12  # one file per pair, none overwritten
