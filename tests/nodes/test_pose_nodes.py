"""EstimatePose and EditPose on real tensors, with a fake pose estimator."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rptgan_core.estimation import EstimatorUnavailable
from rptgan_core.pose import KEYPOINT_INDEX as K
from rptgan_core.pose import poses_from_openpose_json


def test_estimate_pose_outputs_openpose_json_per_image(nodes, kit, fake_estimator):
    images = kit.image_batch(3, 60, 40)
    pose, preview = nodes["RPTGAN_EstimatePose"]().estimate(images, kit.fake_backend)
    assert len(pose) == 3 and fake_estimator.calls == 3
    frame = pose[0]
    assert frame["canvas_width"] == 40 and frame["canvas_height"] == 60
    values = np.asarray(frame["people"][0]["pose_keypoints_2d"]).reshape(18, 3)
    assert values[:, :2].max() <= 1.0 and (values[:, 2] == 1.0).all()
    decoded = poses_from_openpose_json(pose)[0]
    assert decoded.keypoints[0, K["neck"], 0] == pytest.approx(40 / 3 + 0.5 * 40 / 3, abs=0.05)
    assert preview.shape == (3, 60, 40, 3) and float(preview.max()) > 0.5


def test_estimate_pose_preview_over_image(nodes, kit, fake_estimator):
    images = torch.ones(1, 60, 40, 3)
    _, plain = nodes["RPTGAN_EstimatePose"]().estimate(images, kit.fake_backend)
    _, over = nodes["RPTGAN_EstimatePose"]().estimate(images, kit.fake_backend, preview_over_image=True)
    assert float(over.mean()) > float(plain.mean())


def test_estimate_pose_no_person(nodes, kit, fake_estimator):
    black = torch.zeros(2, 30, 20, 3)
    with pytest.raises(ValueError, match="no person found in image 0 of 2"):
        nodes["RPTGAN_EstimatePose"]().estimate(black, kit.fake_backend)
    pose, preview = nodes["RPTGAN_EstimatePose"]().estimate(black, kit.fake_backend, if_no_person="empty pose")
    assert [frame["people"] for frame in pose] == [[], []]
    assert float(preview.max()) == 0.0


@pytest.mark.parametrize("images, message", [
    (torch.zeros(0, 10, 10, 3), "batch is empty"),
    (torch.zeros(1, 10, 10, 4), "expected 3 colour channels"),
    (torch.zeros(1, 10, 10), "must be \\(batch, height, width, channels\\)"),
    (torch.full((1, 10, 10, 3), float("nan")), "NaN"),
    ("not an image", "expected an IMAGE tensor"),
])
def test_estimate_pose_bad_images(nodes, kit, fake_estimator, images, message):
    with pytest.raises(ValueError, match=message):
        nodes["RPTGAN_EstimatePose"]().estimate(images, kit.fake_backend)


def test_estimate_pose_unknown_or_unavailable_backend(nodes, kit, monkeypatch):
    from rptgan_core.estimation import register_backend

    def unavailable(**options):
        raise EstimatorUnavailable("model file missing: put body_pose_model.pth into models/rptgan/annotators")

    register_backend("broken-backend", unavailable)
    with pytest.raises(EstimatorUnavailable, match="body_pose_model.pth"):
        nodes["RPTGAN_EstimatePose"]().estimate(kit.image_batch(), "broken-backend")
    with pytest.raises(KeyError, match="unknown pose estimator"):
        nodes["RPTGAN_EstimatePose"]().estimate(kit.image_batch(), "no-such-backend")


def _edit(nodes, pose, **options):
    return nodes["RPTGAN_EditPose"]().edit(pose, **options)


def _keypoints(frames, frame=0, person=0) -> np.ndarray:
    return poses_from_openpose_json(frames)[frame].keypoints[person]


def test_edit_pose_without_edits_returns_the_pose(nodes, kit):
    pose = [kit.keypoint_frame(100, 200)]
    out = _edit(nodes, pose)
    np.testing.assert_allclose(_keypoints(out["result"][0]), _keypoints(pose), atol=0.05)
    assert out["result"][1].shape == (1, 200, 100, 3)


def test_edit_pose_parametric_edits(nodes, kit):
    pose = [kit.keypoint_frame(100, 200)]
    before = _keypoints(pose)
    moved = _keypoints(_edit(nodes, pose, translate_x=0.1, translate_y=-0.05)["result"][0])
    np.testing.assert_allclose(moved[:, :2], before[:, :2] + [10, -10], atol=0.05)
    mirrored = _keypoints(_edit(nodes, pose, mirror=True)["result"][0])
    assert mirrored[K["right_wrist"], 0] == pytest.approx(99 - before[K["left_wrist"], 0], abs=0.05)
    arm = _keypoints(_edit(nodes, pose, limb="left_arm", limb_angle=-60)["result"][0])
    assert arm[K["left_wrist"], 1] < before[K["left_wrist"], 1] - 5  # the wrist went up
    np.testing.assert_allclose(arm[K["right_wrist"]], before[K["right_wrist"]], atol=0.05)
    placed = _keypoints(_edit(nodes, pose, keypoint="nose", keypoint_x=0.0, keypoint_y=1.0)["result"][0])
    np.testing.assert_allclose(placed[K["nose"], :2], [0, 199], atol=0.05)
    cleared = _keypoints(_edit(nodes, pose, keypoint="nose", keypoint_action="clear")["result"][0])
    assert cleared[K["nose"], 2] == 0
    bigger = _keypoints(_edit(nodes, pose, scale=1.2, rotate=10.0)["result"][0])
    assert np.ptp(bigger[:, 1]) > np.ptp(before[:, 1])


def test_edit_pose_person_index(nodes, kit):
    pose = [kit.keypoint_frame(200, 200, people=2)]
    out = _edit(nodes, pose, person=1, translate_y=0.05)["result"][0]
    np.testing.assert_allclose(_keypoints(out, person=0), _keypoints(pose, person=0), atol=0.05)
    assert _keypoints(out, person=1)[K["neck"], 1] == pytest.approx(_keypoints(pose, person=1)[K["neck"], 1] + 10,
                                                                    abs=0.05)
    with pytest.raises(ValueError, match="person 2 does not exist"):
        _edit(nodes, pose, person=2)


def test_edit_pose_applies_to_every_frame_and_keeps_empty_frames(nodes, kit):
    frames = [kit.keypoint_frame(100, 200), {"people": [], "canvas_width": 100, "canvas_height": 200}]
    out = _edit(nodes, frames, translate_x=0.1)["result"][0]
    assert len(out) == 2 and out[1]["people"] == []
    out = _edit(nodes, frames, translate_x=0.1, person=0)["result"][0]
    assert out[1]["people"] == [] and _keypoints(out)[1, 0] == pytest.approx(_keypoints(frames)[1, 0] + 10, abs=0.05)


def test_edited_pose_replaces_the_incoming_pose(nodes, kit):
    incoming = [kit.keypoint_frame(100, 200)]
    replacement = [kit.keypoint_frame(100, 200)]
    replacement[0]["people"][0]["pose_keypoints_2d"][0:2] = [5.0, 6.0]  # nose at (5, 6), pixels
    out = _edit(nodes, incoming, edited_pose=json.dumps(replacement))
    np.testing.assert_allclose(_keypoints(out["result"][0])[K["nose"], :2], [5, 6], atol=0.05)
    # The ui payload carries the incoming pose as JSON text, for the editor.
    (text,) = out["ui"]["rptgan_pose"]
    np.testing.assert_allclose(_keypoints(json.loads(text))[K["nose"], :2], _keypoints(incoming)[K["nose"], :2],
                               atol=0.05)
    assert out["ui"]["rptgan_background"] == []


def test_edited_pose_with_other_frame_count_is_refused(nodes, kit):
    incoming = [kit.keypoint_frame(100, 200)]
    with pytest.raises(ValueError, match="edited_pose has 2 frames but the incoming pose has 1"):
        _edit(nodes, incoming, edited_pose=json.dumps(incoming * 2))
    with pytest.raises(ValueError, match="edited_pose: pose JSON is not valid JSON"):
        _edit(nodes, incoming, edited_pose="{oops")


def test_edit_pose_background_for_the_editor(nodes, kit, folders):
    pose = [kit.keypoint_frame(100, 200)]
    image = torch.full((1, 50, 25, 3), 0.8)
    out = _edit(nodes, pose, image=image)
    (saved,) = out["ui"]["rptgan_background"]
    assert saved["type"] == "temp" and saved["subfolder"] == ""
    assert (folders["temp"] / saved["filename"]).is_file()
    preview = out["result"][1]
    assert preview.shape == (1, 200, 100, 3) and float(preview[0, 0, 0, 0]) == pytest.approx(0.4, abs=0.01)


def test_edit_pose_retarget(nodes, kit):
    target = [kit.keypoint_frame(100, 200)]
    source = kit.keypoint_frame(100, 200)
    points = np.asarray(source["people"][0]["pose_keypoints_2d"]).reshape(18, 3)
    points[K["right_wrist"], :2] = points[K["right_elbow"], :2] + 0.5 * (points[K["right_wrist"], :2]
                                                                         - points[K["right_elbow"], :2])
    source["people"][0]["pose_keypoints_2d"] = points.reshape(-1).tolist()
    out = _keypoints(_edit(nodes, target, retarget_to=[source])["result"][0])
    before = _keypoints(target)
    forearm = np.linalg.norm(out[K["right_wrist"], :2] - out[K["right_elbow"], :2])
    other = np.linalg.norm(out[K["left_wrist"], :2] - out[K["left_elbow"], :2])
    assert forearm < 0.6 * other
    assert not np.allclose(out, before)
    with pytest.raises(ValueError, match="retarget_to: frame 0 of 1 has no person"):
        _edit(nodes, target, retarget_to=[{"people": [], "canvas_width": 10, "canvas_height": 10}])


def test_edit_pose_rejects_a_pose_that_is_not_a_pose(nodes):
    with pytest.raises(ValueError, match="pose: "):
        _edit(nodes, [{"nobody": True}])
    with pytest.raises(ValueError, match="empty"):
        _edit(nodes, [])
