"""The ComfyUI glue (web/js/pose_editor.js) in headless Chromium, against
stand-ins for the frontend's app and api modules: it mounts on EditPose only,
keeps the pose in the `edited_pose` widget, follows the node's ui messages and
loaded workflows, and fails soft when what it needs is missing."""

from __future__ import annotations

import base64
import io
import json
import os

import pytest

if os.environ.get("RPTGAN_REQUIRE_BROWSER") != "1":
    pytest.importorskip("selenium", reason="browser tests need selenium (pip install selenium)")

from PIL import Image
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.support.ui import WebDriverWait

from rptgan_core.pose import poses_from_openpose_json

WIDTH, HEIGHT = 120, 160
POSE = [
    {
        "people": [
            {
                "pose_keypoints_2d": [
                    v
                    for i in range(18)
                    for v in (30.0 + 3 * i, 20.0 + 7 * i, 1.0)
                ]
            }
        ],
        "canvas_width": WIDTH,
        "canvas_height": HEIGHT,
    }
]


def _png_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), (200, 180, 160)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def page(browser, static_server, console_errors):
    console_errors(browser)
    browser.get(f"{static_server}/tests/web/extension_page.html")
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return Boolean(window.harness?.ready)"))
    browser.execute_script("window.backgroundDataUrl = arguments[0]", _png_data_url())
    yield browser
    assert console_errors(browser) == [], "the page logged errors"


CREATE_NODE = """
const [nodeName, options] = arguments;
const NodeType = harness.makeNodeType(options);
const originalCreated = NodeType.prototype.onNodeCreated = function () { this.created = true; };
for (const extension of harness.app.extensions) {
  extension.beforeRegisterNodeDef?.(NodeType, { name: nodeName });
}
const node = new NodeType();
node.onNodeCreated();
window.node = node;
return {
  created: node.created === true,
  hooked: NodeType.prototype.onNodeCreated !== originalCreated,
  mounted: Boolean(node.rptganPoseEditor),
};
"""


def test_registers_one_extension_and_hooks_only_editpose(page):
    assert page.execute_script("return harness.app.extensions.map(e => e.name)") == ["rptgan.PoseEditor"]
    other = page.execute_script(CREATE_NODE, "KSampler", {})
    assert other == {"created": True, "hooked": False, "mounted": False}
    assert page.execute_script("return document.querySelectorAll('.rptgan-pose-editor').length") == 0


def test_mounts_follows_ui_messages_and_stores_edits_in_the_widget(page):
    state = page.execute_script(CREATE_NODE, "RPTGAN_EditPose", {})
    assert state == {"created": True, "hooked": True, "mounted": True}
    widget = page.execute_script(
        "const w = node.widgets.find(w => w.name === 'edited_pose');"
        "const dom = node.widgets.find(w => w.name === 'pose_editor');"
        "return {hidden: w.hidden, optionsHidden: w.options.hidden, domSerialize: dom.serialize,"
        " domOptionSerialize: dom.options.serialize, last: node.widgets.at(-1).name, size: node.size};"
    )
    assert widget["hidden"] is True and widget["optionsHidden"] is True
    # Not serialised, and last: the workflow's positional widgets_values stay as the node defines them.
    assert widget["domSerialize"] is False and widget["domOptionSerialize"] is False and widget["last"] == "pose_editor"
    assert widget["size"][0] >= 400

    page.execute_script(
        "node.onExecuted({rptgan_pose: [arguments[0]],"
        " rptgan_background: [{filename: 'source image.png', subfolder: 'rptgan', type: 'temp'}]})",
        json.dumps(POSE),
    )
    WebDriverWait(page, 5).until(lambda d: d.execute_script("return node.rptganPoseEditor.editor.background?.loaded"))
    route = page.execute_script("return harness.calls.routes.at(-1)")
    assert route.startswith("/view?") and "filename=source+image.png" in route
    assert "subfolder=rptgan" in route and "type=temp" in route
    assert page.execute_script("return node.widgets.find(w => w.name === 'edited_pose').value") == ""

    rect = page.execute_script("const r = node.rptganPoseEditor.editor.canvas.getBoundingClientRect(); "
                               "return [r.left, r.top, r.width, r.height];")
    x, y = POSE[0]["people"][0]["pose_keypoints_2d"][0:2]
    start = (round(rect[0] + (x + 0.5) * rect[2] / WIDTH), round(rect[1] + (y + 0.5) * rect[3] / HEIGHT))
    builder = ActionBuilder(page, mouse=PointerInput(interaction.POINTER_MOUSE, "mouse"))
    (builder.pointer_action.move_to_location(*start).pointer_down()
     .move_to_location(start[0] + 20, start[1] + 10).pointer_up())
    builder.perform()

    stored = page.execute_script("return node.widgets.find(w => w.name === 'edited_pose').value")
    nose = poses_from_openpose_json(stored)[0].keypoints[0, 0]
    assert nose[0] == pytest.approx(x + 20 * WIDTH / rect[2], abs=0.02)
    assert nose[1] == pytest.approx(y + 10 * HEIGHT / rect[3], abs=0.02)
    calls = page.execute_script("return harness.calls")
    assert calls["checkState"] >= 1 and calls["setDirtyCanvas"] >= 1, "ComfyUI is told the workflow changed"


def test_follows_the_widget_when_a_workflow_is_loaded(page):
    page.execute_script(CREATE_NODE, "RPTGAN_EditPose", {})
    edited = json.loads(json.dumps(POSE))
    edited[0]["people"][0]["pose_keypoints_2d"][0:3] = [5, 6, 1]
    # LiteGraph's configure sets widget values directly, then calls onConfigure.
    page.execute_script(
        "node.widgets.find(w => w.name === 'edited_pose').value = arguments[0]; node.onConfigure({});",
        json.dumps(edited),
    )
    shown = page.execute_script("return node.rptganPoseEditor.editor.model.frames[0].people[0].keypoints[0]")
    assert shown == [5, 6, 1]
    # Any other writer of the widget that calls its callback is followed too.
    page.execute_script(
        "const w = node.widgets.find(w => w.name === 'edited_pose'); w.value = ''; w.callback('');"
        "node.rptganPoseEditor.editor.setIncoming(arguments[0]);",
        json.dumps(POSE),
    )
    assert (page.execute_script("return node.rptganPoseEditor.editor.model.frames[0].people[0].keypoints[0]")
            == [30, 20, 1])


@pytest.mark.parametrize(
    "options, reason",
    [
        ({"withDomWidgets": False}, "no node.addDOMWidget"),
        ({"withValueWidget": False}, "no 'edited_pose' widget"),
    ],
)
def test_fails_soft_and_keeps_the_plain_widgets(page, options, reason):
    state = page.execute_script(CREATE_NODE, "RPTGAN_EditPose", options)
    assert state == {"created": True, "hooked": True, "mounted": False}
    warnings = page.execute_script("return harness.calls.warnings")
    assert any(reason in w and "plain widgets" in w for w in warnings), warnings
    hidden = page.execute_script("return node.widgets.map(w => Boolean(w.hidden))")
    assert not any(hidden), "a widget was hidden although the editor did not mount"
    # Later hooks are harmless without an editor.
    page.execute_script("node.onExecuted({rptgan_pose: ['[]']}); node.onConfigure({});")
