"""MediaPipe BlazePose estimation (33 landmarks mapped to the 18 OpenPose keypoints).

Two ways to run it, picked at construction:

* A Tasks model file (``pose_landmarker_{lite,full,heavy}.task``), given as
  ``model_path`` or found in ``model_dir``: any mediapipe with the Tasks API
  (0.10.x and 1.x); several people per pass (``max_people``).
* Otherwise the model mediapipe 0.10.21 bundles (``mp.solutions.pose``,
  ``pose_landmark_full.tflite``), fully offline. That solution finds one person
  per pass; further people are found by hiding each person found and looking
  again, up to ``max_people``.

mediapipe >= 0.10.30 has no ``solutions`` and bundles no model, so it needs
the Tasks file; ``blazepose_task.py`` builds it from 0.10.21's models (the
pack's install.py does this once). Confidence is BlazePose's per-landmark visibility; landmarks
below ``min_visibility`` are missing.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path

import numpy as np

from ..pose import Pose
from .base import EstimatorUnavailable, PoseEstimator

TASK_FILES = ("pose_landmarker_full.task", "pose_landmarker_heavy.task", "pose_landmarker_lite.task")
TASK_URL = "https://storage.googleapis.com/mediapipe-models/pose_landmarker/pose_landmarker_full/float16/latest/pose_landmarker_full.task"
NUM_LANDMARKS = 33
# A detection whose landmark box lies this much inside people already found is the same person again.
_DUPLICATE_OVERLAP = 0.5
# Margin around a found person's landmark box when hiding them, as a share of the box size.
_HIDE_MARGIN = 0.15


def _import_mediapipe():
    try:
        import mediapipe
    except ImportError as error:
        raise EstimatorUnavailable(
            f"the mediapipe estimator needs mediapipe ({error}): pip install 'mediapipe>=1.2' (works with numpy 2), "
            "then build its model once with the pack's install.py (python -m rptgan_core.estimation.blazepose_task "
            "outside ComfyUI)"
        ) from error
    return mediapipe


def find_task_file(model_path: str | os.PathLike | None, model_dir: str | os.PathLike | None) -> Path | None:
    """The Tasks model to use: ``model_path``, else the first of TASK_FILES in ``model_dir``, else None."""
    if model_path is not None:
        path = Path(model_path)
        if not path.is_file():
            raise EstimatorUnavailable(f"BlazePose model {path} does not exist")
        if path.suffix != ".task":
            raise EstimatorUnavailable(f"BlazePose model {path}: expected a MediaPipe Tasks .task file")
        return path
    if model_dir is not None:
        for filename in TASK_FILES:
            if (Path(model_dir) / filename).is_file():
                return Path(model_dir) / filename
    return None


def landmarks_to_pixels(landmarks, width: int, height: int) -> np.ndarray:
    """(33, 3) x, y in pixel-centre coordinates and visibility, from normalised landmarks."""
    # Tasks landmarks may leave visibility unset (None): a landmark that is returned then counts as seen.
    array = np.array([[lm.x, lm.y, 1.0 if lm.visibility is None else lm.visibility] for lm in landmarks],
                     dtype=np.float32).reshape(-1, 3)
    if len(array) != NUM_LANDMARKS:
        raise ValueError(f"BlazePose returned {len(array)} landmarks, expected {NUM_LANDMARKS}")
    array[:, 0] = array[:, 0] * width - 0.5
    array[:, 1] = array[:, 1] * height - 0.5
    return array


def _box(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """x0, y0, x1, y1 of the landmarks, clipped to the image."""
    points = landmarks[:, :2]
    low = np.clip(points.min(axis=0), 0, [width - 1, height - 1])
    high = np.clip(points.max(axis=0), 0, [width - 1, height - 1])
    return np.concatenate([low, high])


def _share_inside(box: np.ndarray, others: list[np.ndarray]) -> float:
    """The largest share of ``box``'s area that one of ``others`` covers."""
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-6)
    best = 0.0
    for other in others:
        w = min(box[2], other[2]) - max(box[0], other[0])
        h = min(box[3], other[3]) - max(box[1], other[1])
        best = max(best, max(w, 0) * max(h, 0) / area)
    return best


class _SolutionRunner:
    """mediapipe.solutions.pose with its bundled full model: one person per pass."""

    def __init__(self, mediapipe, max_people: int, min_detection_confidence: float) -> None:
        self._pose = mediapipe.solutions.pose.Pose(
            static_image_mode=True, model_complexity=1, min_detection_confidence=min_detection_confidence
        )
        self._max_people = max_people

    def __call__(self, image: np.ndarray) -> list[np.ndarray]:
        height, width = image.shape[:2]
        people: list[np.ndarray] = []
        boxes: list[np.ndarray] = []
        work = image
        while len(people) < self._max_people:
            result = self._pose.process(work)
            if result.pose_landmarks is None:
                break
            landmarks = landmarks_to_pixels(result.pose_landmarks.landmark, width, height)
            box = _box(landmarks, width, height)
            if _share_inside(box, boxes) > _DUPLICATE_OVERLAP:
                break
            people.append(landmarks)
            boxes.append(box)
            if len(people) < self._max_people:
                margin = (box[2:] - box[:2]) * _HIDE_MARGIN
                x0, y0 = np.floor(np.maximum(box[:2] - margin, 0)).astype(int)
                x1, y1 = np.ceil(box[2:] + margin).astype(int) + 1
                if work is image:
                    work = image.copy()
                    # The typical colour of the picture (sampled: the median of every pixel is slow).
                    fill = np.median(image[::4, ::4].reshape(-1, 3), axis=0).astype(np.uint8)
                work[y0:y1, x0:x1] = fill
        return people

    def close(self) -> None:
        self._pose.close()


class _TasksRunner:
    """The Tasks PoseLandmarker with a .task model: several people per pass."""

    def __init__(self, mediapipe, task_file: Path, max_people: int, min_detection_confidence: float) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(task_file)),
            running_mode=vision.RunningMode.IMAGE,
            num_poses=max_people,
            min_pose_detection_confidence=min_detection_confidence,
        )
        try:
            self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except Exception as error:  # mediapipe raises RuntimeError/ValueError/FileNotFoundError for bad files
            raise EstimatorUnavailable(
                f"{task_file} could not be loaded as a MediaPipe pose landmarker ({type(error).__name__}: {error})"
            ) from error
        # mediapipe 1.x's own __del__ fails once the interpreter has torn its modules down (a
        # traceback at every ComfyUI exit); closing at exit, while they are still there, avoids it.
        weakref.finalize(self, self._landmarker.close)
        self._image = mediapipe.Image
        self._format = mediapipe.ImageFormat.SRGB

    def __call__(self, image: np.ndarray) -> list[np.ndarray]:
        height, width = image.shape[:2]
        result = self._landmarker.detect(self._image(image_format=self._format, data=np.ascontiguousarray(image)))
        return [landmarks_to_pixels(person, width, height) for person in result.pose_landmarks]

    def close(self) -> None:
        self._landmarker.close()


class BlazePoseEstimator(PoseEstimator):
    """MediaPipe BlazePose; see the module docstring for how the model is chosen.

    Args:
        model_path: a pose_landmarker .task file.
        model_dir: a folder searched for TASK_FILES when ``model_path`` is None.
        max_people: most people returned per image.
        min_visibility: landmarks below this visibility are missing.
        min_detection_confidence: BlazePose's person-detector threshold.
    """

    name = "mediapipe"

    def __init__(self, model_path: str | os.PathLike | None = None, model_dir: str | os.PathLike | None = None,
                 max_people: int = 4, min_visibility: float = 0.5, min_detection_confidence: float = 0.5) -> None:
        if max_people < 1:
            raise ValueError(f"max_people must be at least 1, got {max_people}")
        mediapipe = _import_mediapipe()
        self.task_file = find_task_file(model_path, model_dir)
        self.min_visibility = float(min_visibility)
        self._lock = threading.Lock()  # a mediapipe graph runs one image at a time
        if self.task_file is not None:
            self._runner = _TasksRunner(mediapipe, self.task_file, max_people, min_detection_confidence)
        elif hasattr(mediapipe, "solutions"):
            self._runner = _SolutionRunner(mediapipe, max_people, min_detection_confidence)
        else:
            searched = f" (none of {', '.join(TASK_FILES)} in {model_dir})" if model_dir is not None else ""
            raise EstimatorUnavailable(
                f"mediapipe {getattr(mediapipe, '__version__', '?')} bundles no pose model (mediapipe.solutions "
                f"was removed in 0.10.30) and no .task model was given{searched}: run the pack's install.py once "
                f"(it builds {TASK_FILES[0]} from mediapipe 0.10.21's Apache-2.0 models, offline afterwards), "
                f"or download {TASK_URL} into model_dir (or pass model_path)"
            )

    def detect(self, image: np.ndarray) -> Pose:
        height, width = image.shape[:2]
        with self._lock:
            people = self._runner(image)
        if not people:
            return Pose.empty(width, height)
        landmarks = np.stack(people)
        landmarks[..., 2] = np.where(landmarks[..., 2] >= self.min_visibility, landmarks[..., 2], 0.0)
        return Pose.from_blazepose33(landmarks, width, height)

    def close(self) -> None:
        """Free the mediapipe graph (it is freed with the estimator otherwise)."""
        self._runner.close()

    def __repr__(self) -> str:
        model = str(self.task_file) if self.task_file is not None else "bundled pose_landmark_full"
        return f"BlazePoseEstimator(model={model!r})"
