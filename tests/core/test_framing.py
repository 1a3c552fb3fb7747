"""rptgan_core.framing: boxes around people, crops, pasting back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rptgan_core.framing import CropBox, aspect_box, crop_to_box, paste_into_frame, person_box
from rptgan_core.pose import Pose, PoseError


def _person(make_person, width=200, height=300, scale=0.5, left=50.0, top=60.0) -> Pose:
    points = make_person(width * scale, height * scale)
    points[:, 0] += left
    points[:, 1] += top
    return Pose(points, width, height)


def test_person_box_has_the_aspect_and_holds_the_person(make_person):
    pose = _person(make_person)
    box = person_box(pose, (300, 200), aspect=0.75, margin=0.1)
    assert box.width / box.height == pytest.approx(0.75, abs=0.01)
    seen = pose.keypoints[0, :, :2]
    assert (seen[:, 0] >= box.left).all() and (seen[:, 0] < box.left + box.width).all()
    assert (seen[:, 1] >= box.top).all() and (seen[:, 1] < box.top + box.height).all()
    assert 0 <= box.left and box.left + box.width <= 200 and 0 <= box.top and box.top + box.height <= 300


def test_person_box_near_the_edge_is_moved_inside(make_person):
    pose = _person(make_person, left=-10.0)
    box = person_box(pose, (300, 200), aspect=0.75, margin=0.2)
    assert box.left == 0


def test_person_box_larger_than_the_frame_is_centred(make_person):
    pose = _person(make_person, width=100, height=300, scale=0.9, left=5, top=10)
    box = person_box(pose, (300, 100), aspect=1.0, margin=0.1)
    assert box.width > 100 and box.left == -((box.width - 100) // 2)


def test_person_box_scales_pose_canvas_to_the_frame(make_person):
    pose = _person(make_person)
    small = person_box(pose, (300, 200), aspect=0.75)
    large = person_box(pose, (600, 400), aspect=0.75)
    assert large.height == pytest.approx(2 * small.height, abs=2)


def test_person_box_needs_a_person():
    with pytest.raises(PoseError, match="no person"):
        person_box(Pose.empty(10, 10), (10, 10))


def test_aspect_box_letterboxes():
    box = aspect_box((100, 100), 0.5)
    assert (box.width, box.height, box.left, box.top) == (100, 200, 0, -50)
    wide = aspect_box((100, 40), 1.0)
    assert (wide.width, wide.height, wide.left, wide.top) == (100, 100, -30, 0)


def test_crop_then_paste_restores_the_frame():
    frame = torch.rand(1, 3, 20, 30)
    box = CropBox(-4, 5, 12, 20)  # reaches past the left and bottom edges
    cropped = crop_to_box(frame, box, fill=0.25)
    assert cropped.shape == (1, 3, 20, 12)
    assert torch.all(cropped[..., :, :4] == 0.25) and torch.all(cropped[..., 15:, :] == 0.25)
    torch.testing.assert_close(cropped[..., :15, 4:], frame[..., 5:20, 0:8])
    pasted = paste_into_frame(frame, torch.zeros(2, 3, 20, 12), box)
    assert pasted.shape == (2, 3, 20, 30)
    assert torch.all(pasted[:, :, 5:20, 0:8] == 0)
    torch.testing.assert_close(pasted[:, :, :, 8:], frame[:, :, :, 8:].expand(2, -1, -1, -1))


def test_paste_scales_patches_to_the_box_and_checks_shapes():
    frame = torch.zeros(1, 3, 10, 10)
    pasted = paste_into_frame(frame, torch.ones(1, 3, 4, 4), CropBox(2, 2, 6, 6))
    assert float(pasted[0, 0, 2:8, 2:8].min()) == pytest.approx(1.0)
    assert float(pasted.sum()) == pytest.approx(3 * 36)
    with pytest.raises(ValueError, match="frames for 2 patches"):
        paste_into_frame(torch.zeros(3, 3, 10, 10), torch.ones(2, 3, 4, 4), CropBox(0, 0, 4, 4))
    with pytest.raises(ValueError, match="channels"):
        paste_into_frame(frame, torch.ones(1, 1, 4, 4), CropBox(0, 0, 4, 4))


def test_feathered_paste_fades_into_the_frame_along_inner_edges():
    frame = torch.zeros(1, 3, 40, 40)
    box = CropBox(10, 0, 20, 20)  # left 10, top 0: touches the top edge, inside on the other three sides
    hard = paste_into_frame(frame, torch.ones(1, 3, 20, 20), box)
    soft = paste_into_frame(frame, torch.ones(1, 3, 20, 20), box, feather=0.25)
    assert torch.equal(soft[..., 5:15, 15:25], hard[..., 5:15, 15:25])  # the middle is the patch
    assert torch.equal(soft[..., :, :10], frame[..., :, :10]) and torch.equal(soft[..., 20:, :], frame[..., 20:, :])
    assert 0 < float(soft[0, 0, 10, 10]) < 0.2 and float(soft[0, 0, 0, 20]) == 1.0  # faded side, frame-edge side
    rows = soft[0, 0, :, 20]
    assert (float((rows[1:] - rows[:-1]).abs().max()) < 0.25
            < float((hard[0, 0, 1:, 20] - hard[0, 0, :-1, 20]).abs().max()))
    with pytest.raises(ValueError, match="feather"):
        paste_into_frame(frame, torch.ones(1, 3, 4, 4), box, feather=0.9)


def test_clip_frames_cut_around_the_person_share_one_size():
    from rptgan_core.framing import crop_frames_to_person
    from rptgan_core.pose import PoseError

    frames = torch.rand(3, 3, 120, 160)
    poses = []
    for shift in (0, 20, 40):
        points = np.zeros((18, 3), np.float32)
        points[[0, 10, 13]] = [[60 + shift, 20, 1], [50 + shift, 100, 1], [70 + shift, 100, 1]]
        poses.append(Pose(points, 160, 120))
    crops, moved = crop_frames_to_person(frames, poses, aspect=0.75, margin=0.1)
    assert crops.shape[0] == 3 and crops.shape[2] / crops.shape[3] == pytest.approx(4 / 3, rel=0.05)
    for pose in moved:  # the person sits in the middle of every crop
        assert (pose.width, pose.height) == (crops.shape[3], crops.shape[2])
        assert pose.keypoints[0, 0, 0] == pytest.approx(crops.shape[3] / 2, abs=2)
    with pytest.raises(PoseError, match="frame 1"):
        crop_frames_to_person(frames, [poses[0], Pose.empty(160, 120), poses[2]], 0.75)
