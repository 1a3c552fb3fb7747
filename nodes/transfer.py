"""Pose transfer nodes: load an RPT-GAN checkpoint, and generate the source person in target poses."""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict

import torch

from rptgan_core.framing import paste_into_frame
from rptgan_core.pose import resize_image

from . import comfy_compat, estimators
from .convert import (
    COORDINATES_INPUT,
    NodeInputError,
    check_image,
    chw_to_image,
    image_to_chw,
    image_to_uint8,
    poses_from_keypoints,
    require_people,
)
from .node_types import CATEGORY, CropInfo

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "float32", "float16", "bfloat16")
OUTPUTS = ("model size", "pose canvas", "source frame")
DEVICE_OPTIONS = {"default": "auto", "tooltip": "auto: the device ComfyUI uses"}
PRECISION_OPTIONS = {"default": "auto",
                     "tooltip": "auto: bfloat16 on a CPU or GPU that computes it natively (several times faster), "
                                "float16 on other GPUs, float32 elsewhere; float32 for exact results"}
_ASPECT_TOLERANCE = 0.02
# The pasted result fades into the photo over this share of the crop's shorter side.
PASTE_FEATHER = 0.08
_CACHE_SIZE = 2
_pipelines: OrderedDict[tuple, object] = OrderedDict()
_pipelines_lock = threading.Lock()


def checkpoint_choices() -> list[str]:
    """The checkpoint files in the rptgan model folders, as the dropdowns list them."""
    return comfy_compat.model_files(comfy_compat.MODEL_FOLDER)


def _checkpoint_combo(choices: list[str], tooltip: str) -> tuple:
    """The checkpoint dropdown. An explicit default (the first file) is what the node search's
    preview shows; without one it shows "undefined"."""
    return (choices, {"default": choices[0] if choices else None, "tooltip": tooltip})


def load_pipeline(checkpoint: str, device: str = "auto", precision: str = "auto"):
    """The PoseTransferPipeline for a checkpoint name, loaded once and kept while the file is unchanged
    (the loader node and the editor's preview share it)."""
    from rptgan_core.inference import PoseTransferPipeline

    choices = checkpoint_choices()
    if checkpoint not in choices:
        raise NodeInputError(f"checkpoint {checkpoint!r} is not in the rptgan model folders; choose one of "
                             f"{choices[:20]} or put RPT-GAN .safetensors checkpoints in ComfyUI/models/rptgan")
    if device not in DEVICES:
        raise NodeInputError(f"device: unknown choice {device!r}; choose one of {list(DEVICES)}")
    if precision not in PRECISIONS:
        raise NodeInputError(f"precision: unknown choice {precision!r}; choose one of {list(PRECISIONS)}")
    try:
        path = comfy_compat.model_path(comfy_compat.MODEL_FOLDER, checkpoint)
    except FileNotFoundError as error:
        raise NodeInputError(f"checkpoint: {error}") from None
    device = comfy_compat.compute_device(device)
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_mtime_ns, stat.st_size, device, precision)
    with _pipelines_lock:
        if key in _pipelines:
            _pipelines.move_to_end(key)
            return _pipelines[key]
        pipeline = PoseTransferPipeline.from_checkpoint(path, device=device, dtype=precision)
        _pipelines[key] = pipeline
        while len(_pipelines) > _CACHE_SIZE:
            _pipelines.popitem(last=False)
        return pipeline


def describe(pipeline) -> str:
    """A short text about a loaded model: preset, canvas, how it was trained."""
    config = pipeline.config
    lines = [f"RPT-GAN {config.name}: canvas {config.image_width}x{config.image_height}, encoder {config.encoder}, "
             f"{pipeline.device} {str(pipeline.dtype).replace('torch.', '')}"]
    training = getattr(pipeline.info, "training", None) or {}
    if training:
        lines.append("training: " + json.dumps(training, sort_keys=True)[:2000])
    return "\n".join(lines)


class CheckpointLoader:
    """Loads an RPT-GAN checkpoint from models/rptgan once, for one or more Pose Transfer nodes."""

    DESCRIPTION = "Loads an RPT-GAN generator (.safetensors from models/rptgan) on the chosen device and precision."
    CATEGORY = CATEGORY
    RETURN_TYPES = ("RPTGAN_MODEL", "STRING")
    RETURN_NAMES = ("model", "info")
    OUTPUT_TOOLTIPS = ("the loaded generator, for one or more Pose Transfer nodes",
                       "what the checkpoint was trained on")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "checkpoint": _checkpoint_combo(checkpoint_choices(),
                                                "an RPT-GAN .safetensors checkpoint from models/rptgan"),
                "device": (list(DEVICES), DEVICE_OPTIONS),
                "precision": (list(PRECISIONS), PRECISION_OPTIONS),
            }
        }

    def load(self, checkpoint: str, device: str = "auto", precision: str = "auto"):
        pipeline = load_pipeline(checkpoint, device, precision)
        return (pipeline, describe(pipeline))


class PoseTransfer:
    """A source person and target poses in, the person in those poses out."""

    DESCRIPTION = (
        "Generates the source person in each target pose: one pose gives one image, a pose sequence a batch of "
        "frames. Output at the model's size, on the pose canvas, or back in the source frame (pasted into the "
        "original photo when LoadPersonImage's crop is connected). The model comes from RPT-GAN Checkpoint "
        "Loader (or Fine-tune)."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    OUTPUT_TOOLTIPS = ("one frame per pose",)
    FUNCTION = "generate"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "the source person (one image, or one per pose)"}),
                "pose": ("POSE_KEYPOINT", {"tooltip": "target pose(s); each frame's main person is used"}),
                "model": ("RPTGAN_MODEL", {"tooltip": "from RPT-GAN Checkpoint Loader, or Fine-tune"}),
                "output": (list(OUTPUTS), {
                    "default": "model size",
                    "tooltip": "the model's canvas, the pose's canvas, or the source photo (pasted back at the crop "
                               "with Load Person Image's crop)"}),
                "batch_size": ("INT", {"default": 8, "min": 1, "max": 256, "tooltip": "images per forward pass"}),
            },
            "optional": {
                "crop": ("RPTGAN_CROP", {"tooltip": "from Load Person Image: paste results back into the photo"}),
                "source_pose": ("POSE_KEYPOINT", {
                    "tooltip": "the pose of the source image (one frame, or one per source image); models that "
                               "use it estimate it from the image when this is not connected"}),
                "coordinates": COORDINATES_INPUT,
            },
        }

    def generate(self, image, pose, model, output: str = "model size", batch_size: int = 8,
                 crop: CropInfo | None = None, source_pose=None, coordinates: str = "auto"):
        image = check_image(image)
        if output not in OUTPUTS:
            raise NodeInputError(f"output: unknown choice {output!r}; choose one of {list(OUTPUTS)}")
        poses = poses_from_keypoints(pose, "pose", (image.shape[2], image.shape[1]), coordinates)
        require_people(poses, "pose")
        count = max(len(image), len(poses))
        if len(image) not in (1, count) or len(poses) not in (1, count):
            raise NodeInputError(
                f"mismatched batch sizes: {len(image)} source images and {len(poses)} pose frames "
                "(give as many of each, or one source image for a pose sequence)"
            )
        if crop is not None and not isinstance(crop, CropInfo):
            raise NodeInputError(f"crop: expected the crop output of Load Person Image, got {type(crop).__name__}")
        pipeline = model
        if not callable(pipeline) or not hasattr(pipeline, "config"):
            raise NodeInputError(f"model: expected an RPT-GAN model from RPT-GAN Checkpoint Loader, "
                                 f"got {type(pipeline).__name__}")

        source_poses = self._source_poses(pipeline, image, source_pose, coordinates)
        comfy_compat.check_interrupt()
        mode = "model" if output == "model size" else "pose"
        generated = pipeline(image_to_chw(image), poses, source_poses=source_poses, batch_size=batch_size,
                             output=mode, callback=comfy_compat.progress_callback(count))
        if output == "source frame":
            generated = self._into_source_frame(generated, image, crop)
        return (chw_to_image(generated),)

    @staticmethod
    def _source_poses(pipeline, image: torch.Tensor, source_pose, coordinates: str) -> list | None:
        """The source images' poses: the connected ones, or estimated on each source image."""
        if not getattr(pipeline, "needs_source_pose", False):
            return None
        if source_pose is not None:
            poses = poses_from_keypoints(source_pose, "source_pose", (image.shape[2], image.shape[1]), coordinates)
            require_people(poses, "source_pose")
            if len(poses) not in (1, len(image)):
                raise NodeInputError(f"source_pose: {len(poses)} frames for {len(image)} source images "
                                     "(give one per source image, or one for all)")
            return poses
        return PoseTransfer.estimate_poses(image, "source_pose")

    @staticmethod
    def estimate_poses(image: torch.Tensor, name: str) -> list:
        """Each picture's pose from the preferred installed estimator, for the input ``name`` left unconnected;
        a clear error when no estimator loads or a picture has nobody."""
        backends = estimators.backend_choices()
        try:
            estimator = estimators.get_estimator(backends[0])
        except Exception as error:  # an estimator that cannot load says why in its own error types
            raise NodeInputError(
                f"{name}: the poses are needed; connect Estimate Pose (or Load Pose Keypoints) to {name}, or "
                f"install a pose estimator ({backends[0]!r} failed: {error})") from None
        poses = []
        for index in range(len(image)):
            found = estimator.estimate(image_to_uint8(image, index))
            if not found.has_person:
                raise NodeInputError(
                    f"{name}: the {backends[0]!r} estimator found no person in image {index}; connect the poses "
                    f"(Estimate Pose or Load Pose Keypoints) to {name}")
            poses.append(found)
        return poses

    @staticmethod
    def _into_source_frame(generated: torch.Tensor, image: torch.Tensor, crop: CropInfo | None) -> torch.Tensor:
        height, width = generated.shape[-2:]
        target = crop.output_size if crop is not None else tuple(image.shape[1:3])
        wanted, got = target[1] / target[0], width / height
        if abs(got - wanted) / wanted > _ASPECT_TOLERANCE:
            raise NodeInputError(
                f"output 'source frame': the pose canvas ({width}x{height}) and the source image "
                f"({target[1]}x{target[0]}) have different shapes; estimate the pose on the source image, "
                "or choose output 'pose canvas' or 'model size'"
            )
        if crop is None:
            return resize_image(generated, *target).clamp(0, 1)
        return paste_into_frame(crop.frame, generated, crop.box, feather=PASTE_FEATHER).clamp(0, 1)
