"""Reading and writing poses in the formats the ecosystem passes around.

* OpenPose JSON, as ComfyUI's POSE_KEYPOINT carries it: a list of frames
  ``{"people": [{"pose_keypoints_2d": [x, y, c, ...]}], "canvas_width": W,
  "canvas_height": H}``. Coordinates are pixels or normalised to 0..1 (both
  occur in the wild: comfyui_controlnet_aux's OpenPose writes normalised ones,
  its DWPose pixels). A frame whose present coordinates are all at most 2 is
  read as normalised, which leaves room for keypoints just off the canvas.
  Body lists of 18 (COCO), 25 (BODY_25) or 33 (BlazePose) keypoints are
  accepted; a body of None (an undetected part) is a person with no keypoints.
* PATN annotation CSV: ``name:keypoints_y:keypoints_x`` with two lists of 18
  integers (row, then column), -1 for a missing keypoint.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from ..jsonio import parse_json
from ..limits import MAX_CANVAS_SIDE, MAX_EXTRA_POINTS, MAX_PEOPLE, MAX_POSE_FRAMES
from .keypoints import Pose, PoseError
from .skeleton import NUM_KEYPOINTS

_BODY_FIELD = "pose_keypoints_2d"
_NORMALISED_LIMIT = 1.05
_NORMALISED_SHARE = 0.9
COORDINATES = ("auto", "pixels", "normalised")
_EXTRA_FIELDS = ("face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d")


def _body_from_flat(values: np.ndarray | None, where: str, width: int, height: int) -> Pose:
    if values is None:
        return Pose(np.zeros((NUM_KEYPOINTS, 3), np.float32), width, height)
    flat = np.asarray(values, dtype=np.float32)
    if flat.size % 3:
        raise PoseError(f"{where}: {_BODY_FIELD} has {flat.size} numbers, not a multiple of 3 (x, y, confidence)")
    count = flat.size // 3
    points = flat.reshape(count, 3)
    if count == NUM_KEYPOINTS:
        return Pose(points, width, height)
    if count == 25:
        return Pose.from_body25(points, width, height)
    if count == 33:
        return Pose.from_blazepose33(points, width, height)
    raise PoseError(
        f"{where}: {_BODY_FIELD} holds {count} keypoints; expected 18 (OpenPose COCO), 25 (BODY_25) or 33 (BlazePose)"
    )


def _numbers(values, what: str, limit: int) -> np.ndarray:
    """A flat JSON list of at most ``limit`` numbers as float64, or PoseError naming ``what``."""
    if not isinstance(values, list) or len(values) > limit:
        raise PoseError(f"{what} must be a list of at most {limit} numbers")
    try:
        return np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise PoseError(f"{what} must be a flat list of numbers") from None


@dataclass(frozen=True)
class _ReadFrame:
    """A frame's canvas and, per person, its body and extra fields as flat number arrays
    (None for a body OpenPose left out), checked but not yet scaled."""

    width: int
    height: int
    people: list[dict[str, np.ndarray | None]]
    where: str

    def present_coordinates(self) -> np.ndarray:
        """(N, 2) x, y of every present point (confidence > 0), body and extras."""
        coordinates = [np.zeros((0, 2))]
        for person in self.people:
            for flat in person.values():
                if flat is not None and flat.size % 3 == 0:
                    points = flat.reshape(-1, 3)
                    coordinates.append(points[points[:, 2] > 0, :2])
        present = np.concatenate(coordinates)
        if not np.isfinite(present).all():
            raise PoseError(f"{self.where}: keypoints contain NaN or infinity")
        return present


def _read_frame(frame: Mapping[str, Any], canvas_size: tuple[int, int] | None, where: str) -> _ReadFrame:
    if not isinstance(frame, Mapping):
        raise PoseError(f"{where}: expected an object with 'people', got {type(frame).__name__}")
    width, height = frame.get("canvas_width"), frame.get("canvas_height")
    if width is None or height is None:
        if canvas_size is None:
            raise PoseError(f"{where}: no canvas_width/canvas_height; "
                            "give the canvas size of the image the pose belongs to")
        width, height = canvas_size
    try:
        width, height = int(width), int(height)
    except (TypeError, ValueError, OverflowError):
        raise PoseError(f"{where}: canvas size {width!r}x{height!r} is not a pair of integers") from None
    if not (0 < width <= MAX_CANVAS_SIDE and 0 < height <= MAX_CANVAS_SIDE):
        raise PoseError(f"{where}: canvas size {width}x{height} must be positive and at most "
                        f"{MAX_CANVAS_SIDE} px a side")
    people = frame.get("people")
    if people is None:
        raise PoseError(f"{where}: no 'people' list")
    if not isinstance(people, list):
        raise PoseError(f"{where}: 'people' must be a list, got {type(people).__name__}")
    if len(people) > MAX_PEOPLE:
        raise PoseError(f"{where}: {len(people)} people, more than the {MAX_PEOPLE} a frame may hold")
    read = []
    for i, person in enumerate(people):
        who = f"{where}, person {i}"
        if not isinstance(person, Mapping):
            raise PoseError(f"{who}: expected an object, got {type(person).__name__}")
        # comfyui_controlnet_aux writes None for a body part it did not detect.
        body = person.get(_BODY_FIELD)
        fields = {_BODY_FIELD: None if body is None else _numbers(body, f"{who}: {_BODY_FIELD}", 3 * MAX_EXTRA_POINTS)}
        for name in _EXTRA_FIELDS:
            values = person.get(name)
            if values:
                fields[name] = _numbers(values, f"{who}: {name}", 3 * MAX_EXTRA_POINTS)
        read.append(fields)
    return _ReadFrame(width, height, read, where)


def _looks_normalised(present: np.ndarray) -> bool:
    """Whether coordinates are fractions of the canvas: nearly all of them within 0..1 (a
    hand or a foot may reach a little off the canvas). No real pose in pixels fits in
    a 1x1 pixel square, and a normalised one lies almost all inside it."""
    return len(present) > 0 and float(np.mean(np.abs(present) <= _NORMALISED_LIMIT)) >= _NORMALISED_SHARE


def _check_coordinates(coordinates: str) -> None:
    if coordinates not in COORDINATES:
        raise PoseError(f"coordinates must be one of {COORDINATES}, got {coordinates!r}")


def _pose_from_read(read: _ReadFrame, normalised: bool) -> Pose:
    width, height = read.width, read.height
    scale = np.asarray((width, height, 1.0) if normalised else (1.0, 1.0, 1.0), np.float32)
    bodies, extras = [], []
    for i, fields in enumerate(read.people):
        who = f"{read.where}, person {i}"
        keypoints = _body_from_flat(fields[_BODY_FIELD], who, width, height).keypoints[0] * scale
        keypoints[keypoints[:, 2] <= 0] = 0.0
        bodies.append(keypoints)
        person_extras = {}
        for name in _EXTRA_FIELDS:
            if name in fields:
                flat = fields[name].astype(np.float32)
                if flat.size % 3:
                    raise PoseError(f"{who}: {name} has {flat.size} numbers, not a multiple of 3")
                person_extras[name] = flat.reshape(-1, 3) * scale
        extras.append(person_extras)
    if not bodies:
        return Pose.empty(width, height)
    return Pose(np.stack(bodies), width, height, tuple(extras))


def pose_from_openpose_frame(frame: Mapping[str, Any], canvas_size: tuple[int, int] | None = None,
                             where: str = "frame", coordinates: str = "auto") -> Pose:
    """One OpenPose JSON frame to a Pose.

    Args:
        frame: ``{"people": [...], "canvas_width": W, "canvas_height": H}``.
        canvas_size: (width, height) for frames that carry no canvas size
            (OpenPose's own output files don't).
        where: how error messages name this frame.
        coordinates: "pixels", "normalised" (fractions of the canvas), or "auto":
            normalised when nearly all of the frame's points lie within 0..1.
    """
    _check_coordinates(coordinates)
    read = _read_frame(frame, canvas_size, where)
    present = read.present_coordinates()
    return _pose_from_read(read, _looks_normalised(present) if coordinates == "auto" else coordinates == "normalised")


def poses_from_openpose_json(data: Any, canvas_size: tuple[int, int] | None = None,
                             coordinates: str = "auto") -> list[Pose]:
    """A POSE_KEYPOINT value (list of frames), a single frame, or their JSON text, to a list of Poses.

    ``coordinates`` is as ``pose_from_openpose_frame`` takes it, except that "auto"
    decides once for the whole sequence from all its frames' points, so that one
    frame with a hand off the canvas, or one tiny frame, is not read in the other
    convention than its neighbours.
    """
    _check_coordinates(coordinates)
    if isinstance(data, (str, bytes)):
        data = parse_json(data, "pose JSON", PoseError)
    frames = [data] if isinstance(data, Mapping) else data
    if not isinstance(frames, list):
        raise PoseError(f"pose data must be a frame object or a list of frames, got {type(data).__name__}")
    if len(frames) > MAX_POSE_FRAMES:
        raise PoseError(f"pose data holds {len(frames)} frames, more than the {MAX_POSE_FRAMES} a sequence may hold")
    read = [_read_frame(frame, canvas_size, f"frame {i}") for i, frame in enumerate(frames)]
    present = np.concatenate([np.zeros((0, 2))] + [frame.present_coordinates() for frame in read])
    normalised = _looks_normalised(present) if coordinates == "auto" else coordinates == "normalised"
    return [_pose_from_read(frame, normalised) for frame in read]


def _flat(points: np.ndarray, scale: np.ndarray) -> list[float]:
    out = points * scale
    out[points[:, 2] <= 0] = 0.0
    return [round(float(v), 6) for v in out.reshape(-1)]


def pose_to_openpose_frame(pose: Pose, normalised: bool = False) -> dict:
    """A Pose to one OpenPose JSON frame (18 keypoints a person; missing as 0, 0, 0)."""
    scale = np.asarray([1.0 / pose.width, 1.0 / pose.height, 1.0] if normalised else [1.0, 1.0, 1.0], np.float32)
    people = []
    for keypoints, extras in zip(pose.keypoints, pose.extras):
        person = {_BODY_FIELD: _flat(keypoints, scale)}
        for name in _EXTRA_FIELDS:
            if name in extras:
                person[name] = _flat(extras[name], scale)
        people.append(person)
    return {"people": people, "canvas_width": pose.width, "canvas_height": pose.height}


def poses_to_openpose_json(poses: Iterable[Pose], normalised: bool = False) -> list[dict]:
    """A list of Poses to a POSE_KEYPOINT value (list of frames)."""
    return [pose_to_openpose_frame(pose, normalised) for pose in poses]


# PATN annotation CSV ------------------------------------------------------------


def _parse_int_list(text: Any, where: str) -> list[int]:
    if isinstance(text, str):
        stripped = text.strip()
        if not (stripped.startswith("[") and stripped.endswith("]")):
            raise PoseError(f"{where}: expected a bracketed list like [12, -1, ...], got {text[:40]!r}")
        try:
            values = [int(v) for v in stripped[1:-1].split(",") if v.strip()]
        except ValueError:
            raise PoseError(f"{where}: not a list of integers: {text[:60]!r}") from None
    else:
        try:
            values = [int(v) for v in text]
        except (TypeError, ValueError, OverflowError):
            raise PoseError(f"{where}: not a list of integers: {str(text)[:60]!r}") from None
    if len(values) != NUM_KEYPOINTS:
        raise PoseError(f"{where}: {len(values)} keypoints, expected {NUM_KEYPOINTS}")
    if any(abs(v) > MAX_CANVAS_SIDE for v in values):
        raise PoseError(f"{where}: a coordinate beyond {MAX_CANVAS_SIDE} px ({max(values, key=abs)})")
    return values


def pose_from_patn_row(keypoints_y: Any, keypoints_x: Any, width: int, height: int, where: str = "row") -> Pose:
    """One person from PATN's y and x lists (text like ``[12, -1, ...]`` or integers); -1 is missing."""
    ys = _parse_int_list(keypoints_y, f"{where}, keypoints_y")
    xs = _parse_int_list(keypoints_x, f"{where}, keypoints_x")
    points = np.zeros((NUM_KEYPOINTS, 3), np.float32)
    for i, (y, x) in enumerate(zip(ys, xs)):
        if y >= 0 and x >= 0:
            points[i] = (x, y, 1.0)
    return Pose(points, width, height)


def pose_to_patn_lists(pose: Pose, person: int = 0) -> tuple[list[int], list[int]]:
    """PATN's (keypoints_y, keypoints_x) for one person; missing as -1, present rounded to pixels."""
    keypoints = pose.person(person).keypoints[0]
    ys, xs = [], []
    for x, y, c in keypoints:
        if c > 0:
            ys.append(int(min(max(round(float(y)), 0), pose.height - 1)))
            xs.append(int(min(max(round(float(x)), 0), pose.width - 1)))
        else:
            ys.append(-1)
            xs.append(-1)
    return ys, xs


def read_patn_annotations(path: str | os.PathLike, width: int, height: int) -> dict[str, Pose]:
    """Read a PATN ``*-annotation-*.csv`` (``name:keypoints_y:keypoints_x``) into {image name: Pose}.

    Raises PoseError naming the file and the 1-based line of any malformed row.
    """
    path = os.fspath(path)
    poses: dict[str, Pose] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=":")
        header = next(reader, None)
        if header is None:
            raise PoseError(f"{path}: empty annotation file")
        if [h.strip() for h in header] != ["name", "keypoints_y", "keypoints_x"]:
            raise PoseError(f"{path}: header must be name:keypoints_y:keypoints_x, got {':'.join(header)!r}")
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            where = f"{path}, line {line}"
            if len(row) != 3:
                raise PoseError(f"{where}: expected 3 ':'-separated fields, got {len(row)}")
            poses[row[0]] = pose_from_patn_row(row[1], row[2], width, height, where)
    return poses


def write_patn_annotations(path: str | os.PathLike, poses: Mapping[str, Pose]) -> None:
    """Write {image name: Pose} as a PATN annotation CSV: the main person of each pose,
    or all -1 for a pose with nobody visible."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write("name:keypoints_y:keypoints_x\n")
        for name, pose in poses.items():
            if any(pose.visible.any(axis=1)):
                ys, xs = pose_to_patn_lists(pose, pose.main_person_index())
            else:
                ys = xs = [-1] * NUM_KEYPOINTS
            handle.write(f"{name}:{ys}:{xs}\n")
