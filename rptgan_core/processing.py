"""The generator's one input/output path: images on its canvas in [0, 1] and keypoints
on that canvas in, the network's tensors built, its output back in [0, 1].

Inference, evaluation, the training step and the sample grids all go through
here, so a change to what the generator takes (value range, pose maps, the
source pose) is made once. Fitting images and poses to the canvas is
``pose.Letterbox``'s job and happens before.
"""

from __future__ import annotations

import torch

from .pose import PoseError


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] images -> the [-1, 1] the networks take."""
    return images * 2 - 1


def from_model_range(output: torch.Tensor) -> torch.Tensor:
    """A network's [-1, 1] output -> float32 [0, 1], clamped."""
    return ((output.float() + 1) / 2).clamp(0, 1)


def generator_inputs(generator, source: torch.Tensor, target_keypoints: torch.Tensor,
                     source_keypoints: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Keyword arguments for ``generator(**inputs)``.

    Args:
        source: (B, 3, H, W) in [0, 1] on the generator's canvas, any device and dtype.
        target_keypoints, source_keypoints: (B, 18, 3) in canvas pixels (confidence 0:
            missing). The source pose is needed only by generators that use it
            (``generator.uses_source_pose``).

    Returns:
        ``source`` (B, 3, H, W) in [-1, 1], ``pose_maps`` and, where used,
        ``source_pose_maps`` (B, 18, H, W) in [0, 1], all on ``source``'s device and dtype.
    """
    inputs = {"source": to_model_range(source),
              "pose_maps": generator.render_pose(target_keypoints.to(source.device, torch.float32)).to(source.dtype)}
    if generator.uses_source_pose:
        if source_keypoints is None:
            raise PoseError(f"the {generator.config.name!r} model needs the source image's pose "
                            "(connect a source pose, or estimate it from the source image)")
        inputs["source_pose_maps"] = generator.render_pose(
            source_keypoints.to(source.device, torch.float32)).to(source.dtype)
    return inputs


def generate(generator, source: torch.Tensor, target_keypoints: torch.Tensor,
             source_keypoints: torch.Tensor | None = None) -> torch.Tensor:
    """Run ``generator`` without gradients: arguments as ``generator_inputs``, the source
    cast to the generator's device and dtype. Returns (B, 3, H, W) float32 on the CPU in [0, 1]."""
    parameter = next(generator.parameters())
    source = source.to(parameter.device, parameter.dtype)
    with torch.inference_mode():
        output = generator(**generator_inputs(generator, source, target_keypoints, source_keypoints))
    return from_model_range(output).cpu()
