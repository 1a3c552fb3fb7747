"""Fixtures for the pose editor's browser tests: a local web server for the
repository, headless Chromium driven through Selenium and chromedriver, and
a screenshot folder.

Chromium and chromedriver come from the system (Debian: ``apt-get install
chromium chromium-driver``; override with CHROMIUM_PATH / CHROMEDRIVER_PATH).
Without them the tests skip, unless RPTGAN_REQUIRE_BROWSER=1 (CI), which
turns the skip into a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "pose-editor"

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--force-device-scale-factor=1",
    "--window-size=1280,900",
)


def _browser_unavailable(reason: str):
    if os.environ.get("RPTGAN_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (RPTGAN_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


def _find_executable(env_name: str, *names: str) -> str | None:
    configured = os.environ.get(env_name)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def start_chromium(user_data_dir: str):
    """A headless Chromium WebDriver session; skips (or fails under CI) when unavailable."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _browser_unavailable("selenium is not installed (pip install selenium)")
    chromium = _find_executable("CHROMIUM_PATH", "chromium", "chromium-browser")
    driver_path = _find_executable("CHROMEDRIVER_PATH", "chromedriver")
    if not chromium or not driver_path:
        _browser_unavailable("Chromium and chromedriver not found (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver_path))


STUB_SCRIPTS = REPO_ROOT / "tests" / "web" / "stubs" / "scripts"


class StandInRoutes:
    """The pack's /rptgan/ routes as the editor sees them, without a model: the preview
    is the requested pose's skeleton drawn on grey (so a test can see where a limb went),
    after ``delay`` seconds; the pose library is the real one, on a temporary folder.
    ``requests`` logs every preview body."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.delay = 0.0
        self.enabled = True
        self.folder = tempfile.mkdtemp(prefix="rptgan-poses-")
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def reset(self) -> None:
        self.requests.clear()
        self.delay = 0.0
        self.enabled = True
        self.running = self.most_at_once = 0
        shutil.rmtree(self.folder, ignore_errors=True)
        os.makedirs(self.folder)

    def answer(self, method: str, path: str, query: dict, body: bytes) -> tuple[int, str, bytes]:
        import io
        import json
        import time
        import urllib.parse

        import numpy as np
        from PIL import Image

        from rptgan_core import pose_library
        from rptgan_core.pose import Letterbox, draw_skeleton, poses_from_openpose_json

        def reply(value, status=200):
            return status, "application/json", json.dumps(value).encode()

        if not self.enabled:
            return reply({"error": "not found"}, 404)
        if path == "/rptgan/models":
            return reply({"checkpoints": ["stand-in.safetensors"]})
        if path == "/rptgan/poses":
            return reply({"builtin": list(pose_library.BUILTIN_NAMES),
                          "saved": pose_library.saved_pose_names(self.folder)})
        if path.startswith("/rptgan/poses/"):
            name = urllib.parse.unquote(path[len("/rptgan/poses/"):])
            try:
                if method == "POST":
                    pose_library.save_pose(name, poses_from_openpose_json(json.loads(body))[0], self.folder)
                    return reply({"saved": name, "saved_names": pose_library.saved_pose_names(self.folder)})
                pose = pose_library.load_pose(name, self.folder)
            except Exception as error:  # the real route answers these as 400/404 with the message
                return reply({"error": str(error)}, 400)
            if "width" in query:
                size = int(query["height"][0]), int(query["width"][0])
                pose = Letterbox.fit((pose.height, pose.width), size).apply_pose(pose)
            from rptgan_core.pose import poses_to_openpose_json
            return reply(poses_to_openpose_json([pose], normalised=True))
        if path == "/rptgan/preview" and method == "POST":
            request = json.loads(body)
            with self._lock:
                self.requests.append(request)
                self.running += 1
                self.most_at_once = max(self.most_at_once, self.running)
            time.sleep(self.delay)
            with self._lock:
                self.running -= 1
            pose = poses_from_openpose_json(request["pose"])[0]
            if pose.num_people == 0:
                return reply({"error": "pose: frame 0 of 1 has no person (no visible keypoints)"}, 400)
            canvas = np.full((pose.height, pose.width, 3), 60, np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(draw_skeleton(pose, canvas)).save(buffer, format="PNG")
            return 200, "image/png", buffer.getvalue()
        return reply({"error": f"no route {path}"}, 404)


STAND_IN = StandInRoutes()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the repository, /scripts/* (the ComfyUI frontend modules the
    extension imports) from tests/web/stubs/scripts, and /rptgan/* from ``STAND_IN``."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

    def _stand_in(self, method: str) -> bool:
        import urllib.parse

        url = urllib.parse.urlsplit(self.path)
        if not url.path.startswith("/rptgan/"):
            return False
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, kind, content = STAND_IN.answer(method, url.path, urllib.parse.parse_qs(url.query), body)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)
        return True

    def do_GET(self):
        if not self._stand_in("GET"):
            super().do_GET()

    def do_POST(self):
        if not self._stand_in("POST"):
            self.send_error(404)

    def translate_path(self, path):
        if path.startswith("/scripts/"):
            return str(STUB_SCRIPTS / Path(path.split("?", 1)[0]).name)
        return super().translate_path(path)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="session")
def static_server():
    """Base URL of an HTTP server on 127.0.0.1 (a free port) serving the repository."""
    handler = functools.partial(_QuietHandler, directory=str(REPO_ROOT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def stand_in():
    """The stand-in /rptgan/ routes, fresh for each test."""
    STAND_IN.reset()
    yield STAND_IN
    STAND_IN.reset()


def wait_for(driver, script: str, timeout: float, what: str, *args):
    """The first truthy value of ``script`` run in the page, polled every 0.25 s; AssertionError
    naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the session; ``browser.wait_for(script, timeout, what, *args)`` polls the page."""
    profile = tempfile.mkdtemp(prefix="rptgan-chromium-")
    driver = start_chromium(profile)
    driver.set_script_timeout(20)
    driver.wait_for = functools.partial(wait_for, driver)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots (test-artifacts/pose-editor under the repository)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def console_errors():
    """fn(driver) -> the console errors the browser logged since the last call."""

    def read(driver) -> list[str]:
        return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]

    return read
