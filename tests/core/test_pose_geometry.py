import numpy as np
import pytest
import torch

from rptgan_core.pose import KEYPOINT_INDEX, Letterbox, Pose, affine, crop, hflip, letterbox, resize, rotation_matrix


def _marked_image(pose: Pose) -> torch.Tensor:
    """A black image with a bright dot on every visible keypoint."""
    image = torch.zeros(3, pose.height, pose.width)
    for x, y, c in pose.keypoints[0]:
        if c > 0:
            image[:, int(round(float(y))), int(round(float(x)))] = 1.0
    return image


def _dot_lands_on_keypoint(image: torch.Tensor, pose: Pose, name: str, radius: int = 2) -> bool:
    x, y, c = pose.keypoints[0, KEYPOINT_INDEX[name]]
    assert c > 0
    xi, yi = int(round(float(x))), int(round(float(y)))
    window = image[0, max(0, yi - radius): yi + radius + 1, max(0, xi - radius): xi + radius + 1]
    return float(window.max()) > 0.05


def test_hflip_moves_image_and_keypoints_together(person_pose):
    image = _marked_image(person_pose)
    flipped_image, flipped_pose = hflip(image, person_pose)
    assert _dot_lands_on_keypoint(flipped_image, flipped_pose, "right_wrist", radius=0)
    back_image, back_pose = hflip(flipped_image, flipped_pose)
    assert torch.equal(back_image, image)
    assert np.allclose(back_pose.keypoints, person_pose.keypoints, atol=1e-4)


def test_resize_keeps_dots_on_keypoints(person_pose):
    image, pose = resize(_marked_image(person_pose), person_pose, 256, 176)
    assert image.shape == (3, 256, 176) and pose.width == 176
    assert _dot_lands_on_keypoint(image, pose, "left_knee")


def test_letterbox_scales_centres_pads_and_undoes(person_pose):
    ramp = torch.linspace(0, 1, 88).expand(128, 88)
    image = torch.stack([ramp, ramp.flip(-1), ramp * 0.5]).expand(2, 3, 128, 88)
    boxed, pose, box = letterbox(image, person_pose, 256, 256, fill=1.0)
    assert boxed.shape == (2, 3, 256, 256)
    assert box.scale == 2.0 and box.content == (256, 176) and box.left == 40
    assert torch.all(boxed[..., :40] == 1.0) and torch.all(boxed[..., 216:] == 1.0)
    assert pose.keypoints[0, 0, 0] == pytest.approx((person_pose.keypoints[0, 0, 0] + 0.5) * 2 - 0.5 + 40)
    assert np.allclose(box.undo_pose(pose).keypoints, person_pose.keypoints, atol=1e-3)
    undone = box.undo_image(boxed)
    assert undone.shape == image.shape
    assert torch.allclose(undone, image, atol=0.02)


def test_market_letterbox_is_the_papers_2x_upscale_with_zero_padding():
    box = Letterbox.fit((128, 64), (256, 176))
    assert (box.scale, box.content, box.left, box.top) == (2.0, (256, 128), 24, 0)


def test_crop_shifts_keypoints_and_drops_those_outside(person_pose):
    image = _marked_image(person_pose)
    cropped, pose = crop(image, person_pose, top=0, left=44, height=128, width=60, fill=0.5)
    assert cropped.shape == (3, 128, 60)
    assert not pose.visible[0, KEYPOINT_INDEX["right_wrist"]]
    assert pose.keypoints[0, KEYPOINT_INDEX["right_wrist"]].tolist() == [0, 0, 0]
    assert _dot_lands_on_keypoint(cropped, pose, "left_wrist", radius=0)
    assert torch.all(cropped[:, :, 45:] == 0.5)  # beyond the source's right edge


def test_affine_rotation_keeps_image_and_pose_in_step(person_pose):
    image = _marked_image(person_pose)
    matrix = rotation_matrix(20, centre=(44, 64), scale=0.8)
    warped, pose = affine(image, person_pose, matrix)
    assert warped.shape == image.shape
    for name in ("nose", "left_knee", "right_elbow"):
        assert _dot_lands_on_keypoint(warped, pose, name)
    identity, same = affine(image, person_pose, np.array([[1, 0, 0], [0, 1, 0]]))
    assert torch.allclose(identity, image, atol=1e-5)
    assert np.allclose(same.keypoints, person_pose.keypoints)


def test_geometry_refuses_a_pose_for_another_canvas(person_pose):
    with pytest.raises(ValueError, match="does not match"):
        hflip(torch.zeros(3, 10, 10), person_pose)
