"""Built-in and saved poses (rptgan_core.pose_library)."""

import json
import os

import numpy as np
import pytest

from rptgan_core import pose_library
from rptgan_core.pose import KEYPOINT_INDEX, Pose
from rptgan_core.pose_edit import BONES, bone_lengths
from rptgan_core.pose_library import PoseLibraryError

REQUIRED = ("standing", "t_pose", "a_pose", "walking_1", "walking_2", "walking_3", "walking_4", "running", "waving",
            "arms_up", "sitting", "jumping")


def test_every_required_pose_is_built_in_on_the_library_canvas():
    _, width, height = pose_library.LIBRARY_CANVAS
    assert set(REQUIRED) <= set(pose_library.BUILTIN_NAMES)
    for name in pose_library.BUILTIN_NAMES:
        pose = pose_library.builtin_pose(name)
        assert (pose.width, pose.height) == (width, height)
        body = pose.keypoints[0]
        # every joint of the limbs and torso is there (profile views hide one ear only)
        assert (body[[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0], 2] > 0).all(), name
        present = body[body[:, 2] > 0]
        assert present[:, 0].min() >= 0 and present[:, 0].max() <= width - 1, name
        assert present[:, 1].min() >= 0 and present[:, 1].max() <= height - 1, name


def test_built_in_poses_are_one_person_whose_limbs_keep_their_lengths():
    limbs = [i for i, (parent, child) in enumerate(BONES) if child in (3, 4, 6, 7, 9, 10, 12, 13)]
    reference = bone_lengths(pose_library.builtin_pose("standing").keypoints[0])[limbs]
    for name in pose_library.BUILTIN_NAMES:
        lengths = bone_lengths(pose_library.builtin_pose(name).keypoints[0])[limbs]
        np.testing.assert_allclose(lengths, reference, rtol=1e-4, err_msg=name)


def test_poses_look_like_their_names():
    def joint(name, keypoint):
        return pose_library.builtin_pose(name).keypoints[0, KEYPOINT_INDEX[keypoint], :2]

    # arms up: both wrists above the nose; T-pose: wrists level with the shoulders and far out
    for side in ("right", "left"):
        assert joint("arms_up", f"{side}_wrist")[1] < joint("arms_up", "nose")[1]
        assert abs(joint("t_pose", f"{side}_wrist")[1] - joint("t_pose", f"{side}_shoulder")[1]) < 2
    assert joint("t_pose", "left_wrist")[0] - joint("t_pose", "right_wrist")[0] > 140
    # waving: the left wrist above the left elbow, the right arm down
    assert joint("waving", "left_wrist")[1] < joint("waving", "left_elbow")[1]
    assert joint("waving", "right_wrist")[1] > joint("waving", "right_elbow")[1]
    # sitting: knees at hip height; jumping and running: feet off the ground line
    assert abs(joint("sitting", "right_knee")[1] - joint("sitting", "right_hip")[1]) < 2
    ground = joint("standing", "right_ankle")[1]
    for name in ("jumping", "running"):
        feet = max(joint(name, "right_ankle")[1], joint(name, "left_ankle")[1])
        assert feet < ground - 5, name
    # walking phases: the legs swap
    assert joint("walking_1", "right_ankle")[0] > joint("walking_1", "left_ankle")[0] + 20
    assert joint("walking_3", "left_ankle")[0] > joint("walking_3", "right_ankle")[0] + 20


def test_save_and_load_round_trip(tmp_path):
    pose = pose_library.builtin_pose("waving").translated(3, -2)
    path = pose_library.save_pose("my wave", pose, tmp_path)
    assert path == os.path.join(tmp_path, "my wave.json")
    assert pose_library.saved_pose_names(tmp_path) == ["my wave"]
    assert pose_library.pose_names(tmp_path)[-1] == "my wave"
    loaded = pose_library.load_pose("my wave", tmp_path)
    assert (loaded.width, loaded.height) == (pose.width, pose.height)
    np.testing.assert_allclose(loaded.keypoints, pose.keypoints, atol=1e-3)
    # saving again replaces it, atomically, leaving no temporary file
    pose_library.save_pose("my wave", pose_library.builtin_pose("standing"), tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["my wave.json"]
    np.testing.assert_allclose(pose_library.load_pose("my wave", tmp_path).keypoints,
                               pose_library.builtin_pose("standing").keypoints, atol=1e-3)


@pytest.mark.parametrize("name", ["", "../escape", "a/b", "a\\b", "x" * 65, ".hidden", "ends.", "nul\x00", "standing",
                                  5, None])
def test_bad_names_are_refused_before_anything_is_written(tmp_path, name):
    with pytest.raises(PoseLibraryError):
        pose_library.save_pose(name, pose_library.builtin_pose("standing"), tmp_path / "poses")
    assert not (tmp_path / "poses").exists() or os.listdir(tmp_path / "poses") == []
    assert os.listdir(tmp_path) in ([], ["poses"])


def test_a_pose_with_nobody_is_not_saved(tmp_path):
    with pytest.raises(PoseLibraryError, match="nobody"):
        pose_library.save_pose("empty", Pose.empty(64, 64), tmp_path)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("content,match", [
    (b"{not json", "not valid JSON"),
    (b"[" * 20000, "nested too deeply|not valid JSON"),
    (json.dumps({"people": []}).encode(), "canvas|unusable"),
    (json.dumps([{"people": [{"pose_keypoints_2d": [1, 2]}], "canvas_width": 10, "canvas_height": 10}]).encode(),
     "unusable"),
])
def test_unreadable_saved_poses_say_which_file(tmp_path, content, match):
    (tmp_path / "broken.json").write_bytes(content)
    with pytest.raises(PoseLibraryError, match=match) as caught:
        pose_library.load_pose("broken", tmp_path)
    assert "broken" in str(caught.value)


def test_unknown_and_oversized_poses(tmp_path):
    with pytest.raises(PoseLibraryError, match="no pose named 'nothing'"):
        pose_library.load_pose("nothing", tmp_path)
    with pytest.raises(PoseLibraryError, match="no built-in pose"):
        pose_library.load_pose("nothing")
    (tmp_path / "huge.json").write_bytes(b" " * (pose_library.MAX_POSE_FILE_BYTES + 10))
    with pytest.raises(PoseLibraryError, match="bytes of JSON"):
        pose_library.load_pose("huge", tmp_path)


def test_listing_ignores_foreign_files(tmp_path):
    for name in ("ok.json", "standing.json", "notes.txt", ".tmp-x.json", "bad name!.json"):
        (tmp_path / name).write_text("{}")
    assert pose_library.saved_pose_names(tmp_path) == ["ok"]
    assert pose_library.saved_pose_names(tmp_path / "missing") == []
