"""prepare_deepfashion.py on a tiny fake In-shop folder and PATN-style lists and CSVs (synthetic people)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rptgan_core.training.data import DatasetError, read_patn_split
from rptgan_core.training.synthetic import render_sample

PEOPLE = [("WOMEN", "Blouses_Shirts", "id_00000637"), ("MEN", "Denim", "id_00000080"),
          ("WOMEN", "Dresses", "id_00002629")]
VIEWS = ("01_1_front.jpg", "01_2_side.jpg")


def _fake_download(tmp_path, size=(256, 256)):
    inshop = tmp_path / "img"
    names = []
    for person, (gender, category, identity) in enumerate(PEOPLE):
        folder = inshop / gender / category / identity
        folder.mkdir(parents=True)
        for view, file in enumerate(VIEWS):
            image = render_sample(7, person, view, size[1], size[0]).image
            Image.fromarray(image).save(folder / file)
            names.append(f"fashion{gender}{category}{identity.replace('_', '')}{file[:2]}_{file[3:].replace('_', '')}")
    patn = tmp_path / "patn"
    patn.mkdir()
    splits = {"train": names[:4], "test": names[4:]}
    for split, members in splits.items():
        (patn / f"{split}.lst").write_text("\n".join(members) + "\n")
        rows = [f"{n}:[10, 20, -1, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 12, 12, 14, 14]:"
                f"[88, 88, -1, 70, 60, 100, 110, 120, 80, 80, 80, 96, 96, 96, 84, 92, 80, 96]" for n in members]
        (patn / f"fasion-resize-annotation-{split}.csv").write_text("name:keypoints_y:keypoints_x\n" + "\n".join(rows))
        pairs = [f"{a},{b}" for a in members for b in members if a != b]
        (patn / f"fasion-resize-pairs-{split}.csv").write_text("from,to\n" + "\n".join(pairs) + "\n")
    return inshop, patn, splits


def test_patn_names_follow_generate_fashion_datasets(load_script):
    prepare = load_script("prepare_deepfashion")
    assert prepare.patn_name("WOMEN/Blouses_Shirts/id_00000637/03_1_front.jpg") == \
        "fashionWOMENBlouses_Shirtsid0000063703_1front.jpg"
    assert prepare.patn_name("MEN/Denim/id_00000080/01_7_additional.jpg") == \
        "fashionMENDenimid0000008001_7additional.jpg"
    with pytest.raises(DatasetError, match="not an In-shop image path"):
        prepare.patn_name("WOMEN/photo.jpg")


def test_inshop_download_becomes_the_patn_layout(load_script, tmp_path, capsys):
    prepare = load_script("prepare_deepfashion")
    inshop, patn, splits = _fake_download(tmp_path)
    output = tmp_path / "fashion"
    prepare.main(["--inshop", str(inshop), "--patn", str(patn), "--output", str(output)])
    out = capsys.readouterr().out
    assert "train: 4 images, 12 pairs (PATN's train set has 101,966)" in out
    first = splits["train"][0]
    with Image.open(output / "train" / first) as image:
        assert image.size == (176, 256)
        cropped = np.asarray(image)
    reference = tmp_path / "reference.jpg"  # PATN: Image.open(path).crop((40, 0, 216, 256)).save(new_name)
    original = inshop / "WOMEN" / "Blouses_Shirts" / "id_00000637" / "01_1_front.jpg"
    Image.open(original).crop((40, 0, 216, 256)).save(reference)
    assert np.array_equal(cropped, np.asarray(Image.open(reference)))
    pairs = read_patn_split(str(output), "train", identity="deepfashion")
    assert len(pairs) == 12 and pairs.identities == ["id00000080", "id00000637"]
    assert len(read_patn_split(str(output), "test")) == 2


def test_prepare_deepfashion_says_what_is_wrong(load_script, tmp_path):
    prepare = load_script("prepare_deepfashion")
    inshop, patn, splits = _fake_download(tmp_path)
    with open(patn / "fasion-resize-pairs-test.csv", "a") as handle:
        handle.write(f"{splits['test'][0]},{splits['train'][0]}\n")
    with pytest.raises(DatasetError, match=r"fasion-resize-pairs-test.csv, line 4: .* is not in test.lst"):
        prepare.prepare(str(inshop), str(patn), str(tmp_path / "out"))
    (patn / "train.lst").write_text("fashionWOMENSkirtsid0000999901_1front.jpg\n")
    with pytest.raises(DatasetError, match="1 images of train.lst are not in"):
        prepare.prepare(str(inshop), str(patn), str(tmp_path / "out"))
    highres, patn_hr, _ = _fake_download(tmp_path / "hr", size=(512, 512))
    with pytest.raises(DatasetError, match="expected 256x256"):
        prepare.prepare(str(highres), str(patn_hr), str(tmp_path / "out-hr"))
