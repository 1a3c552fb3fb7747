"""The pack's HTTP routes (nodes/routes.py) in an aiohttp server, as ComfyUI serves them."""

from __future__ import annotations

import asyncio
import io
import json
import threading

import numpy as np
import pytest
from PIL import Image

web = pytest.importorskip("aiohttp.web")
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402


@pytest.fixture
def call(pack_module, folders):
    """call(method, path, body=None) -> (status, content type, bytes) against the pack's routes."""
    routes = pack_module("nodes.routes")

    def run(method: str, path: str, body=None, raw: bytes | None = None):
        async def go():
            routes._gate = None  # a fresh server, as each test's event loop is new
            table = web.RouteTableDef()
            routes.add_routes(table, web)
            app = web.Application()
            app.add_routes(table)
            async with TestClient(TestServer(app)) as client:
                data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
                response = await client.request(method, path, data=data)
                return response.status, response.content_type, await response.read()

        return asyncio.run(go())

    return run


def _frame(kit, width=32, height=32, shift=0.0):
    return [kit.keypoint_frame(width, height)] if not shift else [{
        "people": [{"pose_keypoints_2d": kit.standing_keypoints(width, height, shift).reshape(-1).tolist()}],
        "canvas_width": width, "canvas_height": height}]


@pytest.fixture
def source(folders, kit):
    picture = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    kit.save_picture(folders["temp"] / "rptgan_pose_background_test.png", picture)
    return {"filename": "rptgan_pose_background_test.png", "subfolder": "", "type": "temp"}


def _png(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGB"))


def test_preview_is_what_pose_transfer_gives_for_the_same_pose(call, nodes, kit, flow_checkpoint, source, folders):
    import torch

    target, incoming = _frame(kit, shift=0.1), _frame(kit)
    request = {"image": source, "checkpoint": flow_checkpoint, "pose": target, "source_pose": incoming,
               "editor": "a", "sequence": 1}
    status, kind, content = call("POST", "/rptgan/preview", request)
    assert (status, kind) == (200, "image/png"), content
    shown = _png(content)
    picture = np.asarray(Image.open(folders["temp"] / source["filename"]), dtype=np.float32) / 255
    model, _ = nodes["RPTGAN_CheckpointLoader"]().load(flow_checkpoint)  # what the preview uses: auto, auto
    (queued,) = nodes["RPTGAN_PoseTransfer"]().generate(torch.from_numpy(picture)[None], target, model,
                                                         output="source frame", source_pose=incoming)
    np.testing.assert_array_equal(shown, (queued[0].numpy() * 255).round().astype(np.uint8))
    # another pose, another picture
    moved = dict(request, pose=_frame(kit, shift=-0.1), sequence=2)
    assert not np.array_equal(_png(call("POST", "/rptgan/preview", moved)[2]), shown)


@pytest.mark.parametrize("change,message", [
    ({"image": None}, "image"),
    ({"image": {"filename": "../../etc/passwd", "subfolder": "", "type": "temp"}}, "outside the temp folder"),
    ({"image": {"filename": "x.png", "subfolder": "/etc", "type": "temp"}}, "absolute|outside"),
    ({"image": {"filename": "x.png", "subfolder": "", "type": "output"}}, "type one of"),
    ({"image": {"filename": "missing.png", "subfolder": "", "type": "input"}}, "not found"),
    ({"checkpoint": "../../secret.safetensors"}, "not in the rptgan model folders"),
    ({"checkpoint": None}, "not in the rptgan model folders"),
    ({"pose": [{"people": [], "canvas_width": 32, "canvas_height": 32}]}, "no person"),
    ({"pose": None}, "no pose given"),
    ({"pose": [{"people": [{"pose_keypoints_2d": [1, 2]}]}]}, "multiple of 3"),
    ({"source_pose": [{"people": [], "canvas_width": 32, "canvas_height": 32}]}, "source_pose"),
    ({"sequence": "one"}, "sequence"),
])
def test_preview_refuses_bad_requests_with_a_message(call, kit, flow_checkpoint, source, change, message):
    request = {"image": source, "checkpoint": flow_checkpoint, "pose": _frame(kit), "source_pose": _frame(kit),
               "editor": "a", "sequence": 1, **change}
    status, kind, content = call("POST", "/rptgan/preview", request)
    assert status == 400 and kind == "application/json"
    assert __import__("re").search(message, json.loads(content)["error"]), content


@pytest.mark.parametrize("raw,message", [
    (b"{not json", "not valid JSON"),
    (b"[" * 50000, "nested too deeply|not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b" " * (2 << 20), "bytes"),
])
def test_preview_refuses_bad_bodies(call, raw, message):
    status, _, content = call("POST", "/rptgan/preview", raw=raw)
    assert status == 400 and __import__("re").search(message, json.loads(content)["error"])


def test_a_huge_source_image_is_refused_before_it_is_decoded(call, kit, flow_checkpoint, folders):
    Image.new("L", (5000, 4000)).save(folders["input"] / "huge.png")
    request = {"image": {"filename": "huge.png", "subfolder": "", "type": "input"}, "checkpoint": flow_checkpoint,
               "pose": _frame(kit), "source_pose": _frame(kit)}
    status, _, content = call("POST", "/rptgan/preview", request)
    assert status == 400 and "larger than the preview reads" in json.loads(content)["error"]


def test_the_gate_runs_one_at_a_time_and_drops_overtaken_requests(pack_module):
    preview = pack_module("nodes.preview")
    running, peak, release = [0], [0], threading.Event()

    def work(value):
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        release.wait(5)
        running[0] -= 1
        return value

    async def go():
        gate = preview.PreviewGate()
        first = asyncio.ensure_future(gate.run("editor", 1, work, "first"))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(gate.run("editor", 2, work, "second"))
        third = asyncio.ensure_future(gate.run("editor", 3, work, "third"))
        other = asyncio.ensure_future(gate.run("another editor", 1, work, "other"))
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(first, second, third, other)

    assert asyncio.run(go()) == ["first", None, "third", "other"]
    assert peak[0] == 1


def test_the_gate_refuses_a_pile_up(pack_module):
    preview = pack_module("nodes.preview")
    release = threading.Event()

    async def go():
        gate = preview.PreviewGate()
        waiting = [asyncio.ensure_future(gate.run(f"e{i}", 1, release.wait, 5)) for i in range(preview.MAX_WAITING + 1)]
        await asyncio.sleep(0.05)
        with pytest.raises(preview.PreviewBusy):
            await gate.run("late", 1, release.wait, 5)
        release.set()
        await asyncio.gather(*waiting)

    asyncio.run(go())


def test_models_route_lists_the_checkpoints(call, flow_checkpoint):
    status, _, content = call("GET", "/rptgan/models")
    assert status == 200 and flow_checkpoint in json.loads(content)["checkpoints"]


def test_pose_library_routes(call, kit, folders):
    status, _, content = call("GET", "/rptgan/poses")
    listed = json.loads(content)
    assert status == 200 and "t_pose" in listed["builtin"] and listed["saved"] == []

    status, _, content = call("GET", "/rptgan/poses/t_pose?width=96&height=128")
    frame = json.loads(content)[0]
    assert status == 200 and (frame["canvas_width"], frame["canvas_height"]) == (96, 128)
    points = np.asarray(frame["people"][0]["pose_keypoints_2d"]).reshape(18, 3)
    assert points[:, 2].min() > 0 and points[:, :2].max() <= 1.0  # fitted inside the canvas, normalised

    status, _, content = call("POST", "/rptgan/poses/my pose", _frame(kit, 64, 64))
    assert status == 200 and json.loads(content)["saved_names"] == ["my pose"]
    status, _, content = call("GET", "/rptgan/poses/my pose")
    assert status == 200 and json.loads(content)[0]["canvas_width"] == 64

    assert call("GET", "/rptgan/poses/nothing")[0] == 404
    assert call("GET", "/rptgan/poses/t_pose?width=0&height=10")[0] == 400
    assert call("GET", "/rptgan/poses/t_pose?width=x&height=10")[0] == 400
    for name in ("..%2F..%2Fescape", "standing", "%00x"):
        assert call("POST", f"/rptgan/poses/{name}", _frame(kit))[0] == 400, name
    assert call("POST", "/rptgan/poses/ok", raw=b"{bad")[0] == 400
    assert call("POST", "/rptgan/poses/empty", [{"people": [], "canvas_width": 8, "canvas_height": 8}])[0] == 400
    assert sorted(p.name for p in folders["poses"].iterdir()) == ["my pose.json"]
