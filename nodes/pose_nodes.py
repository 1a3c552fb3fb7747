"""Pose nodes: estimate poses in photos, and edit poses."""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np
import torch
from PIL import Image

from rptgan_core import pose_edit
from rptgan_core.pose import KEYPOINT_NAMES, Pose, PoseError, draw_skeleton, resize_image

from . import comfy_compat, estimators
from .convert import (
    COORDINATES_INPUT,
    NodeInputError,
    check_image,
    image_to_chw,
    image_to_uint8,
    keypoints_json,
    poses_from_keypoints,
    poses_to_keypoints,
    require_people,
)
from .node_types import CATEGORY

IF_NO_PERSON = ("error", "empty pose")
NO_LIMB = "none"
NO_KEYPOINT = "none"
ALL_PEOPLE = -1


def _skeleton_over(pose: Pose, picture: np.ndarray | None, dim: float = 0.5) -> np.ndarray:
    """The pose drawn on black, or over ``picture`` (H, W, 3 uint8 at the pose canvas size) dimmed."""
    if picture is None:
        return draw_skeleton(pose)
    return draw_skeleton(pose, (picture.astype(np.float32) * dim).astype(np.uint8))


class EstimatePose:
    """IMAGE -> POSE_KEYPOINT (OpenPose JSON, one frame per image) and a skeleton picture."""

    DESCRIPTION = (
        "Finds people in each image with the chosen pose estimator. The pose output is OpenPose JSON "
        "(POSE_KEYPOINT), as comfyui_controlnet_aux and the openpose editors use."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = ("POSE_KEYPOINT", "IMAGE")
    RETURN_NAMES = ("pose", "preview")
    OUTPUT_TOOLTIPS = ("everyone found, one frame per image (OpenPose JSON)", "the skeletons found")
    FUNCTION = "estimate"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "photos to find people in"}),
                "backend": (estimators.backend_choices(), {"tooltip": "pose estimator"}),
                "if_no_person": (list(IF_NO_PERSON), {
                    "default": "error", "tooltip": "stop with an error, or go on with a frame that has nobody"}),
                "preview_over_image": ("BOOLEAN", {"default": False,
                                                   "tooltip": "draw the skeletons over the photo instead of on black"}),
            }
        }

    def estimate(self, image, backend: str, if_no_person: str = "error", preview_over_image: bool = False):
        image = check_image(image)
        if if_no_person not in IF_NO_PERSON:
            raise NodeInputError(f"if_no_person: unknown choice {if_no_person!r}; choose one of {list(IF_NO_PERSON)}")
        estimator = estimators.get_estimator(backend)
        progress = comfy_compat.progress_callback(len(image))
        poses, previews = [], []
        for index in range(len(image)):
            picture = image_to_uint8(image, index)
            pose = estimator.estimate(picture)
            if not pose.has_person and if_no_person == "error":
                raise NodeInputError(
                    f"no person found in image {index} of {len(image)} by the {backend!r} pose estimator; "
                    "use a clearer photo, another backend, or set if_no_person to 'empty pose'"
                )
            poses.append(pose)
            previews.append(_skeleton_over(pose, picture if preview_over_image else None))
            progress(index + 1, len(image))
        return (poses_to_keypoints(poses), torch.from_numpy(np.stack(previews).astype(np.float32) / 255.0))


def _save_temp_picture(picture: np.ndarray) -> dict:
    """Save (H, W, 3) uint8 to ComfyUI's temp folder; the {filename, subfolder, type} the frontend asks /view for."""
    digest = hashlib.sha256(picture.tobytes() + str(picture.shape).encode()).hexdigest()[:16]
    filename = f"rptgan_pose_background_{digest}.png"
    path = os.path.join(comfy_compat.temp_directory(), filename)
    if not os.path.exists(path):
        Image.fromarray(picture).save(path, compress_level=1)
    return {"filename": filename, "subfolder": "", "type": "temp"}


class EditPose:
    """POSE_KEYPOINT -> POSE_KEYPOINT with parametric edits, and a preview.

    Applied in this order: the pose from the editor (``edited_pose``) replaces the
    incoming one; retarget to the source person's limb lengths; rotate one limb;
    set or clear one keypoint; mirror; scale, rotate and translate the whole pose.
    """

    DESCRIPTION = (
        "Edits poses: the interactive editor's result (edited_pose), retargeting to another person's limb "
        "lengths, turning one limb about its joint, setting or clearing a keypoint, and mirroring, scaling, "
        "rotating and moving the whole pose. Positions are fractions of the canvas; angles degrees clockwise."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = ("POSE_KEYPOINT", "IMAGE")
    RETURN_NAMES = ("pose", "preview")
    OUTPUT_TOOLTIPS = ("the edited pose(s)", "the edited skeletons, over the image when one is connected")
    FUNCTION = "edit"

    @classmethod
    def INPUT_TYPES(cls):
        angle = {"default": 0.0, "min": -360.0, "max": 360.0, "step": 1.0}
        shift = {"default": 0.0, "min": -2.0, "max": 2.0, "step": 0.01}
        return {
            "required": {
                "pose": ("POSE_KEYPOINT", {"tooltip": "the pose(s) to edit"}),
                "mirror": ("BOOLEAN", {"default": False, "tooltip": "flip left and right"}),
                "scale": ("FLOAT", {"default": 1.0, "min": 0.05, "max": 20.0, "step": 0.01,
                                    "tooltip": "grow or shrink the whole pose about its centre"}),
                "rotate": ("FLOAT", dict(angle, tooltip="degrees clockwise about the pose centre")),
                "translate_x": ("FLOAT", dict(shift, tooltip="fraction of the canvas width")),
                "translate_y": ("FLOAT", dict(shift, tooltip="fraction of the canvas height")),
                "limb": ([NO_LIMB, *pose_edit.LIMB_JOINTS], {"default": NO_LIMB,
                                                             "tooltip": "the limb to rotate about its joint"}),
                "limb_angle": ("FLOAT", dict(angle, tooltip="degrees clockwise about the limb's joint")),
                "keypoint": ([NO_KEYPOINT, *KEYPOINT_NAMES], {"default": NO_KEYPOINT,
                                                              "tooltip": "one keypoint to set or clear"}),
                "keypoint_action": (["set", "clear"], {"default": "set",
                                                      "tooltip": "move the keypoint to x, y, or make it missing"}),
                "keypoint_x": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.001,
                                         "tooltip": "where to set the keypoint, as a fraction of the canvas width"}),
                "keypoint_y": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.001,
                                         "tooltip": "where to set the keypoint, as a fraction of the canvas height"}),
                "person": ("INT", {"default": ALL_PEOPLE, "min": ALL_PEOPLE, "max": 63,
                                   "tooltip": "who to edit: -1 everyone, else the person's index"}),
                "edited_pose": ("STRING", {"default": "", "multiline": True,
                                           "tooltip": "POSE_KEYPOINT JSON from the pose editor; empty: use the input"}),
            },
            "optional": {
                "retarget_to": ("POSE_KEYPOINT", {"tooltip": "give the pose this person's limb lengths"}),
                "image": ("IMAGE", {"tooltip": "shown behind the preview and in the pose editor"}),
                "coordinates": COORDINATES_INPUT,
            },
        }

    def edit(self, pose, mirror: bool = False, scale: float = 1.0, rotate: float = 0.0, translate_x: float = 0.0,
             translate_y: float = 0.0, limb: str = NO_LIMB, limb_angle: float = 0.0, keypoint: str = NO_KEYPOINT,
             keypoint_action: str = "set", keypoint_x: float = 0.5, keypoint_y: float = 0.5,
             person: int = ALL_PEOPLE, edited_pose: str = "", retarget_to=None, image=None,
             coordinates: str = "auto"):
        incoming = poses_from_keypoints(pose, "pose", coordinates=coordinates)
        poses = incoming
        if edited_pose and edited_pose.strip():
            poses = poses_from_keypoints(edited_pose, "edited_pose")
            if len(poses) != len(incoming):
                raise NodeInputError(
                    f"edited_pose has {len(poses)} frames but the incoming pose has {len(incoming)}; "
                    "reset the editor (clear edited_pose) or edit the new pose"
                )
        if limb != NO_LIMB and limb not in pose_edit.LIMB_JOINTS:
            raise NodeInputError(f"limb: unknown limb {limb!r}; choose one of {list(pose_edit.LIMB_JOINTS)}")
        if keypoint_action not in ("set", "clear"):
            raise NodeInputError(f"keypoint_action must be 'set' or 'clear', got {keypoint_action!r}")
        numbers = {"scale": scale, "rotate": rotate, "translate_x": translate_x, "translate_y": translate_y,
                   "limb_angle": limb_angle, "keypoint_x": keypoint_x, "keypoint_y": keypoint_y}
        for name, value in numbers.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise NodeInputError(f"{name} must be a finite number, got {value!r}")
        people = None if person == ALL_PEOPLE else [person]
        for index, frame in enumerate(poses):
            if people is not None and frame.num_people and person >= frame.num_people:
                raise NodeInputError(f"person: frame {index} has {frame.num_people} people; "
                                     f"person {person} does not exist")

        source = None
        if retarget_to is not None:
            sources = poses_from_keypoints(retarget_to, "retarget_to", coordinates=coordinates)
            require_people(sources[:1], "retarget_to")
            source = sources[0]
        edits = pose_edit.PoseEdits(
            retarget_to=source, limb=None if limb == NO_LIMB else limb, limb_angle=limb_angle,
            keypoint=None if keypoint == NO_KEYPOINT else keypoint, keypoint_x=keypoint_x, keypoint_y=keypoint_y,
            clear_keypoint=keypoint_action == "clear", mirror=mirror, scale=scale, rotate=rotate,
            translate_x=translate_x, translate_y=translate_y)
        try:
            edited = [pose_edit.apply_edits(frame, edits, people) for frame in poses]
        except PoseError as error:
            raise NodeInputError(f"edit: {error}") from None

        backgrounds, saved = self._backgrounds(image, edited)
        previews = [_skeleton_over(frame, backgrounds[i] if backgrounds else None) for i, frame in enumerate(edited)]
        size = (edited[0].height, edited[0].width)
        previews = [p if p.shape[:2] == size else np.asarray(Image.fromarray(p).resize(size[::-1])) for p in previews]
        return {
            "ui": {"rptgan_pose": [keypoints_json(poses_to_keypoints(incoming))], "rptgan_background": saved},
            "result": (poses_to_keypoints(edited), torch.from_numpy(np.stack(previews).astype(np.float32) / 255.0)),
        }

    @staticmethod
    def _backgrounds(image, poses: list[Pose]) -> tuple[list[np.ndarray], list[dict]]:
        """The optional image scaled to each frame's canvas for the previews (picture i for
        frame i, or the one picture for all), and its first picture saved for the editor."""
        if image is None:
            return [], []
        image = check_image(image, "image")
        chw = image_to_chw(image)
        pictures = []
        for i, pose in enumerate(poses):
            picture = resize_image(chw[min(i, len(chw) - 1)][None], pose.height, pose.width)[0]
            pictures.append((picture.permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8))
        return pictures, [_save_temp_picture(image_to_uint8(image, 0))]
