"""Fine-tune node: a checkpoint taught one person's looks from frames of them, in minutes."""

from __future__ import annotations

import os
import re
import time

import torch

from . import comfy_compat
from .convert import COORDINATES_INPUT, NodeInputError, check_image, image_to_chw, poses_from_keypoints, require_people
from .node_types import CATEGORY
from .transfer import PoseTransfer, _checkpoint_combo, checkpoint_choices, describe

_SAVE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _save_path(stem: str) -> str:
    """A new file ``<stem>_NNNNN.safetensors`` in models/rptgan: a fine-tune never replaces a checkpoint."""
    directory = comfy_compat.model_save_directory()
    taken = {name for name in os.listdir(directory) if name.startswith(stem + "_")}
    number = 1
    while f"{stem}_{number:05d}.safetensors" in taken:
        number += 1
    return os.path.join(directory, f"{stem}_{number:05d}.safetensors")


class FineTune:
    """Frames of one person + a checkpoint -> the checkpoint fine-tuned on that person."""

    DESCRIPTION = (
        "Teaches a checkpoint one person's looks from frames of them (a short clip, e.g. Load Image on an animated "
        "WebP, or a few photos): each step asks it to draw one frame from another, in that frame's pose. A few "
        "hundred steps take minutes on a CPU. Cancel stops early and keeps what was learned: the checkpoint is "
        "saved to models/rptgan as <save_as>_NNNNN.safetensors either way, and the model output goes straight "
        "into Pose Transfer."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = ("RPTGAN_MODEL", "STRING")
    RETURN_NAMES = ("model", "info")
    OUTPUT_TOOLTIPS = ("the fine-tuned generator, for Pose Transfer's model input",
                       "what was trained and where it was saved")
    OUTPUT_NODE = True
    FUNCTION = "train"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "frames of one person (at least two; their order does not matter)"}),
                "checkpoint": _checkpoint_combo(checkpoint_choices(),
                                                "the checkpoint to start from"),
                "steps": ("INT", {"default": 300, "min": 1, "max": 20000, "tooltip": "training steps"}),
                "learning_rate": ("FLOAT", {"default": 1e-4, "min": 1e-6, "max": 1e-2, "step": 1e-5,
                                            "tooltip": "Adam's learning rate, decayed to a tenth by the end"}),
                "batch_size": ("INT", {"default": 8, "min": 1, "max": 64, "tooltip": "frame pairs per step"}),
                "save_as": ("STRING", {"default": "rptgan-finetuned",
                                       "tooltip": "file name start in models/rptgan (a number is added)"}),
            },
            "optional": {
                "poses": ("POSE_KEYPOINT", {
                    "tooltip": "each frame's pose; estimated on the frames when not connected"}),
                "coordinates": COORDINATES_INPUT,
            },
        }

    def train(self, images, checkpoint: str, steps: int = 300, learning_rate: float = 1e-4, batch_size: int = 8,
              save_as: str = "rptgan-finetuned", poses=None, coordinates: str = "auto"):
        # ComfyUI runs nodes under torch.inference_mode(); training needs autograd, and tensors made
        # outside inference mode (as ComfyUI's own training nodes do).
        with torch.inference_mode(False), torch.enable_grad():
            return self._train(images.clone() if isinstance(images, torch.Tensor) else images, checkpoint, steps,
                               learning_rate, batch_size, save_as, poses, coordinates)

    def _train(self, images, checkpoint: str, steps: int, learning_rate: float, batch_size: int, save_as: str, poses,
               coordinates: str):
        # Loaded on first use: importing the pack stays light.
        from rptgan_core.checkpoint import CheckpointError, load_generator, save_checkpoint
        from rptgan_core.inference import PoseTransferPipeline, resolve_device
        from rptgan_core.training.finetune import FineTuneConfig, FineTuneData, FineTuneError, finetune

        images = check_image(images)
        if not isinstance(save_as, str) or not _SAVE_NAME.fullmatch(save_as):
            raise NodeInputError(f"save_as: {save_as!r} must be 1-64 letters, digits, '_', '.' or '-', "
                                 "starting with a letter or digit")
        if len(images) < 2:
            raise NodeInputError("images: need at least two frames of the person to learn from")
        try:
            config = FineTuneConfig(steps=steps, lr=learning_rate, batch_size=batch_size)
        except FineTuneError as error:
            raise NodeInputError(str(error)) from None
        try:
            path = comfy_compat.model_path(comfy_compat.MODEL_FOLDER, checkpoint)
            generator, info = load_generator(path)
        except (FileNotFoundError, CheckpointError) as error:
            raise NodeInputError(f"checkpoint: {error}") from None
        if poses is not None:
            frames = poses_from_keypoints(poses, "poses", (images.shape[2], images.shape[1]), coordinates)
            require_people(frames, "poses")
            if len(frames) != len(images):
                raise NodeInputError(f"poses: {len(frames)} frames for {len(images)} images (give one per image)")
        else:
            frames = PoseTransfer.estimate_poses(images, "poses")
        try:
            data = FineTuneData.from_frames(image_to_chw(images), frames, generator.config.image_size,
                                            generator.config.letterbox_fill)
        except FineTuneError as error:
            raise NodeInputError(f"images: {error}") from None
        generator = generator.to(resolve_device(comfy_compat.compute_device("auto")))
        progress = comfy_compat.progress_callback(config.steps, honour_cancel=False)
        started = time.perf_counter()
        try:
            result = finetune(generator, data, config, callback=lambda done, total, loss: progress(done, total),
                              should_stop=comfy_compat.interrupt_requested)
        except FineTuneError as error:
            raise NodeInputError(str(error)) from None
        seconds = time.perf_counter() - started
        summary = {"finetuned_from": checkpoint, "frames": len(images), "steps": result["steps"],
                   "learning_rate": learning_rate, "batch_size": batch_size, "seconds": round(seconds, 1),
                   "loss_first": round(result["first_loss"], 4), "loss_last": round(result["last_loss"], 4),
                   "base_training": info.training}
        target = _save_path(save_as)
        try:
            save_checkpoint(target, generator, training=summary)
        except OSError as error:
            raise NodeInputError(f"save_as: could not write {target} ({error}); free some space and run again "
                                 "(nothing was replaced)") from None
        comfy_compat.check_interrupt()  # Cancel ends the run here, after the checkpoint is safe
        pipeline = PoseTransferPipeline.from_checkpoint(target)
        text = (f"fine-tuned {checkpoint} on {len(images)} frames for {result['steps']} steps in {seconds:.0f} s "
                f"(loss {result['first_loss']:.3f} -> {result['last_loss']:.3f}); saved {os.path.basename(target)}\n"
                + describe(pipeline))
        return {"ui": {"text": [text]}, "result": (pipeline, text)}
