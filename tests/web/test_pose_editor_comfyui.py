"""The pose editor inside a real ComfyUI, in headless Chromium.

Needs a ComfyUI checkout with its Python environment: set COMFYUI_PATH (and
COMFYUI_PYTHON when its interpreter is not COMFYUI_PATH/venv/bin/python);
skipped otherwise. The test starts ComfyUI on 127.0.0.1 with a fresh base
directory whose custom_nodes holds this pack (linked) and whose input folder
holds a pose file, builds  Load Pose Keypoints -> EditPose -> Preview as Text
(plus an EmptyImage as EditPose's source image), runs it, drags a joint
in the editor, undoes and redoes it (in the editor and with ComfyUI's own
undo), and checks that the edit is in the workflow, in the API prompt, and,
with a parametric shift on top, in what EditPose outputs when that prompt is
queued over the HTTP API.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest

from rptgan_core.pose import poses_from_openpose_json

COMFYUI_PATH = os.environ.get("COMFYUI_PATH")
REPO_ROOT = Path(__file__).resolve().parents[2]
# The pack to install: this checkout, or another copy of it (RPTGAN_PACK_DIR).
PACK_DIR = Path(os.environ.get("RPTGAN_PACK_DIR") or REPO_ROOT).resolve()
POSE_FILE = "rptgan-editor-test-pose.json"
PACK_NAME = "comfyui-rptgan"
STARTUP_TIMEOUT = 180
RUN_TIMEOUT = 120

pytestmark = [
    pytest.mark.comfyui,
    pytest.mark.slow,
    pytest.mark.skipif(not COMFYUI_PATH,
                       reason="set COMFYUI_PATH to a ComfyUI checkout to run the in-ComfyUI editor test"),
]

WIDTH, HEIGHT = 192, 256
NECK = 1
# The editor stores pixel coordinates to 0.01 px (up to 0.005 px off), and POSE_KEYPOINT then travels
# normalised to 6 decimals.
COORDINATE_TOLERANCE = 0.005 + 0.6e-6 * max(WIDTH, HEIGHT)


def pose_for_file() -> list[dict]:
    points = np.zeros((18, 3))
    layout = [
        (96, 40), (96, 70), (74, 70), (66, 110), (60, 146), (118, 70), (126, 110), (132, 146),
        (82, 140), (80, 190), (78, 238), (110, 140), (112, 190), (114, 238), (90, 32), (102, 32), (84, 36), (108, 36),
    ]
    for i, (x, y) in enumerate(layout):
        points[i] = (x, y, 1)
    return [{"people": [{"pose_keypoints_2d": points.reshape(-1).tolist()}], "canvas_width": WIDTH,
             "canvas_height": HEIGHT}]


def _get_json(url: str, timeout: float = 10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def _post_json(url: str, body: dict):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            return json.loads(body) if body.strip() else None
    except urllib.error.HTTPError as error:
        raise AssertionError(f"POST {url} failed with {error.code}: {error.read().decode()[:2000]}") from None


@pytest.fixture(scope="module")
def comfyui(tmp_path_factory, run_comfyui):
    """Base URL of a ComfyUI server with this pack installed."""
    base = tmp_path_factory.mktemp("comfyui-base")
    custom_nodes = base / "custom_nodes"
    custom_nodes.mkdir()
    (custom_nodes / PACK_NAME).symlink_to(PACK_DIR, target_is_directory=True)
    (base / "input").mkdir()
    (base / "input" / POSE_FILE).write_text(json.dumps(pose_for_file()))
    with run_comfyui(base, "/object_info/RPTGAN_EditPose", STARTUP_TIMEOUT) as (url, info, log_tail):
        if "RPTGAN_EditPose" not in info:
            pytest.fail(f"this pack's RPTGAN_EditPose did not load into ComfyUI:\n{log_tail()}")
        # A first visit would open the template browser over the graph.
        _post_json(f"{url}/settings", {"Comfy.TutorialCompleted": True, "Comfy.Minimap.Visible": False})
        yield {"url": url, "info": info["RPTGAN_EditPose"], "log": log_tail}


def _input_of_type(info: dict, type_name: str) -> str:
    for group in ("required", "optional"):
        for name, spec in info["input"].get(group, {}).items():
            if spec and spec[0] == type_name:
                return name
    raise AssertionError(f"EditPose has no {type_name} input: {info['input']}")


BUILD_GRAPH = """
const [poseInput, imageInput, poseFile, width, height] = arguments;
const app = window.comfyAPI.app.app;
app.graph.clear();
const add = (type, pos) => {
  const node = LiteGraph.createNode(type);
  node.pos = pos;
  app.graph.add(node);
  return node;
};
const source = add("RPTGAN_LoadPoseKeypoints", [20, 40]);
source.widgets.find(w => w.name === "pose_file").value = poseFile;
const image = add("EmptyImage", [20, 330]);
for (const [name, value] of [["width", width], ["height", height], ["color", 0x88aacc]]) {
  image.widgets.find(w => w.name === name).value = value;
}
const edit = add("RPTGAN_EditPose", [450, 40]);
const preview = add("PreviewAny", [960, 40]);
source.connect(source.outputs.findIndex(o => o.type === "POSE_KEYPOINT"), edit, edit.findInputSlot(poseInput));
image.connect(0, edit, edit.findInputSlot(imageInput));
const poseOutput = edit.outputs.findIndex(o => o.type === "POSE_KEYPOINT");
edit.connect(poseOutput, preview, 0);
app.canvas.ds.scale = 1;
app.canvas.ds.offset = [0, 0];
app.graph.setDirtyCanvas(true, true);
return {edit: edit.id, preview: preview.id};
"""


@pytest.fixture
def large_window(browser):
    """Room for the whole EditPose node in the screenshots; the usual size afterwards."""
    size = browser.get_window_size()
    browser.set_window_size(1400, 1400)
    yield browser
    browser.set_window_size(size["width"], size["height"])


def test_editor_in_comfyui(comfyui, large_window, artifacts, console_errors):
    browser = large_window
    url = comfyui["url"]
    pose_input = _input_of_type(comfyui["info"], "POSE_KEYPOINT")
    image_input = _input_of_type(comfyui["info"], "IMAGE")
    console_errors(browser)
    browser.get(url)
    browser.wait_for("const types = window.LiteGraph?.registered_node_types ?? {};"
                     "return Boolean(window.comfyAPI?.app?.app?.graph && "
                     "['RPTGAN_EditPose', 'RPTGAN_LoadPoseKeypoints', 'PreviewAny'].every(t => t in types));",
                     90, "the ComfyUI frontend and its node types")
    browser.wait_for("return window.comfyAPI.app.app.extensions.some(e => e.name === 'rptgan.PoseEditor')",
                     30, "the pose editor extension to register")
    ids = browser.execute_script(BUILD_GRAPH, pose_input, image_input, POSE_FILE, WIDTH, HEIGHT)
    node = f"window.comfyAPI.app.app.graph.getNodeById({ids['edit']})"

    # The editor is mounted and edited_pose is hidden but kept.
    assert browser.wait_for(f"return Boolean({node}.rptganPoseEditor)", 10, "the editor to mount")
    assert browser.execute_script(f"return {node}.widgets.find(w => w.name === 'edited_pose').hidden") is True
    browser.wait_for(f"return {node}.rptganPoseEditor.editor.element.isConnected", 10, "the editor element in the page")

    # Run once: the node sends its incoming pose and source image to the editor.
    browser.execute_async_script("const done = arguments[0]; "
                                 "window.comfyAPI.app.app.queuePrompt(0, 1).then(() => done(true));")
    browser.wait_for(f"return Boolean({node}.rptganPoseEditor.editor.model.incoming)", RUN_TIMEOUT, "the EditPose run")
    browser.wait_for(f"return {node}.rptganPoseEditor.editor.background?.loaded", 30, "the source image")
    shown = browser.execute_script(f"return {node}.rptganPoseEditor.editor.model.frames")
    assert len(shown) == 1 and (shown[0]["width"], shown[0]["height"]) == (WIDTH, HEIGHT)
    np.testing.assert_allclose(
        np.asarray(shown[0]["people"][0]["keypoints"]).reshape(-1),
        pose_for_file()[0]["people"][0]["pose_keypoints_2d"],
        atol=COORDINATE_TOLERANCE,
    )
    assert browser.execute_script(f"return {node}.widgets.find(w => w.name === 'edited_pose').value") == ""
    browser.save_screenshot(str(artifacts / "comfyui-editpose.png"))

    # Drag the neck with the mouse, through ComfyUI's DOM widget layer.
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    rect = browser.execute_script(f"const r = {node}.rptganPoseEditor.editor.canvas.getBoundingClientRect(); "
                                  "return [r.left, r.top, r.width, r.height];")
    left, top, shown_width, shown_height = rect
    x, y = shown[0]["people"][0]["keypoints"][NECK][:2]
    start = (round(left + (x + 0.5) * shown_width / WIDTH), round(top + (y + 0.5) * shown_height / HEIGHT))
    delta = (24, 18)
    builder = ActionBuilder(browser, mouse=PointerInput(interaction.POINTER_MOUSE, "mouse"))
    builder.pointer_action.move_to_location(*start).pointer_down()
    for step in range(1, 5):
        builder.pointer_action.move_to_location(start[0] + delta[0] * step // 4, start[1] + delta[1] * step // 4)
    builder.pointer_action.pointer_up()
    builder.perform()

    stored = browser.execute_script(f"return {node}.widgets.find(w => w.name === 'edited_pose').value")
    assert stored, "the drag did not reach the edited_pose widget"
    edited = json.loads(stored)
    moved = edited[0]["people"][0]["pose_keypoints_2d"][3 * NECK : 3 * NECK + 2]
    expected = (x + delta[0] * WIDTH / shown_width, y + delta[1] * HEIGHT / shown_height)
    assert moved == pytest.approx(expected, abs=0.02)
    browser.find_element("css selector", ".rptgan-pose-editor").screenshot(
        str(artifacts / "comfyui-editor-dragged.png"))

    # With the editor focused, Ctrl+Z / Ctrl+Y undo and redo the drag in the editor, not in ComfyUI's graph history.
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    def chord(key: str) -> None:
        ActionChains(browser).key_down(Keys.CONTROL).send_keys(key).key_up(Keys.CONTROL).perform()

    value = f"{node}.widgets.find(w => w.name === 'edited_pose').value"
    chord("z")
    browser.wait_for(f"return {value} === ''", 5, "the editor to undo the drag")
    time.sleep(0.3)  # ComfyUI's key handling runs a frame later; it must leave the graph alone
    assert browser.execute_script(f"return {value}") == ""
    assert browser.execute_script("return window.comfyAPI.app.app.graph.nodes.length") == 4
    chord("y")
    browser.wait_for(f"return {value} === arguments[0]", 5, "the editor to redo the drag", stored)

    # With the graph focused, ComfyUI's own undo takes the edit back (it is part of the workflow);
    # the rebuilt editor still knows the incoming pose.
    builder = ActionBuilder(browser, mouse=PointerInput(interaction.POINTER_MOUSE, "mouse"))
    builder.pointer_action.move_to_location(700, 650).pointer_down().pointer_up()
    builder.perform()
    chord("z")
    browser.wait_for(f"return {value} === ''", 10, "ComfyUI's undo to restore the unedited pose")
    browser.wait_for(f"return Boolean({node}.rptganPoseEditor?.editor.model.incoming)", 5,
                     "the rebuilt editor's incoming pose")
    chord("y")
    browser.wait_for(f"return {value} === arguments[0]", 10, "ComfyUI's redo to restore the edit", stored)
    assert browser.execute_script(f"return {node}.rptganPoseEditor.editor.model.edited") is True

    # A parametric edit on top: it applies after the editor's pose, which the editor keeps showing unshifted.
    browser.execute_script(f"{node}.widgets.find(w => w.name === 'translate_x').value = 0.1")
    shift = 0.1 * WIDTH

    # The edit is part of the saved workflow and of the API prompt.
    prompt = browser.execute_async_script(
        "const done = arguments[0]; window.comfyAPI.app.app.graphToPrompt().then(p => done(p));"
    )
    assert prompt["output"][str(ids["edit"])]["inputs"]["edited_pose"] == stored
    workflow_node = next(n for n in prompt["workflow"]["nodes"] if n["id"] == ids["edit"])
    assert stored in workflow_node["widgets_values"]

    # Queued over the HTTP API, EditPose outputs the edited pose.
    queued = _post_json(f"{url}/prompt", {"prompt": prompt["output"], "client_id": uuid.uuid4().hex})
    deadline = time.monotonic() + RUN_TIMEOUT
    history = {}
    while time.monotonic() < deadline and not history.get(queued["prompt_id"], {}).get("status", {}).get("completed"):
        time.sleep(0.5)
        history = _get_json(f"{url}/history/{queued['prompt_id']}")
    entry = history.get(queued["prompt_id"])
    assert entry and entry["status"]["completed"], f"the queued prompt did not finish: {entry}\n{comfyui['log']()}"
    output_pose = poses_from_openpose_json(entry["outputs"][str(ids["preview"])]["text"][0])
    assert len(output_pose) == 1 and (output_pose[0].width, output_pose[0].height) == (WIDTH, HEIGHT)
    assert tuple(output_pose[0].keypoints[0, NECK, :2]) == pytest.approx(
        (expected[0] + shift, expected[1]), abs=COORDINATE_TOLERANCE
    )
    assert browser.execute_script(f"return {node}.rptganPoseEditor.editor.model.frames[0].people[0]"
                                  f".keypoints[{NECK}]")[:2] == (
        pytest.approx(list(expected), abs=0.02)
    )

    errors = [e for e in console_errors(browser) if "pose_editor" in e or "rptgan" in e.lower()]
    assert errors == [], f"the extension logged errors: {errors}"
