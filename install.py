"""Builds the offline BlazePose model for the mediapipe pose estimator.

ComfyUI-Manager runs this file after installing the pack; after a manual
install, run it with ComfyUI's Python (see README.md). mediapipe 1.x, which
works with ComfyUI's numpy 2, bundles no model, so this fetches mediapipe
0.10.21's wheel once with pip (without installing it: it would downgrade
numpy), takes its two Apache-2.0 BlazePose models and writes
annotators/pose_landmarker_full.task in the pack, where the nodes find it.
Afterwards pose estimation needs no network. Nothing is done when the file
is already there.
"""

import glob
import os
import subprocess
import sys
import tempfile

PACK_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, PACK_DIR)  # a standalone script: ComfyUI is not running here

from rptgan_core.estimation.blazepose_task import TASK_FILE, build_task_file, models_from_wheel  # noqa: E402

SOURCE_WHEEL = "mediapipe==0.10.21"
TARGET = os.path.join(PACK_DIR, "annotators", TASK_FILE)


def main() -> int:
    if os.path.isfile(TARGET):
        print(f"comfyui-rptgan: {TARGET} is already there")
        return 0
    with tempfile.TemporaryDirectory(prefix="rptgan-blazepose-") as folder:
        # Any platform's wheel holds the same models; one fixed platform keeps the download the same everywhere.
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                               "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                               "--dest", folder, SOURCE_WHEEL])
        (wheel,) = glob.glob(os.path.join(folder, "*.whl"))
        build_task_file(*models_from_wheel(wheel), TARGET)
    print(f"comfyui-rptgan: wrote {TARGET} (BlazePose for the mediapipe estimator, offline from now on)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
