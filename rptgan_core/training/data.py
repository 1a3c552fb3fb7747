"""Pose-transfer training data: pairs of one person's images, their keypoints and identity.

Two on-disk layouts are read:

* PATN layout (DeepFashion, Market-1501, SyntheticPeople): an image folder
  ``<root>/<split>/``, an annotation CSV ``<root>/*-annotation-<split>.csv``
  (``name:keypoints_y:keypoints_x``) and a pairs CSV ``<root>/*-pairs-<split>.csv``
  (``from,to``), as the field ships them.
* Generic layout for custom data: ``<root>/<identity>/<image>.{jpg,png,...}``
  with one OpenPose JSON ``<image>.json`` beside each image; every ordered pair
  of two images in one folder is a training pair.

Every problem found while reading (a missing image, a malformed row, a wrong
keypoint count, an empty pairs file) raises ``DatasetError`` naming the file
and the line.

``PairDataset`` turns the pairs into tensors on the model canvas (letterboxed,
source augmented, target clean). It is indexed by *draws* from ``EpochSampler``:
draw = epoch * len(pairs) + pair index, so each sample's augmentation is seeded
by (seed, draw) and a resumed run sees exactly the inputs an uninterrupted one would.
"""

from __future__ import annotations

import csv
import glob
import os
import re
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..errors import RptganError
from ..imageio import IMAGE_EXTENSIONS, ImageLoadError, image_size, load_image
from ..pose import (
    Letterbox,
    Pose,
    PoseError,
    poses_from_openpose_json,
    read_patn_annotations,
)
from .augment import AugmentConfig, augment_input, should_flip

IDENTITY_SCHEMES = ("auto", "deepfashion", "prefix", "folder")
_DEEPFASHION_ID = re.compile(r"id_?(\d{8})")
_SYNTHETIC_MARKER = "SYNTHETIC.json"


class DatasetError(RptganError, ValueError):
    """Training data is unusable; the message names the file (and line) and the problem."""


def identity_from_name(name: str, scheme: str = "auto") -> str:
    """The person a PATN image name belongs to.

    Schemes:
        deepfashion: the ``id`` + 8 digits in the name (``fashionWOMENDressesid0000262902_1front.jpg``
            -> ``id00002629``).
        prefix: the part before the first underscore (Market-1501 ``0002_c1s1_000451_03.jpg`` -> ``0002``;
            SyntheticPeople ``p00012_03.png`` -> ``p00012``).
        folder: the folder the image is in (the generic layout: ``alice/01.jpg`` -> ``alice``).
        auto: folder when the name has a folder part (as prepare_dataset.py writes them),
            else deepfashion when the name has such an id, else prefix.
    """
    base = os.path.basename(name)
    if scheme == "auto" and os.path.dirname(name):
        scheme = "folder"
    if scheme == "folder":
        folder = os.path.basename(os.path.dirname(name))
        if not folder:
            raise DatasetError(f"{name}: identity scheme 'folder' needs images inside identity folders")
        return folder
    if scheme in ("auto", "deepfashion"):
        match = _DEEPFASHION_ID.search(base)
        if match:
            return "id" + match.group(1)
        if scheme == "deepfashion":
            raise DatasetError(f"{name}: no DeepFashion identity (id + 8 digits) in the image name")
    if scheme in ("auto", "prefix"):
        return os.path.splitext(base)[0].split("_", 1)[0]
    raise DatasetError(f"unknown identity scheme {scheme!r}; choose one of {IDENTITY_SCHEMES}")


@dataclass(frozen=True)
class PairRecord:
    """One training pair: the person in ``source`` is to be drawn in the pose of ``target``."""

    source: str  # image paths
    target: str
    source_keypoints: np.ndarray  # (18, 3) on the image's own pixel canvas, conf 0 = missing
    target_keypoints: np.ndarray
    identity: str


@dataclass(frozen=True)
class PairList:
    """The pairs of one split and the identities they belong to."""

    pairs: tuple[PairRecord, ...]
    description: str
    synthetic: bool = False

    @property
    def identities(self) -> list[str]:
        return sorted({p.identity for p in self.pairs})

    def __len__(self) -> int:
        return len(self.pairs)


def _find_one(root: str, pattern: str, what: str, key: str) -> str:
    matches = sorted(glob.glob(os.path.join(glob.escape(root), pattern)))
    if not matches:
        raise DatasetError(f"{root}: no {what} ({pattern}) found; name the file with {key}")
    if len(matches) > 1:
        raise DatasetError(f"{root}: several {what} files match {pattern}: {[os.path.basename(m) for m in matches]}; "
                           f"name the one to use with {key}")
    return matches[0]


def read_pairs_csv(path: str) -> list[tuple[str, str, int]]:
    """``from,to`` rows as (from, to, 1-based line). Raises DatasetError for a malformed or empty file."""
    if not os.path.isfile(path):
        raise DatasetError(f"pairs file not found: {path}")
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != ["from", "to"]:
            raise DatasetError(f"{path}, line 1: header must be 'from,to', got {','.join(header or [])!r}")
        for line, row in enumerate(reader, start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                raise DatasetError(f"{path}, line {line}: expected two image names 'from,to', got {','.join(row)!r}")
            rows.append((row[0].strip(), row[1].strip(), line))
    if not rows:
        raise DatasetError(f"{path}: the pairs file has no pairs")
    return rows


def _image_size(path: str) -> tuple[int, int]:
    """(width, height) upright, as ``load_image`` will return the picture: keypoints are on it."""
    try:
        return image_size(path)
    except ImageLoadError as error:
        raise DatasetError(str(error)) from None


def read_patn_split(root: str | os.PathLike, split: str = "train", annotation: str | None = None,
                    pairs: str | None = None, images: str | None = None, identity: str = "auto") -> PairList:
    """Read one split of a PATN-layout dataset.

    Args:
        root: the dataset folder.
        split: "train" or "test" (any name whose files follow the pattern).
        annotation, pairs, images: explicit paths when the files don't follow
            ``*-annotation-<split>.csv``, ``*-pairs-<split>.csv`` and ``<split>/``.
        identity: how names map to people (see ``identity_from_name``).
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DatasetError(f"dataset folder not found: {root}")
    which = "train" if split == "train" else "eval"
    annotation = annotation or _find_one(root, f"*-annotation-{split}.csv", "annotation CSV",
                                         f"data.{which}_annotation in the training config (or --annotation)")
    pairs = pairs or _find_one(root, f"*-pairs-{split}.csv", "pairs CSV", "the pairs argument of read_patn_split")
    images = images or os.path.join(root, split)
    if not os.path.isdir(images):
        raise DatasetError(f"image folder not found: {images}")
    rows = read_pairs_csv(pairs)
    first = os.path.join(images, rows[0][0])
    if not os.path.isfile(first):
        raise DatasetError(f"{pairs}, line {rows[0][2]}: image {rows[0][0]!r} not found at {first}")
    width, height = _image_size(first)
    try:
        poses = read_patn_annotations(annotation, width, height)
    except PoseError as error:
        raise DatasetError(str(error)) from None
    except FileNotFoundError:
        raise DatasetError(f"annotation file not found: {annotation}") from None
    records = []
    for source, target, line in rows:
        for name in (source, target):
            if name not in poses:
                raise DatasetError(f"{pairs}, line {line}: {name!r} has no row in {annotation}")
            if not os.path.isfile(os.path.join(images, name)):
                raise DatasetError(f"{pairs}, line {line}: image {name!r} not found at {os.path.join(images, name)}")
        who = identity_from_name(source, identity)
        records.append(PairRecord(os.path.join(images, source), os.path.join(images, target),
                                  poses[source].keypoints[0], poses[target].keypoints[0], who))
    synthetic = os.path.exists(os.path.join(root, _SYNTHETIC_MARKER))
    kind = "SyntheticPeople (synthetic)" if synthetic else "PATN layout"
    return PairList(tuple(records), f"{kind} {root} [{split}]: {len(records)} pairs", synthetic)


def read_generic_folder(root: str | os.PathLike, max_pairs_per_identity: int | None = None) -> PairList:
    """Read the generic layout: ``<root>/<identity>/<image>`` plus ``<image>.json`` (OpenPose JSON).

    Images whose JSON has nobody in it are skipped as pair members; a missing
    or malformed JSON raises DatasetError naming it. ``max_pairs_per_identity``
    keeps the first pairs of each identity in a fixed order.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DatasetError(f"dataset folder not found: {root}")
    records = []
    for person in sorted(os.listdir(root)):
        folder = os.path.join(root, person)
        if not os.path.isdir(folder):
            continue
        members = []
        for name in sorted(os.listdir(folder)):
            if not name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            path = os.path.join(folder, name)
            pose_path = os.path.splitext(path)[0] + ".json"
            if not os.path.isfile(pose_path):
                raise DatasetError(f"{path}: no pose file {pose_path} (run training/prepare_dataset.py to make them)")
            width, height = _image_size(path)
            try:
                with open(pose_path, encoding="utf-8") as handle:
                    frames = poses_from_openpose_json(handle.read(), canvas_size=(width, height))
            except PoseError as error:
                raise DatasetError(f"{pose_path}: {error}") from None
            if len(frames) != 1:
                raise DatasetError(f"{pose_path}: expected one pose frame for one image, got {len(frames)}")
            pose = frames[0]
            if not pose.has_person:
                continue
            if (pose.width, pose.height) != (width, height):
                pose = pose.resized(width, height)
            members.append((path, pose.main_person().keypoints[0]))
        ordered = [(a, b) for a in members for b in members if a[0] != b[0]]
        if max_pairs_per_identity is not None:
            ordered = ordered[:max_pairs_per_identity]
        records.extend(PairRecord(a[0], b[0], a[1], b[1], person) for a, b in ordered)
    if not records:
        raise DatasetError(f"{root}: no pairs (need identity folders with at least two posed images each)")
    return PairList(tuple(records), f"generic layout {root}: {len(records)} pairs")


def load_image_tensor(path: str, background: float) -> torch.Tensor:
    """(3, H, W) float32 RGB in [0, 1], read as the nodes read it (``imageio.load_image``: EXIF
    orientation, 16-bit precision, one pixel limit), transparent parts over the grey level
    ``background``."""
    try:
        loaded = load_image(path)
    except ImageLoadError as error:
        raise DatasetError(str(error)) from None
    return torch.from_numpy(np.ascontiguousarray(loaded.composited(background))).permute(2, 0, 1)


class PairDataset(Dataset):
    """Pairs as model-ready tensors.

    ``dataset[draw]`` (draw = epoch * len(pairs) + index, see ``EpochSampler``) returns:
        source: (3, H, W) float32 in [0, 1], letterboxed to the canvas and augmented.
        target: (3, H, W) float32 in [0, 1], letterboxed, never augmented (except the pair flip).
        target_keypoints: (18, 3) float32, x and y in canvas pixels, conf 0 = missing.
        source_keypoints: (18, 3) float32 for the clean source (shown in sample grids).
        identity: int64 class in ``identities``, or -1 for a person outside it (a test identity).
        index: int64 pair index.
    """

    def __init__(self, pairs: PairList, canvas: tuple[int, int], fill: float, augment: AugmentConfig | None = None,
                 seed: int = 0, identities: Sequence[str] | None = None) -> None:
        self.pairs = pairs
        self.canvas = canvas
        self.fill = fill
        self.augment = augment
        self.seed = seed
        self.identities = list(identities if identities is not None else pairs.identities)
        self._labels = {name: i for i, name in enumerate(self.identities)}

    def __len__(self) -> int:
        return len(self.pairs)

    def _load(self, path: str, keypoints: np.ndarray) -> tuple[torch.Tensor, Pose]:
        image = load_image_tensor(path, self.fill)
        pose = Pose(keypoints, image.shape[-1], image.shape[-2])
        box = Letterbox.fit(tuple(image.shape[-2:]), self.canvas)
        return box.apply_image(image, self.fill), box.apply_pose(pose)

    def __getitem__(self, draw: int) -> dict[str, torch.Tensor]:
        index = int(draw) % len(self.pairs)
        record = self.pairs.pairs[index]
        source, source_pose = self._load(record.source, record.source_keypoints)
        target, target_pose = self._load(record.target, record.target_keypoints)
        if self.augment is not None:
            generator = torch.Generator().manual_seed(_mix(self.seed, int(draw)))
            if should_flip(self.augment, generator):
                source, source_pose = source.flip(-1), source_pose.flipped()
                target, target_pose = target.flip(-1), target_pose.flipped()
            source = augment_input(source, self.augment, generator, self.fill)
        return {
            "source": source.contiguous(),
            "target": target.contiguous(),
            "source_keypoints": torch.from_numpy(source_pose.keypoints[0]),
            "target_keypoints": torch.from_numpy(target_pose.keypoints[0]),
            "identity": torch.tensor(self._labels.get(record.identity, -1), dtype=torch.long),
            "index": torch.tensor(index, dtype=torch.long),
        }


def _mix(seed: int, value: int) -> int:
    """A 63-bit seed from two integers (numpy's SeedSequence hashing)."""
    return int(np.random.SeedSequence([seed, value]).generate_state(1, np.uint64)[0] >> np.uint64(1))


class EpochSampler(Sampler[int]):
    """Shuffled draws whose order depends only on (seed, epoch).

    Yields draws ``epoch * length + i`` for a permutation of i in range(length),
    starting ``skip`` draws into the epoch (to resume mid-epoch). ``start_epoch``
    picks both for the next iteration. (It is deliberately not called
    ``set_epoch``: data-loader wrappers call that on their own schedule.)
    """

    def __init__(self, length: int, seed: int = 0, shuffle: bool = True) -> None:
        if length <= 0:
            raise DatasetError("cannot sample from an empty dataset")
        self.length = length
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.skip = 0

    def start_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch = int(epoch)
        self.skip = int(skip)

    def order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.length)
        return np.random.default_rng([self.seed, epoch]).permutation(self.length)

    def __iter__(self) -> Iterator[int]:
        skip, self.skip = self.skip, 0
        base = self.epoch * self.length
        for i in self.order(self.epoch)[skip:]:
            yield base + int(i)

    def __len__(self) -> int:
        return self.length - self.skip


def collate(samples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: torch.stack([s[key] for s in samples]) for key in samples[0]}
