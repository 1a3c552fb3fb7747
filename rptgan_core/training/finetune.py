"""Fine-tuning a generator on one person, in minutes on a CPU.

From a handful of frames of one person (a short clip or a few photos) and
their poses, ``finetune`` teaches a trained generator that person's looks: each
step takes random ordered pairs of the frames and asks the generator to draw
the second from the first, with L1 on the picture and on the warped source
(``losses.warp_loss``; for generators without flows, L1 only). There is no
discriminator: for a few hundred steps on one person the reconstruction terms
are what moves the picture, and they are stable from the first step.

``FineTuneData.from_frames`` puts frames of any size on the generator's canvas
(letterboxed, as inference does) with their poses; ``finetune`` runs the
steps, reports each to ``callback``, and stops early, keeping what it has
learned, when ``should_stop`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from ..errors import RptganError
from ..inference import has_native_bf16
from ..limits import MAX_FINETUNE_FRAMES, MAX_FINETUNE_STEPS
from ..pose import Letterbox, Pose
from ..processing import generator_inputs, to_model_range
from .losses import warp_loss


class FineTuneError(RptganError, ValueError):
    """The frames, poses or settings cannot make a fine-tune; the message says why."""


@dataclass(frozen=True)
class FineTuneConfig:
    """Steps, Adam's learning rate (decayed by a cosine to a tenth), pairs per step,
    and the loss weights."""

    steps: int = 300
    lr: float = 1e-4
    batch_size: int = 8
    l1: float = 1.0
    warp: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= MAX_FINETUNE_STEPS:
            raise FineTuneError(f"steps must be 1 to {MAX_FINETUNE_STEPS}, got {self.steps}")
        if not (math.isfinite(self.lr) and 0 < self.lr <= 1e-2):
            raise FineTuneError(f"learning rate must be above 0 and at most 0.01, got {self.lr}")
        if not 1 <= self.batch_size <= 64:
            raise FineTuneError(f"batch_size must be 1 to 64, got {self.batch_size}")


@dataclass
class FineTuneData:
    """Frames on the generator's canvas: ``images`` (N, 3, H, W) in [0, 1], ``keypoints`` (N, 18, 3)
    in canvas pixels."""

    images: torch.Tensor
    keypoints: torch.Tensor

    @classmethod
    def from_frames(cls, images: torch.Tensor, poses: Sequence[Pose], canvas: tuple[int, int],
                    fill: float) -> "FineTuneData":
        """``images`` (N, 3, h, w) in [0, 1] and one pose per frame (its main person, on the frame's
        canvas or one of its shape), letterboxed onto ``canvas`` (H, W) with ``fill``."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise FineTuneError(f"frames must be (N, 3, H, W), got {tuple(images.shape)}")
        if not 2 <= len(images) <= MAX_FINETUNE_FRAMES:
            raise FineTuneError(f"need 2 to {MAX_FINETUNE_FRAMES} frames of the person, got {len(images)}")
        if len(poses) != len(images):
            raise FineTuneError(f"{len(poses)} poses for {len(images)} frames (give one per frame)")
        if not torch.isfinite(images).all():
            raise FineTuneError("frames contain NaN or infinity")
        height, width = images.shape[-2:]
        box = Letterbox.fit((height, width), canvas)
        keypoints = []
        for index, pose in enumerate(poses):
            if not pose.has_person:
                raise FineTuneError(f"frame {index} has no person in its pose")
            person = pose.main_person()
            if abs(person.width / person.height - width / height) > 0.02 * width / height:
                raise FineTuneError(f"pose {index} is on a {person.width}x{person.height} canvas, the frames are "
                                    f"{width}x{height}; estimate the poses on the frames themselves")
            keypoints.append(torch.from_numpy(box.apply_pose(person.resized(width, height)).keypoints[0]))
        return cls(box.apply_image(images.float(), fill).clamp(0, 1), torch.stack(keypoints))


def finetune(generator, data: FineTuneData, config: FineTuneConfig = FineTuneConfig(),
             callback: Callable[[int, int, float], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> dict[str, float]:
    """Train ``generator`` (in place, on its device) on ordered pairs of ``data``'s frames.

    ``callback(step, steps, loss)`` after each step; ``should_stop()`` is asked before each
    and ends the run early. Returns {steps done, first and last loss}; the generator is left
    in eval mode.
    """
    if data.images.shape[-2:] != tuple(generator.config.image_size):
        raise FineTuneError(f"frames are {tuple(data.images.shape[-2:])}, the model's canvas is "
                            f"{tuple(generator.config.image_size)}; use FineTuneData.from_frames")
    parameter = next(generator.parameters())
    device = parameter.device
    if parameter.dtype != torch.float32:
        raise FineTuneError(f"fine-tune a float32 generator, not {parameter.dtype} (load it with dtype float32)")
    images, keypoints = data.images.to(device), data.keypoints.to(device)
    count = len(images)
    generator.train()
    trainable = [p for p in generator.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=config.lr, betas=(0.5, 0.999))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(step, config.steps) / config.steps)))
    random = torch.Generator().manual_seed(config.seed)
    use_bf16 = has_native_bf16(device)
    losses, done = [], 0
    try:
        for step in range(config.steps):
            if should_stop is not None and should_stop():
                break
            source_index = torch.randint(count, (config.batch_size,), generator=random)
            target_index = (source_index + torch.randint(1, count, (config.batch_size,), generator=random)) % count
            inputs = generator_inputs(generator, images[source_index], keypoints[target_index], keypoints[source_index])
            target = to_model_range(images[target_index])
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                if generator.uses_source_pose:
                    generated, parts = generator(**inputs, return_parts=True)
                else:
                    generated, parts = generator(**inputs), {}
            loss = config.l1 * F.l1_loss(generated.float(), target)
            if "flows" in parts and config.warp > 0:
                loss = loss + config.warp * warp_loss(inputs["source"], target, parts["flows"])
            if not torch.isfinite(loss):
                raise FineTuneError(f"the loss became {float(loss)} at step {step + 1}; try a smaller learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            done = step + 1
            losses.append(float(loss.detach()))
            if callback is not None:
                callback(done, config.steps, losses[-1])
    finally:
        generator.eval()
    return {"steps": done, "first_loss": losses[0] if losses else float("nan"),
            "last_loss": losses[-1] if losses else float("nan")}

