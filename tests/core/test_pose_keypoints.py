import numpy as np
import pytest

from rptgan_core.pose import FLIP_PERMUTATION, KEYPOINT_INDEX, KEYPOINT_NAMES, Pose, PoseError


def test_flip_permutation_swaps_left_and_right_and_is_an_involution():
    for index, name in enumerate(KEYPOINT_NAMES):
        partner = KEYPOINT_NAMES[FLIP_PERMUTATION[index]]
        if name.startswith("left_"):
            assert partner == "right_" + name[5:]
        elif name.startswith("right_"):
            assert partner == "left_" + name[6:]
        else:
            assert partner == name
    assert [FLIP_PERMUTATION[i] for i in FLIP_PERMUTATION] == list(range(18))


def test_flip_mirrors_coordinates_swaps_sides_and_is_its_own_inverse(person_pose):
    flipped = person_pose.flipped()
    right, left = KEYPOINT_INDEX["right_wrist"], KEYPOINT_INDEX["left_wrist"]
    # The mirrored person's right wrist is where the original left wrist was, mirrored.
    assert flipped.keypoints[0, right, 0] == pytest.approx(person_pose.width - 1 - person_pose.keypoints[0, left, 0])
    assert flipped.keypoints[0, right, 1] == pytest.approx(person_pose.keypoints[0, left, 1])
    assert np.allclose(flipped.flipped().keypoints, person_pose.keypoints, atol=1e-4)


def test_flip_keeps_missing_keypoints_missing(make_person):
    points = make_person()
    points[KEYPOINT_INDEX["left_ankle"]] = 0
    flipped = Pose(points, 88, 128).flipped()
    assert flipped.keypoints[0, KEYPOINT_INDEX["right_ankle"], 2] == 0
    assert flipped.keypoints[0, KEYPOINT_INDEX["left_ankle"], 2] == 1


def test_missing_keypoints_are_normalised_to_zero_and_negative_coordinates_mean_missing(make_person):
    points = make_person()
    points[3] = (40, 50, 0)
    points[4] = (-1, -1, 1)
    pose = Pose(points, 88, 128)
    assert pose.keypoints[0, 3].tolist() == [0, 0, 0]
    assert pose.keypoints[0, 4].tolist() == [0, 0, 0]
    assert pose.visible[0].sum() == 16


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 17, 3)), "shape"),
    (np.full((18, 3), np.nan), "NaN"),
])
def test_bad_keypoints_are_refused(bad, message):
    with pytest.raises(PoseError, match=message):
        Pose(bad, 10, 10)


def test_canvas_must_be_positive(make_person):
    with pytest.raises(PoseError, match="positive"):
        Pose(make_person(), 0, 10)


def test_main_person_prefers_the_large_complete_figure(make_person):
    small = make_person() * [0.3, 0.3, 1]
    large = make_person()
    hidden = make_person() * [1.5, 1.5, 1]
    hidden[2:, 2] = 0  # a bigger figure with only two keypoints seen
    pose = Pose(np.stack([small, hidden, large]), 200, 200)
    assert pose.main_person_index() == 2
    assert pose.main_person().num_people == 1


def test_main_person_of_an_empty_pose_is_an_error():
    with pytest.raises(PoseError, match="no person"):
        Pose.empty(64, 64).main_person_index()


def test_body25_drops_mid_hip_and_feet():
    body25 = np.zeros((25, 3), np.float32)
    body25[:, 0] = np.arange(25) + 1
    body25[:, 1] = 5
    body25[:, 2] = 1
    pose = Pose.from_body25(body25, 100, 100)
    assert pose.keypoints[0, :, 0].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]


def test_blazepose_neck_is_the_shoulder_midpoint_and_missing_without_both_shoulders():
    landmarks = np.zeros((33, 3), np.float32)
    landmarks[11] = (60, 40, 0.9)   # BlazePose left shoulder
    landmarks[12] = (40, 40, 0.7)   # BlazePose right shoulder
    landmarks[0] = (50, 20, 1.0)
    pose = Pose.from_blazepose33(landmarks, 100, 100)
    assert pose.keypoints[0, KEYPOINT_INDEX["neck"]].tolist() == pytest.approx([50, 40, 0.7])
    assert pose.keypoints[0, KEYPOINT_INDEX["left_shoulder"], 0] == 60
    assert pose.keypoints[0, KEYPOINT_INDEX["right_shoulder"], 0] == 40
    landmarks[12, 2] = 0
    assert Pose.from_blazepose33(landmarks, 100, 100).keypoints[0, KEYPOINT_INDEX["neck"], 2] == 0


def test_points_leaving_the_canvas_become_missing(person_pose):
    moved = person_pose.translated(-30, 0)
    assert not moved.visible[0, KEYPOINT_INDEX["right_wrist"]]   # x 24.6 - 30 < 0
    assert moved.visible[0, KEYPOINT_INDEX["left_wrist"]]
    assert moved.keypoints[0, KEYPOINT_INDEX["right_wrist"]].tolist() == [0, 0, 0]


def test_resize_uses_pixel_centres(person_pose):
    doubled = person_pose.resized(176, 256)
    x = person_pose.keypoints[0, 0, 0]
    assert doubled.keypoints[0, 0, 0] == pytest.approx((x + 0.5) * 2 - 0.5)
    assert np.allclose(doubled.resized(88, 128).keypoints, person_pose.keypoints, atol=1e-4)


def test_has_person_needs_a_person_with_a_keypoint(make_person):
    assert Pose(make_person(), 64, 128).has_person
    assert not Pose(np.zeros((0, 18, 3), np.float32), 64, 64).has_person  # nobody
    assert not Pose(np.zeros((1, 18, 3), np.float32), 64, 64).has_person  # a person with no keypoint present
