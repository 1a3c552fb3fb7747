"""The pose-estimator interface and the registry of backends.

    estimator = create_estimator("mediapipe")        # or "openpose", model_dir=...
    pose = estimator.estimate(image)                  # (H, W, 3) uint8 RGB -> Pose
    pose.num_people == 0                              # nobody found: no exception
    main = pose.main_person()                         # the main person rule

Every backend subclasses ``PoseEstimator``: ``estimate`` prepares the photo
(``preprocess.prepare_image``), the backend's ``detect`` finds people on the
working image, and the result is mapped back onto the photo.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import RptganError
from ..pose import Pose
from .preprocess import prepare_image


class EstimatorUnavailable(RptganError, RuntimeError):
    """A backend cannot run here: a package or a model file is missing, or a model
    file is not what it claims to be. The message says what and how to fix it."""


class PoseEstimator(ABC):
    """Finds people in photos as 18-keypoint OpenPose poses.

    Subclasses implement ``detect`` and may narrow the working range
    ``min_side``..``max_side`` (pixels of the long side the detector sees).
    """

    name: str = ""
    min_side: int = 256
    max_side: int = 1024

    def estimate(self, image: np.ndarray) -> Pose:
        """All people in ``image``.

        Args:
            image: (H, W, 3) uint8 RGB; (H, W) greyscale, (H, W, 1) and (H, W, 4)
                RGBA (composited over white) are accepted too.

        Returns:
            Pose on an H x W canvas (pixels), one entry per person found, each
            keypoint with its confidence in [0, 1]; 0 people when nobody is found.
            Keypoints the detector could not see, or placed outside the picture,
            are missing (confidence 0).

        Raises:
            TypeError, ValueError: ``image`` is not a uint8 image array.
        """
        prepared = prepare_image(image, self.min_side, self.max_side)
        if prepared.blank:
            height, width = prepared.source_size
            return Pose.empty(width, height)
        return prepared.to_source(self.detect(prepared.image))

    @abstractmethod
    def detect(self, image: np.ndarray) -> Pose:
        """People in a prepared (h, w, 3) uint8 RGB image, as a Pose on its h x w canvas."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


EstimatorFactory = Callable[..., Any]
"""Called with ``create_estimator``'s options; returns an object with ``estimate(image) -> Pose``."""


@dataclass(frozen=True)
class _Backend:
    factory: EstimatorFactory
    requires: Mapping[str, str]


_BACKENDS: dict[str, _Backend] = {}


def register_backend(name: str, factory: EstimatorFactory, requires: Mapping[str, str] | None = None) -> None:
    """Make ``create_estimator(name, **options)`` call ``factory(**options)``.

    ``requires`` maps each module the backend imports to the pip requirement
    that provides it (``{"mediapipe": "mediapipe==0.10.21"}``); while one is
    missing, ``available_backends`` leaves the backend out and
    ``create_estimator`` says what to install. Registering a name again
    replaces the earlier backend.
    """
    if not name or not isinstance(name, str):
        raise ValueError(f"backend name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(f"backend {name!r}: factory must be callable, got {type(factory).__name__}")
    _BACKENDS[name] = _Backend(factory, dict(requires or {}))


def _missing_requirements(backend: _Backend) -> list[str]:
    return [requirement for module, requirement in backend.requires.items() if importlib.util.find_spec(module) is None]


def available_backends() -> list[str]:
    """Names of the registered backends whose packages are installed, in registration
    order (the preferred one first). Model files are checked only by ``create_estimator``."""
    return [name for name, backend in _BACKENDS.items() if not _missing_requirements(backend)]


def create_estimator(name: str, **options: Any) -> PoseEstimator:
    """Build the backend ``name`` ("openpose", "mediapipe", or one registered later).

    Raises:
        KeyError: no backend has that name.
        EstimatorUnavailable: its package or model file is missing or unusable.
    """
    if name not in _BACKENDS:
        raise KeyError(f"unknown pose estimator {name!r}; registered: {', '.join(_BACKENDS) or 'none'}")
    backend = _BACKENDS[name]
    missing = _missing_requirements(backend)
    if missing:
        wanted = " ".join(f"'{requirement}'" for requirement in missing)
        raise EstimatorUnavailable(
            f"pose estimator {name!r} needs {', '.join(missing)}, which is not installed: pip install {wanted}"
        )
    return backend.factory(**options)
