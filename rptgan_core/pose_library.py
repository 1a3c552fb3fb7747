"""Named poses: a built-in library (standing, T-pose, walking phases, ...) and poses
saved under a name in a folder, as OpenPose JSON.

Built-in poses are drawn from limb angles on one canvas, ``LIBRARY_CANVAS``
(DeepFashion's 176x256), with one set of body proportions, feet on a common
ground line: so any two of them are the same person in two poses, ready for
keyframing. Saved poses are one OpenPose JSON file each (``<name>.json``),
read with the same checks as any pose file.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field

import numpy as np

from .errors import RptganError
from .jsonio import read_json_file
from .limits import MAX_POSE_FILE_BYTES, MAX_SAVED_POSES
from .pose import (
    KEYPOINT_INDEX,
    NUM_KEYPOINTS,
    Pose,
    PoseError,
    poses_from_openpose_json,
    poses_to_openpose_json,
)

LIBRARY_CANVAS = ("deepfashion", 176, 256)  # name, width, height
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}")

# Proportions in units of the figure's height (crown to sole, standing).
_UNIT = 0.72  # figure height as a share of the canvas height
_GROUND = 0.95  # where the soles stand, as a share of the canvas height
_NECK_TO_HIP = 0.32
_SHOULDER_HALF = 0.11
_HIP_HALF = 0.065
_UPPER_ARM, _FOREARM = 0.17, 0.15
_THIGH, _SHIN = 0.23, 0.23
_PROFILE_DEPTH = 0.15  # a profile view shows this share of the body's width


class PoseLibraryError(RptganError, ValueError):
    """A pose name, or a saved pose file, is unusable; the message says which and why."""


@dataclass(frozen=True)
class LimbAngles:
    """One built-in pose as limb directions, in degrees from straight down.

    Front view: positive angles turn a limb outwards (away from the body's middle),
    90 is horizontal, 180 straight up. Profile view (facing the image's right):
    positive angles turn a limb forwards. Each limb's angle is its own direction on
    the canvas, not relative to its parent. ``lift`` raises the whole figure off the
    ground (a share of the figure's height), ``sit`` lowers the hips to the knees'
    height (thighs horizontal).
    """

    right_arm: float = 8.0
    right_forearm: float = 5.0
    left_arm: float = 8.0
    left_forearm: float = 5.0
    right_leg: float = 3.0
    right_shin: float = 2.0
    left_leg: float = 3.0
    left_shin: float = 2.0
    profile: bool = False
    lift: float = 0.0
    description: str = field(default="", compare=False)


BUILTIN_ANGLES: dict[str, LimbAngles] = {
    "standing": LimbAngles(description="standing, arms at the sides"),
    "t_pose": LimbAngles(90, 90, 90, 90, 5, 5, 5, 5, description="arms straight out to the sides"),
    "a_pose": LimbAngles(40, 40, 40, 40, 8, 8, 8, 8, description="arms out and down at forty degrees"),
    "arms_up": LimbAngles(165, 172, 165, 172, 5, 4, 5, 4, description="both arms raised overhead"),
    "waving": LimbAngles(8, 5, 100, 165, 3, 2, 3, 2, description="left forearm raised, waving"),
    "walking_1": LimbAngles(-25, -10, 25, 45, 25, 15, -20, -30, profile=True,
                            description="walking, right heel strikes (profile)"),
    "walking_2": LimbAngles(-5, 10, 5, 15, 8, -20, -5, 0, profile=True,
                            description="walking, right leg passes under the body (profile)"),
    "walking_3": LimbAngles(25, 45, -25, -10, -20, -30, 25, 15, profile=True,
                            description="walking, left heel strikes (profile)"),
    "walking_4": LimbAngles(5, 15, -5, 10, -5, 0, 8, -20, profile=True,
                            description="walking, left leg passes under the body (profile)"),
    "running": LimbAngles(-40, 30, 45, 110, 50, -5, -35, -95, profile=True, lift=0.05,
                          description="running stride, both feet off the ground (profile)"),
    "sitting": LimbAngles(10, 50, 10, 50, 90, 0, 90, 0, profile=True,
                          description="sitting on a chair, thighs level (profile)"),
    "jumping": LimbAngles(150, 160, 150, 160, 25, 20, 25, 20, lift=0.08,
                          description="star jump: arms and legs spread, feet off the ground"),
}
BUILTIN_NAMES = tuple(BUILTIN_ANGLES)


def _direction(angle: float, outward: float) -> np.ndarray:
    """A unit step on the canvas (y down) for a limb ``angle`` degrees from straight down;
    ``outward`` is the sign of x for positive angles."""
    radians = math.radians(angle)
    return np.array([outward * math.sin(radians), math.cos(radians)])


def _draw(angles: LimbAngles, width: int, height: int) -> np.ndarray:
    """(18, 3) keypoints of ``angles`` on a ``width`` x ``height`` canvas."""
    unit = _UNIT * height
    depth = _PROFILE_DEPTH if angles.profile else 1.0
    points = np.zeros((NUM_KEYPOINTS, 3))

    def put(name: str, xy: np.ndarray) -> None:
        points[KEYPOINT_INDEX[name]] = (xy[0], xy[1], 1.0)

    def at(name: str) -> np.ndarray:
        return points[KEYPOINT_INDEX[name], :2]

    neck = np.array([0.0, 0.0])
    put("neck", neck)
    for side, sign in (("right", -1.0), ("left", 1.0)):
        outward = 1.0 if angles.profile else sign
        shoulder = neck + (sign * _SHOULDER_HALF * depth * unit, 0.0)
        put(f"{side}_shoulder", shoulder)
        elbow = shoulder + _UPPER_ARM * unit * _direction(getattr(angles, f"{side}_arm"), outward)
        put(f"{side}_elbow", elbow)
        put(f"{side}_wrist", elbow + _FOREARM * unit * _direction(getattr(angles, f"{side}_forearm"), outward))
        hip = neck + (sign * _HIP_HALF * depth * unit, _NECK_TO_HIP * unit)
        put(f"{side}_hip", hip)
        knee = hip + _THIGH * unit * _direction(getattr(angles, f"{side}_leg"), outward)
        put(f"{side}_knee", knee)
        put(f"{side}_ankle", knee + _SHIN * unit * _direction(getattr(angles, f"{side}_shin"), outward))
    if angles.profile:
        put("nose", neck + (0.06 * unit, -0.09 * unit))
        put("right_eye", neck + (0.04 * unit, -0.115 * unit))
        put("left_eye", neck + (0.05 * unit, -0.112 * unit))
        put("left_ear", neck + (-0.01 * unit, -0.10 * unit))  # the far ear is hidden
    else:
        put("nose", neck + (0.0, -0.09 * unit))
        for side, sign in (("right", -1.0), ("left", 1.0)):
            put(f"{side}_eye", neck + (sign * 0.025 * unit, -0.11 * unit))
            put(f"{side}_ear", neck + (sign * 0.05 * unit, -0.10 * unit))
    lowest = points[points[:, 2] > 0, 1].max()
    hips_x = (at("right_hip")[0] + at("left_hip")[0]) / 2
    points[:, 0] += (width - 1) / 2 - hips_x
    points[:, 1] += _GROUND * (height - 1) - angles.lift * unit - lowest
    points[points[:, 2] == 0] = 0.0
    return points.astype(np.float32)


def builtin_pose(name: str) -> Pose:
    """The built-in pose ``name`` (one of ``BUILTIN_NAMES``) on ``LIBRARY_CANVAS``."""
    if name not in BUILTIN_ANGLES:
        raise PoseLibraryError(f"no built-in pose named {name!r}; built-in poses: {', '.join(BUILTIN_NAMES)}")
    _, width, height = LIBRARY_CANVAS
    keypoints = _draw(BUILTIN_ANGLES[name], width, height)
    inside = ((keypoints[:, 0] >= 0) & (keypoints[:, 0] <= width - 1)
              & (keypoints[:, 1] >= 0) & (keypoints[:, 1] <= height - 1))
    if not inside[keypoints[:, 2] > 0].all():
        raise AssertionError(f"built-in pose {name!r} leaves its canvas")  # a library bug, caught by the tests
    return Pose(keypoints, width, height)


def check_pose_name(name: str) -> str:
    """``name`` if it can name a saved pose (letters, digits, space, ``_ . -``, at most 64,
    starting with a letter or digit, not a built-in's name); else PoseLibraryError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith("."):
        raise PoseLibraryError(
            f"pose name {name!r}: use 1-64 letters, digits, spaces, '_', '.' or '-', starting with a letter "
            "or digit and not ending with '.'")
    if name in BUILTIN_ANGLES:
        raise PoseLibraryError(f"pose name {name!r} is a built-in pose's; choose another name")
    return name


def saved_pose_names(folder: str | os.PathLike) -> list[str]:
    """Names of the poses saved in ``folder`` (sorted; none if it does not exist)."""
    try:
        entries = os.listdir(folder)
    except FileNotFoundError:
        return []
    names = []
    for entry in sorted(entries):
        stem, extension = os.path.splitext(entry)
        if extension == ".json" and _NAME.fullmatch(stem) and stem not in BUILTIN_ANGLES:
            names.append(stem)
    return names[:MAX_SAVED_POSES]


def pose_names(folder: str | os.PathLike | None) -> list[str]:
    """Built-in names first, then the poses saved in ``folder``."""
    return [*BUILTIN_NAMES, *(saved_pose_names(folder) if folder is not None else [])]


def saved_pose_path(name: str, folder: str | os.PathLike) -> str:
    """Where the pose saved under ``name`` lives in ``folder`` (the name checked first)."""
    return os.path.join(os.fspath(folder), f"{check_pose_name(name)}.json")


def load_pose(name: str, folder: str | os.PathLike | None = None) -> Pose:
    """The built-in pose ``name``, or the first frame of the pose saved under ``name`` in ``folder``."""
    if name in BUILTIN_ANGLES:
        return builtin_pose(name)
    if folder is None:
        raise PoseLibraryError(f"no built-in pose named {name!r}, and no folder of saved poses was given")
    path = saved_pose_path(name, folder)
    if not os.path.isfile(path):
        raise PoseLibraryError(f"no pose named {name!r}: not built in, and no {path}")
    data = read_json_file(path, f"saved pose {name!r}", PoseLibraryError, max_bytes=MAX_POSE_FILE_BYTES)
    try:
        poses = poses_from_openpose_json(data)
    except PoseError as error:
        raise PoseLibraryError(f"saved pose {name!r} ({path}) is unusable: {error}") from None
    return poses[0]


def save_pose(name: str, pose: Pose, folder: str | os.PathLike) -> str:
    """Write ``pose`` as ``<folder>/<name>.json`` (OpenPose JSON, pixel coordinates), replacing a
    pose saved under that name; the write is atomic, so a failed save keeps the old file. Returns the path."""
    path = saved_pose_path(name, folder)
    if not pose.has_person:
        raise PoseLibraryError(f"pose {name!r} has nobody in it; nothing to save")
    os.makedirs(folder, exist_ok=True)
    if name not in saved_pose_names(folder) and len(saved_pose_names(folder)) >= MAX_SAVED_POSES:
        raise PoseLibraryError(f"{folder} already holds {MAX_SAVED_POSES} saved poses; delete some first")

    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(poses_to_openpose_json([pose]), stream)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path
