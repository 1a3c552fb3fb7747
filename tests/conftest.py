"""Shared test helpers: small deterministic poses, the pack loaded as ComfyUI loads it,
free ports, and a real ComfyUI server for the tests that run the pack inside one."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from rptgan_core.pose import NUM_KEYPOINTS, Pose

REPO = Path(__file__).resolve().parents[1]
PACK_MODULE = "comfyui_rptgan_under_test"


def _load_pack():
    """Import the repository root as a custom node package, the way ComfyUI's loader does."""
    if PACK_MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(PACK_MODULE, REPO / "__init__.py",
                                                      submodule_search_locations=[str(REPO)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACK_MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[PACK_MODULE]


def _pack_module(name: str):
    """A submodule of the pack, e.g. ``_pack_module("nodes.convert")``."""
    _load_pack()
    return importlib.import_module(f"{PACK_MODULE}.{name}")


@pytest.fixture(scope="session")
def pack():
    return _load_pack()


@pytest.fixture(scope="session")
def pack_module():
    """``pack_module("nodes.transfer")``: a submodule of the pack loaded as ComfyUI loads it."""
    return _pack_module


def standing_person(width: int = 88, height: int = 128, shift: float = 0.0) -> np.ndarray:
    """(18, 3) keypoints of an upright figure facing the camera, all visible."""
    u = np.array([
        [0.50, 0.10], [0.50, 0.20], [0.35, 0.20], [0.30, 0.35], [0.28, 0.50], [0.65, 0.20], [0.70, 0.35],
        [0.72, 0.50], [0.42, 0.52], [0.42, 0.70], [0.42, 0.88], [0.58, 0.52], [0.58, 0.70], [0.58, 0.88],
        [0.46, 0.08], [0.54, 0.08], [0.42, 0.09], [0.58, 0.09],
    ])
    points = np.concatenate([(u + [shift, 0]) * [width, height], np.ones((NUM_KEYPOINTS, 1))], axis=1)
    return points.astype(np.float32)


@pytest.fixture
def person_pose() -> Pose:
    return Pose(standing_person(), 88, 128)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def make_person():
    """The ``standing_person`` factory, for tests that need several figures."""
    return standing_person


# A real ComfyUI for the tests that run the pack inside one ------------------------

COMFYUI_PATH = os.environ.get("COMFYUI_PATH")
PACK_NAME = "comfyui-rptgan"


def _comfyui_python(comfy: Path) -> str:
    if os.environ.get("COMFYUI_PYTHON"):
        return os.environ["COMFYUI_PYTHON"]
    for candidate in (comfy / "venv" / "bin" / "python", comfy / ".venv" / "bin" / "python"):
        if candidate.exists():
            return str(candidate)
    return sys.executable


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def free_port():
    """``free_port()``: a TCP port on 127.0.0.1 that nothing listens on now."""
    return _free_port


@contextlib.contextmanager
def _run_comfyui(base: Path, ready_path: str = "/object_info", startup_timeout: float = 180):
    """Start the ComfyUI in COMFYUI_PATH on 127.0.0.1 with ``base`` as its base
    directory (the caller fills its custom_nodes and input), wait until
    ``ready_path`` answers, and stop it afterwards.

    Yields (url, the JSON ``ready_path`` answered, a function returning the log's tail).
    """
    comfy = Path(COMFYUI_PATH).resolve()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = base / "comfyui.log"

    def log_tail() -> str:
        return log_path.read_text(errors="replace")[-6000:]

    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [_comfyui_python(comfy), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
             "--base-directory", str(base), "--database-url", "sqlite:///:memory:", "--disable-api-nodes"],
            cwd=comfy, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"ComfyUI exited with {process.returncode}:\n{log_tail()}")
            try:
                with urllib.request.urlopen(url + ready_path, timeout=5) as response:
                    answer = json.loads(response.read())
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"ComfyUI did not answer {ready_path} within {startup_timeout} s:\n{log_tail()}")
                time.sleep(0.5)
        yield url, answer, log_tail
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def run_comfyui():
    """``run_comfyui(base, ready_path=..., startup_timeout=...)``: a context manager that runs
    the ComfyUI in COMFYUI_PATH on 127.0.0.1; see ``_run_comfyui``."""
    return _run_comfyui


COMFYUI_TEST_BACKEND = "rptgan-test-centre-person"
# A one-file custom node that registers a stand-in pose estimator, so the estimation workflow runs
# in ComfyUIs without controlnet-aux or mediapipe. It loads rptgan_core from the pack exactly as the
# pack does, whichever of the two ComfyUI imports first.
ESTIMATOR_NODE = f"""
import importlib.util, os, sys
import numpy as np
PACK = os.path.join(os.path.dirname(os.path.abspath(__file__)), {PACK_NAME!r})
if "rptgan_core" not in sys.modules:
    core = os.path.join(PACK, "rptgan_core")
    spec = importlib.util.spec_from_file_location("rptgan_core", os.path.join(core, "__init__.py"),
                                                  submodule_search_locations=[core])
    module = importlib.util.module_from_spec(spec)
    sys.modules["rptgan_core"] = module
    spec.loader.exec_module(module)
from rptgan_core.estimation import register_backend
from rptgan_core.pose import Pose
LAYOUT = np.array([[.5, .1], [.5, .2], [.35, .2], [.3, .35], [.28, .5], [.65, .2], [.7, .35], [.72, .5],
                   [.42, .52], [.42, .7], [.42, .88], [.58, .52], [.58, .7], [.58, .88], [.46, .08], [.54, .08],
                   [.42, .09], [.58, .09]])
class CentrePerson:
    def estimate(self, image):
        height, width = image.shape[:2]
        points = np.concatenate([LAYOUT * [width, height], np.ones((18, 1))], axis=1)
        return Pose(points, width, height)
register_backend({COMFYUI_TEST_BACKEND!r}, lambda **options: CentrePerson())
NODE_CLASS_MAPPINGS = {{}}
"""
DEMO_CHECKPOINT = "rptgan-synthetic-demo.safetensors"


@pytest.fixture(scope="session")
def comfyui_python() -> str:
    """The Python the ComfyUI in COMFYUI_PATH runs with."""
    return _comfyui_python(Path(COMFYUI_PATH).resolve())


@pytest.fixture(scope="session")
def comfyui_test_backend() -> str:
    """The stand-in estimator's backend name in the ComfyUIs ``comfyui_base`` prepares."""
    return COMFYUI_TEST_BACKEND


@pytest.fixture(scope="session")
def comfyui_base():
    """``comfyui_base(folder)``: make ``folder`` a ComfyUI base directory with this pack linked
    into custom_nodes, the stand-in estimator node beside it, and (when the shipped demo
    checkpoint is absent) a tiny checkpoint under the demo's name; returns ``folder``."""
    linked = []

    def prepare(base: Path) -> Path:
        (base / "custom_nodes").mkdir()
        os.symlink(REPO, base / "custom_nodes" / PACK_NAME)
        linked.append(base / "custom_nodes" / PACK_NAME)
        (base / "custom_nodes" / "rptgan_test_estimator.py").write_text(ESTIMATOR_NODE)
        models = base / "models" / "rptgan"
        models.mkdir(parents=True)
        if not (REPO / "checkpoints" / DEMO_CHECKPOINT).exists():
            from rptgan_core.checkpoint import save_checkpoint
            from rptgan_core.config import get_config
            from rptgan_core.networks import build_generator

            save_checkpoint(models / DEMO_CHECKPOINT, build_generator(get_config("tiny")),
                            training={"note": "test stand-in"})
        return base

    yield prepare
    for link in linked:
        link.unlink()
