"""MediaPipe BlazePose on real photos (skimage's astronaut and cameraman): keypoints on
the body, greyscale, letterboxed, tiny, huge, half out of frame, several people, nobody.

Runs where mediapipe can estimate offline (mediapipe 0.10.21's bundled model, or a
newer mediapipe with RPTGAN_POSE_LANDMARKER_TASK naming a .task file); skipped otherwise."""

import importlib.machinery
import os
import sys
import types

import numpy as np
import pytest
from PIL import Image

from rptgan_core.estimation import EstimatorUnavailable, create_estimator
from rptgan_core.estimation.blazepose import BlazePoseEstimator
from rptgan_core.pose import KEYPOINT_INDEX


@pytest.fixture(scope="module")
def estimator():
    try:
        return create_estimator("mediapipe", model_path=os.environ.get("RPTGAN_POSE_LANDMARKER_TASK"))
    except EstimatorUnavailable as error:
        pytest.skip(f"mediapipe cannot estimate here: {error}")


def _resize(image, width, height):
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BICUBIC))


def _assert_on_body(pose, astronaut, scale=1.0, offset=(0.0, 0.0)):
    """The main person's nose and shoulders sit where they were checked by eye."""
    main = pose.main_person().keypoints[0]
    for name, (x, y) in astronaut.points.items():
        keypoint = main[KEYPOINT_INDEX[name]]
        assert keypoint[2] > 0, f"{name} missing: {pose}"
        expected = np.array([x, y]) * scale + offset
        distance = np.hypot(*(keypoint[:2] - expected))
        assert distance <= astronaut.tolerance[name] * scale, f"{name} at {keypoint[:2]}, expected {expected}"


def test_the_astronaut_is_found_where_she_is(estimator, astronaut):
    pose = estimator.estimate(astronaut.image)
    assert pose.num_people == 1 and (pose.width, pose.height) == (512, 512)
    _assert_on_body(pose, astronaut)
    confidences = pose.keypoints[0, :, 2]
    assert ((confidences == 0) | ((confidences >= 0.5) & (confidences <= 1))).all()


def test_greyscale_photos(estimator, astronaut):
    grey = np.round(astronaut.image @ np.array([0.2125, 0.7154, 0.0721])).astype(np.uint8)
    _assert_on_body(estimator.estimate(grey), astronaut)


def test_a_greyscale_photo_of_someone_else(estimator):
    from skimage import data

    pose = estimator.estimate(data.camera())  # the cameraman, facing right, bent over his camera
    assert pose.num_people == 1
    main = pose.keypoints[0]
    nose, neck = main[KEYPOINT_INDEX["nose"]], main[KEYPOINT_INDEX["neck"]]
    assert nose[2] > 0 and neck[2] > 0
    assert 200 <= nose[0] <= 280 and 130 <= nose[1] <= 200, nose  # his face, at the camera's eyepiece
    assert neck[1] > nose[1]


def test_letterboxed_photos(estimator, astronaut):
    canvas = np.zeros((600, 1000, 3), np.uint8)
    canvas[44:556, 244:756] = astronaut.image
    pose = estimator.estimate(canvas)
    assert (pose.width, pose.height) == (1000, 600)
    _assert_on_body(pose, astronaut, offset=(244, 44))


def test_tiny_photos(estimator, astronaut):
    _assert_on_body(estimator.estimate(_resize(astronaut.image, 96, 96)), astronaut, scale=96 / 512)


def test_huge_photos(estimator, astronaut):
    pose = estimator.estimate(_resize(astronaut.image, 3072, 3072))
    assert (pose.width, pose.height) == (3072, 3072)
    _assert_on_body(pose, astronaut, scale=6.0)


def test_half_out_of_frame_keypoints_are_missing_not_at_the_origin(estimator, astronaut):
    cropped = astronaut.image[:, 150:]  # her right shoulder (x 113) is cut off
    pose = estimator.estimate(cropped)
    assert pose.num_people == 1
    keypoints = pose.keypoints[0]
    assert keypoints[KEYPOINT_INDEX["right_shoulder"]].tolist() == [0.0, 0.0, 0.0]
    nose = keypoints[KEYPOINT_INDEX["nose"]]
    assert nose[2] > 0 and np.hypot(nose[0] - (222 - 150), nose[1] - 127) <= 20
    present = keypoints[keypoints[:, 2] > 0]
    assert not ((present[:, 0] == 0) & (present[:, 1] == 0)).any()
    assert ((present[:, :2] >= -0.5) & (present[:, :2] <= [cropped.shape[1] - 0.5, 511.5])).all()


def test_two_people_and_the_main_one(estimator, astronaut):
    canvas = np.full((512, 900, 3), 200, np.uint8)
    canvas[:, :512] = astronaut.image
    canvas[150:450, 560:860] = _resize(astronaut.image, 300, 300)
    pose = estimator.estimate(canvas)
    assert pose.num_people == 2
    noses = pose.keypoints[:, KEYPOINT_INDEX["nose"]]
    big, small = np.argsort(noses[:, 0])
    assert pose.main_person_index() == big
    assert np.hypot(*(noses[big, :2] - [222, 127])) <= 20
    assert np.hypot(*(noses[small, :2] - [560 + 222 * 300 / 512, 150 + 127 * 300 / 512])) <= 15


def test_max_people_one_returns_one(astronaut):
    try:
        single = create_estimator("mediapipe", max_people=1, model_path=os.environ.get("RPTGAN_POSE_LANDMARKER_TASK"))
    except EstimatorUnavailable as error:
        pytest.skip(f"mediapipe cannot estimate here: {error}")
    canvas = np.full((512, 900, 3), 200, np.uint8)
    canvas[:, :512] = astronaut.image
    canvas[150:450, 560:860] = _resize(astronaut.image, 300, 300)
    assert single.estimate(canvas).num_people == 1


@pytest.mark.parametrize("photo", ["coffee", "rocket", "chelsea"])
def test_photos_without_people_give_nobody(estimator, photo):
    from skimage import data

    image = getattr(data, photo)()
    pose = estimator.estimate(image)
    assert pose.num_people == 0 and (pose.width, pose.height) == (image.shape[1], image.shape[0])


def test_a_mediapipe_without_solutions_asks_for_a_task_file(monkeypatch, tmp_path):
    fake = types.ModuleType("mediapipe")  # like mediapipe >= 0.10.30
    fake.__spec__ = importlib.machinery.ModuleSpec("mediapipe", None)
    fake.__version__ = "0.10.35"
    monkeypatch.setitem(sys.modules, "mediapipe", fake)
    with pytest.raises(EstimatorUnavailable, match=r"0.10.35 bundles no pose model.*pose_landmarker_full.task.*0.10.21"):
        BlazePoseEstimator(model_dir=tmp_path)
    with pytest.raises(EstimatorUnavailable, match="does not exist"):
        BlazePoseEstimator(model_path=tmp_path / "pose_landmarker_full.task")
    (tmp_path / "pose.tflite").write_bytes(b"")
    with pytest.raises(EstimatorUnavailable, match=r"\.task file"):
        BlazePoseEstimator(model_path=tmp_path / "pose.tflite")


def test_max_people_must_be_positive():
    with pytest.raises(ValueError, match="max_people"):
        BlazePoseEstimator(max_people=0)
