"""Poses: the 18-keypoint type, its file formats, pose maps, drawing and geometry."""

from .formats import (
    pose_from_openpose_frame,
    pose_from_patn_row,
    pose_to_openpose_frame,
    pose_to_patn_lists,
    poses_from_openpose_json,
    poses_to_openpose_json,
    read_patn_annotations,
    write_patn_annotations,
)
from .geometry import Letterbox, affine, crop, hflip, letterbox, resize, resize_image, rotation_matrix
from .keypoints import Pose, PoseError
from .render import default_sigma, draw_skeleton, pose_heatmaps, pose_to_heatmaps, soft_body_mask
from .skeleton import (
    FLIP_PERMUTATION,
    KEYPOINT_FORMAT,
    KEYPOINT_INDEX,
    KEYPOINT_NAMES,
    LIMBS,
    NUM_KEYPOINTS,
    OPENPOSE_COLORS,
)

__all__ = [
    "FLIP_PERMUTATION", "KEYPOINT_FORMAT", "KEYPOINT_INDEX", "KEYPOINT_NAMES", "LIMBS", "NUM_KEYPOINTS",
    "OPENPOSE_COLORS", "Letterbox", "Pose", "PoseError", "affine", "crop", "default_sigma", "draw_skeleton",
    "hflip", "letterbox", "pose_from_openpose_frame", "pose_from_patn_row", "pose_heatmaps", "pose_to_heatmaps",
    "pose_to_openpose_frame", "pose_to_patn_lists", "poses_from_openpose_json", "poses_to_openpose_json",
    "read_patn_annotations", "resize", "resize_image", "rotation_matrix", "soft_body_mask", "write_patn_annotations",
]
