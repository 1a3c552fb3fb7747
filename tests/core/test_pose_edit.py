"""rptgan_core.pose_edit: whole-pose and limb edits, keypoints, retargeting."""

from __future__ import annotations

import numpy as np
import pytest

from rptgan_core import pose_edit
from rptgan_core.pose import KEYPOINT_INDEX as K
from rptgan_core.pose import Pose, PoseError


@pytest.fixture
def pose(make_person) -> Pose:
    return Pose(make_person(100, 200), 100, 200)


def _point(pose: Pose, name: str, person: int = 0) -> np.ndarray:
    return pose.keypoints[person, K[name], :2]


def test_tree_is_rooted_at_the_neck():
    assert pose_edit.descendants(K["neck"]) and len(pose_edit.descendants(K["neck"])) == 18
    assert sorted(pose_edit.descendants(K["right_shoulder"])) == [K["right_shoulder"], K["right_elbow"],
                                                                  K["right_wrist"]]
    assert sorted(pose_edit.descendants(K["nose"])) == sorted(K[n] for n in ("nose", "right_eye", "left_eye",
                                                                             "right_ear", "left_ear"))


def test_rotate_limb_turns_only_the_limb_about_its_joint(pose):
    turned = pose_edit.rotate_limb(pose, "right_arm", -90)
    shoulder = _point(pose, "right_shoulder")
    for name in ("right_elbow", "right_wrist"):
        before, after = _point(pose, name) - shoulder, _point(turned, name) - shoulder
        assert np.linalg.norm(after) == pytest.approx(np.linalg.norm(before), rel=1e-4)
        # -90 degrees is a quarter turn anticlockwise on screen (y down): (x, y) -> (y, -x)
        np.testing.assert_allclose(after, [before[1], -before[0]], atol=1e-3)
    unchanged = [i for i in range(18) if i not in (K["right_elbow"], K["right_wrist"])]
    np.testing.assert_allclose(turned.keypoints[0, unchanged], pose.keypoints[0, unchanged])


def test_rotate_forearm_keeps_the_elbow(pose):
    turned = pose_edit.rotate_limb(pose, "left_forearm", -45)
    np.testing.assert_allclose(_point(turned, "left_elbow"), _point(pose, "left_elbow"))
    assert not np.allclose(_point(turned, "left_wrist"), _point(pose, "left_wrist"))


def test_rotate_limb_moves_the_hand_with_the_wrist(pose):
    hand = np.tile(np.append(_point(pose, "right_wrist"), 1.0), (21, 1)).astype(np.float32)
    with_hand = Pose(pose.keypoints, 100, 200, ({"hand_right_keypoints_2d": hand},))
    turned = pose_edit.rotate_limb(with_hand, "right_forearm", 30)
    np.testing.assert_allclose(turned.extras[0]["hand_right_keypoints_2d"][0, :2], _point(turned, "right_wrist"),
                               atol=1e-3)


def test_rotate_limb_with_missing_joint_leaves_the_person(pose):
    cleared = pose_edit.clear_keypoint(pose, "right_shoulder")
    turned = pose_edit.rotate_limb(cleared, "right_arm", 60)
    np.testing.assert_allclose(turned.keypoints, cleared.keypoints)


def test_unknown_names_are_refused(pose):
    with pytest.raises(PoseError, match="unknown limb 'tail'"):
        pose_edit.rotate_limb(pose, "tail", 10)
    with pytest.raises(PoseError, match="unknown keypoint 'chin'"):
        pose_edit.set_keypoint(pose, "chin", 1, 1)
    with pytest.raises(PoseError, match="person 3 does not exist"):
        pose_edit.translate_pose(pose, 1, 1, people=[3])
    with pytest.raises(PoseError, match="positive"):
        pose_edit.scale_pose(pose, 0.0)


def test_whole_pose_scale_rotate_translate(pose):
    centre = np.array(pose_edit.pose_centre(pose))
    half = pose_edit.scale_pose(pose, 0.5)
    np.testing.assert_allclose(half.keypoints[0, :, :2], (pose.keypoints[0, :, :2] - centre) * 0.5 + centre, atol=1e-3)
    turned = pose_edit.rotate_pose(pose, 180)
    np.testing.assert_allclose(turned.keypoints[0, :, :2], 2 * centre - pose.keypoints[0, :, :2], atol=1e-3)
    moved = pose_edit.translate_pose(pose, 5, -7)
    np.testing.assert_allclose(moved.keypoints[0, :, :2], pose.keypoints[0, :, :2] + [5, -7], atol=1e-4)


def test_keypoints_pushed_off_the_canvas_become_missing(pose):
    moved = pose_edit.translate_pose(pose, 0, 60)
    assert not moved.visible[0, K["right_ankle"]]
    assert moved.visible[0, K["nose"]]


def test_edits_touch_only_the_chosen_person(make_person):
    two = Pose(np.stack([make_person(200, 200, -0.2), make_person(200, 200, 0.2)]), 200, 200)
    moved = pose_edit.translate_pose(two, 10, 0, people=[1])
    np.testing.assert_allclose(moved.keypoints[0], two.keypoints[0])
    np.testing.assert_allclose(moved.keypoints[1, :, 0], two.keypoints[1, :, 0] + 10, atol=1e-4)
    mirrored = pose_edit.mirror_pose(two, people=[0])
    np.testing.assert_allclose(mirrored.keypoints[1], two.keypoints[1])
    assert mirrored.keypoints[0, K["right_wrist"], 0] == pytest.approx(199 - two.keypoints[0, K["left_wrist"], 0],
                                                                       abs=1e-3)


def test_set_and_clear_keypoint(pose):
    placed = pose_edit.set_keypoint(pose, "nose", 10.0, 20.0)
    np.testing.assert_allclose(placed.keypoints[0, K["nose"]], [10, 20, 1])
    cleared = pose_edit.clear_keypoint(placed, "nose")
    assert not cleared.visible[0, K["nose"]]
    with pytest.raises(PoseError, match="finite"):
        pose_edit.set_keypoint(pose, "nose", float("nan"), 1)


def test_retarget_takes_the_source_proportions_and_keeps_the_size(make_person):
    target = Pose(make_person(100, 200), 100, 200)
    source_points = make_person(100, 200)
    neck = source_points[K["neck"], :2]
    # A source with arms twice as long relative to the rest.
    for joint, child in ((K["right_shoulder"], K["right_elbow"]), (K["right_elbow"], K["right_wrist"]),
                         (K["left_shoulder"], K["left_elbow"]), (K["left_elbow"], K["left_wrist"])):
        source_points[child, :2] = source_points[joint, :2] + 2 * (source_points[child, :2] - source_points[joint, :2])
    source = Pose(source_points, 100, 200)
    retargeted = pose_edit.retarget(target, source)
    lengths = pose_edit.bone_lengths(retargeted.keypoints[0])
    wanted = pose_edit.bone_lengths(source_points)
    # Proportions are the source's ...
    np.testing.assert_allclose(lengths / lengths.sum(), wanted / wanted.sum(), rtol=1e-3)
    # ... the overall size and the neck are the target's.
    assert lengths.sum() == pytest.approx(pose_edit.bone_lengths(target.keypoints[0]).sum(), rel=1e-3)
    np.testing.assert_allclose(_point(retargeted, "neck"), neck)
    # Directions are the target's.
    bone = pose_edit.BONES.index((K["right_elbow"], K["right_wrist"]))
    before = target.keypoints[0, K["right_wrist"], :2] - target.keypoints[0, K["right_elbow"], :2]
    after = retargeted.keypoints[0, K["right_wrist"], :2] - retargeted.keypoints[0, K["right_elbow"], :2]
    assert before[0] * after[1] - before[1] * after[0] == pytest.approx(0, abs=1e-2) and lengths[bone] > 0


def test_retarget_needs_a_source_person(pose):
    with pytest.raises(PoseError, match="source pose has no person"):
        pose_edit.retarget(pose, Pose.empty(100, 200))


def test_apply_edits_is_the_edits_one_after_another(make_person):
    from rptgan_core.pose_edit import (
        PoseEdits,
        apply_edits,
        mirror_pose,
        rotate_limb,
        rotate_pose,
        scale_pose,
        set_keypoint,
        translate_pose,
    )

    two = Pose(np.stack([make_person(200, 200, -0.2), make_person(200, 200, 0.2)]), 200, 200)
    edits = PoseEdits(limb="left_arm", limb_angle=-90.0, keypoint="nose", keypoint_x=0.5, keypoint_y=0.1,
                      mirror=True, scale=0.8, rotate=10.0, translate_x=0.05)
    by_hand = rotate_limb(two, "left_arm", -90.0, [1])
    by_hand = set_keypoint(by_hand, "nose", 0.5 * 199, 0.1 * 199, people=[1])
    by_hand = translate_pose(rotate_pose(scale_pose(mirror_pose(by_hand, [1]), 0.8, [1]), 10.0, [1]), 10.0, 0.0, [1])
    edited = apply_edits(two, edits, [1])
    assert np.allclose(edited.keypoints, by_hand.keypoints)
    assert np.array_equal(edited.keypoints[0], two.keypoints[0])  # the other person is untouched
    assert apply_edits(Pose.empty(200, 200), edits).num_people == 0
