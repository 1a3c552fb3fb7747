"""Keyframed pose sequences (rptgan_core.keyframes)."""

import numpy as np
import pytest

from rptgan_core import keyframes
from rptgan_core.pose import Pose, PoseError
from rptgan_core.pose_edit import BONES, bone_lengths
from rptgan_core.pose_library import builtin_pose

# the limbs' and the head's bones: lengths that a joint-angle interpolation must keep
_BONES = [i for i, (_, child) in enumerate(BONES)]


def _lengths(pose: Pose) -> np.ndarray:
    return bone_lengths(pose.keypoints[0])


@pytest.mark.parametrize("easing", keyframes.EASINGS)
def test_endpoints_exact_counts_and_lengths_kept(easing):
    poses = [builtin_pose(name) for name in ("standing", "arms_up", "t_pose", "waving")]
    sequence = keyframes.interpolate_keyframes(poses, 31, easing)
    assert len(sequence) == 31
    for mark, pose in zip((0, 10, 20, 30), poses):
        np.testing.assert_array_equal(sequence[mark].keypoints, pose.keypoints)
    reference = _lengths(poses[0])
    for frame in sequence:
        np.testing.assert_allclose(_lengths(frame), reference, rtol=1e-4, atol=1e-3)


def test_limbs_turn_about_their_joints_not_through_the_body():
    # arms from down to up through the side: a straight-line blend would pull the wrist
    # in towards the shoulder at the half-way frame; a turn keeps it an arm's length out
    sequence = keyframes.interpolate_keyframes([builtin_pose("standing"), builtin_pose("arms_up")], 3)
    middle = sequence[1].keypoints[0]
    shoulder, wrist = middle[2, :2], middle[4, :2]
    reach = np.linalg.norm(builtin_pose("standing").keypoints[0, 4, :2] - builtin_pose("standing").keypoints[0, 2, :2])
    assert np.linalg.norm(wrist - shoulder) > 0.9 * reach
    assert abs(wrist[1] - shoulder[1]) < 0.5 * reach  # half-way up: out to the side


def test_easing_changes_timing_not_endpoints():
    a, b = builtin_pose("standing"), builtin_pose("t_pose")
    linear = keyframes.interpolate_keyframes([a, b], 5, "linear")
    eased = keyframes.interpolate_keyframes([a, b], 5, "ease in")
    # ease in: slower at the start, so the first in-between moves less
    moved = lambda s: np.abs(s[1].keypoints - a.keypoints).sum()  # noqa: E731
    assert moved(eased) < moved(linear)
    np.testing.assert_array_equal(eased[-1].keypoints, b.keypoints)


def test_loop_returns_towards_the_start_without_repeating_it():
    a, b = builtin_pose("walking_1"), builtin_pose("walking_3")
    sequence = keyframes.interpolate_keyframes([a, b], 8, loop=True)
    assert len(sequence) == 8
    np.testing.assert_array_equal(sequence[0].keypoints, a.keypoints)
    assert not np.array_equal(sequence[-1].keypoints, a.keypoints)
    np.testing.assert_array_equal(sequence[4].keypoints, b.keypoints)


def test_a_keypoint_missing_in_one_keyframe_moves_with_its_parent():
    a, b = builtin_pose("standing"), builtin_pose("arms_up")
    points = b.keypoints.copy()
    points[0, 4] = 0  # right wrist missing at the end
    b = Pose(points, b.width, b.height)
    sequence = keyframes.interpolate_keyframes([a, b], 5)
    forearm = a.keypoints[0, 4, :2] - a.keypoints[0, 3, :2]
    for frame in sequence[:-1]:
        body = frame.keypoints[0]
        assert body[4, 2] > 0
        np.testing.assert_allclose(body[4, :2] - body[3, :2], forearm, atol=1e-3)  # kept its bone from a
    assert sequence[-1].keypoints[0, 4, 2] == 0  # the keyframe itself stays as it was


def test_canvases_are_matched_and_people_counts_may_differ():
    a = builtin_pose("standing")
    b = builtin_pose("t_pose").resized(352, 512)
    two = Pose(np.concatenate([a.keypoints, a.translated(10, 0).keypoints]), a.width, a.height)
    sequence = keyframes.interpolate_keyframes([two, b], 4)
    assert all((s.width, s.height) == (a.width, a.height) for s in sequence)
    assert [s.num_people for s in sequence] == [2, 2, 2, 2]
    np.testing.assert_allclose(sequence[-1].keypoints[0], builtin_pose("t_pose").keypoints[0], atol=1e-3)


@pytest.mark.parametrize("args,match", [
    (([builtin_pose("standing")], 5), "at least two"),
    (([builtin_pose("standing")] * 2, 1), "frames"),
    (([builtin_pose("standing")] * 2, 10**9), "frames"),
    (([builtin_pose("standing")] * 2, 2.5), "frames"),
    (([builtin_pose("standing")] * 5, 3), "cannot hold"),
])
def test_bad_requests(args, match):
    with pytest.raises(PoseError, match=match):
        keyframes.interpolate_keyframes(*args)
    with pytest.raises(PoseError, match="easing"):
        keyframes.interpolate_keyframes([builtin_pose("standing")] * 2, 4, "bounce")
