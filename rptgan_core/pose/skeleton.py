"""The 18-keypoint OpenPose-COCO skeleton the model is trained on.

Indices, limbs and colours follow OpenPose and the PATN data files, so poses
drawn here look like the ones comfyui_controlnet_aux and the openpose editors
produce.
"""

from __future__ import annotations

KEYPOINT_FORMAT = "openpose18"

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_eye",
    "left_eye",
    "right_ear",
    "left_ear",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
KEYPOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(KEYPOINT_NAMES)}

# Limb pairs in OpenPose's drawing order (the last two are the shoulder-ear
# "limbs" OpenPose draws but a body model has no bone for).
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
    (2, 16), (5, 17),
)

# For a horizontal flip: the keypoint that takes each index's place.
FLIP_PERMUTATION: tuple[int, ...] = tuple(
    KEYPOINT_INDEX[
        name.replace("right_", "\0").replace("left_", "right_").replace("\0", "left_")
    ]
    for name in KEYPOINT_NAMES
)

# OpenPose's keypoint colours (RGB), also used for the limb that starts at it.
OPENPOSE_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0),
    (85, 255, 0), (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255),
    (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255), (170, 0, 255),
    (255, 0, 255), (255, 0, 170), (255, 0, 85),
)

# BODY_25 index for each of the 18 keypoints (BODY_25 adds mid-hip at 8 and feet at 19..24).
BODY25_TO_OPENPOSE18: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)

# BlazePose-33 landmark for each of the 18 keypoints; the neck (None) is the shoulders' midpoint.
BLAZEPOSE33_TO_OPENPOSE18: tuple[int | None, ...] = (
    0, None, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7,
)
BLAZEPOSE_SHOULDERS = (11, 12)
