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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the repository, and /scripts/* (the ComfyUI frontend modules the
    extension imports) from tests/web/stubs/scripts."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

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


@pytest.fixture(scope="session")
def browser():
    profile = tempfile.mkdtemp(prefix="rptgan-chromium-")
    driver = start_chromium(profile)
    driver.set_script_timeout(20)
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
