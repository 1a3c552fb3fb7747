"""Real-photo trouble, with a backend that finds drawn markers so every pixel can be checked:
tiny, huge, greyscale, RGBA and letterboxed images, people half out of frame, blank images."""

import numpy as np
import pytest


def _run(markers, image):
    estimator = markers.Estimator()
    return estimator.estimate(image), estimator


def _assert_at(pose, expected_xy, tolerance):
    assert pose.num_people == 1
    assert pose.visible[0].all(), pose
    np.testing.assert_allclose(pose.keypoints[0, :, :2], expected_xy, atol=tolerance)


def test_an_ordinary_image_is_seen_as_is(markers):
    points = markers.grid_points(384, 288)
    pose, estimator = _run(markers, markers.image(384, 288, points, square=9))
    assert estimator.working_shapes == [(384, 288, 3)]
    _assert_at(pose, points, 0.51)


def test_tiny_images_are_upscaled_and_mapped_back(markers):
    points = markers.grid_points(40, 60)
    pose, estimator = _run(markers, markers.image(40, 60, points, square=5))
    assert max(estimator.working_shapes[0][:2]) == 256
    assert (pose.width, pose.height) == (60, 40)
    _assert_at(pose, points, 0.6)


def test_huge_images_are_downscaled_and_mapped_back(markers):
    points = markers.grid_points(4500, 3000)
    pose, estimator = _run(markers, markers.image(4500, 3000, points, square=61))
    assert max(estimator.working_shapes[0][:2]) == 1024
    _assert_at(pose, points, 4500 / 1024)


def test_greyscale_images_work(markers):
    points = markers.grid_points(300, 200)
    grey = markers.image(300, 200, points, square=9)[:, :, 0]
    pose, estimator = _run(markers, grey)
    assert estimator.working_shapes == [(300, 200, 3)]
    _assert_at(pose, points, 0.51)


def test_rgba_images_work(markers):
    points = markers.grid_points(300, 200)
    rgba = np.concatenate([markers.image(300, 200, points, square=9), np.full((300, 200, 1), 255, np.uint8)], 2)
    pose, _ = _run(markers, rgba)
    _assert_at(pose, points, 0.51)


@pytest.mark.parametrize("bar_colour", [0, 255])
def test_letterboxed_images_lose_their_bars(markers, bar_colour):
    # A 3:4 picture pillarboxed and letterboxed into 500 x 900, with JPEG-like noise in the bars.
    rng = np.random.default_rng(3)
    canvas = np.full((500, 900, 3), bar_colour, np.int16) + rng.integers(-4, 5, (500, 900, 3))
    canvas = np.clip(canvas, 0, 255).astype(np.uint8)
    points = markers.grid_points(400, 300, top=50, left=300)
    canvas[50:450, 300:600] = markers.image(400, 300, markers.grid_points(400, 300), square=9)
    pose, estimator = _run(markers, canvas)
    assert estimator.working_shapes == [(400, 300, 3)]
    assert (pose.width, pose.height) == (900, 500)
    _assert_at(pose, points, 0.51)


def test_people_half_out_of_frame_have_missing_keypoints_never_at_the_origin(markers):
    points = markers.grid_points(300, 360)
    image = markers.image(300, 360, points, square=9)[:, :180]  # the right half of the grid is cut off
    pose, _ = _run(markers, image)
    assert pose.num_people == 1 and (pose.width, pose.height) == (180, 300)
    inside = points[:, 0] < 180
    assert pose.visible[0].tolist() == inside.tolist()
    keypoints = pose.keypoints[0]
    # The cut-off keypoints were reported off the canvas with confidence 0.9: now missing.
    assert (keypoints[~inside] == 0).all()
    present = keypoints[inside]
    assert (present[:, 2] > 0).all() and not ((present[:, 0] == 0) & (present[:, 1] == 0)).any()
    np.testing.assert_allclose(present[:, :2], points[inside], atol=0.51)


@pytest.mark.parametrize("shape", [(240, 320, 3), (240, 320), (1, 1, 3)])
def test_blank_images_hold_nobody_and_skip_the_detector(markers, shape):
    pose, estimator = _run(markers, np.full(shape, 128, np.uint8))
    assert pose.num_people == 0 and (pose.width, pose.height) == (shape[1], shape[0])
    assert estimator.working_shapes == []


def test_a_picture_with_nobody_in_it_gives_zero_people(markers):
    noise = np.random.default_rng(4).integers(0, 26, (200, 300, 3), dtype=np.uint8)
    pose, estimator = _run(markers, noise)
    assert estimator.working_shapes == [(200, 300, 3)]
    assert pose.num_people == 0
