"""Pose sequences from keyframes: two or more poses become a smooth animation.

Between two keyframes each bone of the skeleton tree (``pose_edit.BONES``,
rooted at the neck) turns about its parent joint along the shorter arc, and its
length changes linearly; the neck moves in a straight line. A limb whose
length is the same in both keyframes therefore keeps that length in every
frame, and the keyframes themselves come out exactly.

A keypoint missing in one keyframe of a pair keeps the bone it has in the
other (it stays attached to its parent and moves with it); one missing in both
stays missing. People are matched by their index; a keyframe with fewer people
leaves the others as they are in the keyframe that has them.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .limits import MAX_POSE_FRAMES
from .pose import Pose, PoseError
from .pose_edit import BONES

EASINGS = ("linear", "ease in-out", "ease in", "ease out")
_ROOT = 1  # the neck


def ease(t: np.ndarray | float, easing: str) -> np.ndarray:
    """``t`` in [0, 1] mapped by ``easing`` (one of ``EASINGS``); 0 and 1 stay where they are."""
    t = np.asarray(t, dtype=np.float64)
    if easing == "linear":
        return t
    if easing == "ease in-out":
        return t * t * (3 - 2 * t)
    if easing == "ease in":
        return t * t
    if easing == "ease out":
        return 1 - (1 - t) ** 2
    raise PoseError(f"easing: unknown choice {easing!r}; choose one of {list(EASINGS)}")


def _polar(keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bone (parent, child): length, angle (radians) and whether both ends are present."""
    start, end = keypoints[[p for p, _ in BONES], :2], keypoints[[c for _, c in BONES], :2]
    vector = end - start
    present = (keypoints[[p for p, _ in BONES], 2] > 0) & (keypoints[[c for _, c in BONES], 2] > 0)
    return np.hypot(vector[:, 0], vector[:, 1]), np.arctan2(vector[:, 1], vector[:, 0]), present


def _between_people(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """(18, 3) keypoints a fraction ``t`` of the way from person ``a`` to person ``b``."""
    if t == 0.0:
        return a.copy()
    if t == 1.0:
        return b.copy()
    length_a, angle_a, present_a = _polar(a)
    length_b, angle_b, present_b = _polar(b)
    out = np.zeros_like(a)
    if a[_ROOT, 2] > 0 and b[_ROOT, 2] > 0:
        out[_ROOT] = a[_ROOT] + (b[_ROOT] - a[_ROOT]) * t
    elif a[_ROOT, 2] > 0 or b[_ROOT, 2] > 0:
        out[_ROOT] = a[_ROOT] if a[_ROOT, 2] > 0 else b[_ROOT]
    for bone, (parent, child) in enumerate(BONES):
        if out[parent, 2] <= 0:
            # A child of a missing joint: where both keyframes have it, straight between them.
            if a[child, 2] > 0 and b[child, 2] > 0:
                out[child] = a[child] + (b[child] - a[child]) * t
            continue
        if present_a[bone] and present_b[bone]:
            turn = math.remainder(angle_b[bone] - angle_a[bone], 2 * math.pi)
            angle, length = angle_a[bone] + turn * t, length_a[bone] + (length_b[bone] - length_a[bone]) * t
            confidence = a[child, 2] + (b[child, 2] - a[child, 2]) * t
        elif present_a[bone] or present_b[bone]:
            kept = 0 if present_a[bone] else 1
            angle, length = (angle_a, angle_b)[kept][bone], (length_a, length_b)[kept][bone]
            confidence = (a, b)[kept][child, 2]
        else:
            continue
        out[child, :2] = out[parent, :2] + length * np.array([math.cos(angle), math.sin(angle)])
        out[child, 2] = confidence
    return out


def _between(a: Pose, b: Pose, t: float) -> Pose:
    people = max(a.num_people, b.num_people)
    keypoints = []
    for index in range(people):
        if index >= a.num_people:
            keypoints.append(b.keypoints[index])
        elif index >= b.num_people:
            keypoints.append(a.keypoints[index])
        else:
            keypoints.append(_between_people(a.keypoints[index], b.keypoints[index], t))
    points = np.stack(keypoints) if keypoints else np.zeros((0, *a.keypoints.shape[1:]), np.float32)
    extras = a.extras if t < 0.5 else b.extras
    pose = Pose(points, a.width, a.height, extras if len(extras) == len(points) else ())
    # Keypoints that swing past the canvas edge become missing, by the rule every pose edit uses.
    return pose.map_points(lambda p: p, a.width, a.height)


def interpolate_keyframes(keyframes: Sequence[Pose], frames: int, easing: str = "linear",
                          loop: bool = False) -> list[Pose]:
    """``frames`` poses passing through ``keyframes`` in order, evenly spaced in time.

    Keyframe k lands exactly on frame round(k * (frames - 1) / (K - 1)) (K keyframes;
    with ``loop`` the first keyframe is appended as the last, and the repeated end
    frame dropped, so the sequence can repeat seamlessly). Keyframes on another
    canvas are resized to the first's. ``easing`` shapes the time between each pair.
    """
    keyframes = list(keyframes)
    if len(keyframes) < 2:
        raise PoseError(f"keyframes: need at least two poses, got {len(keyframes)}")
    if easing not in EASINGS:
        raise PoseError(f"easing: unknown choice {easing!r}; choose one of {list(EASINGS)}")
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or not 2 <= frames <= MAX_POSE_FRAMES:
        raise PoseError(f"frames must be a whole number from 2 to {MAX_POSE_FRAMES}, got {frames!r}")
    width, height = keyframes[0].width, keyframes[0].height
    keyframes = [k if (k.width, k.height) == (width, height) else k.resized(width, height) for k in keyframes]
    if loop:
        keyframes.append(keyframes[0])
    count = frames + 1 if loop else frames
    if count < len(keyframes):
        raise PoseError(f"frames: {frames} frames cannot hold {len(keyframes) - (1 if loop else 0)} keyframes "
                        f"{'looped ' if loop else ''}(need at least {len(keyframes) - (1 if loop else 0)})")
    marks = np.round(np.linspace(0, count - 1, len(keyframes))).astype(int)
    sequence = []
    for frame in range(count):
        segment = min(int(np.searchsorted(marks, frame, side="right")) - 1, len(keyframes) - 2)
        start, stop = marks[segment], marks[segment + 1]
        t = float(ease((frame - start) / (stop - start), easing))
        sequence.append(_between(keyframes[segment], keyframes[segment + 1], t))
    return sequence[:frames]
