"""DeepFashion In-shop, as the field uses it: from the official download to the PATN layout.

    python training/prepare_deepfashion.py --inshop DeepFashion/img --patn patn_files/ --output data/fashion

Inputs (both need a manual download; nothing is fetched):

* ``--inshop``: the In-shop Clothes Retrieval ``img/`` folder (``Img/img.zip``
  unpacked, 256x256 JPEGs): ``WOMEN/Dresses/id_00000002/02_1_front.jpg`` ...
* ``--patn``: a folder with PATN's split lists ``train.lst`` and ``test.lst``
  (in PATN's repository, ``fashion_data/``) and its annotation and pair CSVs
  ``fasion-resize-annotation-{train,test}.csv`` and
  ``fasion-resize-pairs-{train,test}.csv`` (PATN's published data files).

Each listed image is found under its In-shop path (PATN's name is
``fashion`` + gender + category + id without its underscore + the file name
without its first underscore: ``WOMEN/Blouses_Shirts/id_00000637/03_1_front.jpg``
-> ``fashionWOMENBlouses_Shirtsid0000063703_1front.jpg``), cropped to x 40..216
(256x176) and saved, as PATN's ``generate_fashion_datasets.py`` saves it, as a
JPEG with PIL's default quality, into ``OUTPUT/train`` or ``OUTPUT/test``. The
CSVs are copied as ``fashion-annotation-<split>.csv`` and
``fashion-pairs-<split>.csv``. Every pair member must be in its split's list and
have an annotation row; the pair counts (PATN: 101,966 train, 8,570 test) are
printed. Train with ``--preset deepfashion --data OUTPUT``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from rptgan_core.errors import run_command  # noqa: E402
from rptgan_core.imageio import ImageLoadError, load_image  # noqa: E402
from rptgan_core.pose import PoseError, read_patn_annotations  # noqa: E402
from rptgan_core.training.data import DatasetError, read_pairs_csv  # noqa: E402

INSHOP_SIZE = (256, 256)  # (width, height) of the In-shop img/ files
CROP = (40, 0, 216, 256)  # PIL box (left, top, right, bottom): 256x176
PATN_PAIRS = {"train": 101_966, "test": 8_570}
SPLITS = ("train", "test")


def patn_name(relative: str) -> str:
    """PATN's image name for an In-shop path relative to ``img/`` (``GENDER/CATEGORY/id_XXXXXXXX/NN_V_view.jpg``)."""
    parts = relative.replace("\\", "/").split("/")
    if len(parts) != 4 or "_" not in parts[3] or not parts[2].startswith("id_"):
        raise DatasetError(f"{relative}: not an In-shop image path GENDER/CATEGORY/id_XXXXXXXX/NN_V_view.jpg")
    gender, category, identity, file = parts
    head, rest = file.split("_", 1)
    return f"fashion{gender}{category}{identity.replace('_', '')}{head}_{rest.replace('_', '')}"


def read_list(path: str) -> list[str]:
    """The ``.jpg`` names of a PATN split list, one a line."""
    if not os.path.isfile(path):
        raise DatasetError(f"split list not found: {path} (PATN's fashion_data/{os.path.basename(path)})")
    with open(path, encoding="utf-8") as handle:
        names = [line.strip() for line in handle if line.strip().endswith(".jpg")]
    if not names:
        raise DatasetError(f"{path}: no .jpg names")
    return names


def index_inshop(root: str) -> dict[str, str]:
    """{PATN name: In-shop file path} for every .jpg under ``root``."""
    if not os.path.isdir(root):
        raise DatasetError(f"In-shop image folder not found: {root}")
    index = {}
    for folder, _, files in os.walk(root):
        for file in files:
            if file.lower().endswith(".jpg"):
                path = os.path.join(folder, file)
                index[patn_name(os.path.relpath(path, root))] = path
    if not index:
        raise DatasetError(f"{root}: no .jpg files; pass the In-shop img/ folder (GENDER/CATEGORY/id_*/...)")
    return index


def crop_image(source: str, destination: str) -> None:
    """Crop one 256x256 In-shop image to x 40..216 and save it as PATN does (JPEG, PIL's default quality)."""
    try:
        loaded = load_image(source)
    except ImageLoadError as error:
        raise DatasetError(str(error)) from None
    if (loaded.width, loaded.height) != INSHOP_SIZE:
        raise DatasetError(f"{source}: {loaded.width}x{loaded.height}, expected 256x256 (the In-shop img/ "
                           "folder, not img_highres/)")
    Image.fromarray((loaded.composited(1.0) * 255).round().astype(np.uint8)).crop(CROP).save(destination)


def prepare(inshop: str, patn: str, output: str) -> dict[str, dict[str, int]]:
    """Write the PATN layout into ``output``; {split: {"images": n, "pairs": n}}."""
    index = index_inshop(inshop)
    counts = {}
    for split in SPLITS:
        names = read_list(os.path.join(patn, f"{split}.lst"))
        missing = [n for n in names if n not in index]
        if missing:
            raise DatasetError(f"{len(missing)} images of {split}.lst are not in {inshop} (e.g. {missing[0]}); "
                               "is it the complete In-shop img/ folder?")
        annotation = os.path.join(patn, f"fasion-resize-annotation-{split}.csv")
        pairs = os.path.join(patn, f"fasion-resize-pairs-{split}.csv")
        if not os.path.isfile(annotation):
            raise DatasetError(f"annotation CSV not found: {annotation} (PATN's data files)")
        try:
            poses = read_patn_annotations(annotation, CROP[2] - CROP[0], CROP[3] - CROP[1])
        except PoseError as error:
            raise DatasetError(str(error)) from None
        listed = set(names)
        rows = read_pairs_csv(pairs)
        for source, target, line in rows:
            for name in (source, target):
                if name not in listed:
                    raise DatasetError(f"{pairs}, line {line}: {name!r} is not in {split}.lst")
                if name not in poses:
                    raise DatasetError(f"{pairs}, line {line}: {name!r} has no row in {annotation}")
        folder = os.path.join(output, split)
        os.makedirs(folder, exist_ok=True)
        for name in names:
            crop_image(index[name], os.path.join(folder, name))
        shutil.copyfile(annotation, os.path.join(output, f"fashion-annotation-{split}.csv"))
        shutil.copyfile(pairs, os.path.join(output, f"fashion-pairs-{split}.csv"))
        counts[split] = {"images": len(names), "pairs": len(rows)}
    return counts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inshop", required=True, help="the In-shop img/ folder (256x256 images)")
    parser.add_argument("--patn", required=True,
                        help="folder with train.lst, test.lst and PATN's four fasion-resize CSVs")
    parser.add_argument("--output", required=True, help="where to write the PATN layout")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        counts = prepare(args.inshop, args.patn, args.output)
    except DatasetError as error:
        raise SystemExit(f"error: {error}") from None
    for split, count in counts.items():
        note = "" if count["pairs"] == PATN_PAIRS[split] else f" (PATN's {split} set has {PATN_PAIRS[split]:,})"
        print(f"{split}: {count['images']} images, {count['pairs']} pairs{note}")
    print(f"wrote {args.output}; train with: "
          f"accelerate launch training/train.py --preset deepfashion --data {args.output}")


if __name__ == "__main__":
    run_command(main)
