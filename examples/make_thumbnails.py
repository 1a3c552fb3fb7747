"""Make the Templates browser's thumbnails: example_workflows/<name>.jpg, one per workflow.

    python examples/make_thumbnails.py

Each API workflow runs headlessly (examples/run_example.py) with the shipped
demo checkpoint on the example inputs, and its saved images are set side by
side, the skeletons after the frames. The photo example estimates poses with
MediaPipe, so run this where mediapipe works offline (the dev environment's
0.10.21, or 1.x after install.py). Rerun it after the checkpoint or a
workflow changes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run_example  # noqa: E402
from graph_executor import PACK_DIR  # noqa: E402

WORKFLOWS = os.path.join(PACK_DIR, "example_workflows")
HEIGHT = 256
MAX_PICTURES = 5
GAP = 4


def contact_sheet(paths: list[str]) -> Image.Image:
    """The pictures scaled to HEIGHT and set in a row on black, frames before skeletons."""
    frames = [p for p in paths if "_pose_" not in os.path.basename(p)]
    poses = [p for p in paths if "_pose_" in os.path.basename(p)]
    chosen = frames[: MAX_PICTURES - 1] + poses[:1] if poses else frames[:MAX_PICTURES]
    pictures = []
    for path in chosen:
        with Image.open(path) as picture:
            width = round(picture.width * HEIGHT / picture.height)
            pictures.append(picture.convert("RGB").resize((width, HEIGHT), Image.Resampling.LANCZOS))
    sheet = Image.new("RGB", (sum(p.width for p in pictures) + GAP * (len(pictures) - 1), HEIGHT))
    left = 0
    for picture in pictures:
        sheet.paste(picture, (left, 0))
        left += picture.width + GAP
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=run_example.DEMO_CHECKPOINT)
    args = parser.parse_args(argv)
    for name in sorted(f[:-5] for f in os.listdir(os.path.join(WORKFLOWS, "api")) if f.endswith(".json")):
        with tempfile.TemporaryDirectory(prefix="rptgan-thumbnail-") as out:
            code = run_example.main(["--out", out, "--checkpoint", args.checkpoint,
                                     "--workflow", os.path.join(WORKFLOWS, "api", f"{name}.json")])
            if code:
                print(f"error: {name} did not run (exit status {code})", file=sys.stderr)
                return code
            saved = sorted(os.path.join(root, f) for root, _, files in os.walk(out)
                           for f in files if f.endswith(".png"))
            target = os.path.join(WORKFLOWS, f"{name}.jpg")
            contact_sheet(saved).save(target, quality=88)
            print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
