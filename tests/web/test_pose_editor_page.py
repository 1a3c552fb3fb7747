"""The pose editor's own JavaScript in headless Chromium, on a plain local page.

A test page (tests/web/editor_page.html) hosts the editor with a stand-in for
EditPose's ``edited_pose`` widget. The tests drive it with real pointer and
keyboard input and read back the stored value, checking it against
rptgan_core.pose, which is what the EditPose node parses it with.
"""

from __future__ import annotations

import base64
import io
import json
import os

import numpy as np
import pytest

if os.environ.get("RPTGAN_REQUIRE_BROWSER") != "1":
    pytest.importorskip("selenium", reason="browser tests need selenium (pip install selenium)")

from PIL import Image, ImageDraw, ImageFilter
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from rptgan_core.pose import FLIP_PERMUTATION, KEYPOINT_INDEX, LIMBS, poses_from_openpose_json

WIDTH, HEIGHT = 176, 256
# Tolerance for coordinates: the editor stores them rounded to 0.01 px.
STORED_TOLERANCE = 0.011


def standing_person(cx: float, top: float, height: float, missing: tuple[str, ...] = ()) -> np.ndarray:
    """(18, 3) keypoints of a person seen from the front, arms slightly spread."""
    offsets = {
        "nose": (0.0, 0.07), "neck": (0.0, 0.17),
        "right_shoulder": (-0.1, 0.17), "right_elbow": (-0.14, 0.33), "right_wrist": (-0.17, 0.47),
        "left_shoulder": (0.1, 0.17), "left_elbow": (0.14, 0.33), "left_wrist": (0.17, 0.47),
        "right_hip": (-0.06, 0.5), "right_knee": (-0.07, 0.73), "right_ankle": (-0.075, 0.95),
        "left_hip": (0.06, 0.5), "left_knee": (0.07, 0.73), "left_ankle": (0.075, 0.95),
        "right_eye": (-0.025, 0.05), "left_eye": (0.025, 0.05), "right_ear": (-0.05, 0.06), "left_ear": (0.05, 0.06),
    }
    points = np.zeros((18, 3), np.float32)
    for name, (dx, dy) in offsets.items():
        if name not in missing:
            points[KEYPOINT_INDEX[name]] = (round(cx + dx * height, 2), round(top + dy * height, 2), 1.0)
    return points


def frame(people: list[np.ndarray], width: int = WIDTH, height: int = HEIGHT) -> dict:
    return {
        "people": [{"pose_keypoints_2d": [float(v) for v in p.reshape(-1)]} for p in people],
        "canvas_width": width,
        "canvas_height": height,
    }


def mannequin_data_url(people: list[np.ndarray], width: int = WIDTH, height: int = HEIGHT) -> str:
    """A soft figure drawn under each person's keypoints, as a PNG data URL: a
    stand-in source photo that lines up with the pose."""
    image = Image.new("RGB", (width, height), (214, 222, 232))
    draw = ImageDraw.Draw(image)
    for points in people:
        limb_width = max(3, int(height * 0.045))
        for a, b in LIMBS[:17]:
            if points[a, 2] > 0 and points[b, 2] > 0:
                draw.line([tuple(points[a, :2]), tuple(points[b, :2])], fill=(150, 110, 90), width=limb_width)
        if points[0, 2] > 0:
            x, y = points[0, :2]
            r = height * 0.045
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(170, 125, 100))
    image = image.filter(ImageFilter.GaussianBlur(1.5))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class EditorPage:
    """The test page in the browser, seen the way a user and the node see it."""

    def __init__(self, driver, base_url: str, width: int | None = None, height: int | None = None,
                 preview: str | None = None):
        self.driver = driver
        query = "&".join(f"{k}={v}" for k, v in (("width", width), ("height", height), ("preview", preview))
                         if v is not None)
        driver.get(f"{base_url}/tests/web/editor_page.html" + (f"?{query}" if query else ""))
        WebDriverWait(driver, 10).until(lambda d: d.execute_script("return Boolean(window.harness?.ready)"))

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    # state --------------------------------------------------------------

    def set_incoming(self, frames: list[dict], background: str | None = None) -> None:
        self.js("harness.editor.setIncoming(arguments[0])", json.dumps(frames))
        if background:
            self.driver.execute_async_script(
                "const [url, done] = arguments; harness.editor.setBackground(url);"
                "harness.whenBackgroundLoaded(url).then(() => requestAnimationFrame(() => done(true)));",
                background,
            )

    @property
    def stored(self) -> str:
        """The value of the stand-in ``edited_pose`` widget."""
        return self.js("return harness.widget.value")

    @property
    def writes(self) -> int:
        return self.js("return harness.widget.writes")

    def shown_keypoints(self, frame_index: int | None = None) -> list[list[list[float]]]:
        """Keypoints of every person of a frame (the current one by default), as the editor holds them."""
        return self.js(
            "const m = harness.editor.model; const f = m.frames[arguments[0] ?? m.frameIndex];"
            "return f.people.map(p => p.keypoints);",
            frame_index,
        )

    def status(self) -> str:
        return self.driver.find_element(By.CSS_SELECTOR, ".rpe-status").text

    # geometry -----------------------------------------------------------

    def canvas_rect(self) -> dict:
        return self.js("const r = harness.editor.canvas.getBoundingClientRect(); "
                       "return {left: r.left, top: r.top, width: r.width, height: r.height};")

    def scale(self) -> tuple[float, float]:
        """Pose pixels per CSS pixel, along x and y, for the current frame."""
        rect = self.canvas_rect()
        width, height = self.js("const f = harness.editor.model.frame; return [f.width, f.height];")
        return width / rect["width"], height / rect["height"]

    def screen_point(self, x: float, y: float) -> tuple[int, int]:
        """Viewport pixel nearest to pose point (x, y)."""
        rect = self.canvas_rect()
        sx, sy = self.scale()
        return round(rect["left"] + (float(x) + 0.5) / sx), round(rect["top"] + (float(y) + 0.5) / sy)

    def pose_point(self, cx: int, cy: int) -> tuple[float, float]:
        rect = self.canvas_rect()
        sx, sy = self.scale()
        return (cx - rect["left"]) * sx - 0.5, (cy - rect["top"]) * sy - 0.5

    def joint_screen_point(self, person: int, keypoint: int) -> tuple[int, int]:
        x, y, c = self.shown_keypoints()[person][keypoint]
        assert c > 0, "joint to grab is missing"
        return self.screen_point(x, y)

    # input --------------------------------------------------------------

    def _pointer(self):
        builder = ActionBuilder(self.driver, mouse=PointerInput(interaction.POINTER_MOUSE, "mouse"))
        return builder, builder.pointer_action

    def drag(self, start: tuple[int, int], delta: tuple[int, int], steps: int = 6, step_ms: int | None = None) -> None:
        """Press at ``start``, move by ``delta`` in ``steps`` moves (each taking ``step_ms``;
        Selenium's 250 ms by default), release."""
        builder, pointer = self._pointer()
        if step_ms is not None:
            builder = ActionBuilder(self.driver, mouse=PointerInput(interaction.POINTER_MOUSE, "mouse"),
                                    duration=step_ms)
            pointer = builder.pointer_action
        pointer.move_to_location(*start).pointer_down()
        for i in range(1, steps + 1):
            pointer.move_to_location(start[0] + round(delta[0] * i / steps), start[1] + round(delta[1] * i / steps))
        pointer.pointer_up()
        builder.perform()

    def click_at(self, point: tuple[int, int]) -> None:
        builder, pointer = self._pointer()
        pointer.move_to_location(*point).pointer_down().pointer_up()
        builder.perform()

    def press(self, action: str) -> None:
        self.driver.find_element(By.CSS_SELECTOR, f'[data-action="{action}"]').click()

    def enabled(self, action: str) -> bool:
        return self.driver.find_element(By.CSS_SELECTOR, f'[data-action="{action}"]').is_enabled()

    def choose(self, action: str, value: str) -> None:
        Select(self.driver.find_element(By.CSS_SELECTOR, f'[data-action="{action}"]')).select_by_value(value)

    def keys(self, *keys: str, modifier: str | None = None) -> None:
        chain = ActionChains(self.driver)
        if modifier:
            chain.key_down(modifier)
        chain.send_keys(*keys)
        if modifier:
            chain.key_up(modifier)
        chain.perform()

    def screenshot(self, path) -> None:
        self.driver.find_element(By.CSS_SELECTOR, ".rptgan-pose-editor").screenshot(str(path))


@pytest.fixture
def page(browser, static_server, console_errors):
    console_errors(browser)  # drop what earlier pages logged
    editor = EditorPage(browser, static_server)
    yield editor
    assert console_errors(browser) == [], "the page logged errors"


def stored_keypoints(page: EditorPage) -> list[np.ndarray]:
    """The stored value parsed the way the EditPose node parses it: (P, 18, 3) per frame."""
    poses = poses_from_openpose_json(page.stored)
    return [pose.keypoints for pose in poses]


# ---------------------------------------------------------------------------


def test_shows_incoming_pose_without_writing(page, artifacts):
    person = standing_person(88, 16, 226)
    page.set_incoming([frame([person])], background=mannequin_data_url([person]))
    shown = np.asarray(page.shown_keypoints()[0])
    np.testing.assert_allclose(shown, person, atol=1e-4)
    assert page.stored == "" and page.writes == 0, "viewing the incoming pose must leave edited_pose empty"
    assert "1 person" in page.status() and "incoming" in page.status()
    assert not page.enabled("undo") and not page.enabled("reset")
    # The skeleton is drawn in OpenPose colours: the neck joint's pixel is orange (255, 85, 0).
    rect = page.canvas_rect()
    sx, sy = page.scale()
    x, y = person[1, :2]
    pixel = page.js(
        "const [x, y] = arguments; const c = harness.editor.canvas;"
        "const k = c.width / c.getBoundingClientRect().width;"
        "return Array.from(c.getContext('2d').getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data);",
        float((x + 0.5) / sx), float((y + 0.5) / sy),
    )
    assert pixel[:3] == [255, 85, 0]
    assert rect["width"] > WIDTH, "the test expects the pose shown enlarged"
    page.screenshot(artifacts / "editor-incoming.png")


def test_drag_moves_joint_by_the_drag_in_pose_pixels(page, artifacts):
    person = standing_person(88, 16, 226)
    page.set_incoming([frame([person])], background=mannequin_data_url([person]))
    wrist = KEYPOINT_INDEX["right_wrist"]
    start = page.joint_screen_point(0, wrist)
    sx, sy = page.scale()
    assert abs(sx - 1) > 0.2, "display scaling must differ from 1 for this test to mean anything"

    page.drag(start, (-25, -60))

    stored = stored_keypoints(page)
    assert len(stored) == 1 and stored[0].shape == (1, 18, 3)
    expected = person.copy()
    expected[wrist, 0] += -25 * sx
    expected[wrist, 1] += -60 * sy
    np.testing.assert_allclose(stored[0][0], expected, atol=STORED_TOLERANCE)
    assert page.writes == 1, "a drag is written once, when it ends"
    assert "right wrist" in page.status()
    page.screenshot(artifacts / "editor-dragged.png")


def test_drag_stays_on_the_canvas(page):
    person = standing_person(88, 16, 226)
    page.set_incoming([frame([person])])
    ankle = KEYPOINT_INDEX["left_ankle"]
    page.drag(page.joint_screen_point(0, ankle), (200, 100))
    x, y, c = stored_keypoints(page)[0][0, ankle]
    assert (x, y, c) == (WIDTH - 1, HEIGHT - 1, 1.0)


def test_undo_and_redo_buttons_and_keys(page):
    person = standing_person(88, 16, 226)
    page.set_incoming([frame([person])])
    elbow = KEYPOINT_INDEX["left_elbow"]
    page.drag(page.joint_screen_point(0, elbow), (30, 10))
    moved = page.stored
    assert moved != ""
    page.drag(page.joint_screen_point(0, elbow), (10, 30))
    twice = page.stored

    page.press("undo")
    assert page.stored == moved
    page.click_at(page.screen_point(2, 2))  # focus the canvas (the keys act there), hitting no joint
    page.keys("z", modifier=Keys.CONTROL)
    assert page.stored == "", "undoing the first edit returns to the incoming pose"
    assert not page.enabled("undo") and page.enabled("redo")

    page.keys("y", modifier=Keys.CONTROL)
    assert page.stored == moved
    page.press("redo")
    assert page.stored == twice
    assert not page.enabled("redo")


def test_mirror_matches_rptgan_core_flip(page, artifacts):
    person = standing_person(60, 16, 226)
    person[KEYPOINT_INDEX["right_wrist"], :2] = (20, 40)  # one arm raised, so the mirror is visible
    page.set_incoming([frame([person])], background=mannequin_data_url([person]))
    page.press("mirror")

    incoming = poses_from_openpose_json([frame([person])])[0]
    flipped = incoming.flipped()
    np.testing.assert_allclose(stored_keypoints(page)[0], flipped.keypoints, atol=STORED_TOLERANCE)
    # Left and right swapped: the raised wrist is now the left one, mirrored about the canvas.
    x, y, _ = stored_keypoints(page)[0][0, KEYPOINT_INDEX["left_wrist"]]
    assert (x, y) == pytest.approx((WIDTH - 1 - 20, 40), abs=STORED_TOLERANCE)
    assert list(FLIP_PERMUTATION)[KEYPOINT_INDEX["left_wrist"]] == KEYPOINT_INDEX["right_wrist"]
    page.screenshot(artifacts / "editor-mirrored.png")

    page.press("mirror")
    np.testing.assert_allclose(stored_keypoints(page)[0], incoming.keypoints, atol=STORED_TOLERANCE)


def test_mirror_person_keeps_them_in_place(page):
    person = standing_person(60, 16, 226)
    person[KEYPOINT_INDEX["right_wrist"], :2] = (20, 40)
    page.set_incoming([frame([person])])
    page.press("mirror-person")
    stored = stored_keypoints(page)[0][0]
    xs = person[:, 0]
    axis = xs.min() + xs.max()
    expected = person[list(FLIP_PERMUTATION)].copy()
    expected[:, 0] = axis - expected[:, 0]
    np.testing.assert_allclose(stored, expected, atol=STORED_TOLERANCE)


def test_remove_and_add_keypoint(page):
    person = standing_person(88, 16, 226, missing=("left_ear",))
    page.set_incoming([frame([person])])
    knee = KEYPOINT_INDEX["right_knee"]
    page.click_at(page.joint_screen_point(0, knee))
    assert page.enabled("remove-keypoint")
    page.keys(Keys.DELETE)
    stored = json.loads(page.stored)
    assert stored[0]["people"][0]["pose_keypoints_2d"][3 * knee : 3 * knee + 3] == [0, 0, 0]
    assert not poses_from_openpose_json(stored)[0].visible[0, knee]

    ear = KEYPOINT_INDEX["left_ear"]
    options = page.js("return Array.from(document.querySelectorAll('[data-action=\"add-keypoint\"] option'))"
                      ".map(o => o.value)")
    assert set(options) == {"", str(knee), str(ear)}, "the add menu lists exactly the missing joints"
    page.choose("add-keypoint", str(ear))
    assert "left ear" in page.status()
    target = page.screen_point(110, 30)
    page.click_at(target)
    x, y, c = stored_keypoints(page)[0][0, ear]
    ex, ey = page.pose_point(*target)
    assert (x, y, c) == pytest.approx((ex, ey, 1.0), abs=STORED_TOLERANCE)

    page.press("remove-keypoint")  # the added joint is selected
    assert not poses_from_openpose_json(page.stored)[0].visible[0, ear]
    page.press("undo")
    assert poses_from_openpose_json(page.stored)[0].visible[0, ear]


def test_reset_returns_to_incoming_and_is_undoable(page):
    person = standing_person(88, 16, 226)
    page.set_incoming([frame([person])])
    page.drag(page.joint_screen_point(0, KEYPOINT_INDEX["nose"]), (15, 15))
    page.press("mirror")
    edited = page.stored
    page.press("reset")
    assert page.stored == ""
    np.testing.assert_allclose(np.asarray(page.shown_keypoints()[0]), person, atol=1e-4)
    assert not page.enabled("reset")
    page.press("undo")
    assert page.stored == edited


def test_several_people_and_frames(page, artifacts):
    alone = standing_person(88, 16, 226)
    left = standing_person(50, 40, 200)
    right = standing_person(130, 30, 210, missing=("right_ear", "left_ear"))
    incoming = [frame([alone]), frame([left, right])]
    page.set_incoming(incoming, background=mannequin_data_url([left, right]))
    assert page.js("return document.querySelector('.rpe-frame').textContent").strip() == "1/2"

    page.press("next-frame")
    neck = KEYPOINT_INDEX["neck"]
    page.drag(page.joint_screen_point(1, neck), (-12, 20))
    sx, sy = page.scale()
    assert (Select(page.driver.find_element(By.CSS_SELECTOR, '[data-action="person"]')).first_selected_option.text
            == "Person 2")

    stored = stored_keypoints(page)
    assert [len(s) for s in stored] == [1, 2]
    np.testing.assert_allclose(stored[0][0], alone, atol=STORED_TOLERANCE)
    np.testing.assert_allclose(stored[1][0], left, atol=STORED_TOLERANCE)
    expected = right.copy()
    expected[neck, :2] += (-12 * sx, 20 * sy)
    np.testing.assert_allclose(stored[1][1], expected, atol=STORED_TOLERANCE)
    page.screenshot(artifacts / "editor-two-people.png")

    page.press("add-person")
    stored = stored_keypoints(page)
    assert [len(s) for s in stored] == [1, 3]
    assert stored[1][2][:, 2].min() == 1.0, "an added person has every joint"
    inside = (stored[1][2][:, 0] <= WIDTH - 1) & (stored[1][2][:, 1] <= HEIGHT - 1)
    assert inside.all()

    page.choose("person", "0")
    page.press("remove-person")
    stored = stored_keypoints(page)
    assert [len(s) for s in stored] == [1, 2]
    np.testing.assert_allclose(stored[1][0], expected, atol=STORED_TOLERANCE)


def test_stored_value_is_reloaded_and_bad_values_are_reported(page):
    person = standing_person(88, 16, 226)
    page.set_incoming([frame([person])])
    page.drag(page.joint_screen_point(0, KEYPOINT_INDEX["left_knee"]), (20, 0))
    edited = page.stored

    # A saved workflow reopened: the stored value comes back before any run.
    page.js("harness.editor.model.setIncoming(null); harness.editor.loadValue(arguments[0])", edited)
    assert json.loads(page.stored) == json.loads(edited)
    np.testing.assert_allclose(np.asarray(page.shown_keypoints()[0]), stored_keypoints(page)[0][0], atol=1e-4)
    assert page.enabled("reset") and not page.enabled("undo")

    bad = {"people": [{"pose_keypoints_2d": [1, 2]}], "canvas_width": WIDTH, "canvas_height": HEIGHT}
    page.js("harness.editor.loadValue(arguments[0])", json.dumps([bad]))
    assert "not a multiple of 3" in page.status()
    assert page.enabled("reset")
    page.press("reset")
    assert page.stored == "" and page.writes >= 2


def test_incoming_from_the_nodes_ui_message(page):
    """The node sends `rptgan_pose` as a list of JSON texts; frames of all items are shown."""
    one, two = standing_person(88, 16, 226), standing_person(70, 20, 200)
    page.js("harness.editor.setIncomingFromUi(arguments[0])", [json.dumps([frame([one])]), json.dumps(frame([two]))])
    assert len(page.js("return harness.editor.model.frames")) == 2
    np.testing.assert_allclose(np.asarray(page.shown_keypoints(1)[0]), two, atol=1e-4)
    page.js("harness.editor.setIncomingFromUi(['not json'])")
    assert "not valid JSON" in page.status()


FORMAT_CASES = {
    "pixels, missing and negative": [
        {
            "people": [{"pose_keypoints_2d": [10, 20, 0.9, -3, 5, 1, 7, 8, 0] + [30, 40, 1] * 15}],
            "canvas_width": 64,
            "canvas_height": 96,
        }
    ],
    "normalised": [
        {
            "people": [{"pose_keypoints_2d": [0.5, 0.25, 1, 1.05, 0.5, 1] + [0.1, 0.9, 0.5] * 16}],
            "canvas_width": 200,
            "canvas_height": 100,
        }
    ],
    "body25 with hands and face": [
        {
            "people": [
                {
                    "pose_keypoints_2d": [float(v) for i in range(25) for v in (10 + i, 50 + 2 * i, 1)],
                    "hand_left_keypoints_2d": [5, 6, 1, 7, 8, 1],
                    "face_keypoints_2d": [20, 21, 1],
                }
            ],
            "canvas_width": 120,
            "canvas_height": 160,
        }
    ],
    "blazepose33": [
        {
            "people": [{"pose_keypoints_2d": [float(v) for i in range(33) for v in (40 + i, 60 + i, 0.8)]}],
            "canvas_width": 128,
            "canvas_height": 128,
        }
    ],
    "nobody": [{"people": [], "canvas_width": 32, "canvas_height": 32}],
    "normalised sequence, a hand off the canvas in one frame": [
        {"people": [{"pose_keypoints_2d": [v for i in range(18) for v in (0.5, 0.05 * i, 1)]}],
         "canvas_width": 100, "canvas_height": 200},
        {"people": [{"pose_keypoints_2d": [v for i in range(18) for v in ((2.1 if i == 7 else 0.5), 0.05 * i, 1)]}],
         "canvas_width": 100, "canvas_height": 200},
    ],
    "pixel sequence with a tiny frame": [
        {"people": [{"pose_keypoints_2d": [v for i in range(18) for v in (40 + i, 30 + 5 * i, 1)]}],
         "canvas_width": 100, "canvas_height": 200},
        {"people": [{"pose_keypoints_2d": [v for i in range(18) for v in (40 + i, 30 + 5 * i, 1)]}],
         "canvas_width": 100, "canvas_height": 200},
        {"people": [{"pose_keypoints_2d": [v for i in range(18) for v in (1 + 0.05 * i, 1.5, 1)]}],
         "canvas_width": 100, "canvas_height": 200},
    ],
}


@pytest.mark.parametrize("case", sorted(FORMAT_CASES))
def test_core_reads_pose_json_as_rptgan_core_does(page, case):
    data = FORMAT_CASES[case]
    frames = page.js(
        "const frames = harness.core.parsePoseKeypoint(arguments[0]);"
        "return {frames, stored: harness.core.toPoseKeypoint(frames)};",
        json.dumps(data),
    )
    poses = poses_from_openpose_json(data)
    for shown, pose in zip(frames["frames"], poses):
        assert (shown["width"], shown["height"]) == (pose.width, pose.height)
        keypoints = np.asarray([p["keypoints"] for p in shown["people"]], np.float32).reshape(-1, 18, 3)
        np.testing.assert_allclose(keypoints, pose.keypoints, atol=1e-4)
        for person, extras in zip(shown["people"], pose.extras):
            assert set(person["extras"]) == set(extras)
            for name, points in extras.items():
                np.testing.assert_allclose(np.asarray(person["extras"][name]), points, atol=1e-4)
    # What the editor writes back reads the same in Python.
    again = poses_from_openpose_json(frames["stored"])
    for pose, back in zip(poses, again):
        np.testing.assert_allclose(back.keypoints, pose.keypoints, atol=STORED_TOLERANCE)


@pytest.mark.parametrize(
    "value, message",
    [
        ("[{\"people\": [{\"pose_keypoints_2d\": [1, 2, 1, 3]}], \"canvas_width\": 8, \"canvas_height\": 8}]",
         "not a multiple of 3"),
        ("[{\"people\": [{\"pose_keypoints_2d\": [1, 2, 1]}], \"canvas_width\": 8, \"canvas_height\": 8}]",
         "holds 1 keypoints"),
        ("[{\"people\": [], \"canvas_width\": 0, \"canvas_height\": 8}]", "must be positive"),
        ("[{\"people\": [{\"pose_keypoints_2d\": [\"a\", 2, 1]}], \"canvas_width\": 8, \"canvas_height\": 8}]",
         "not a number"),
        ("[{\"canvas_width\": 8, \"canvas_height\": 8}]", "no 'people' list"),
        ("[{\"people\": []}]", "no canvas_width"),
        ("{oops", "not valid JSON"),
        ("3", "frame object or a list of frames"),
    ],
)
def test_core_rejects_bad_pose_json_with_a_clear_message(page, value, message):
    error = page.js(
        "try { harness.core.parsePoseKeypoint(arguments[0]); return null; }"
        "catch (e) { return e.name + ': ' + e.message; }",
        value,
    )
    assert error is not None and error.startswith("PoseFormatError") and message in error


# live preview and pose library (web/js/pose_preview.js), against the stand-in routes ------------


@pytest.fixture
def preview_page(browser, static_server, console_errors, stand_in):
    console_errors(browser)
    editor = EditorPage(browser, static_server, preview="stand-in.safetensors")
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(
        "return document.querySelector('[data-action=\"library\"]').options.length > 1"))
    yield editor
    errors = [e for e in console_errors(browser) if "/rptgan/" not in e]  # refused requests log as errors
    assert errors == [], "the page logged errors"


# The preview picture the editor drew, read back from its image element: (width, height, RGBA values).
PREVIEW_PIXELS = """
const image = harness.editor.preview.image; const c = document.createElement("canvas");
c.width = image.naturalWidth; c.height = image.naturalHeight; const g = c.getContext("2d"); g.drawImage(image, 0, 0);
return [c.width, c.height, Array.from(g.getImageData(0, 0, c.width, c.height).data)];
"""


def _preview_pixels(page: EditorPage) -> np.ndarray:
    """The preview picture the editor holds, as (H, W, 3) uint8 from the stand-in's PNG."""
    width, height, data = page.js(PREVIEW_PIXELS)
    return np.asarray(data, dtype=np.uint8).reshape(height, width, 4)[..., :3]


def _wait_idle(page: EditorPage, timeout: float = 10) -> None:
    WebDriverWait(page.driver, timeout).until(lambda d: d.execute_script(
        "return harness.preview.client.idle && Boolean(harness.editor.preview?.loaded)"))


def test_preview_follows_a_drag_with_few_requests_and_the_newest_pose(preview_page, stand_in, artifacts):
    page = preview_page
    person = standing_person(88, 16, 226)
    page.set_incoming([frame([person])])
    _wait_idle(page)
    assert len(stand_in.requests) == 1
    first = stand_in.requests[0]
    assert first["checkpoint"] == "stand-in.safetensors" and first["image"]["filename"] == "source.png"
    np.testing.assert_allclose(poses_from_openpose_json(first["source_pose"])[0].keypoints[0], person, atol=0.02)
    before = _preview_pixels(page)

    # A slow drag (a move every 250 ms) on a slow model (300 ms): pictures arrive during the
    # drag, one request at a time, moves made while the model works folded into the next one.
    stand_in.delay = 0.3
    wrist = KEYPOINT_INDEX["right_wrist"]
    page.drag(page.joint_screen_point(0, wrist), (-30, -60), steps=8)
    _wait_idle(page)
    stats = page.js("return {...harness.preview.client.stats}")
    moves = len(stand_in.requests) - 1
    assert 2 <= moves < 8 and stats["shown"] >= 3, (moves, stats)
    assert stand_in.most_at_once == 1
    # A quick burst (8 moves in 80 ms): the pause before asking folds it into one or two requests.
    count = len(stand_in.requests)
    page.drag(page.joint_screen_point(0, wrist), (10, 10), steps=8, step_ms=10)
    _wait_idle(page)
    assert 1 <= len(stand_in.requests) - count <= 2
    final = stored_keypoints(page)[0][0]
    np.testing.assert_allclose(poses_from_openpose_json(stand_in.requests[-1]["pose"])[0].keypoints[0], final,
                               atol=0.02)
    after = _preview_pixels(page)
    # the stand-in draws the requested skeleton: the picture changed where the forearm went, and only there
    changed = np.abs(after.astype(int) - before.astype(int)).sum(-1) > 30
    ys, xs = np.nonzero(changed)
    assert changed.any()
    x0, y0 = person[KEYPOINT_INDEX["right_elbow"], :2]
    assert xs.min() >= min(x0, final[wrist, 0]) - 12 and ys.min() >= min(y0, final[wrist, 1]) - 12
    page.screenshot(artifacts / "editor-preview.png")


def test_preview_reports_refusals_and_can_be_turned_off(preview_page, stand_in):
    page = preview_page
    person = standing_person(88, 16, 226)
    page.set_incoming([frame([person])])
    _wait_idle(page)
    page.press("remove-person")  # nobody left: the preview asks nothing and says why
    WebDriverWait(page.driver, 5).until(
        lambda d: "no person" in d.find_element(By.CSS_SELECTOR, ".rpe-preview-status").text)
    page.press("undo")
    _wait_idle(page)
    count = len(stand_in.requests)
    page.choose("preview-model", "")
    assert page.js("return harness.widget.previewChoice") == ""
    page.drag(page.joint_screen_point(0, KEYPOINT_INDEX["left_knee"]), (15, 0))
    assert len(stand_in.requests) == count and page.js("return harness.editor.preview") is None
    page.js("window.harnessSource = null")
    page.choose("preview-model", "stand-in.safetensors")
    WebDriverWait(page.driver, 5).until(
        lambda d: "no source image" in d.find_element(By.CSS_SELECTOR, ".rpe-preview-status").text)


def test_pose_library_in_the_editor(preview_page, stand_in):
    from rptgan_core.pose import Letterbox
    from rptgan_core.pose_library import builtin_pose

    page = preview_page
    page.set_incoming([frame([standing_person(88, 16, 226)]), frame([standing_person(70, 20, 200)], 96, 128)])
    page.press("next-frame")
    page.choose("library", "t_pose")
    WebDriverWait(page.driver, 5).until(lambda d: page.stored != "")
    stored = stored_keypoints(page)
    expected = Letterbox.fit((256, 176), (128, 96)).apply_pose(builtin_pose("t_pose")).keypoints[0]
    np.testing.assert_allclose(stored[1][0], expected, atol=0.05)  # fitted to the frame's own canvas
    np.testing.assert_allclose(stored[0][0], standing_person(88, 16, 226), atol=STORED_TOLERANCE)  # frame 1 kept

    page.driver.find_element(By.CSS_SELECTOR, '[data-action="pose-name"]').send_keys("my t")
    page.press("save-pose")
    WebDriverWait(page.driver, 5).until(
        lambda d: "saved" in d.find_element(By.CSS_SELECTOR, ".rpe-preview-status").text)
    assert os.listdir(stand_in.folder) == ["my t.json"]
    options = page.js("return Array.from(document.querySelectorAll('[data-action=\"library\"] option'))"
                      ".map(o => o.value)")
    assert "my t" in options
    page.driver.find_element(By.CSS_SELECTOR, '[data-action="pose-name"]').clear()
    page.driver.find_element(By.CSS_SELECTOR, '[data-action="pose-name"]').send_keys("standing")
    page.press("save-pose")
    WebDriverWait(page.driver, 5).until(lambda d: "built-in" in page.status())
    page.press("undo")  # the library pose was one undoable edit: back to the incoming pose
    assert page.stored == ""
    np.testing.assert_allclose(np.asarray(page.shown_keypoints(1)[0]), standing_person(70, 20, 200), atol=1e-4)


def test_without_the_routes_the_editor_is_the_plain_one(browser, static_server, stand_in, console_errors):
    stand_in.enabled = False
    console_errors(browser)
    page = EditorPage(browser, static_server, preview="stand-in.safetensors")
    page.set_incoming([frame([standing_person(88, 16, 226)])])
    WebDriverWait(browser, 5).until(
        lambda d: "unavailable" in d.find_element(By.CSS_SELECTOR, ".rpe-preview-status").text)
    assert page.js("return getComputedStyle(document.querySelector('.rpe-library')).display") == "none"
    page.drag(page.joint_screen_point(0, KEYPOINT_INDEX["left_knee"]), (15, 0))
    assert page.stored != ""  # editing works as before
