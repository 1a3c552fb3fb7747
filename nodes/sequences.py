"""Pose library and keyframe nodes: named poses in and out of the library, and
keyframes turned into a smooth pose sequence."""

from __future__ import annotations

from rptgan_core import pose_library
from rptgan_core.keyframes import EASINGS, interpolate_keyframes
from rptgan_core.limits import MAX_POSE_FRAMES
from rptgan_core.pose import PoseError
from rptgan_core.pose_library import PoseLibraryError

from . import comfy_compat
from .convert import (
    COORDINATES_INPUT,
    NodeInputError,
    pose_preview,
    poses_from_keypoints,
    poses_to_keypoints,
    require_people,
)
from .node_types import CATEGORY

_EXTRA_KEYFRAMES = ("keyframes_2", "keyframes_3", "keyframes_4")


def _library_pose(name: str):
    try:
        return pose_library.load_pose(name, comfy_compat.pose_library_directory())
    except PoseLibraryError as error:
        raise NodeInputError(f"name: {error}") from None


class PoseLibrary:
    """A named pose: built in (standing, T-pose, walking phases, ...) or saved from the editor."""

    DESCRIPTION = (
        "A pose by name: the built-in ones (standing, T-pose, A-pose, walking phases, running, waving, arms up, "
        "sitting, jumping), all one person on DeepFashion's 176x256 canvas, or one saved from the pose editor "
        "or with Save Pose to Library (OpenPose JSON in ComfyUI's user folder, rptgan_poses)."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = ("POSE_KEYPOINT", "IMAGE")
    RETURN_NAMES = ("pose", "preview")
    OUTPUT_TOOLTIPS = ("the pose, one frame", "its skeleton on black")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        names = pose_library.pose_names(comfy_compat.pose_library_directory())
        return {"required": {"name": (names, {"default": "standing",
                                              "tooltip": "built-in poses first, then saved ones"})}}

    @classmethod
    def VALIDATE_INPUTS(cls, name):
        try:
            _library_pose(name)
        except NodeInputError as error:
            return str(error)
        return True

    @classmethod
    def IS_CHANGED(cls, name):
        if name in pose_library.BUILTIN_NAMES:
            return name
        try:
            path = pose_library.saved_pose_path(name, comfy_compat.pose_library_directory())
            return comfy_compat.file_fingerprint(path)
        except (PoseLibraryError, OSError):
            return float("nan")

    def load(self, name: str):
        pose = _library_pose(name)
        return (poses_to_keypoints([pose]), pose_preview([pose]))


class SavePoseToLibrary:
    """POSE_KEYPOINT -> a named pose in the library (one frame of it), and the pose passed on."""

    DESCRIPTION = ("Saves one frame of a pose under a name in the pose library (ComfyUI's user folder, "
                   "rptgan_poses), where Pose Library and the pose editor find it; the same name is replaced.")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("POSE_KEYPOINT",)
    RETURN_NAMES = ("pose",)
    OUTPUT_TOOLTIPS = ("the incoming pose, unchanged",)
    OUTPUT_NODE = True
    FUNCTION = "save"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "pose": ("POSE_KEYPOINT", {"tooltip": "the pose to save"}),
                "name": ("STRING", {"default": "my pose", "tooltip": "letters, digits, spaces, _ . - (at most 64)"}),
                "frame": ("INT", {"default": 0, "min": 0, "max": MAX_POSE_FRAMES - 1,
                                  "tooltip": "which frame of a sequence to save"}),
            },
            "optional": {"coordinates": COORDINATES_INPUT},
        }

    def save(self, pose, name: str, frame: int = 0, coordinates: str = "auto"):
        poses = poses_from_keypoints(pose, "pose", coordinates=coordinates)
        if not 0 <= frame < len(poses):
            raise NodeInputError(f"frame: the pose has {len(poses)} frames; frame {frame} does not exist")
        require_people(poses[frame:frame + 1], "pose")
        try:
            path = pose_library.save_pose(name, poses[frame], comfy_compat.pose_library_directory())
        except PoseLibraryError as error:
            raise NodeInputError(f"name: {error}") from None
        return {"ui": {"text": [f"saved {name!r} to {path}"]}, "result": (pose,)}


class PoseKeyframes:
    """Keyframe poses -> a pose sequence that moves smoothly through them."""

    DESCRIPTION = (
        "Turns two or more poses into a smooth sequence: each limb turns about its joint between keyframes, so "
        "limbs keep their length. Every frame of 'keyframes' is a keyframe, then those of keyframes_2..4 in order; "
        "they are spread evenly over 'frames'. Connect the result to Pose Transfer to animate a person."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = ("POSE_KEYPOINT", "IMAGE", "INT")
    RETURN_NAMES = ("pose", "preview", "frames")
    OUTPUT_TOOLTIPS = ("the sequence, one frame per pose", "its skeletons on black", "how many frames")
    FUNCTION = "interpolate"

    @classmethod
    def INPUT_TYPES(cls):
        more = {name: ("POSE_KEYPOINT", {"tooltip": "more keyframes, after the ones before"})
                for name in _EXTRA_KEYFRAMES}
        return {
            "required": {
                "keyframes": ("POSE_KEYPOINT", {"tooltip": "the first keyframe(s): each frame is one"}),
                "frames": ("INT", {"default": 24, "min": 2, "max": MAX_POSE_FRAMES,
                                   "tooltip": "length of the sequence, keyframes included"}),
                "easing": (list(EASINGS), {
                    "default": "ease in-out", "tooltip": "how motion speeds up and slows down between keyframes"}),
                "loop": ("BOOLEAN", {"default": False, "tooltip": "end moving back towards the first keyframe, "
                                                                  "so the sequence repeats seamlessly"}),
            },
            "optional": {**more, "coordinates": COORDINATES_INPUT},
        }

    def interpolate(self, keyframes, frames: int = 24, easing: str = "ease in-out", loop: bool = False,
                    keyframes_2=None, keyframes_3=None, keyframes_4=None, coordinates: str = "auto"):
        poses = poses_from_keypoints(keyframes, "keyframes", coordinates=coordinates)
        for name, value in zip(_EXTRA_KEYFRAMES, (keyframes_2, keyframes_3, keyframes_4)):
            if value is not None:
                poses += poses_from_keypoints(value, name, coordinates=coordinates)
        try:
            sequence = interpolate_keyframes(poses, frames, easing, loop)
        except PoseError as error:
            raise NodeInputError(str(error)) from None
        return (poses_to_keypoints(sequence), pose_preview(sequence), len(sequence))
