"""Loader nodes: a person photo from the input folder, and poses from JSON files."""

from __future__ import annotations

import numpy as np
import torch

from rptgan_core.config import get_config
from rptgan_core.framing import CropBox, aspect_box, crop_frames_to_person, crop_to_box, person_box
from rptgan_core.imageio import ImageLoadError, load_image
from rptgan_core.jsonio import read_json_file
from rptgan_core.limits import MAX_CLIP_BYTES, MAX_CLIP_FRAMES
from rptgan_core.pose import PoseError

from . import comfy_compat, estimators
from .convert import (
    COORDINATES_INPUT,
    NodeInputError,
    image_to_chw,
    pose_preview,
    poses_from_keypoints,
    poses_to_keypoints,
)
from .node_types import CATEGORY, CropInfo

NO_CROP = "off"
SOURCE_ASPECT = "source"
ASPECT_PRESETS = ("deepfashion", "synthetic", "market")
TRANSPARENT_FILLS = {"keep colours": None, "black": 0.0, "white": 1.0, "grey": 0.5}


def aspect_choices() -> list[str]:
    """"source" and one entry per model preset, e.g. "deepfashion (176x256)"."""
    choices = [SOURCE_ASPECT]
    for name in ASPECT_PRESETS:
        config = get_config(name)
        choices.append(f"{name} ({config.image_width}x{config.image_height})")
    return choices


def _aspect(choice: str) -> tuple[float | None, float]:
    """(width / height or None, padding value) for an ``aspect_choices`` entry."""
    if choice == SOURCE_ASPECT:
        return None, 0.0
    name = choice.split(" ", 1)[0]
    if name not in ASPECT_PRESETS:
        raise NodeInputError(f"aspect: unknown choice {choice!r}; choose one of {aspect_choices()}")
    config = get_config(name)
    return config.image_width / config.image_height, config.letterbox_fill


class LoadPersonImage:
    """A person photo from ComfyUI's input folder, optionally framed on the person."""

    DESCRIPTION = (
        "Loads a photo from the input folder (upload works as in Load Image). Handles transparency, "
        "greyscale, 16-bit files and EXIF rotation. With a pose estimator chosen in person_crop it cuts the "
        "main person out at the chosen aspect; 'crop' tells Pose Transfer how to paste results back."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE", "MASK", "RPTGAN_CROP")
    RETURN_NAMES = ("image", "mask", "crop")
    OUTPUT_TOOLTIPS = ("the photo, cropped to the person when person_crop is on",
                       "1 where the photo is transparent (as Load Image)",
                       "where the crop came from, for Pose Transfer's source frame output")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": (comfy_compat.list_input_files(comfy_compat.IMAGE_EXTENSIONS), {
                    "image_upload": True, "tooltip": "a photo of one person in ComfyUI's input folder"}),
                "person_crop": ([NO_CROP] + estimators.backend_choices(), {
                    "default": NO_CROP,
                    "tooltip": "pose estimator that finds the person to crop to; off keeps the whole photo"}),
                "aspect": (aspect_choices(), {
                    "default": SOURCE_ASPECT, "tooltip": "shape of the output: a model's canvas, or the photo's own"}),
                "margin": ("FLOAT", {"default": 0.15, "min": 0.0, "max": 2.0, "step": 0.01,
                                     "tooltip": "space around the person, as a fraction of their height"}),
                "transparency": (list(TRANSPARENT_FILLS), {
                    "default": "keep colours", "tooltip": "what transparent pixels become in the image output"}),
            }
        }

    @classmethod
    def VALIDATE_INPUTS(cls, image):
        return comfy_compat.input_file_problem(image, "image")

    @classmethod
    def IS_CHANGED(cls, image, **_):
        return comfy_compat.input_file_version(image, "image")

    def load(self, image: str, person_crop: str = NO_CROP, aspect: str = SOURCE_ASPECT, margin: float = 0.15,
             transparency: str = "keep colours"):
        path = comfy_compat.resolve_input_file(image, "image")
        try:
            loaded = load_image(path)
        except ImageLoadError as error:
            raise NodeInputError(f"image: {error}") from None
        if transparency not in TRANSPARENT_FILLS:
            raise NodeInputError(f"transparency: unknown choice {transparency!r}; "
                                 f"choose one of {list(TRANSPARENT_FILLS)}")
        fill_colour = TRANSPARENT_FILLS[transparency]
        rgb = loaded.rgb if fill_colour is None else loaded.composited(fill_colour)
        frame = image_to_chw(torch.from_numpy(np.ascontiguousarray(rgb))[None])
        mask = torch.zeros(1, 1, loaded.height, loaded.width) if loaded.alpha is None else \
            1.0 - torch.from_numpy(loaded.alpha)[None, None]
        ratio, pad = _aspect(aspect)

        if person_crop != NO_CROP:
            picture = (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)
            pose = estimators.get_estimator(person_crop).estimate(picture)
            if not pose.has_person:
                raise NodeInputError(f"person_crop: {person_crop} found no person in {image!r}")
            box = person_box(pose, (loaded.height, loaded.width), ratio, margin)
        elif ratio is not None:
            box = aspect_box((loaded.height, loaded.width), ratio)
        else:
            box = CropBox.whole(loaded.height, loaded.width)

        try:
            cropped = crop_to_box(frame, box, pad)
        except ValueError as error:
            raise NodeInputError(f"aspect: {aspect} on {image!r}: {error}") from None
        cropped_mask = crop_to_box(mask, box, 1.0)
        info = CropInfo(frame, box)
        return (cropped.permute(0, 2, 3, 1).contiguous(), cropped_mask[:, 0].contiguous(), info)


class LoadPoseKeypoints:
    """Poses from a JSON file in the input folder: OpenPose JSON (one frame or a list of
    frames, pixel or normalised coordinates, 18, 25 or 33 keypoints a person)."""

    DESCRIPTION = "Loads a pose or a pose sequence (OpenPose JSON) from the input folder as POSE_KEYPOINT."
    CATEGORY = CATEGORY
    RETURN_TYPES = ("POSE_KEYPOINT", "IMAGE", "INT")
    RETURN_NAMES = ("pose", "preview", "frames")
    OUTPUT_TOOLTIPS = ("the poses, one frame per pose", "the skeletons on black", "how many frames the file holds")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "pose_file": (comfy_compat.list_input_files(comfy_compat.POSE_EXTENSIONS), {
                    "tooltip": "a .json file in ComfyUI's input folder"}),
                "canvas_width": ("INT", {"default": 512, "min": 8, "max": 16384,
                                         "tooltip": "canvas for frames that do not state their size"}),
                "canvas_height": ("INT", {"default": 512, "min": 8, "max": 16384,
                                          "tooltip": "canvas for frames that do not state their size"}),
            },
            "optional": {
                "coordinates": COORDINATES_INPUT,
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, pose_file):
        return comfy_compat.input_file_problem(pose_file, "pose file")

    @classmethod
    def IS_CHANGED(cls, pose_file, **_):
        return comfy_compat.input_file_version(pose_file, "pose file")

    def load(self, pose_file: str, canvas_width: int = 512, canvas_height: int = 512, coordinates: str = "auto"):
        path = comfy_compat.resolve_input_file(pose_file, "pose file")
        data = read_json_file(path, f"pose_file: {pose_file!r}", NodeInputError)
        poses = poses_from_keypoints(data, "pose_file", (canvas_width, canvas_height), coordinates)
        return (poses_to_keypoints(poses), pose_preview(poses), len(poses))


class LoadVideoFrames:
    """Frames of a video or an animated image in the input folder, as an IMAGE batch."""

    DESCRIPTION = ("Loads the frames of a video (mp4, avi, mov, webm, ... as OpenCV reads them) or an animated "
                   "image (WebP, GIF, APNG) from the input folder: every n-th frame, up to max_frames. With an "
                   "estimator in person_crop, each frame is cut around its main person at the chosen aspect (as "
                   "Load Person Image does), all at the first frame's crop size. For the Fine-tune node (frames of "
                   "one person) and for poses from a clip (through Estimate Pose).")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE", "IMAGE", "INT")
    RETURN_NAMES = ("frames", "first_frame", "count")
    OUTPUT_TOOLTIPS = ("the frames read", "the first of them, e.g. as Pose Transfer's source", "how many frames")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "video": (comfy_compat.list_input_files(comfy_compat.VIDEO_EXTENSIONS), {
                    "tooltip": "a video or animated image in ComfyUI's input folder"}),
                "every": ("INT", {"default": 1, "min": 1, "max": 1000, "tooltip": "keep every n-th frame"}),
                "max_frames": ("INT", {"default": 120, "min": 1, "max": MAX_CLIP_FRAMES,
                                       "tooltip": "read at most this many frames"}),
            },
            "optional": {
                "person_crop": ([NO_CROP] + estimators.backend_choices(), {
                    "default": NO_CROP, "tooltip": "pose estimator that finds the person to crop each frame to"}),
                "aspect": (aspect_choices()[1:], {"default": aspect_choices()[1],
                                                  "tooltip": "shape of the crops: a model's canvas"}),
                "margin": ("FLOAT", {"default": 0.15, "min": 0.0, "max": 2.0, "step": 0.01,
                                     "tooltip": "space around the person, as a fraction of their height"}),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, video):
        return comfy_compat.input_file_problem(video, "video")

    @classmethod
    def IS_CHANGED(cls, video, **_):
        return comfy_compat.input_file_version(video, "video")

    def load(self, video: str, every: int = 1, max_frames: int = 120, person_crop: str = NO_CROP,
             aspect: str = "", margin: float = 0.15):
        from rptgan_core.video_people import VideoError, read_video, video_info

        path = comfy_compat.resolve_input_file(video, "video")
        try:
            info = video_info(path)
            wanted = min(max_frames, max(1, int(info["frames"] or max_frames) // every))
            if wanted * info["width"] * info["height"] * 3 * 4 > MAX_CLIP_BYTES:
                raise NodeInputError(f"video: {wanted} frames of {int(info['width'])}x{int(info['height'])} would "
                                     f"take more than {MAX_CLIP_BYTES // 2**30} GB; lower max_frames or raise every")
            frames = [frame for _, frame in read_video(path, every=every, max_frames=max_frames)]
        except VideoError as error:
            raise NodeInputError(f"video: {error}") from None
        if len({frame.shape for frame in frames}) > 1:
            raise NodeInputError(f"video: {video!r} changes size between frames; re-encode it at one size")
        batch = torch.from_numpy(np.stack(frames).astype(np.float32) / 255.0)
        if person_crop != NO_CROP:
            batch = self._crop_to_person(batch, frames, person_crop, aspect or aspect_choices()[1], margin)
        return (batch, batch[:1].clone(), len(frames))

    @staticmethod
    def _crop_to_person(batch: torch.Tensor, frames: list, backend: str, aspect: str, margin: float) -> torch.Tensor:
        """Each frame cut around its main person at ``aspect``, all resized to the first crop's size."""
        ratio, fill = _aspect(aspect)
        if ratio is None:
            raise NodeInputError(f"aspect: choose a model's canvas for cropping, got {aspect!r}")
        estimator = estimators.get_estimator(backend)
        poses = [estimator.estimate(frame) for frame in frames]
        try:
            crops, _ = crop_frames_to_person(image_to_chw(batch), poses, ratio, margin, fill)
        except PoseError as error:
            raise NodeInputError(f"person_crop: {backend} found no person in {error}") from None
        return crops.permute(0, 2, 3, 1).contiguous()
