"""Parametric pose edits: mirror, scale, translate and rotate a whole pose, rotate
one limb about its joint, set or clear a keypoint, and retarget a pose to another
person's limb lengths.

Every function takes a ``Pose`` and returns a new one on the same canvas;
keypoints pushed off the canvas become missing, as everywhere in ``rptgan_core.pose``.
``people`` selects whom an edit touches: None for everyone, or a list of indices.
Angles are degrees, clockwise on screen (y points down), as ``rotation_matrix``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from .pose import KEYPOINT_INDEX, KEYPOINT_NAMES, LIMBS, Pose, PoseError, rotation_matrix

# The skeleton as a tree rooted at the neck: OpenPose's first 17 limbs are
# (parent, child) pairs in an order where every parent comes before its children.
BONES: tuple[tuple[int, int], ...] = LIMBS[:17]
PARENT: dict[int, int] = {child: parent for parent, child in BONES}

# A rotatable limb: the joint it turns about and the first keypoint that moves
# (that keypoint and everything below it in the tree move together).
LIMB_JOINTS: dict[str, tuple[str, str]] = {
    "head": ("neck", "nose"),
    "right_arm": ("right_shoulder", "right_elbow"),
    "right_forearm": ("right_elbow", "right_wrist"),
    "left_arm": ("left_shoulder", "left_elbow"),
    "left_forearm": ("left_elbow", "left_wrist"),
    "right_leg": ("right_hip", "right_knee"),
    "right_shin": ("right_knee", "right_ankle"),
    "left_leg": ("left_hip", "left_knee"),
    "left_shin": ("left_knee", "left_ankle"),
}

# Extra keypoint groups of the OpenPose JSON and the body keypoint they hang from.
_EXTRA_ANCHORS = {
    "hand_right_keypoints_2d": KEYPOINT_INDEX["right_wrist"],
    "hand_left_keypoints_2d": KEYPOINT_INDEX["left_wrist"],
    "face_keypoints_2d": KEYPOINT_INDEX["nose"],
}


def descendants(index: int) -> list[int]:
    """``index`` and every keypoint below it in the tree rooted at the neck."""
    found = [index]
    for parent, child in BONES:
        if parent in found:
            found.append(child)
    return found


def _selected(pose: Pose, people: Iterable[int] | None) -> list[int]:
    if people is None:
        return list(range(pose.num_people))
    chosen = sorted({int(i) for i in people})
    for index in chosen:
        if not 0 <= index < pose.num_people:
            raise PoseError(f"pose has {pose.num_people} people; person {index} does not exist")
    return chosen


def _moved_extras(extras: Mapping[str, np.ndarray], moved: set[int]) -> list[str]:
    return [name for name, anchor in _EXTRA_ANCHORS.items() if name in extras and anchor in moved]


def _map_people(pose: Pose, people: Iterable[int] | None, edit) -> Pose:
    """Apply ``edit(keypoints (18, 3), extras dict) -> (keypoints, extras)`` to the chosen
    people, then drop keypoints that left the canvas."""
    keypoints = pose.keypoints.copy()
    extras = [dict(person) for person in pose.extras]
    for index in _selected(pose, people):
        keypoints[index], extras[index] = edit(keypoints[index].copy(), {k: v.copy() for k, v in extras[index].items()})
    edited = Pose(keypoints, pose.width, pose.height, tuple(extras))
    return edited.map_points(lambda p: p, pose.width, pose.height)


def _apply_matrix(points: np.ndarray, matrix: np.ndarray, rows: Sequence[int] | None = None) -> np.ndarray:
    out = points.copy()
    rows = np.arange(len(points)) if rows is None else np.asarray(rows, dtype=int)
    present = rows[out[rows, 2] > 0]
    out[present, :2] = out[present, :2] @ matrix[:, :2].T + matrix[:, 2]
    return out


def pose_centre(pose: Pose, people: Iterable[int] | None = None) -> tuple[float, float] | None:
    """Centre of the bounding box of the chosen people's visible keypoints; None when none is visible."""
    chosen = _selected(pose, people)
    points = [pose.keypoints[i][pose.keypoints[i, :, 2] > 0, :2] for i in chosen]
    points = np.concatenate(points) if points else np.zeros((0, 2), np.float32)
    if len(points) == 0:
        return None
    low, high = points.min(axis=0), points.max(axis=0)
    return float((low[0] + high[0]) / 2), float((low[1] + high[1]) / 2)


def transform_pose(pose: Pose, matrix, people: Iterable[int] | None = None) -> Pose:
    """Apply a 2x3 pixel-coordinate affine ``matrix`` to the chosen people (body, hands, face)."""
    m = np.asarray(matrix, dtype=np.float64).reshape(2, 3)

    def edit(keypoints, extras):
        return _apply_matrix(keypoints, m), {name: _apply_matrix(points, m) for name, points in extras.items()}

    return _map_people(pose, people, edit)


def mirror_pose(pose: Pose, people: Iterable[int] | None = None) -> Pose:
    """Mirror left to right across the canvas; left and right keypoints swap names."""
    if people is None:
        return pose.flipped()
    flipped = pose.flipped()
    keypoints, extras = pose.keypoints.copy(), list(pose.extras)
    for index in _selected(pose, people):
        keypoints[index], extras[index] = flipped.keypoints[index], flipped.extras[index]
    return Pose(keypoints, pose.width, pose.height, tuple(extras))


def scale_pose(pose: Pose, factor: float, people: Iterable[int] | None = None,
               centre: tuple[float, float] | None = None) -> Pose:
    """Scale by ``factor`` about ``centre`` (default: the centre of the chosen people)."""
    if not np.isfinite(factor) or factor <= 0:
        raise PoseError(f"scale factor must be a positive number, got {factor}")
    centre = centre or pose_centre(pose, people)
    if centre is None:
        return pose
    return transform_pose(pose, rotation_matrix(0.0, centre, factor), people)


def rotate_pose(pose: Pose, degrees: float, people: Iterable[int] | None = None,
                centre: tuple[float, float] | None = None) -> Pose:
    """Rotate by ``degrees`` about ``centre`` (default: the centre of the chosen people)."""
    centre = centre or pose_centre(pose, people)
    if centre is None:
        return pose
    return transform_pose(pose, rotation_matrix(degrees, centre), people)


def translate_pose(pose: Pose, dx: float, dy: float, people: Iterable[int] | None = None) -> Pose:
    """Shift the chosen people by (dx, dy) pixels."""
    return transform_pose(pose, [[1.0, 0.0, dx], [0.0, 1.0, dy]], people)


def rotate_limb(pose: Pose, limb: str, degrees: float, people: Iterable[int] | None = None) -> Pose:
    """Turn one limb (see ``LIMB_JOINTS``) by ``degrees`` about its joint.

    Everything below the limb moves with it (rotating ``right_arm`` moves the elbow,
    wrist and right hand). A person whose joint is missing is left as is.
    """
    if limb not in LIMB_JOINTS:
        raise PoseError(f"unknown limb {limb!r}; limbs: {', '.join(LIMB_JOINTS)}")
    joint_name, first_name = LIMB_JOINTS[limb]
    joint = KEYPOINT_INDEX[joint_name]
    moved = descendants(KEYPOINT_INDEX[first_name])

    def edit(keypoints, extras):
        if keypoints[joint, 2] <= 0:
            return keypoints, extras
        m = rotation_matrix(degrees, (float(keypoints[joint, 0]), float(keypoints[joint, 1])))
        extras = dict(extras)
        for name in _moved_extras(extras, set(moved)):
            extras[name] = _apply_matrix(extras[name], m)
        return _apply_matrix(keypoints, m, moved), extras

    return _map_people(pose, people, edit)


def _keypoint_index(name: str) -> int:
    if name not in KEYPOINT_INDEX:
        raise PoseError(f"unknown keypoint {name!r}; keypoints: {', '.join(KEYPOINT_NAMES)}")
    return KEYPOINT_INDEX[name]


def set_keypoint(pose: Pose, name: str, x: float, y: float, confidence: float = 1.0,
                 people: Iterable[int] | None = None) -> Pose:
    """Place keypoint ``name`` at pixel (x, y) for the chosen people."""
    index = _keypoint_index(name)
    if not (np.isfinite(x) and np.isfinite(y)):
        raise PoseError(f"keypoint {name} position must be finite, got ({x}, {y})")
    if not 0 < confidence <= 1:
        raise PoseError(f"keypoint confidence must be in (0, 1], got {confidence}")

    def edit(keypoints, extras):
        keypoints[index] = (x, y, confidence)
        return keypoints, extras

    return _map_people(pose, people, edit)


def clear_keypoint(pose: Pose, name: str, people: Iterable[int] | None = None) -> Pose:
    """Mark keypoint ``name`` missing for the chosen people."""
    index = _keypoint_index(name)

    def edit(keypoints, extras):
        keypoints[index] = 0.0
        return keypoints, extras

    return _map_people(pose, people, edit)


def bone_lengths(keypoints: np.ndarray) -> np.ndarray:
    """(17,) lengths in pixels of ``BONES`` for one person's (18, 3) keypoints; NaN where an end is missing."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    lengths = np.full(len(BONES), np.nan)
    for i, (parent, child) in enumerate(BONES):
        if keypoints[parent, 2] > 0 and keypoints[child, 2] > 0:
            lengths[i] = float(np.hypot(*(keypoints[child, :2] - keypoints[parent, :2])))
    return lengths


def retarget(target: Pose, source: Pose, source_person: int | None = None,
             people: Iterable[int] | None = None) -> Pose:
    """Give the target pose the source person's proportions.

    Each bone of the target keeps its direction but takes the source person's
    length for that bone, scaled so the bones both poses show have the same total
    length as in the target: the figure keeps its size and place, the limbs take
    the source's proportions. The neck stays put; bones the source lacks keep the
    target's length; hands and face move with their wrist and nose.

    Args:
        source_person: which person of ``source`` to measure (default: the main one).

    Raises:
        PoseError: the source has nobody, or a target person shares no bone with it.
    """
    if not source.has_person:
        raise PoseError("retarget: the source pose has no person with visible keypoints")
    index = source.main_person_index() if source_person is None else source_person
    source_lengths = bone_lengths(source.person(index).keypoints[0])

    def edit(keypoints, extras):
        target_lengths = bone_lengths(keypoints)
        shared = np.isfinite(target_lengths) & np.isfinite(source_lengths) & (source_lengths > 0)
        if not shared.any():
            raise PoseError("retarget: the target person and the source person have no bone visible in both")
        size = target_lengths[shared].sum() / source_lengths[shared].sum()
        original = keypoints.copy()
        for bone, (parent, child) in enumerate(BONES):
            if original[parent, 2] <= 0 or original[child, 2] <= 0:
                continue
            direction = original[child, :2] - original[parent, :2]
            length = float(np.hypot(*direction))
            if length == 0:
                continue
            wanted = source_lengths[bone] * size if shared[bone] else length
            keypoints[child, :2] = keypoints[parent, :2] + direction / length * wanted
        extras = dict(extras)
        for name, anchor in _EXTRA_ANCHORS.items():
            if name in extras and original[anchor, 2] > 0:
                shift = keypoints[anchor, :2] - original[anchor, :2]
                extras[name] = _apply_matrix(extras[name], np.array([[1, 0, shift[0]], [0, 1, shift[1]]]))
        return keypoints, extras

    return _map_people(target, people, edit)


@dataclass(frozen=True)
class PoseEdits:
    """A set of edits for ``apply_edits``, applied to every selected person in this order.

    Attributes:
        retarget_to: give the pose this person's limb lengths (``retarget``), or None.
        limb, limb_angle: turn ``limb`` (a ``LIMB_JOINTS`` name) by degrees clockwise about its joint.
        keypoint, keypoint_x, keypoint_y: move that keypoint to (x, y), fractions of the canvas
            (0..1); with ``clear_keypoint`` make it missing instead.
        mirror: flip left and right.
        scale, rotate: about the pose's centre; rotate in degrees clockwise.
        translate_x, translate_y: fractions of the canvas width and height.
    """

    retarget_to: Pose | None = None
    limb: str | None = None
    limb_angle: float = 0.0
    keypoint: str | None = None
    keypoint_x: float = 0.5
    keypoint_y: float = 0.5
    clear_keypoint: bool = False
    mirror: bool = False
    scale: float = 1.0
    rotate: float = 0.0
    translate_x: float = 0.0
    translate_y: float = 0.0


def apply_edits(pose: Pose, edits: PoseEdits, people: Iterable[int] | None = None) -> Pose:
    """``pose`` with ``edits`` applied to ``people`` (all when None); a frame with nobody is unchanged."""
    if pose.num_people == 0:
        return pose
    people = None if people is None else list(people)
    if edits.retarget_to is not None:
        pose = retarget(pose, edits.retarget_to, people=people)
    if edits.limb is not None and edits.limb_angle:
        pose = rotate_limb(pose, edits.limb, edits.limb_angle, people)
    if edits.keypoint is not None:
        if edits.clear_keypoint:
            pose = clear_keypoint(pose, edits.keypoint, people)
        else:
            pose = set_keypoint(pose, edits.keypoint, edits.keypoint_x * (pose.width - 1),
                                edits.keypoint_y * (pose.height - 1), people=people)
    if edits.mirror:
        pose = mirror_pose(pose, people)
    if edits.scale != 1.0:
        pose = scale_pose(pose, edits.scale, people)
    if edits.rotate:
        pose = rotate_pose(pose, edits.rotate, people)
    if edits.translate_x or edits.translate_y:
        pose = translate_pose(pose, edits.translate_x * pose.width, edits.translate_y * pose.height, people)
    return pose
