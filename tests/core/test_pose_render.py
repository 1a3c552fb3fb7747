import numpy as np
import pytest
import torch

from rptgan_core.pose import OPENPOSE_COLORS, Pose, default_sigma, draw_skeleton, pose_heatmaps, pose_to_heatmaps


def test_default_sigma_is_six_at_256_and_scales_with_height():
    assert default_sigma(256) == 6.0
    assert default_sigma(128) == 3.0


def test_heatmap_peaks_at_the_keypoint_and_follows_the_gaussian():
    keypoints = torch.zeros(18, 3)
    keypoints[0] = torch.tensor([30.0, 40.0, 1.0])
    maps = pose_heatmaps(keypoints, 64, 48, sigma=4.0)
    assert maps.shape == (18, 64, 48)
    assert maps[0, 40, 30] == pytest.approx(1.0)
    assert int(maps[0].argmax()) == 40 * 48 + 30
    assert maps[0, 40, 34] == pytest.approx(np.exp(-16 / 32), rel=1e-5)
    assert maps[0, 43, 34] == pytest.approx(np.exp(-25 / 32), rel=1e-5)


def test_missing_keypoints_give_all_zero_maps():
    keypoints = torch.zeros(2, 18, 3)
    keypoints[:, 5] = torch.tensor([10.0, 10.0, 1.0])
    maps = pose_heatmaps(keypoints, 32, 32)
    assert maps.shape == (2, 18, 32, 32)
    assert maps[:, 5].amax() == pytest.approx(1.0)
    others = torch.cat([maps[:, :5], maps[:, 6:]], dim=1)
    assert others.abs().max() == 0


def test_maps_stay_float_and_in_range(person_pose):
    maps = pose_to_heatmaps(person_pose, 256, 176)
    assert maps.dtype == torch.float32 and maps.shape == (18, 256, 176)
    assert 0 <= float(maps.min()) and float(maps.max()) <= 1


def test_skeleton_drawing_uses_openpose_colours_at_the_joints(person_pose):
    image = draw_skeleton(person_pose)
    assert image.shape == (128, 88, 3) and image.dtype == np.uint8
    x, y = person_pose.keypoints[0, 0, :2].round().astype(int)
    assert tuple(image[y, x]) == OPENPOSE_COLORS[0]
    assert image.sum(axis=2).astype(bool).mean() > 0.02
    assert image[0:3, 0:3].max() == 0  # background stays black


def test_skeleton_drawing_over_an_image_and_size_mismatch(person_pose):
    canvas = np.full((128, 88, 3), 200, np.uint8)
    drawn = draw_skeleton(person_pose, canvas)
    assert (drawn[0:3, 0:3] == 200).all()
    with pytest.raises(ValueError, match="canvas"):
        draw_skeleton(person_pose, np.zeros((10, 10, 3), np.uint8))


def test_empty_pose_draws_nothing():
    assert draw_skeleton(Pose.empty(16, 16)).max() == 0


def test_body_mask_covers_the_limbs_and_torso_and_nothing_else(person_pose):
    from rptgan_core.pose import soft_body_mask
    from rptgan_core.training.pose_metrics import keypoint_part_labels

    keypoints = torch.from_numpy(person_pose.keypoints[:1])
    mask = soft_body_mask(keypoints, person_pose.height, person_pose.width)
    assert mask.shape == (1, 1, 128, 88) and 0 <= float(mask.min()) and float(mask.max()) == 1.0
    labels = keypoint_part_labels(person_pose.keypoints[0], 128, 88)
    inside = mask[0, 0].numpy() > 0.5
    # the same body the pose metrics draw: they agree on nearly every pixel
    assert (inside == (labels > 0)).mean() > 0.9
    assert inside.mean() < 0.5  # background stays out
    # a missing wrist takes its forearm out; a pose with nobody gives nothing
    points = keypoints.clone()
    points[0, 4] = 0
    x, y = person_pose.keypoints[0, 4, :2].astype(int)
    assert soft_body_mask(points, 128, 88)[0, 0, y, x] < mask[0, 0, y, x]
    assert float(soft_body_mask(torch.zeros(1, 18, 3), 128, 88).sum()) == 0
    with pytest.raises(ValueError, match="keypoints must be"):
        soft_body_mask(keypoints[0], 128, 88)
