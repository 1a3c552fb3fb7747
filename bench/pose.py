"""Pose estimation cost on the CPU: median ms per image for each backend at 512 px.

The image is scikit-image's astronaut (512 x 512). OpenPose uses the real body
model when one is found (``--openpose-model``, ``--model-dir`` or the Hugging
Face cache) and randomly initialised weights otherwise: the network's cost is
the same, but the peak grouping after it depends on what the network finds,
so a random-weights figure is marked as such. MediaPipe uses the model its
version bundles, or ``--task`` (a pose_landmarker .task file).

    python bench/pose.py                   # a table
    python bench/pose.py --json            # last line: one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.timing import median_seconds  # noqa: E402


def _openpose(args, workdir: str):
    """(estimator, description of the weights)."""
    import torch
    from huggingface_hub import try_to_load_from_cache
    from safetensors.torch import save_file

    from rptgan_core.estimation import EstimatorUnavailable, create_estimator, openpose

    model_path = args.openpose_model
    if model_path is None:
        cached = try_to_load_from_cache(openpose.HUB_REPO, openpose.HUB_FILENAME)
        model_path = cached if isinstance(cached, str) else None
    if model_path is not None or args.model_dir is not None:
        try:
            estimator = create_estimator("openpose", model_path=model_path, model_dir=args.model_dir, download=False)
            return estimator, f"real ({estimator.model_path})"
        except EstimatorUnavailable as error:
            print(f"openpose: {error}; timing random weights instead", file=sys.stderr)
    torch.manual_seed(0)
    network = openpose.import_controlnet_openpose().model.bodypose_model()
    path = os.path.join(workdir, "random_body_pose_model.safetensors")
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, path)
    return create_estimator("openpose", model_path=path), "random (no local body_pose_model found)"


def _openpose_gflop(image) -> float:
    """GFLOP of one body-network pass on ``image`` (a figure the machine's load cannot change)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from rptgan_core.estimation import openpose

    # As controlnet-aux's Body: scaled to 184 px high, padded to a multiple of 8.
    height, width = image.shape[:2]
    scale = 0.5 * 368 / height
    size = [-(-int(n * scale) // 8) * 8 for n in (height, width)]
    with torch.device("meta"):
        network = openpose.import_controlnet_openpose().model.bodypose_model()
        with FlopCounterMode(display=False) as counter:
            network(torch.zeros(1, 3, *size))
    return counter.get_total_flops() / 1e9


def _mediapipe(args, workdir: str):
    from rptgan_core.estimation import create_estimator

    estimator = create_estimator("mediapipe", model_path=args.task)
    return estimator, repr(estimator)


def measure(args) -> dict:
    import numpy as np
    import torch
    from skimage import data

    from rptgan_core.estimation import EstimatorUnavailable, available_backends

    image = np.ascontiguousarray(data.astronaut())
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for name, build in (("openpose", _openpose), ("mediapipe", _mediapipe)):
            if name not in args.backends:
                continue
            if name not in available_backends():
                results[name] = {"skipped": "package not installed"}
                continue
            try:
                start = time.perf_counter()
                estimator, model = build(args, workdir)
                load_s = time.perf_counter() - start
            except EstimatorUnavailable as error:
                results[name] = {"skipped": str(error)}
                continue
            people = estimator.estimate(image).num_people
            results[name] = {
                "ms_per_image": round(1000 * median_seconds(lambda: estimator.estimate(image), args.repeats), 1),
                "model": model,
                "load_s": round(load_s, 2),
                "people_found": people,
            }
            if name == "openpose":
                results[name]["network_gflop"] = round(_openpose_gflop(image), 1)
    return {"image": "skimage astronaut, 512x512 RGB", "repeats": args.repeats,
            "torch_threads": torch.get_num_threads(), "backends": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=["openpose", "mediapipe"], choices=["openpose", "mediapipe"])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--openpose-model", help="body_pose_model .pth or .safetensors")
    parser.add_argument("--model-dir", help="folder searched for the OpenPose body model")
    parser.add_argument("--task", help="MediaPipe pose_landmarker .task file")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = measure(args)
    if args.json:
        print(json.dumps(report))
        return
    print(f"{report['image']}, median of {report['repeats']}, torch threads {report['torch_threads']}")
    for name, row in report["backends"].items():
        if "skipped" in row:
            print(f"  {name:10s} skipped: {row['skipped']}")
        else:
            gflop = f"  {row['network_gflop']} GFLOP" if "network_gflop" in row else ""
            print(f"  {name:10s} {row['ms_per_image']:8.1f} ms/image{gflop}  people {row['people_found']}  "
                  f"load {row['load_s']} s  model: {row['model']}")


if __name__ == "__main__":
    main()
