"""SyntheticPeople: deterministic, person-shaped, exact keypoints, disjoint splits, labelled synthetic."""

from __future__ import annotations

import json
import os

import numpy as np

from rptgan_core.pose import KEYPOINT_INDEX
from rptgan_core.training.data import identity_from_name, read_patn_split
from rptgan_core.training.synthetic import SYNTHETIC_LABEL, image_name, render_sample, sample_identity


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


def test_part_labels_cover_the_figure_and_only_it():
    from rptgan_core.training.synthetic import PART_NAMES

    plain = render_sample(0, 5, 2, background=False)
    assert plain.parts.shape == plain.image.shape[:2] and plain.parts.max() < len(PART_NAMES)
    figure = plain.image.sum(-1) > 0  # black canvas without a background: drawn pixels are the figure
    labelled = plain.parts > 0
    assert (figure & labelled).sum() / labelled.sum() > 0.97 and (figure & labelled).sum() / figure.sum() > 0.9
    # the head label sits above the hips label
    rows = np.arange(plain.parts.shape[0])[:, None]
    head, hips = PART_NAMES.index("head"), PART_NAMES.index("hips")
    assert (rows * (plain.parts == head)).sum() / (plain.parts == head).sum() < \
        (rows * (plain.parts == hips)).sum() / (plain.parts == hips).sum()


def test_write_dataset_adds_part_maps_to_a_dataset_written_before_them(tmp_path):
    from rptgan_core.training.synthetic import SyntheticPeopleSpec, part_labels_path, read_part_labels, write_dataset

    spec = SyntheticPeopleSpec(train_identities=1, test_identities=1, images_per_identity=2, height=32, width=32,
                               test_pairs_per_identity=1)
    write_dataset(tmp_path, spec)
    image = tmp_path / "test" / "p00001_00.png"
    assert read_part_labels(image).shape == (32, 32)
    label = json.loads((tmp_path / "SYNTHETIC.json").read_text())
    del label["parts"]
    (tmp_path / "SYNTHETIC.json").write_text(json.dumps(label))
    os.remove(part_labels_path(image))
    stamp = os.stat(image).st_mtime_ns
    write_dataset(tmp_path, spec)
    assert read_part_labels(image) is not None and os.stat(image).st_mtime_ns == stamp


def test_write_dataset_redraws_a_dataset_an_older_renderer_drew(tmp_path):
    from rptgan_core.training.synthetic import RENDERER_VERSION, SyntheticPeopleSpec, write_dataset

    spec = SyntheticPeopleSpec(train_identities=1, test_identities=1, images_per_identity=2, height=32, width=32,
                               test_pairs_per_identity=1)
    write_dataset(tmp_path, spec)
    image = tmp_path / "test" / "p00001_00.png"
    drawn = image.read_bytes()
    label = json.loads((tmp_path / "SYNTHETIC.json").read_text())
    assert label["renderer"] == RENDERER_VERSION
    del label["renderer"]  # as the renderer before version 2 wrote it
    (tmp_path / "SYNTHETIC.json").write_text(json.dumps(label))
    image.write_bytes(b"stale")
    write_dataset(tmp_path, spec)
    assert image.read_bytes() == drawn
    assert json.loads((tmp_path / "SYNTHETIC.json").read_text())["renderer"] == RENDERER_VERSION


def test_a_garments_pattern_belongs_to_the_person_and_moves_with_them():
    """The same person moved sideways by whole pixels is the same picture moved: the stripes
    do not change period or phase from one image to the next (they once did, so a target's
    texture could not be predicted from its source)."""
    from rptgan_core.training.synthetic import render_person

    person = next(sample_identity(0, i) for i in range(50) if sample_identity(0, i).top_pattern == "stripes")
    angles = _sample_angles_of(0, person.identity, 0)
    width = 96
    left = render_person(person, {**angles, "shift": 0.0}, 128, width, background=True)
    right = render_person(person, {**angles, "shift": 6 / width}, 128, width, background=True)
    torso = left.parts == 1
    assert torso.sum() > 100
    columns = np.nonzero(torso.any(axis=0))[0]
    inner = slice(columns.min(), columns.max() + 1)
    assert np.array_equal(right.image[:, 6:][:, inner], left.image[:, :-6][:, inner])
    assert len(np.unique(left.image[torso].reshape(-1, 3), axis=0)) > 1  # striped, not plain


def _sample_angles_of(seed: int, identity: int, index: int) -> dict:
    from rptgan_core.training.synthetic import _sample_angles

    return _sample_angles(np.random.default_rng([seed, identity, index + 1]))
