"""Pose Library, Save Pose to Library and Pose Keyframes nodes."""

import json
import os

import numpy as np
import pytest

from rptgan_core.pose import poses_from_openpose_json
from rptgan_core.pose_edit import bone_lengths
from rptgan_core.pose_library import BUILTIN_NAMES, builtin_pose


def _poses(value):
    return poses_from_openpose_json(value)


def test_library_lists_built_ins_then_saved_poses(nodes, folders):
    library, save = nodes["RPTGAN_PoseLibrary"], nodes["RPTGAN_SavePoseToLibrary"]
    names = library.INPUT_TYPES()["required"]["name"][0]
    assert names == list(BUILTIN_NAMES)
    pose, preview = library().load("t_pose")
    assert len(pose) == 1 and preview.shape == (1, 256, 176, 3) and preview.max() > 0
    np.testing.assert_allclose(_poses(pose)[0].keypoints, builtin_pose("t_pose").keypoints, atol=0.01)

    out = save().save(pose, "my t", 0)
    assert out["result"][0] is pose and "my t" in out["ui"]["text"][0]
    assert os.path.isfile(folders["poses"] / "my t.json")
    assert library.INPUT_TYPES()["required"]["name"][0][-1] == "my t"
    assert library.VALIDATE_INPUTS("my t") is True
    first = library.IS_CHANGED("my t")
    save().save(library().load("arms_up")[0], "my t", 0)
    assert library.IS_CHANGED("my t") != first  # a re-saved pose re-runs the loader
    np.testing.assert_allclose(_poses(library().load("my t")[0])[0].keypoints, builtin_pose("arms_up").keypoints,
                               atol=0.01)


def test_library_bad_names_and_files(nodes, folders, pack_module):
    error = pack_module("nodes.convert").NodeInputError
    library, save = nodes["RPTGAN_PoseLibrary"], nodes["RPTGAN_SavePoseToLibrary"]
    assert "no pose named" in library.VALIDATE_INPUTS("missing")
    (folders["poses"] / "broken.json").write_text("{oops")
    assert "not valid JSON" in library.VALIDATE_INPUTS("broken")
    with pytest.raises(error, match="broken"):
        library().load("broken")
    pose = library().load("standing")[0]
    for name in ("../../escape", "standing", "", "a" * 80):
        with pytest.raises(error, match="name"):
            save().save(pose, name, 0)
    with pytest.raises(error, match="frame 3 does not exist"):
        save().save(pose, "ok", 3)
    with pytest.raises(error, match="no person"):
        save().save([{"people": [], "canvas_width": 64, "canvas_height": 64}], "empty", 0)
    assert sorted(os.listdir(folders["poses"])) == ["broken.json"]
    assert not any(name.startswith(".tmp") for name in os.listdir(folders["poses"]))


def test_keyframes_node_makes_a_sequence_through_its_keyframes(nodes, folders):
    library, keys = nodes["RPTGAN_PoseLibrary"], nodes["RPTGAN_PoseKeyframes"]
    standing, wave, up = (library().load(n)[0] for n in ("standing", "waving", "arms_up"))
    pose, preview, frames = keys().interpolate(standing, 9, "linear", False, keyframes_2=wave, keyframes_3=up)
    assert frames == 9 and len(pose) == 9 and preview.shape[0] == 9
    sequence = _poses(pose)
    for frame, name in ((0, "standing"), (4, "waving"), (8, "arms_up")):
        np.testing.assert_allclose(sequence[frame].keypoints, builtin_pose(name).keypoints, atol=0.01)
    lengths = bone_lengths(sequence[0].keypoints[0])
    for frame in sequence:
        np.testing.assert_allclose(bone_lengths(frame.keypoints[0]), lengths, rtol=2e-3, atol=0.05)
    # one multi-frame input is a list of keyframes too, and the result loops
    two = json.loads(json.dumps(standing + up))
    looped = keys().interpolate(two, 6, "ease in-out", True)[0]
    assert len(looped) == 6


def test_keyframes_node_errors(nodes, folders, pack_module):
    error = pack_module("nodes.convert").NodeInputError
    keys, library = nodes["RPTGAN_PoseKeyframes"], nodes["RPTGAN_PoseLibrary"]
    standing = library().load("standing")[0]
    with pytest.raises(error, match="at least two"):
        keys().interpolate(standing, 10)
    with pytest.raises(error, match="easing"):
        keys().interpolate(standing, 10, "bounce", keyframes_2=standing)
    with pytest.raises(error, match="keyframes_2"):
        keys().interpolate(standing, 10, keyframes_2="{not json")
