"""The pose type: people as 18 OpenPose keypoints on a canvas of known size.

Coordinates are pixels in the pixel-centre convention (the centre of the
top-left pixel is (0, 0), of the bottom-right one (W-1, H-1)), so a keypoint and
the pixel it sits on move together under every geometric operation.
A keypoint is missing when its confidence is 0; its x and y are then 0 and
carry no meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np

from ..errors import RptganError
from .skeleton import (
    BLAZEPOSE33_TO_OPENPOSE18,
    BLAZEPOSE_SHOULDERS,
    BODY25_TO_OPENPOSE18,
    FLIP_PERMUTATION,
    KEYPOINT_INDEX,
    NUM_KEYPOINTS,
)

PointMap = Callable[[np.ndarray], np.ndarray]
"""Maps an (N, 2) array of x, y pixel coordinates to new coordinates."""

# Extra keypoint groups of the OpenPose JSON, kept alongside the body so a pose
# edited here round-trips without losing hands and face.
_FLIP_EXTRA_NAMES = {
    "hand_left_keypoints_2d": "hand_right_keypoints_2d",
    "hand_right_keypoints_2d": "hand_left_keypoints_2d",
}


class PoseError(RptganError, ValueError):
    """A pose, or pose data being read, is unusable; the message says why."""


def _as_keypoint_array(values, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != 3:
        raise PoseError(f"{what}: expected (K, 3) keypoints (x, y, confidence), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise PoseError(f"{what}: keypoints contain NaN or infinity")
    array = array.copy()
    missing = (array[:, 2] <= 0) | (array[:, 0] < 0) | (array[:, 1] < 0)
    array[missing] = 0.0
    array[:, 2] = np.clip(array[:, 2], 0.0, 1.0)
    return array


@dataclass(frozen=True, eq=False)
class Pose:
    """Zero or more people on a ``width`` x ``height`` canvas.

    Attributes:
        keypoints: float32 array (P, 18, 3): x and y in pixels, confidence in [0, 1];
            confidence 0 marks a missing keypoint.
        width, height: canvas size in pixels.
        extras: one mapping per person from an OpenPose JSON field name
            (``face_keypoints_2d``, ``hand_left_keypoints_2d``, ...) to a (K, 3)
            array in the same pixel frame; geometric operations move them too.
    """

    keypoints: np.ndarray
    width: int
    height: int
    extras: tuple[Mapping[str, np.ndarray], ...] = field(default=())

    def __post_init__(self) -> None:
        keypoints = np.asarray(self.keypoints, dtype=np.float32)
        if keypoints.ndim == 2:
            keypoints = keypoints[None]
        if keypoints.ndim != 3 or keypoints.shape[1:] != (NUM_KEYPOINTS, 3):
            raise PoseError(
                f"pose keypoints must have shape (people, {NUM_KEYPOINTS}, 3), got {np.shape(self.keypoints)}"
            )
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise PoseError(f"pose canvas must be positive, got {self.width}x{self.height}")
        people = [_as_keypoint_array(person, f"person {i}") for i, person in enumerate(keypoints)]
        keypoints = np.stack(people) if people else np.zeros((0, NUM_KEYPOINTS, 3), np.float32)
        extras = tuple(self.extras) or tuple({} for _ in range(len(keypoints)))
        if len(extras) != len(keypoints):
            raise PoseError(f"pose has {len(keypoints)} people but extras for {len(extras)}")
        extras = tuple(
            {name: _as_keypoint_array(points, f"person {i} {name}") for name, points in person.items()}
            for i, person in enumerate(extras)
        )
        object.__setattr__(self, "keypoints", keypoints)
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        object.__setattr__(self, "extras", extras)

    # construction -------------------------------------------------------

    @classmethod
    def empty(cls, width: int, height: int) -> "Pose":
        """A canvas with nobody on it."""
        return cls(np.zeros((0, NUM_KEYPOINTS, 3), np.float32), width, height)

    @classmethod
    def from_body25(cls, keypoints, width: int, height: int) -> "Pose":
        """From OpenPose BODY_25 keypoints, (P, 25, 3) or (25, 3); mid-hip and feet are dropped."""
        array = np.asarray(keypoints, dtype=np.float32).reshape(-1, 25, 3)
        return cls(array[:, list(BODY25_TO_OPENPOSE18)], width, height)

    @classmethod
    def from_blazepose33(cls, landmarks, width: int, height: int) -> "Pose":
        """From BlazePose landmarks, (P, 33, 3) or (33, 3) with x, y in pixels and visibility.

        The neck, which BlazePose lacks, is the midpoint of the shoulders when
        both are present, with the lower of their two confidences.
        """
        array = np.asarray(landmarks, dtype=np.float32).reshape(-1, 33, 3)
        out = np.zeros((len(array), NUM_KEYPOINTS, 3), np.float32)
        for target, source in enumerate(BLAZEPOSE33_TO_OPENPOSE18):
            if source is not None:
                out[:, target] = array[:, source]
        left, right = array[:, BLAZEPOSE_SHOULDERS[0]], array[:, BLAZEPOSE_SHOULDERS[1]]
        both = (left[:, 2] > 0) & (right[:, 2] > 0)
        neck = np.concatenate([(left[:, :2] + right[:, :2]) / 2, np.minimum(left[:, 2:], right[:, 2:])], axis=1)
        out[:, KEYPOINT_INDEX["neck"]] = np.where(both[:, None], neck, 0.0)
        return cls(out, width, height)

    # queries ------------------------------------------------------------

    @property
    def num_people(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def visible(self) -> np.ndarray:
        """Bool array (P, 18): which keypoints are present."""
        return self.keypoints[..., 2] > 0

    @property
    def has_person(self) -> bool:
        """Whether anybody is here: at least one person with at least one keypoint present."""
        return self.num_people > 0 and bool(self.visible.any())

    def person(self, index: int) -> "Pose":
        """The same canvas with only person ``index``."""
        if not -self.num_people <= index < self.num_people:
            raise PoseError(f"pose has {self.num_people} people; person {index} does not exist")
        return Pose(self.keypoints[index : index + 1], self.width, self.height, (self.extras[index],))

    def main_person_index(self) -> int:
        """Index of the main person: the largest bounding box of visible keypoints,
        weighted by the share of keypoints seen, so a full figure beats a larger
        but mostly hidden one. Raises PoseError when nobody has a keypoint."""
        best, best_score = -1, 0.0
        for i, person in enumerate(self.keypoints):
            seen = person[person[:, 2] > 0, :2]
            if len(seen) == 0:
                continue
            extent = seen.max(axis=0) - seen.min(axis=0) + 1.0
            score = float(extent[0] * extent[1]) * len(seen) / NUM_KEYPOINTS
            if score > best_score:
                best, best_score = i, score
        if best < 0:
            raise PoseError("pose has no person with any visible keypoint")
        return best

    def main_person(self) -> "Pose":
        return self.person(self.main_person_index())

    # geometry -----------------------------------------------------------

    def map_points(self, point_map: PointMap, width: int, height: int, clip_to_canvas: bool = True) -> "Pose":
        """Move every present keypoint (body and extras) through ``point_map`` onto a
        ``width`` x ``height`` canvas. With ``clip_to_canvas`` a keypoint that lands
        outside the canvas becomes missing."""

        def move(points: np.ndarray) -> np.ndarray:
            out = points.copy()
            present = out[:, 2] > 0
            if present.any():
                out[present, :2] = point_map(out[present, :2].astype(np.float64))
            if clip_to_canvas:
                outside = ((out[:, 0] < -0.5) | (out[:, 1] < -0.5)
                           | (out[:, 0] > width - 0.5) | (out[:, 1] > height - 0.5))
                out[outside] = 0.0
            return out

        keypoints = np.stack([move(p) for p in self.keypoints]) if self.num_people else self.keypoints
        extras = tuple({k: move(v) for k, v in person.items()} for person in self.extras)
        return Pose(keypoints, width, height, extras)

    def resized(self, width: int, height: int) -> "Pose":
        """The pose on a canvas stretched to ``width`` x ``height``."""
        sx, sy = width / self.width, height / self.height
        return self.map_points(lambda p: (p + 0.5) * (sx, sy) - 0.5, width, height)

    def translated(self, dx: float, dy: float, width: int | None = None, height: int | None = None) -> "Pose":
        """Shift by (dx, dy) pixels, optionally onto a canvas of another size."""
        return self.map_points(lambda p: p + (dx, dy), width or self.width, height or self.height)

    def transformed(self, matrix, width: int | None = None, height: int | None = None) -> "Pose":
        """Apply a 2x3 affine ``matrix`` (pixel coordinates in, pixel coordinates out)."""
        m = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
        return self.map_points(lambda p: p @ m[:, :2].T + m[:, 2], width or self.width, height or self.height)

    def flipped(self) -> "Pose":
        """Mirror left to right; left and right keypoints (and hands) swap names,
        so a right wrist stays a right wrist of the mirrored person."""
        mirrored = self.map_points(lambda p: np.stack([self.width - 1 - p[:, 0], p[:, 1]], 1), self.width, self.height)
        extras = tuple({_FLIP_EXTRA_NAMES.get(k, k): v for k, v in person.items()} for person in mirrored.extras)
        return Pose(mirrored.keypoints[:, list(FLIP_PERMUTATION)], self.width, self.height, extras)

    def with_people(self, keypoints: np.ndarray, extras: Iterable[Mapping[str, np.ndarray]] = ()) -> "Pose":
        """A pose on the same canvas with other people."""
        return Pose(keypoints, self.width, self.height, tuple(extras))

    def __repr__(self) -> str:
        seen = ", ".join(str(int(v.sum())) for v in self.visible)
        return f"Pose({self.num_people} people on {self.width}x{self.height}, visible keypoints: [{seen}])"
