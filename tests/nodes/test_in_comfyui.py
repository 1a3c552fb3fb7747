"""The pack inside a real ComfyUI: every example workflow queued over HTTP.

Needs a ComfyUI checkout: set COMFYUI_PATH (and COMFYUI_PYTHON when its
interpreter is not COMFYUI_PATH/venv/bin/python); skipped otherwise. The
server runs on 127.0.0.1 with a fresh --base-directory whose custom_nodes
holds a link to this pack, so the ComfyUI checkout itself is not touched.
The pack itself copies the example inputs into the input folder, each API
workflow is posted to /prompt and followed on /history, and the images it
saved are checked.
The checkpoint is the shipped demo one when present, else a tiny stand-in
under the demo's name in the base directory's models/rptgan. Workflows that
estimate poses use a stand-in estimator registered by a one-file custom node,
so they run without controlnet-aux or mediapipe in ComfyUI's environment.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

COMFYUI_PATH = os.environ.get("COMFYUI_PATH")
REPO = Path(__file__).resolve().parents[2]
PACK_NAME = "comfyui-rptgan"
DEMO = "rptgan-synthetic-demo.safetensors"
STARTUP_TIMEOUT = 180
RUN_TIMEOUT = 300
NODE_CLASSES = ("RPTGAN_LoadPersonImage", "RPTGAN_LoadPoseKeypoints", "RPTGAN_EstimatePose", "RPTGAN_EditPose",
                "RPTGAN_CheckpointLoader", "RPTGAN_PoseTransfer", "RPTGAN_Upscale")
pytestmark = [
    pytest.mark.comfyui,
    pytest.mark.slow,
    pytest.mark.skipif(not COMFYUI_PATH,
                       reason="set COMFYUI_PATH to a ComfyUI checkout to run the pack inside ComfyUI"),
]


def _request(url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 30):
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def comfyui(tmp_path_factory, run_comfyui, comfyui_base):
    base = comfyui_base(tmp_path_factory.mktemp("comfyui-base"))
    with run_comfyui(base, "/object_info", STARTUP_TIMEOUT) as (url, info, log_tail):
        yield {"url": url, "info": info, "base": base, "log": log_tail}


def test_all_nodes_load_under_one_category(comfyui):
    info = comfyui["info"]
    missing = [name for name in NODE_CLASSES if name not in info]
    assert not missing, f"not loaded: {missing}\n{comfyui['log']()}"
    for name in NODE_CLASSES:
        assert info[name]["category"] == "RPT-GAN"
        assert info[name]["python_module"] == f"custom_nodes.{PACK_NAME}"
    checkpoints = info["RPTGAN_CheckpointLoader"]["input"]["required"]["checkpoint"][0]
    assert DEMO in checkpoints, checkpoints
    failed = [line for line in comfyui["log"]().splitlines() if "IMPORT FAILED" in line and PACK_NAME in line]
    assert not failed, comfyui["log"]()


@pytest.mark.parametrize("workflow", sorted(p.name for p in (REPO / "example_workflows" / "api").glob("*.json")))
def test_example_workflow_runs(comfyui, workflow, comfyui_test_backend):
    url = comfyui["url"]
    prompt = json.loads((REPO / "example_workflows" / "api" / workflow).read_text())
    for node in prompt.values():
        for name in ("person_crop", "backend"):
            if node["inputs"].get(name) in ("openpose", "mediapipe"):
                node["inputs"][name] = comfyui_test_backend
    status, answer = _request(f"{url}/prompt", json.dumps({"prompt": prompt, "client_id": "rptgan-test"}).encode(),
                              {"Content-Type": "application/json"})
    assert status == 200 and not answer.get("node_errors"), json.dumps(answer, indent=1)[:3000]
    prompt_id = answer["prompt_id"]
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        _, history = _request(f"{url}/history/{prompt_id}")
        entry = (history or {}).get(prompt_id)
        if entry and (entry["status"].get("completed") or entry["status"].get("status_str") == "error"):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"{workflow} did not finish within {RUN_TIMEOUT} s:\n{comfyui['log']()}")
    if entry["status"]["status_str"] != "success":
        errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
        pytest.fail(f"{workflow} failed: {json.dumps(errors)[:3000]}")

    saved = [image for output in entry["outputs"].values() for image in output.get("images", [])
             if image["type"] == "output"]
    save_nodes = [node for node in prompt.values() if node["class_type"] == "SaveImage"]
    assert saved and len({image["filename"].rsplit("_", 2)[0] for image in saved}) == len(save_nodes)
    for image in saved:
        path = comfyui["base"] / "output" / image["subfolder"] / image["filename"]
        array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
        assert array.std() > 1.0, f"{path} is blank"
    if workflow == "rptgan_pose_sequence.json":
        assert len([i for i in saved if "wave_0" in i["filename"]]) == 8
    if workflow == "rptgan_photo_to_pose.json":  # pasted back into the whole photo
        (photo,) = [i for i in saved if "photo_0" in i["filename"]]
        size = Image.open(comfyui["base"] / "output" / photo["subfolder"] / photo["filename"]).size
        assert size == Image.open(REPO / "examples" / "assets" / "synthetic_person.png").size
    for node_id, node in prompt.items():
        if node["class_type"] == "RPTGAN_EditPose":
            ui = entry["outputs"][node_id]
            frames = json.loads(ui["rptgan_pose"][0])
            assert frames and "people" in frames[0]
            if ui["rptgan_background"]:
                background = ui["rptgan_background"][0]
                assert (comfyui["base"] / "temp" / background["filename"]).is_file()


def test_the_templates_browser_gets_the_workflows_and_their_thumbnails(comfyui):
    url = comfyui["url"]
    names = sorted(p.stem for p in (REPO / "example_workflows").glob("*.json"))
    _, listed = _request(f"{url}/workflow_templates")
    assert sorted(listed[PACK_NAME]) == names
    for name in names:
        with urllib.request.urlopen(f"{url}/api/workflow_templates/{PACK_NAME}/{name}.jpg", timeout=30) as response:
            assert response.status == 200 and response.read(3) == b"\xff\xd8\xff", name  # a JPEG


def test_the_pack_places_the_example_inputs(comfyui):
    """The examples run right after install: their inputs are copied into the input folder."""
    for asset in (REPO / "examples" / "assets").iterdir():
        if asset.suffix in (".png", ".json"):
            assert (comfyui["base"] / "input" / asset.name).read_bytes() == asset.read_bytes()


def test_clear_error_for_a_bad_input_file(comfyui):
    prompt = json.loads((REPO / "example_workflows" / "api" / "rptgan_pose_sequence.json").read_text())
    prompt["1"]["inputs"]["image"] = "../../etc/passwd"
    status, answer = _request(f"{comfyui['url']}/prompt", json.dumps({"prompt": prompt}).encode(),
                              {"Content-Type": "application/json"})
    # The pose-preview output does not depend on the image, so ComfyUI may accept the rest (200).
    assert status in (200, 400)
    details = json.dumps(answer["node_errors"]["1"])
    assert "outside the input folder" in details


def test_node_errors_name_the_pack_not_its_path(comfyui):
    """The error type ComfyUI reports in /history is the pack's, not a module named after its folder path."""
    (comfyui["base"] / "input" / "rptgan-broken.json").write_text("{not json")
    prompt = json.loads((REPO / "example_workflows" / "api" / "rptgan_pose_sequence.json").read_text())
    prompt["2"]["inputs"]["pose_file"] = "rptgan-broken.json"
    status, answer = _request(f"{comfyui['url']}/prompt", json.dumps({"prompt": prompt}).encode(),
                              {"Content-Type": "application/json"})
    assert status == 200, answer
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        entry = (_request(f"{comfyui['url']}/history/{answer['prompt_id']}")[1] or {}).get(answer["prompt_id"])
        if entry and entry["status"].get("status_str") == "error":
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the broken pose file did not fail the run within {RUN_TIMEOUT} s: {entry}")
    (error,) = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert error["exception_type"] == "comfyui_rptgan.NodeInputError", error["exception_type"]
    assert "pose_file: 'rptgan-broken.json' is not valid JSON" in error["exception_message"]


def test_the_comfyui_checkout_is_left_alone(comfyui):
    assert not (Path(COMFYUI_PATH) / "custom_nodes" / PACK_NAME).exists()
    assert not (Path(COMFYUI_PATH) / "models" / "rptgan").exists()
