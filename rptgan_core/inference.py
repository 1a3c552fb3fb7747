"""Inference: source images and target poses in, the source person in those poses out."""

from __future__ import annotations

import os
from typing import Callable, Literal, Sequence

import torch

from .checkpoint import DTYPES, CheckpointInfo, load_generator
from .networks import PoseTransferGenerator
from .pose import Letterbox, Pose, PoseError
from .processing import generate

ProgressCallback = Callable[[int, int], None]
"""Called as ``callback(done, total)`` after each chunk; raising from it stops the run."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" picks CUDA, then Apple MPS, then the CPU; a named device must be available."""
    if str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but this PyTorch sees no CUDA GPU")
    if resolved.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError("device 'mps' was asked for, but Apple MPS is not available here")
    return resolved


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 convolutions natively (AVX512-BF16 or AMX on x86,
    the BF16 extension on Arm), as oneDNN reports it; False where PyTorch cannot tell."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def has_native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively: a CUDA GPU with bf16 support, or a CPU
    as ``cpu_has_native_bf16`` finds it; False for anything else."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_native_bf16()


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """"auto" is bfloat16 where the device computes it natively (``has_native_bf16``),
    float16 on other CUDA GPUs, and float32 elsewhere."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if has_native_bf16(device):
            return torch.bfloat16
        return torch.float16 if device.type == "cuda" else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be 'auto' or one of {sorted(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise ValueError("source images must be a floating-point tensor (B, 3, H, W) in [0, 1]")
    if images.dim() != 4:
        raise ValueError(f"source images must be (B, 3, H, W), got shape {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError("source images: the batch is empty")
    if images.shape[1] != 3:
        raise ValueError(f"source images must have 3 colour channels (RGB), got {images.shape[1]}")
    if not torch.isfinite(images).all():
        raise ValueError("source images contain NaN or infinity")
    low, high = float(images.min()), float(images.max())
    if low < -1e-3 or high > 1 + 1e-3:
        raise ValueError(f"source images must be in [0, 1], got values from {low:.3g} to {high:.3g}")


def _main_people(poses: Sequence[Pose], what: str) -> list[Pose]:
    people = []
    for index, pose in enumerate(poses):
        if not isinstance(pose, Pose):
            raise PoseError(f"{what} {index} is a {type(pose).__name__}, not a Pose")
        if not pose.has_person:
            raise PoseError(f"{what} {index} has no person (no visible keypoints)")
        people.append(pose.main_person())
    return people


class PoseTransferPipeline:
    """A generator ready for inference on one device, in one dtype.

    Calls are deterministic: the same inputs give the same outputs whatever
    the chunk size, because the network has no randomness and normalises each
    image on its own.
    """

    def __init__(self, generator: PoseTransferGenerator, device: str | torch.device = "auto",
                 dtype: str | torch.dtype = "auto", info: CheckpointInfo | None = None) -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.generator = generator.to(device=self.device, dtype=self.dtype).eval()
        if self.device.type == "cpu" and self.dtype == torch.bfloat16:
            # oneDNN's bf16 convolutions are several times faster on channels-last tensors
            self.generator = self.generator.to(memory_format=torch.channels_last)
        self.config = generator.config
        self.info = info

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, device: str | torch.device = "auto",
                        dtype: str | torch.dtype = "auto") -> "PoseTransferPipeline":
        """Load a safetensors checkpoint (see ``rptgan_core.checkpoint``)."""
        resolved = resolve_device(device)
        chosen = resolve_dtype(dtype, resolved)
        generator, info = load_generator(path, device=resolved, dtype=chosen)
        return cls(generator, resolved, chosen, info)

    @property
    def needs_source_pose(self) -> bool:
        """Whether the generator takes the source image's own pose (the flow generator does)."""
        return bool(self.generator.uses_source_pose)

    def __call__(self, images: torch.Tensor, poses: Pose | Sequence[Pose], *,
                 source_poses: Pose | Sequence[Pose] | None = None, batch_size: int = 8,
                 output: Literal["pose", "model"] = "pose", callback: ProgressCallback | None = None) -> torch.Tensor:
        """Generate the source person in each target pose.

        Args:
            images: (B, 3, H, W) float in [0, 1], any size (letterboxed to the model canvas).
            poses: N target poses; each one's main person is used, placed by its
                own canvas. B and N must match, or one of them be 1 (one source in a
                sequence of poses gives a batch of frames; one pose applies to every source).
            source_poses: the pose of each source image (B of them, or 1 for all), on
                any canvas of the image's shape; needed when ``needs_source_pose``,
                ignored otherwise.
            batch_size: images per forward pass, to bound memory.
            output: "pose" returns each image at its pose canvas size (the
                letterbox undone; all poses must share one canvas size), "model"
                at the model canvas.
            callback: progress hook, see ``ProgressCallback``.

        Returns:
            (max(B, N), 3, h, w) float32 on the CPU in [0, 1].
        """
        poses = [poses] if isinstance(poses, Pose) else list(poses)
        _check_images(images)
        if not poses:
            raise PoseError("no target poses given")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if output not in ("pose", "model"):
            raise ValueError(f"output must be 'pose' or 'model', got {output!r}")
        count = max(len(images), len(poses))
        if len(images) not in (1, count) or len(poses) not in (1, count):
            raise ValueError(
                f"mismatched batch sizes: {len(images)} source images and {len(poses)} target poses "
                "(they must be equal, or one of them 1)"
            )
        people = _main_people(poses, "target pose")
        source_points = self._source_keypoints(images, source_poses)
        canvases = {(pose.height, pose.width) for pose in people}
        if output == "pose" and len(canvases) > 1:
            raise ValueError(f"target poses have different canvas sizes {sorted(canvases)}; use output='model'")

        canvas = self.config.image_size
        source_box = Letterbox.fit(tuple(images.shape[-2:]), canvas)
        pose_boxes = {size: Letterbox.fit(size, canvas) for size in canvases}
        keypoints = torch.stack([
            torch.from_numpy(pose_boxes[(p.height, p.width)].apply_pose(p).keypoints[0]) for p in people
        ])
        results = []
        with torch.inference_mode():
            for start in range(0, count, batch_size):
                stop = min(start + batch_size, count)
                chunk = range(start, stop)
                sources = images if len(images) == 1 else images[start:stop]
                sources = source_box.apply_image(sources.float(), self.config.letterbox_fill)
                sources = sources.expand(len(chunk), -1, -1, -1) if len(sources) == 1 else sources
                targets = keypoints[0:1].expand(len(chunk), -1, -1) if len(people) == 1 else keypoints[start:stop]
                source_targets = None
                if source_points is not None:
                    source_targets = source_points.expand(len(chunk), -1, -1) if len(source_points) == 1 \
                        else source_points[start:stop]
                generated = generate(self.generator, sources, targets, source_targets)
                if output == "pose":
                    generated = pose_boxes[next(iter(canvases))].undo_image(generated).clamp(0, 1)
                results.append(generated)
                if callback is not None:
                    callback(stop, count)
        return torch.cat(results)

    def _source_keypoints(self, images: torch.Tensor, source_poses) -> torch.Tensor | None:
        """(B or 1, 18, 3) source keypoints on the model canvas, or None when the generator needs none."""
        if not self.needs_source_pose:
            return None
        if source_poses is None:
            raise PoseError(f"the {self.config.name!r} model needs the pose of the source image "
                            "(source_poses); estimate it on the source image")
        source_poses = [source_poses] if isinstance(source_poses, Pose) else list(source_poses)
        if len(source_poses) not in (1, len(images)):
            raise ValueError(f"{len(source_poses)} source poses for {len(images)} source images "
                             "(give one per source image, or one for all)")
        height, width = images.shape[-2:]
        box = Letterbox.fit((height, width), self.config.image_size)
        people = _main_people(source_poses, "source pose")
        for index, person in enumerate(people):
            if abs(person.width / person.height - width / height) > 0.02 * width / height:
                raise PoseError(f"source pose {index} is on a {person.width}x{person.height} canvas, the source "
                                f"image is {width}x{height}; estimate the pose on the source image itself")
        return torch.stack([torch.from_numpy(box.apply_pose(p.resized(width, height)).keypoints[0]) for p in people])
