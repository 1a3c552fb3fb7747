"""Round trip of the pose editor's live preview: POST /rptgan/preview to picture bytes.

Serves the pack's routes (nodes/routes.py) with aiohttp in this process, as
ComfyUI does, with the example person as the source image and a checkpoint
(the demo's by default), and posts a drag: the example pose with its left arm
turned a little further each time. Each request waits for its answer, as the
editor's client does (one in flight), so the median is what a user sees after
a pause, less the client's debounce (pose_preview.js DEBOUNCE_MS), which the
"pause to picture" figure adds back. Target: at most 150 ms from a pause to the
picture for the default model on a 2-core CPU.

    python bench/preview.py [--checkpoint checkpoints/rptgan-synthetic-demo.safetensors] [--requests 40] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

TARGET_MS = 150.0
ASSETS = os.path.join(REPO, "examples", "assets")


def _debounce_ms() -> float:
    with open(os.path.join(REPO, "web", "js", "pose_preview.js"), encoding="utf-8") as handle:
        return float(re.search(r"DEBOUNCE_MS = (\d+)", handle.read()).group(1))


def _load_pack():
    spec = importlib.util.spec_from_file_location("comfyui_rptgan_bench", os.path.join(REPO, "__init__.py"),
                                                  submodule_search_locations=[REPO])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return spec.name


def _drag(count: int) -> list[list[dict]]:
    """``count`` POSE_KEYPOINT frames: the example pose, left arm raised a little more each time."""
    from rptgan_core import pose_edit
    from rptgan_core.jsonio import read_json_file
    from rptgan_core.pose import poses_from_openpose_json, poses_to_openpose_json

    pose = poses_from_openpose_json(read_json_file(os.path.join(ASSETS, "synthetic_person_pose.json"), "pose"))[0]
    return [poses_to_openpose_json([pose_edit.rotate_limb(pose, "left_arm", -3.0 * i)]) for i in range(count)]


async def _run(checkpoint: str, requests: int) -> dict:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from rptgan_core.jsonio import read_json_file

    package = _load_pack()
    routes = sys.modules[f"{package}.nodes.routes"]
    table = web.RouteTableDef()
    routes.add_routes(table, web)
    app = web.Application()
    app.add_routes(table)
    source_pose = read_json_file(os.path.join(ASSETS, "synthetic_person_pose.json"), "pose")
    body = {"image": {"filename": "synthetic_person.png", "subfolder": "", "type": "input"},
            "checkpoint": checkpoint, "source_pose": source_pose, "editor": "bench"}
    round_trips, server = [], []
    async with TestClient(TestServer(app)) as client:
        for sequence, pose in enumerate(_drag(requests + 2)):
            started = time.perf_counter()
            request = json.dumps({**body, "pose": pose, "sequence": sequence})
            response = await client.post("/rptgan/preview", data=request)
            content = await response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200:
                raise SystemExit(f"preview failed ({response.status}): {content[:300]!r}")
            if sequence >= 2:  # the first two load the model and warm up
                round_trips.append(elapsed)
                server.append(float(response.headers["X-RPTGAN-Milliseconds"]))
    debounce = _debounce_ms()
    median = statistics.median(round_trips)
    return {
        "checkpoint": checkpoint, "requests": len(round_trips), "ms_round_trip_median": round(median, 1),
        "ms_server_median": round(statistics.median(server), 1), "ms_debounce": debounce,
        "ms_pause_to_picture": round(median + debounce, 1), "target_ms": TARGET_MS,
        "ratio_to_target": round((median + debounce) / TARGET_MS, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=os.path.join(REPO, "checkpoints", "rptgan-synthetic-demo.safetensors"))
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="rptgan-preview-bench-")
    try:
        for name in ("input", "temp", "models"):
            os.makedirs(os.path.join(work, name))
        shutil.copy(os.path.join(ASSETS, "synthetic_person.png"), os.path.join(work, "input"))
        shutil.copy(args.checkpoint, os.path.join(work, "models"))
        os.environ.update(RPTGAN_INPUT_DIR=os.path.join(work, "input"), RPTGAN_TEMP_DIR=os.path.join(work, "temp"),
                          RPTGAN_MODELS_DIR=os.path.join(work, "models"))
        result = asyncio.run(_run(os.path.basename(args.checkpoint), args.requests))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"preview round trip with {result['checkpoint']}: median {result['ms_round_trip_median']} ms over "
          f"{result['requests']} requests (model and PNG {result['ms_server_median']} ms); pause to picture "
          f"{result['ms_pause_to_picture']} ms with the {result['ms_debounce']:.0f} ms debounce, "
          f"{result['ratio_to_target']}x the {TARGET_MS:.0f} ms target")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
