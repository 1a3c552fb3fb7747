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
    with pytest.raises(EstimatorUnavailable,
                       match=r"0.10.35 bundles no pose model.*pose_landmarker_full.task.*0.10.21"):
        BlazePoseEstimator(model_dir=tmp_path)
    with pytest.raises(EstimatorUnavailable, match="does not exist"):
        BlazePoseEstimator(model_path=tmp_path / "pose_landmarker_full.task")
    (tmp_path / "pose.tflite").write_bytes(b"")
    with pytest.raises(EstimatorUnavailable, match=r"\.task file"):
        BlazePoseEstimator(model_path=tmp_path / "pose.tflite")


def test_max_people_must_be_positive():
    with pytest.raises(ValueError, match="max_people"):
        BlazePoseEstimator(max_people=0)


def _fake_tasks_mediapipe(monkeypatch, people):
    """A mediapipe >= 0.10.30 stand-in whose Tasks PoseLandmarker returns ``people``
    (lists of normalised landmarks), recording the options it was created with."""
    created = {}

    class Landmark:
        def __init__(self, x, y, visibility):
            self.x, self.y, self.visibility = x, y, visibility

    class PoseLandmarker:
        @staticmethod
        def create_from_options(options):
            created["options"] = options
            return PoseLandmarker()

        def detect(self, image):
            created["image"] = image
            return types.SimpleNamespace(pose_landmarks=[[Landmark(*point) for point in person] for person in people])

        def close(self):
            created["closed"] = True

    vision = types.SimpleNamespace(
        PoseLandmarker=PoseLandmarker,
        PoseLandmarkerOptions=lambda **options: options,
        RunningMode=types.SimpleNamespace(IMAGE="IMAGE"),
    )
    python = types.ModuleType("mediapipe.tasks.python")
    python.BaseOptions = lambda model_asset_path: {"model_asset_path": model_asset_path}
    python.vision = vision
    mediapipe = types.ModuleType("mediapipe")
    mediapipe.__spec__ = importlib.machinery.ModuleSpec("mediapipe", None)
    mediapipe.__version__ = "0.10.35"
    mediapipe.Image = lambda image_format, data: types.SimpleNamespace(format=image_format, data=data)
    mediapipe.ImageFormat = types.SimpleNamespace(SRGB="SRGB")
    tasks = types.ModuleType("mediapipe.tasks")
    tasks.python = python
    mediapipe.tasks = tasks
    for name, module in (("mediapipe", mediapipe), ("mediapipe.tasks", tasks), ("mediapipe.tasks.python", python)):
        monkeypatch.setitem(sys.modules, name, module)
    return created


def test_newer_mediapipe_runs_the_tasks_landmarker_from_a_task_file(monkeypatch, tmp_path):
    task = tmp_path / "pose_landmarker_full.task"
    task.write_bytes(b"model")
    first = [(0.5, 0.5, 0.9)] * 33
    first[0] = (0.5, 0.1, 0.99)      # nose
    first[11] = (0.6, 0.3, 0.9)      # BlazePose left shoulder
    first[12] = (0.4, 0.3, None)     # right shoulder, visibility unset: seen
    first[27] = (0.55, 0.9, 0.2)     # left ankle, barely visible: missing
    second = [(0.1, 0.2, 0.8)] * 33
    created = _fake_tasks_mediapipe(monkeypatch, [first, second])
    estimator = BlazePoseEstimator(model_dir=tmp_path, max_people=3)

    pose = estimator.detect(np.zeros((200, 100, 3), np.uint8))

    assert created["options"]["base_options"] == {"model_asset_path": str(task)}
    assert created["options"]["num_poses"] == 3 and created["image"].data.shape == (200, 100, 3)
    assert pose.num_people == 2 and (pose.width, pose.height) == (100, 200)
    assert pose.keypoints[0, KEYPOINT_INDEX["nose"], :2] == pytest.approx([49.5, 19.5])
    assert pose.keypoints[0, KEYPOINT_INDEX["left_shoulder"], :2] == pytest.approx([59.5, 59.5])
    assert pose.keypoints[0, KEYPOINT_INDEX["right_shoulder"], 2] == 1.0
    assert pose.keypoints[0, KEYPOINT_INDEX["neck"]] == pytest.approx([49.5, 59.5, 0.9])
    assert pose.keypoints[0, KEYPOINT_INDEX["left_ankle"]].tolist() == [0, 0, 0]
    estimator.close()
    assert created["closed"]


def test_newer_mediapipe_finding_nobody_gives_an_empty_pose(monkeypatch, tmp_path):
    (tmp_path / "pose_landmarker_full.task").write_bytes(b"model")
    _fake_tasks_mediapipe(monkeypatch, [])
    pose = BlazePoseEstimator(model_dir=tmp_path).detect(np.zeros((64, 48, 3), np.uint8))
    assert pose.num_people == 0 and (pose.width, pose.height) == (48, 64)
