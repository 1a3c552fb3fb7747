"""Render the example inputs in examples/assets/ (synthetic data, not photographs).

    python examples/make_assets.py

Writes, for one SyntheticPeople person the demo checkpoint never saw in training
(the first test identity):

* ``synthetic_person.png``: the source image, standing, facing the camera;
* ``synthetic_person_pose.json``: its exact keypoints (POSE_KEYPOINT, one frame);
* ``synthetic_wave_sequence.json``: 8 target poses of the same body raising
  the right arm to wave while stepping (POSE_KEYPOINT, 8 frames).

Everything is a pure function of the constants below, so re-running gives the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rptgan_core.pose import poses_to_openpose_json  # noqa: E402
from rptgan_core.training.synthetic import (  # noqa: E402
    SYNTHETIC_LABEL,
    SyntheticPeopleSpec,
    identity_ranges,
    render_person,
    sample_identity,
)

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
FRAMES = 8
HEIGHT, WIDTH = 128, 96


def neutral_angles() -> dict[str, float]:
    """Standing straight, arms slightly out, facing the camera."""
    angles = {"yaw": 0.15, "lean": 0.0, "scale": 0.84, "shift": 0.0}
    for name in ("right", "left"):
        angles.update({f"{name}_arm_out": 0.18, f"{name}_arm_forward": 0.0, f"{name}_elbow": 0.15,
                       f"{name}_leg_out": 0.06, f"{name}_leg_forward": 0.0, f"{name}_knee": 0.05})
    return angles


def wave_angles(t: float) -> dict[str, float]:
    """The wave at time ``t`` in [0, 1]: right arm up and bending, a small step with the left leg."""
    angles = neutral_angles()
    angles["right_arm_out"] = 0.18 + 2.2 * t
    angles["right_elbow"] = 0.15 + 0.9 * np.sin(np.pi * t)
    angles["left_leg_forward"] = 0.25 * np.sin(np.pi * t)
    angles["left_knee"] = 0.05 + 0.2 * np.sin(np.pi * t)
    angles["left_arm_forward"] = -0.2 * np.sin(np.pi * t)
    return angles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=ASSETS, help="folder to write (default: examples/assets)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    spec = SyntheticPeopleSpec()
    identity = identity_ranges(spec)["test"][0]
    person = sample_identity(spec.seed, identity)
    source = render_person(person, neutral_angles(), HEIGHT, WIDTH, background=True)
    Image.fromarray(source.image).save(os.path.join(args.out, "synthetic_person.png"))
    with open(os.path.join(args.out, "synthetic_person_pose.json"), "w", encoding="utf-8") as handle:
        json.dump(poses_to_openpose_json([source.pose]), handle)

    frames = [render_person(person, wave_angles(i / (FRAMES - 1)), HEIGHT, WIDTH, background=False).pose
              for i in range(FRAMES)]
    with open(os.path.join(args.out, "synthetic_wave_sequence.json"), "w", encoding="utf-8") as handle:
        json.dump(poses_to_openpose_json(frames), handle)

    with open(os.path.join(args.out, "SYNTHETIC.md"), "w", encoding="utf-8") as handle:
        handle.write(
            "# Example assets: synthetic data\n\n"
            f"Every file here is {SYNTHETIC_LABEL}, rendered by `examples/make_assets.py` with\n"
            f"`rptgan_core.training.synthetic` (seed {spec.seed}, identity {identity}, a test identity the demo\n"
            "checkpoint was not trained on). No photograph of a real person is included.\n\n"
            "- `synthetic_person.png`: the source image (96x128).\n"
            "- `synthetic_person_pose.json`: its keypoints, OpenPose JSON (one frame).\n"
            f"- `synthetic_wave_sequence.json`: {FRAMES} target poses of the same body waving, OpenPose JSON.\n"
        )
    print(f"wrote synthetic example assets to {args.out}")


if __name__ == "__main__":
    main()
