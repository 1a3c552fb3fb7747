"""Scoring a generator on held-out pairs, beside the baselines a blur or a copy would get.

Results are scored at each target image's own size (the letterbox is undone),
against the original target file, under one of the field's conventions:
"plain" SSIM, "deepfashion" (white padding to 256x256 first) or "market"
(SSIM and masked SSIM), and under one of the field's protocols ("plain",
"patn", "gfla"; see ``protocols``).

Every figure comes with its baselines, scored on the same pairs the same way:

* ``copy_source``: the source image itself as the prediction;
* ``best_blur``: the source under the Gaussian blur (sigma in ``BLUR_SIGMAS``)
  that scores best on that metric;
* ``no_pose``: the model given an empty target pose (a pose-blind model);
* ``own_pose``: the model given the source's own pose as the target.

Beside whole-image SSIM come the metrics that see the pose
(``pose_metrics``): ``moved_l1``, the error on 0..255 where the body-part
labels of source and target differ, and ``body_ssim``, SSIM inside the
target's body. A model that has not learnt pose transfer cannot beat the
baselines on these.

Corruptions (``occlusion``, ``colour``) alter the source image before it
reaches the generator, deterministically per pair, to measure robustness as
the paper's augmentation ablation does; the target stays clean.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from ..pose import Letterbox, Pose
from ..processing import generate
from .augment import ColourJitter, RandomErasing, colour_jitter, random_erasing
from .data import PairList, PairRecord, load_image_tensor
from .metrics import ssim_map, to_uint8
from .pose_metrics import BLUR_SIGMAS, gaussian_blur, keypoint_part_labels, moved_region, region_l1, region_ssim
from .protocols import as_written, ssim_scores
from .synthetic import read_part_labels

CORRUPTIONS = ("none", "occlusion", "colour")
VARIANTS = ("no_pose", "own_pose")
_OCCLUSION = RandomErasing(p=1.0, min_area=0.08, max_area=0.16)
_COLOUR = ColourJitter(p=1.0, brightness=0.4, contrast=0.4, saturation=0.5, hue=0.12)
# metric -> whether higher is better (decides which blur is "best")
_METRICS = {"ssim": True, "masked_ssim": True, "body_ssim": True, "moved_l1": False}


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


def pair_names(records: tuple[PairRecord, ...] | list[PairRecord]) -> list[str]:
    """A file stem per pair, ``<from>___<to>`` as PATN names its results; where two images
    share a file name (one folder per person), their paths relative to the common folder
    are used instead, with ``/`` turned into ``~``, so no two pairs get the same name."""
    def stem(path: str) -> str:
        return os.path.splitext(os.path.basename(path))[0]

    paths = {p for r in records for p in (r.source, r.target)}
    if len({stem(p) for p in paths}) == len(paths):
        return [f"{stem(r.source)}___{stem(r.target)}" for r in records]
    root = os.path.commonpath([os.path.abspath(p) for p in paths]) if paths else ""

    def relative(path: str) -> str:
        return os.path.splitext(os.path.relpath(os.path.abspath(path), root))[0].replace(os.sep, "~")

    return [f"{relative(r.source)}___{relative(r.target)}" for r in records]


@dataclass
class ScoredBatch:
    """One batch ready for scoring, everything at the target images' size.

    generated, target, source: uint8 (N, h, w, 3); the source is letterboxed to the
        target's size when they differ.
    target_keypoints, source_keypoints: (N, 18, 3) in those pixels.
    names: a unique file stem per pair (``pair_names``).
    source_labels, target_labels: uint8 (N, h, w) body-part labels: the renderer's
        where the dataset has them, else drawn from the keypoints.
    variants: the model's output under each of ``VARIANTS`` (empty when scoring a folder).
    """

    generated: np.ndarray
    target: np.ndarray
    source: np.ndarray
    target_keypoints: np.ndarray
    source_keypoints: np.ndarray
    names: list[str]
    source_labels: np.ndarray
    target_labels: np.ndarray
    variants: dict[str, np.ndarray] = field(default_factory=dict)


def part_labels(record: PairRecord, source_keypoints: np.ndarray,
                size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(source, target) part labels at the target's ``size`` (h, w) for one pair; ``source_keypoints``
    are already in the target's pixels."""
    source, target = read_part_labels(record.source), read_part_labels(record.target)
    if source is not None and target is not None and source.shape == target.shape == size:
        return source, target
    return (keypoint_part_labels(source_keypoints, *size), keypoint_part_labels(record.target_keypoints, *size))


def load_scoring_batch(records: list[PairRecord], names: list[str], fill: float,
                       corruption: str = "none", seed_offset: int = 0):
    """Read one batch of pairs: the (possibly corrupted) source tensors, and a ScoredBatch
    without generated images. Returns (sources [(3, H, W) in [0, 1]], ScoredBatch)."""
    sources, targets, fitted, target_points, source_points, source_labels, target_labels = [], [], [], [], [], [], []
    for offset, record in enumerate(records):
        source, target = load_image_tensor(record.source, fill), load_image_tensor(record.target, fill)
        source = corrupt(source, corruption, seed_offset + offset)
        size = tuple(target.shape[-2:])
        to_target = Letterbox.fit(tuple(source.shape[-2:]), size)
        on_target = to_target.apply_pose(Pose(record.source_keypoints, source.shape[-1], source.shape[-2])).keypoints[0]
        labels = part_labels(record, on_target, size)
        sources.append(source)
        targets.append(target)
        fitted.append(source if source.shape == target.shape else to_target.apply_image(source, fill))
        target_points.append(record.target_keypoints)
        source_points.append(on_target)
        source_labels.append(labels[0])
        target_labels.append(labels[1])
    batch = ScoredBatch(
        generated=np.empty(0, np.uint8), target=np.concatenate([to_uint8(t[None]) for t in targets]),
        source=np.concatenate([to_uint8(s[None]) for s in fitted]), target_keypoints=np.stack(target_points),
        source_keypoints=np.stack(source_points), names=list(names), source_labels=np.stack(source_labels),
        target_labels=np.stack(target_labels))
    return sources, batch


def generate_pairs(generator, pairs: PairList, fill: float, limit: int | None = None, batch_size: int = 16,
                   corruption: str = "none", variants: bool = True,
                   written_as: str | None = None) -> Iterator[ScoredBatch]:
    """Run ``generator`` over the first ``limit`` pairs; yield batches ready for scoring.

    Generated images come back at each target's own size (the letterbox undone),
    so they are compared with the unaltered target files. With ``variants`` the
    model also runs with no target pose and with the source's own pose.
    ``written_as`` (a protocol name) stores the generated, target and source
    images as that protocol's test script does before they are scored
    (``protocols.as_written``: PATN's 5-panel JPEG, GFLA's JPEG).
    """
    canvas = generator.config.image_size
    records = list(pairs.pairs[: limit or len(pairs)])
    names = pair_names(records)
    was_training = generator.training
    generator.eval()
    try:
        for start in range(0, len(records), batch_size):
            chunk = records[start:start + batch_size]
            sources, batch = load_scoring_batch(chunk, names[start:start + batch_size], fill, corruption, start)
            source_boxes = [Letterbox.fit(tuple(s.shape[-2:]), canvas) for s in sources]
            target_boxes = [Letterbox.fit(tuple(t.shape[:2]), canvas) for t in batch.target]
            on_canvas = torch.stack([box.apply_image(s, fill) for box, s in zip(source_boxes, sources)])
            source_points = torch.stack([torch.from_numpy(box.apply_pose(
                Pose(r.source_keypoints, s.shape[-1], s.shape[-2])).keypoints[0]) for box, r, s in
                zip(source_boxes, chunk, sources)])
            target_points = torch.stack([torch.from_numpy(box.apply_pose(
                Pose(r.target_keypoints, t.shape[1], t.shape[0])).keypoints[0]) for box, r, t in
                zip(target_boxes, chunk, batch.target)])
            poses = {"generated": target_points}
            if variants:
                poses.update({"no_pose": torch.zeros_like(target_points), "own_pose": source_points})
            for name, points in poses.items():
                output = generate(generator, on_canvas, points, source_points)
                undone = [box.undo_image(image[None]) for box, image in zip(target_boxes, output)]
                if name == "generated" and written_as is not None:
                    floats = [images.astype(np.float32) / 255 for images in (batch.source, batch.target)]
                    written = as_written(written_as, floats[0], floats[1],
                                         torch.cat(undone).permute(0, 2, 3, 1).numpy(), batch.source_keypoints,
                                         batch.target_keypoints)
                    batch.generated, batch.target, batch.source = written.generated, written.target, written.source
                elif name == "generated":
                    batch.generated = np.concatenate([to_uint8(image) for image in undone])
                else:
                    batch.variants[name] = np.concatenate([to_uint8(image) for image in undone])
            yield batch
    finally:
        generator.train(was_training)


def score_batch(batch: ScoredBatch, convention: str, protocol: str = "plain") -> dict[str, np.ndarray]:
    """Per-image scores of one batch, for the model and every baseline.

    Keys: ``<metric>`` for the model, ``<metric>_copy_source``, ``<metric>_<variant>``
    and ``<metric>_blur_<sigma>`` for each metric in ssim (and masked_ssim for
    "market"; both under ``protocol``), body_ssim, moved_l1 (moved-region and body
    metrics are NaN for a pair with an empty region); ``moved_fraction``.
    """
    predictions = {"": batch.generated, "_copy_source": batch.source,
                   **{f"_{name}": images for name, images in batch.variants.items()},
                   **{f"_blur_{sigma:g}": gaussian_blur(batch.source, sigma) for sigma in BLUR_SIGMAS}}
    target = batch.target
    moved = np.stack([moved_region(s, t) for s, t in zip(batch.source_labels, batch.target_labels)])
    body = batch.target_labels > 0
    scores: dict[str, np.ndarray] = {"moved_fraction": moved.mean(axis=(1, 2))}
    for suffix, images in predictions.items():
        for name, values in ssim_scores(images, target, batch.target_keypoints, convention, protocol).items():
            scores[name + suffix] = values
        scores[f"body_ssim{suffix}"] = region_ssim(ssim_map(images, target), body)
        scores[f"moved_l1{suffix}"] = region_l1(images, target, moved)
    return scores


def summarise(collected: dict[str, list[np.ndarray]]) -> dict[str, float]:
    """Means of ``score_batch``'s per-image scores over all batches, NaN pairs left out,
    with the blurs folded into ``<metric>_best_blur`` and ``<metric>_best_blur_sigma``; plus ``pairs``."""
    means = {name: float(np.nanmean(np.concatenate(values))) if np.isfinite(np.concatenate(values)).any()
             else float("nan") for name, values in collected.items()}
    result = {name: value for name, value in means.items() if "_blur_" not in name}
    for metric, higher_is_better in _METRICS.items():
        blurs = {sigma: means[f"{metric}_blur_{sigma:g}"] for sigma in BLUR_SIGMAS
                 if f"{metric}_blur_{sigma:g}" in means}
        finite = {sigma: value for sigma, value in blurs.items() if np.isfinite(value)}
        if finite:
            best = (max if higher_is_better else min)(finite, key=finite.get)
            result[f"{metric}_best_blur"] = finite[best]
            result[f"{metric}_best_blur_sigma"] = best
    result["pairs"] = int(sum(len(v) for v in collected.get("ssim", [])))
    return result


def evaluate_generator(generator, pairs: PairList, fill: float, convention: str = "plain",
                       protocol: str = "plain", limit: int | None = None, batch_size: int = 16,
                       corruption: str = "none", variants: bool = True,
                       on_batch: Callable[[ScoredBatch], None] | None = None) -> dict[str, float]:
    """Scores over the first ``limit`` pairs beside their baselines (see ``summarise``)."""
    return score_batches(generate_pairs(generator, pairs, fill, limit, batch_size, corruption, variants),
                         convention, protocol, on_batch)


def score_batches(batches: Iterable[ScoredBatch], convention: str = "plain", protocol: str = "plain",
                  on_batch: Callable[[ScoredBatch], None] | None = None) -> dict[str, float]:
    """``summarise`` of every batch's scores; ``on_batch`` sees each batch after it is scored
    (the batches may come from a generator or from a folder of another method's results)."""
    collected: dict[str, list[np.ndarray]] = {}
    for batch in batches:
        for name, values in score_batch(batch, convention, protocol).items():
            collected.setdefault(name, []).append(values)
        if on_batch is not None:
            on_batch(batch)
    return summarise(collected)


def format_scores(scores: dict[str, float]) -> str:
    """One line: each metric of the model beside its baselines (those present in ``scores``)."""
    parts = []
    for metric, label in (("ssim", "SSIM"), ("moved_l1", "moved-region L1"), ("body_ssim", "body SSIM")):
        if metric not in scores:
            continue
        digits = 1 if metric == "moved_l1" else 4
        baselines = [f"{name} {scores[key]:.{digits}f}" for name, key in
                     (("copy-source", f"{metric}_copy_source"), ("best blur", f"{metric}_best_blur"),
                      ("no pose", f"{metric}_no_pose"), ("own pose", f"{metric}_own_pose")) if key in scores]
        parts.append(f"{label} {scores[metric]:.{digits}f}" + (f" ({', '.join(baselines)})" if baselines else ""))
    return f"{'; '.join(parts)} on {scores.get('pairs', 0)} pairs"
