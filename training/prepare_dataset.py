"""Turn a folder of person photos into a training dataset.

    python training/prepare_dataset.py PHOTOS OUT [--estimator mediapipe] [--test-fraction 0.2]

``PHOTOS`` holds one folder per person (``PHOTOS/alice/*.jpg``; the folder name
is the identity). Each photo goes through the pose estimator, is cropped around
the main person at the model's aspect ratio and resized to ``--size``. People
are split by identity into ``train`` and ``test`` (no person in both). ``OUT``
then holds both layouts at once:

* generic: ``OUT/<split>/<identity>/<photo>.png`` with ``<photo>.json`` (OpenPose JSON);
* PATN: ``OUT/prepared-annotation-<split>.csv`` and ``OUT/prepared-pairs-<split>.csv``
  (every ordered pair of one person's photos, capped by ``--max-pairs-per-identity``).

Train on it with ``--set data.root=OUT`` (PATN layout). Photos where nobody is
found are skipped and listed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from rptgan_core.errors import run_command  # noqa: E402
from rptgan_core.estimation import EstimatorUnavailable, create_estimator  # noqa: E402
from rptgan_core.framing import crop_to_box, person_box  # noqa: E402
from rptgan_core.imageio import (  # noqa: E402
    IMAGE_EXTENSIONS,
    ImageLoadError,
    load_image,
)
from rptgan_core.pose import Pose, pose_to_openpose_frame, resize_image, write_patn_annotations  # noqa: E402

PREFIX = "prepared"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", help="folder with one sub-folder of photos per person")
    parser.add_argument("output", help="dataset folder to write")
    parser.add_argument("--estimator", default="mediapipe", help="pose estimator backend (mediapipe, openpose)")
    parser.add_argument("--model-dir", help="model folder for the openpose backend")
    parser.add_argument("--size", default="256x176", help="HEIGHTxWIDTH of the written images (default 256x176)")
    parser.add_argument("--margin", type=float, default=0.15, help="crop margin around the person, in body heights")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="share of identities held out for testing")
    parser.add_argument("--max-pairs-per-identity", type=int, default=200)
    parser.add_argument("--min-keypoints", type=int, default=8, help="skip photos with fewer visible keypoints")
    parser.add_argument("--seed", type=int, default=0, help="seed of the identity split")
    return parser.parse_args(argv)


def parse_size(text: str) -> tuple[int, int]:
    """``--size`` HEIGHTxWIDTH as (height, width), positive; SystemExit naming the problem otherwise."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--size must look like 256x176 (height x width), got {text!r}") from None
    if height <= 0 or width <= 0:
        raise SystemExit(f"--size must be positive, got {text!r}")
    return height, width


def safe_name(name: str, taken: set[str], what: str) -> str:
    """``name`` made filesystem- and CSV-safe (no ``,`` or ``:``, which the PATN files use as
    separators), and made unique among ``taken`` with a ``-2``, ``-3``... suffix, so two
    folders or photos whose names clean to the same one (``c.jpg`` and ``c.png``) stay two;
    the result is added to ``taken``."""
    cleaned = "".join(c if c.isalnum() or c in "-." else "-" for c in name).strip(".-")
    if not cleaned:
        raise SystemExit(f"{what} {name!r} has no usable characters in its name")
    unique, count = cleaned, 1
    while unique in taken:
        count += 1
        unique = f"{cleaned}-{count}"
    taken.add(unique)
    return unique


def list_photos(root: str) -> dict[str, list[str]]:
    """{identity: photo paths} from ``root/<identity>/*``; identities with fewer than two photos are dropped."""
    if not os.path.isdir(root):
        raise SystemExit(f"photo folder not found: {root}")
    people: dict[str, list[str]] = {}
    for folder in sorted(os.listdir(root)):
        path = os.path.join(root, folder)
        if os.path.isdir(path):
            photos = sorted(os.path.join(path, n) for n in os.listdir(path) if n.lower().endswith(IMAGE_EXTENSIONS))
            if len(photos) >= 2:
                people[safe_name(folder, set(people), "identity folder")] = photos  # the names taken so far
    if not people:
        raise SystemExit(f"{root}: need sub-folders (one per person) with at least two photos each")
    return people


def frame_person(photo: np.ndarray, pose: Pose, size: tuple[int, int], margin: float) -> tuple[np.ndarray, Pose]:
    """Crop the main person at the aspect of ``size`` and resize: uint8 (h, w, 3) and the pose on it."""
    height, width = photo.shape[:2]
    person = pose.main_person()
    box = person_box(person, (height, width), aspect=size[1] / size[0], margin=margin)
    image = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    cropped = crop_to_box(image, box, fill=1.0)
    resized = resize_image(cropped, *size).clamp(0, 1)
    moved = person.translated(-box.left, -box.top, box.width, box.height).resized(size[1], size[0])
    array = (resized * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return array, moved


def save_sample(output: str, split: str, identity: str, stem: str, image: np.ndarray, pose: Pose) -> str:
    """Write one crop and its pose in the generic layout; returns its PATN name ``<identity>/<stem>.png``."""
    folder = os.path.join(output, split, identity)
    os.makedirs(folder, exist_ok=True)
    name = f"{identity}/{stem}.png"
    Image.fromarray(image).save(os.path.join(output, split, name))
    with open(os.path.join(folder, stem + ".json"), "w", encoding="utf-8") as handle:
        json.dump([pose_to_openpose_frame(pose)], handle)
    return name


def write_patn_split(output: str, split: str, annotations: dict[str, Pose], pairs: list[tuple[str, str]]) -> None:
    """The PATN layout's annotation and pairs files of one split."""
    write_patn_annotations(os.path.join(output, f"{PREFIX}-annotation-{split}.csv"), annotations)
    with open(os.path.join(output, f"{PREFIX}-pairs-{split}.csv"), "w", encoding="utf-8") as handle:
        handle.write("from,to\n")
        handle.writelines(f"{a},{b}\n" for a, b in pairs)


def split_identities(identities: list[str], test_fraction: float, seed: int) -> set[str]:
    """The identities held out for testing: ``test_fraction`` of them (at least one of two or more)."""
    order = np.random.default_rng(seed).permutation(len(identities))
    held_out = max(1, round(len(identities) * test_fraction)) if len(identities) > 1 else 0
    return {identities[i] for i in order[:held_out]}


def prepare(args: argparse.Namespace) -> dict[str, object]:
    size = parse_size(args.size)
    if not 0 < args.test_fraction < 1:
        raise SystemExit("--test-fraction must be between 0 and 1")
    people = list_photos(args.photos)
    options = {"model_dir": args.model_dir} if args.model_dir else {}
    try:
        estimator = create_estimator(args.estimator, **options)
    except EstimatorUnavailable as error:
        raise SystemExit(f"pose estimator {args.estimator!r} is unavailable: {error}") from None
    identities = sorted(people)
    test = split_identities(identities, args.test_fraction, args.seed)
    skipped: list[str] = []
    written: dict[str, dict[str, list[str]]] = {"train": {}, "test": {}}
    annotations: dict[str, dict[str, Pose]] = {"train": {}, "test": {}}
    total = sum(len(v) for v in people.values())
    with tqdm(total=total, desc="estimating poses", unit="photo") as bar:
        for identity in identities:
            split = "test" if identity in test else "train"
            stems: set[str] = set()
            for path in people[identity]:
                bar.update(1)
                try:
                    photo = (load_image(path).rgb * 255).round().astype(np.uint8)
                except ImageLoadError as error:
                    skipped.append(f"{path}: {error}")
                    continue
                pose = estimator.estimate(photo)
                if pose.num_people == 0 or int(pose.main_person().visible.sum()) < args.min_keypoints:
                    skipped.append(f"{path}: no person with at least {args.min_keypoints} visible keypoints")
                    continue
                image, moved = frame_person(photo, pose, size, args.margin)
                stem = safe_name(os.path.splitext(os.path.basename(path))[0], stems, "photo")
                name = save_sample(args.output, split, identity, stem, image, moved)
                annotations[split][name] = moved
                written[split].setdefault(identity, []).append(name)
    counts = {}
    for split in ("train", "test"):
        pairs = []
        for identity, names in written[split].items():
            ordered = [(a, b) for a in names for b in names if a != b]
            pairs.extend(ordered[: args.max_pairs_per_identity])
        if not pairs:
            raise SystemExit(f"no {split} pairs: the {split} identities need at least two usable photos each "
                             f"({len(skipped)} photos were skipped)")
        write_patn_split(args.output, split, annotations[split], pairs)
        counts[split] = {"identities": len(written[split]), "images": len(annotations[split]), "pairs": len(pairs)}
    return {"counts": counts, "skipped": skipped}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = prepare(args)
    for message in result["skipped"]:
        print(f"skipped {message}", file=sys.stderr)
    for split, count in result["counts"].items():
        print(f"{split}: {count['identities']} identities, {count['images']} images, {count['pairs']} pairs")
    print(f"wrote {args.output}; train with: accelerate launch training/train.py --preset deepfashion "
          f"--set data.root={args.output} --set data.identity=folder --set data.evaluation=plain")


if __name__ == "__main__":
    run_command(main)
