"""The UI-format example workflows as a ComfyUI user meets them: loaded into the real
frontend in headless Chromium, queued from the UI, run, and their images checked.

Needs a ComfyUI checkout: set COMFYUI_PATH (and COMFYUI_PYTHON when its
interpreter is not COMFYUI_PATH/venv/bin/python); skipped otherwise. The
server gets a fresh base directory (tests/conftest.py's ``comfyui_base``):
nothing is uploaded, so the run also shows that the pack placed the example
inputs. Estimation runs with the stand-in estimator, so the test needs no
pose model in ComfyUI's environment; where ComfyUI's Python has mediapipe
and install.py has built the pack's BlazePose model, the photo workflow
also runs as shipped, with the real estimator.

Checked for every node class of the pack: the widgets the frontend creates
from /object_info are the ones examples/frontend_layout.py predicts (the
rule the workflow writer and the CI check use). Checked for every workflow:
after ``app.loadGraphData`` each widget holds the API twin's value, no two
nodes overlap (after loading and after the run, when previews have grown
them), ``app.queuePrompt`` is accepted without node errors, and the run
writes non-blank images. And Load Pose Keypoints' upload button puts a
.json file in the input folder and in its dropdown.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

COMFYUI_PATH = os.environ.get("COMFYUI_PATH")
REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 180
RUN_TIMEOUT = 300
WORKFLOWS = sorted(p.name for p in (REPO_ROOT / "example_workflows").glob("*.json"))
ESTIMATOR_INPUTS = ("person_crop", "backend")
BLAZEPOSE_TASK = REPO_ROOT / "annotators" / "pose_landmarker_full.task"

pytestmark = [
    pytest.mark.comfyui,
    pytest.mark.slow,
    pytest.mark.skipif(not COMFYUI_PATH, reason="set COMFYUI_PATH to a ComfyUI checkout to run the UI workflows"),
]


def _layout():
    name = "example_frontend_layout"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "examples" / "frontend_layout.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


# The preview picture the editor drew, read back from its image element: (width, height, RGBA values).
PREVIEW_PIXELS = """
const image = EDITOR.preview.image; const c = document.createElement("canvas");
c.width = image.naturalWidth; c.height = image.naturalHeight; const g = c.getContext("2d"); g.drawImage(image, 0, 0);
return [c.width, c.height, Array.from(g.getImageData(0, 0, c.width, c.height).data)];
"""


@pytest.fixture(scope="module")
def comfyui(tmp_path_factory, run_comfyui, comfyui_base):
    base = comfyui_base(tmp_path_factory.mktemp("comfyui-ui-base"))
    with run_comfyui(base, "/object_info", STARTUP_TIMEOUT) as (url, info, log_tail):
        request = urllib.request.Request(
            f"{url}/settings",
            data=json.dumps({"Comfy.TutorialCompleted": True, "Comfy.Minimap.Visible": False}).encode(),
            headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=30).close()
        yield {"url": url, "info": info, "base": base, "log": log_tail}


@pytest.fixture(scope="module")
def app_page(comfyui, browser):
    browser.set_window_size(1600, 1200)
    browser.get(comfyui["url"])
    browser.wait_for("return Boolean(window.comfyAPI?.app?.app?.graph && window.LiteGraph?.registered_node_types"
                     "?.RPTGAN_LoadPersonImage)", 90, "the ComfyUI frontend and the pack's node types")
    # Every prompt the UI queues, with the server's answer or its error.
    browser.execute_script("""
const api = window.comfyAPI.api.api;
window.rptganQueued = [];
const queue = api.queuePrompt.bind(api);
api.queuePrompt = async (...args) => {
  try {
    const answer = await queue(...args);
    window.rptganQueued.push({answer});
    return answer;
  } catch (error) {
    window.rptganQueued.push({error: String(error), response: error.response ?? null});
    throw error;
  }
};""")
    return browser


NODE_STATE = """
const app = window.comfyAPI.app.app;
return app.graph.nodes.map(n => ({
  id: n.id, type: n.type, title_height: LiteGraph.NODE_TITLE_HEIGHT,
  box: [n.pos[0], n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT, n.pos[0] + n.size[0], n.pos[1] + n.size[1]],
  widgets: (n.widgets ?? []).filter(w => w.serialize !== false).map(w => [w.name, w.value]),
  links: (n.inputs ?? []).filter(i => i.link != null).map(i => i.name),
}));
"""


def _overlaps(nodes: list[dict]) -> list[tuple]:
    found = []
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a["box"], b["box"]
            if ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1:
                found.append((a["type"], a["id"], b["type"], b["id"]))
    return found


def test_the_frontend_lays_out_widgets_as_predicted(comfyui, app_page):
    layout = _layout()
    classes = [name for name, info in comfyui["info"].items() if info["python_module"] == "custom_nodes.comfyui-rptgan"]
    assert len(classes) >= 7
    created = app_page.execute_script("""
const app = window.comfyAPI.app.app;
app.graph.clear();
const out = {};
for (const type of arguments[0]) {
  const node = LiteGraph.createNode(type);
  app.graph.add(node);
  out[type] = (node.widgets ?? []).filter(w => w.serialize !== false).map(w => w.name);
}
app.graph.clear();
return out;""", classes)
    for name in classes:
        assert created[name] == [w.name for w in layout.widgets(comfyui["info"][name]["input"])], name


def _comfyui_runs_blazepose(python: str) -> bool:
    if not BLAZEPOSE_TASK.is_file():
        return False
    return subprocess.run([python, "-c", "import mediapipe.tasks.python.vision"], capture_output=True).returncode == 0


RUNS = [(workflow, "stand-in") for workflow in WORKFLOWS] + [("rptgan_photo_to_pose.json", "as shipped")]


@pytest.mark.parametrize("workflow, estimator", RUNS)
def test_ui_workflow_loads_and_runs_from_the_ui(comfyui, app_page, workflow, estimator, comfyui_test_backend,
                                                 comfyui_python, artifacts):
    if estimator == "as shipped" and not _comfyui_runs_blazepose(comfyui_python):
        pytest.skip(f"ComfyUI's Python lacks mediapipe, or {BLAZEPOSE_TASK} is missing (run install.py)")
    browser, url = app_page, comfyui["url"]
    graph = json.loads((REPO_ROOT / "example_workflows" / workflow).read_text())
    api = json.loads((REPO_ROOT / "example_workflows" / "api" / workflow).read_text())
    browser.execute_async_script(
        "const [graph, done] = arguments; window.comfyAPI.app.app.loadGraphData(graph).then(() => done(true));", graph)
    nodes = browser.execute_script(NODE_STATE)
    assert {str(n["id"]): n["type"] for n in nodes if n["type"] != "Note"} == \
        {k: v["class_type"] for k, v in api.items()}
    for node in nodes:
        if node["type"] == "Note":
            continue
        inputs = api[str(node["id"])]["inputs"]
        shown = {name: value for name, value in node["widgets"] if name in inputs}
        assert shown == {k: v for k, v in inputs.items() if not isinstance(v, list)}, (workflow, node["id"])
        assert sorted(node["links"]) == sorted(k for k, v in inputs.items() if isinstance(v, list)), node["id"]
    assert _overlaps(nodes) == [], f"{workflow}: nodes overlap once loaded"

    # The stand-in estimator replaces the real ones, whose models this ComfyUI may not have.
    if estimator == "stand-in":
        browser.execute_script("""
const [inputs, backend] = arguments;
for (const node of window.comfyAPI.app.app.graph.nodes)
  for (const widget of node.widgets ?? [])
    if (inputs.includes(widget.name) && widget.value !== "off") widget.value = backend;""",
                               list(ESTIMATOR_INPUTS), comfyui_test_backend)
    queued_before = browser.execute_script("return window.rptganQueued.length")
    browser.execute_async_script("const done = arguments[0]; "
                                 "window.comfyAPI.app.app.queuePrompt(0, 1).then(() => done(true));")
    (queued,) = browser.execute_script("return window.rptganQueued.slice(arguments[0])", queued_before)
    assert "answer" in queued and not queued["answer"].get("node_errors"), json.dumps(queued)[:3000]
    prompt_id = queued["answer"]["prompt_id"]

    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        entry = _get_json(f"{url}/history/{prompt_id}").get(prompt_id)
        if entry and (entry["status"].get("completed") or entry["status"].get("status_str") == "error"):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"{workflow} did not finish within {RUN_TIMEOUT} s:\n{comfyui['log']()}")
        time.sleep(0.5)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"]["messages"])[:3000]
    saved = [image for output in entry["outputs"].values() for image in output.get("images", [])
             if image["type"] == "output"]
    save_nodes = [k for k, v in api.items() if v["class_type"] == "SaveImage"]
    assert sorted(k for k, v in entry["outputs"].items() if v.get("images")) == sorted(save_nodes)
    for image in saved:
        array = np.asarray(Image.open(comfyui["base"] / "output" / image["subfolder"] / image["filename"])
                           .convert("RGB"), dtype=np.float32)
        assert array.std() > 1.0, f"{image['filename']} is blank"

    # The previews have arrived in the UI; the nodes still do not overlap.
    browser.wait_for("return window.comfyAPI.app.app.graph.nodes.filter(n => n.type === 'SaveImage')"
                     ".every(n => n.imgs?.length > 0 && n.imgs.every(i => i.complete))", 30,
                     "the saved images in the UI")
    browser.execute_script("window.comfyAPI.app.app.graph.setDirtyCanvas(true, true)")
    time.sleep(0.5)
    browser.save_screenshot(str(artifacts / f"comfyui-{Path(workflow).stem}-{estimator.replace(' ', '-')}.png"))
    assert _overlaps(browser.execute_script(NODE_STATE)) == [], f"{workflow}: nodes overlap after the run"


def test_load_pose_keypoints_uploads_a_json_file(comfyui, app_page, tmp_path):
    pose = tmp_path / "rptgan-uploaded-pose.json"
    pose.write_text((REPO_ROOT / "examples" / "assets" / "synthetic_person_pose.json").read_text())
    browser = app_page
    names = browser.execute_script("""
const app = window.comfyAPI.app.app;
app.graph.clear();
const node = LiteGraph.createNode("RPTGAN_LoadPoseKeypoints");
app.graph.add(node);
window.rptganPoseNode = node;
node.rptganPosePicker.style.display = "block";  // so the driver can hand it a file, as the dialog would
return node.widgets.map(w => [w.name, w.serialize !== false]);""")
    assert ["upload", False] in names  # the button saves nothing in the workflow
    browser.execute_script("return window.rptganPoseNode.rptganPosePicker").send_keys(str(pose))
    browser.wait_for("return window.rptganPoseNode.widgets.find(w => w.name === 'pose_file').value === arguments[0]",
                     30, "the uploaded file in the pose_file dropdown", pose.name)
    assert (comfyui["base"] / "input" / pose.name).read_text() == pose.read_text()
    saved = browser.execute_script("return window.rptganPoseNode.serialize().widgets_values")
    assert saved == [pose.name, 512, 512, "auto"]


def test_live_preview_in_the_edit_pose_workflow(comfyui, app_page, artifacts):
    """Edit Pose's editor with the demo checkpoint chosen for its preview: dragging the left
    wrist up re-poses the person where the arm went, without a queue run, and queuing the
    workflow for that pose gives the picture the preview showed."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    browser, url = app_page, comfyui["url"]
    graph = json.loads((REPO_ROOT / "example_workflows" / "rptgan_edit_pose.json").read_text())
    for node in graph["nodes"]:
        if node["type"] == "RPTGAN_EditPose":
            node["widgets_values"][5] = "none"  # no parametric limb turn: the output is the editor's pose
            edit_id = node["id"]
    browser.execute_async_script(
        "const [graph, done] = arguments; window.comfyAPI.app.app.loadGraphData(graph).then(() => done(true));", graph)
    node = f"window.comfyAPI.app.app.graph.getNodeById({edit_id})"
    editor = f"{node}.rptganPoseEditor.editor"
    browser.execute_async_script("const done = arguments[0]; "
                                 "window.comfyAPI.app.app.queuePrompt(0, 1).then(() => done(true));")
    browser.wait_for(f"return Boolean({editor}.model.incoming) && {editor}.background?.loaded", RUN_TIMEOUT,
                     "the first run to bring the editor its pose and source image")
    browser.wait_for(f"return {editor}.element.querySelector('[data-action=\"preview-model\"]').options.length > 1", 30,
                     "the checkpoints for the preview")
    browser.execute_script(f"""
const select = {editor}.element.querySelector('[data-action="preview-model"]');
select.value = arguments[0];
select.dispatchEvent(new Event('change'));""", "rptgan-synthetic-demo.safetensors")
    idle = f"return {node}.rptganPoseEditor.preview && Boolean({editor}.preview?.loaded)"
    try:
        browser.wait_for(idle, 60, "the first preview")
    except AssertionError:
        note = browser.execute_script(f"return {editor}.element.querySelector('.rpe-preview-status').textContent")
        raise AssertionError(f"no preview; the editor says: {note!r}\n{comfyui['log']()}") from None
    assert browser.execute_script(f"return {node}.properties.rptgan_preview_checkpoint") == \
        "rptgan-synthetic-demo.safetensors"  # kept with the workflow

    def preview_pixels() -> np.ndarray:
        width, height, data = browser.execute_script(PREVIEW_PIXELS.replace("EDITOR", editor))
        return np.asarray(data, dtype=np.uint8).reshape(height, width, 4)[..., :3]

    before = preview_pixels()
    frame = browser.execute_script(f"return {editor}.model.frame")
    width, height = frame["width"], frame["height"]
    points = np.asarray(frame["people"][0]["keypoints"], dtype=float)
    wrist, elbow, shoulder = 7, 6, 5  # the left arm
    left, top, shown_width, shown_height = browser.execute_script(
        f"const r = {editor}.canvas.getBoundingClientRect(); return [r.left, r.top, r.width, r.height];")

    def screen(x, y):
        return round(left + (x + 0.5) * shown_width / width), round(top + (y + 0.5) * shown_height / height)

    # raise the forearm: the wrist goes from beside the hip to above the shoulder
    target = (points[elbow, 0] + 4, points[shoulder, 1] - 0.12 * height)
    start, end = screen(*points[wrist, :2]), screen(*target)
    builder = ActionBuilder(browser, mouse=PointerInput(interaction.POINTER_MOUSE, "mouse"), duration=60)
    builder.pointer_action.move_to_location(*start).pointer_down()
    for step in range(1, 9):
        builder.pointer_action.move_to_location(start[0] + (end[0] - start[0]) * step // 8,
                                                start[1] + (end[1] - start[1]) * step // 8)
    builder.pointer_action.pointer_up()
    builder.perform()
    browser.wait_for(f"return {node}.rptganPoseEditor.preview.client.idle && "
                     f"{editor}.model.frame.people[0].keypoints[{wrist}][1] < {points[shoulder, 1]}", 30, "the drag")
    browser.wait_for(f"const s = {node}.rptganPoseEditor.preview.client.stats; "
                     f"return s.sent === s.shown + s.superseded + "
                     f"s.dropped + s.failed && {editor}.preview?.loaded", 30, "the preview of the raised arm")
    stats = browser.execute_script(f"return {{...{node}.rptganPoseEditor.preview.client.stats}}")
    assert stats["failed"] == 0 and stats["shown"] >= 2, stats
    after = preview_pixels()
    moved = browser.execute_script(f"return {editor}.model.frame.people[0].keypoints")
    browser.find_element("css selector", ".rptgan-pose-editor").screenshot(str(artifacts / "comfyui-live-preview.png"))

    # it changed where the forearm left and where it arrived, and little elsewhere
    change = np.abs(after.astype(int) - before.astype(int)).sum(-1) > 60
    ys, xs = np.mgrid[:height, :width]
    near = np.zeros_like(change)
    for a, b in ((points[elbow, :2], points[wrist, :2]), (np.asarray(moved[elbow][:2]), np.asarray(moved[wrist][:2]))):
        for t in np.linspace(0, 1, 20):
            x, y = a + (b - a) * t
            near |= (xs - x) ** 2 + (ys - y) ** 2 <= (0.08 * height) ** 2
    assert change[near].mean() > 0.15, "the preview did not change where the forearm moved"
    assert change[~near].mean() < 0.02, "the preview changed away from the forearm"
    (artifacts / "comfyui-live-preview-latency.json").write_text(json.dumps(stats))
    assert stats["lastMs"] < 2000  # the figure that counts is bench/preview.py's; this catches a stall

    # queued for the same pose, the workflow's Pose Transfer gives the picture the preview showed
    browser.execute_async_script("const done = arguments[0]; "
                                 "window.comfyAPI.app.app.queuePrompt(0, 1).then(() => done(true));")
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        history = _get_json(f"{url}/history")
        done = [e for e in history.values() if e["status"].get("completed")]
        latest = max(done, key=lambda e: e["prompt"][0]) if done else None
        if latest and any(n.get("inputs", {}).get("edited_pose") for n in latest["prompt"][2].values()):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the queued edit did not finish:\n{comfyui['log']()}")
        time.sleep(0.5)
    save = next(k for k, v in latest["prompt"][2].items()
                if v["class_type"] == "SaveImage" and v["inputs"]["filename_prefix"] == "rptgan/edited")
    image = latest["outputs"][save]["images"][0]
    queued = np.asarray(Image.open(comfyui["base"] / "output" / image["subfolder"] / image["filename"]).convert("RGB"))
    assert queued.shape == after.shape
    # SaveImage truncates to 8 bits where the preview rounds: at most one level apart
    assert np.abs(queued.astype(int) - after.astype(int)).max() <= 1
