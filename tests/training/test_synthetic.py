"""SyntheticPeople: deterministic, person-shaped, exact keypoints, disjoint splits, labelled synthetic."""

from __future__ import annotations

import json
import os

import numpy as np

from rptgan_core.data import identity_from_name, read_patn_split
from rptgan_core.pose import KEYPOINT_INDEX
from rptgan_core.synthetic import SYNTHETIC_LABEL, image_name, render_sample, sample_identity


def test_same_arguments_give_the_same_pixels_and_keypoints():
    a, b = render_sample(7, 3, 2), render_sample(7, 3, 2)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.pose.keypoints, b.pose.keypoints)
    assert not np.array_equal(a.image, render_sample(8, 3, 2).image)


def test_an_identity_keeps_its_appearance_and_changes_its_pose():
    first, second = render_sample(0, 5, 0), render_sample(0, 5, 1)
    assert sample_identity(0, 5) == sample_identity(0, 5)
    assert sample_identity(0, 5) != sample_identity(0, 6)
    moved = np.abs(first.pose.keypoints[:, :, :2] - second.pose.keypoints[:, :, :2]).max()
    assert moved > 3  # a different pose, not the same picture


def test_body_keypoints_are_present_inside_the_canvas_and_on_the_figure():
    for index in range(6):
        sample = render_sample(1, 2, index, height=128, width=96, background=False)
        keypoints = sample.pose.keypoints[0]
        body = [KEYPOINT_INDEX[n] for n in ("neck", "right_shoulder", "left_shoulder", "right_hip", "left_hip",
                                            "right_knee", "left_knee")]
        assert (keypoints[body, 2] > 0).all()
        present = keypoints[keypoints[:, 2] > 0]
        assert (present[:, 0] >= 0).all() and (present[:, 0] <= 95).all()
        assert (present[:, 1] >= 0).all() and (present[:, 1] <= 127).all()
        # On a black background every torso keypoint sits on a drawn (non-black) pixel.
        for k in body:
            x, y = np.round(keypoints[k, :2]).astype(int)
            assert sample.image[y, x].sum() > 0, f"keypoint {k} at ({x}, {y}) is off the figure"


def test_poses_vary_across_images():
    wrists = np.stack([render_sample(0, 1, k).pose.keypoints[0, KEYPOINT_INDEX["right_wrist"], :2] for k in range(12)])
    assert wrists.std(axis=0).max() > 5


def test_written_dataset_is_patn_layout_with_disjoint_labelled_identities(synthetic_root):
    train = read_patn_split(synthetic_root, "train")
    test = read_patn_split(synthetic_root, "test")
    assert train.synthetic and test.synthetic
    assert set(train.identities).isdisjoint(test.identities)
    assert len(train.identities) == 4 and len(test.identities) == 2
    assert len(train) == 4 * 3 * 2  # every ordered pair of an identity's 3 images
    assert all(p.identity == identity_from_name(os.path.basename(p.source)) for p in train.pairs)
    with open(os.path.join(synthetic_root, "SYNTHETIC.json"), encoding="utf-8") as handle:
        assert json.load(handle)["dataset"] == SYNTHETIC_LABEL
    assert "synthetic" in SYNTHETIC_LABEL.lower()


def test_image_names_carry_the_identity():
    assert identity_from_name(image_name(12, 3)) == "p00012"
