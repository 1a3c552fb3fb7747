"""Scoring a generator on held-out pairs, against the "copy the source image" baseline.

Results are scored at each target image's own size (the letterbox is undone),
against the original target file, under one of the field's conventions:
"plain" SSIM, "deepfashion" (white padding to 256x256 first) or "market"
(SSIM and masked SSIM), and under one of the field's protocols ("plain",
"patn", "gfla"; see ``protocols``). The baseline scores the source image
itself as the prediction: a model that has learned nothing about pose cannot
beat it.

Corruptions (``occlusion``, ``colour``) alter the source image before it
reaches the generator, deterministically per pair, to measure robustness as
the paper's augmentation ablation does; the target stays clean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from .augment import ColourJitter, RandomErasing, colour_jitter, random_erasing
from .data import PairList, load_image
from .metrics import to_uint8
from .networks import PoseTransferGenerator
from .pose import Letterbox, Pose, pose_heatmaps
from .protocols import as_written, ssim_scores

CORRUPTIONS = ("none", "occlusion", "colour")
_OCCLUSION = RandomErasing(p=1.0, min_area=0.08, max_area=0.16)
_COLOUR = ColourJitter(p=1.0, brightness=0.4, contrast=0.4, saturation=0.5, hue=0.12)


def corrupt(image: torch.Tensor, kind: str, seed: int) -> torch.Tensor:
    """A (3, H, W) image in [0, 1] with a fixed, seeded corruption ("none", "occlusion", "colour")."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"corruption must be one of {CORRUPTIONS}, got {kind!r}")
    generator = torch.Generator().manual_seed(seed)
    if kind == "occlusion":
        return random_erasing(image, _OCCLUSION, generator)
    if kind == "colour":
        return colour_jitter(image, _COLOUR, generator)
    return image


@dataclass
class ScoredBatch:
    """uint8 (N, h, w, 3) arrays at the target images' size, and the targets' (N, 18, 3) keypoints."""

    generated: np.ndarray
    target: np.ndarray
    source: np.ndarray
    target_keypoints: np.ndarray
    names: list[str]


def generate_pairs(generator: PoseTransferGenerator, pairs: PairList, fill: float, limit: int | None = None,
                   batch_size: int = 16, corruption: str = "none",
                   device: torch.device | str = "cpu", written_as: str | None = None) -> Iterator[ScoredBatch]:
    """Run ``generator`` over the first ``limit`` pairs; yield batches ready for scoring.

    Generated images come back at each target's own size (the letterbox undone),
    so they are compared with the unaltered target files. ``written_as`` (a
    protocol name) stores them as that protocol's test script does before they
    are scored (``protocols.as_written``: PATN's 5-panel JPEG, GFLA's JPEG).
    """
    config = generator.config
    canvas = config.image_size
    records = pairs.pairs[: limit or len(pairs)]
    was_training = generator.training
    generator.eval()
    try:
        for start in range(0, len(records), batch_size):
            chunk = records[start:start + batch_size]
            sources, maps, boxes, targets, originals, keypoints = [], [], [], [], [], []
            for offset, record in enumerate(chunk):
                source, target = load_image(record.source), load_image(record.target)
                source = corrupt(source, corruption, start + offset)
                source_box = Letterbox.fit(tuple(source.shape[-2:]), canvas)
                target_box = Letterbox.fit(tuple(target.shape[-2:]), canvas)
                pose = Pose(record.target_keypoints, target.shape[-1], target.shape[-2])
                on_canvas = target_box.apply_pose(pose).keypoints[0]
                maps.append(pose_heatmaps(torch.from_numpy(on_canvas), *canvas, config.pose_sigma))
                sources.append(source_box.apply_image(source, fill))
                boxes.append(target_box)
                targets.append(target)
                originals.append(source if source.shape == target.shape else
                                 Letterbox.fit(tuple(source.shape[-2:]), tuple(target.shape[-2:])).apply_image(source, fill))
                keypoints.append(record.target_keypoints)
            parameter = next(generator.parameters())
            with torch.no_grad():
                output = generator(torch.stack(sources).to(device, parameter.dtype) * 2 - 1,
                                   torch.stack(maps).to(device, parameter.dtype))
            output = ((output.float().cpu() + 1) / 2).clamp(0, 1)
            generated = [box.undo_image(image[None])[0] for box, image in zip(boxes, output)]
            if written_as is None:
                arrays = [np.concatenate([to_uint8(image[None]) for image in images])
                          for images in (generated, targets, originals)]
            else:
                floats = [torch.stack(images).permute(0, 2, 3, 1).numpy() for images in (generated, targets, originals)]
                written = as_written(written_as, floats[2], floats[1], floats[0],
                                     np.stack([r.source_keypoints for r in chunk]), np.stack(keypoints))
                arrays = [written.generated, written.target, written.source]
            yield ScoredBatch(
                generated=arrays[0],
                target=arrays[1],
                source=arrays[2],
                target_keypoints=np.stack(keypoints),
                names=[record.target for record in chunk],
            )
    finally:
        generator.train(was_training)


def score_batch(batch: ScoredBatch, convention: str, protocol: str = "plain") -> dict[str, np.ndarray]:
    """Per-image scores of one batch under ``protocol`` ("plain", "patn", "gfla"; see ``protocols``):
    ``ssim`` and ``ssim_copy_source`` (and the masked pair for "market")."""
    scores = {}
    for suffix, images in (("", batch.generated), ("_copy_source", batch.source)):
        for name, values in ssim_scores(images, batch.target, batch.target_keypoints, convention, protocol).items():
            scores[name + suffix] = values
    return scores


def evaluate_generator(generator: PoseTransferGenerator, pairs: PairList, fill: float, convention: str = "plain",
                       protocol: str = "plain", limit: int | None = None, batch_size: int = 16,
                       corruption: str = "none", device: torch.device | str = "cpu",
                       on_batch: Callable[[ScoredBatch], None] | None = None) -> dict[str, float]:
    """Mean scores over the first ``limit`` pairs (see ``score_batch``), plus ``pairs`` (the count)."""
    collected: dict[str, list[np.ndarray]] = {}
    for batch in generate_pairs(generator, pairs, fill, limit, batch_size, corruption, device):
        for name, values in score_batch(batch, convention, protocol).items():
            collected.setdefault(name, []).append(values)
        if on_batch is not None:
            on_batch(batch)
    result = {name: float(np.concatenate(values).mean()) for name, values in collected.items()}
    result["pairs"] = int(sum(len(v) for v in collected.get("ssim", [])))
    return result
