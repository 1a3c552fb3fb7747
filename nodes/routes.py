"""The pack's HTTP routes on ComfyUI's server, under /rptgan/: the pose editor's live
preview, its pose library, and the checkpoints it can preview with.

    POST /rptgan/preview        JSON {image, checkpoint, pose, source_pose?, editor, sequence}
                                -> image/png; 409 superseded; 400/404/429 {"error": ...}
    GET  /rptgan/models         -> {"checkpoints": [...]}
    GET  /rptgan/poses          -> {"builtin": [...], "saved": [...]}
    GET  /rptgan/poses/{name}?width=W&height=H
                                -> POSE_KEYPOINT (one frame, fitted to W x H when given)
    POST /rptgan/poses/{name}   POSE_KEYPOINT (its first frame is saved) -> {"saved": name, "saved_names": [...]}

Everything a request names is checked as the nodes check it: images only from
the input and temp folders, checkpoints only from the rptgan model folders,
poses through the same bounded reader.
"""

from __future__ import annotations

import logging
import time

from rptgan_core import pose_library
from rptgan_core.jsonio import parse_json
from rptgan_core.pose import Letterbox, PoseError
from rptgan_core.pose.formats import MAX_CANVAS_SIDE
from rptgan_core.pose_library import PoseLibraryError

from . import comfy_compat, preview
from .convert import NodeInputError, poses_from_keypoints, poses_to_keypoints
from .transfer import checkpoint_choices

PREFIX = "/rptgan"
_gate: preview.PreviewGate | None = None


def _error(web, message: str, status: int = 400):
    return web.json_response({"error": message}, status=status)


async def _body(web, request) -> bytes:
    if request.content_length is not None and request.content_length > preview.MAX_REQUEST_BYTES:
        raise NodeInputError(f"request body is {request.content_length:,} bytes; at most "
                             f"{preview.MAX_REQUEST_BYTES:,} are read")
    body = await request.content.read(preview.MAX_REQUEST_BYTES + 1)
    if len(body) > preview.MAX_REQUEST_BYTES:
        raise NodeInputError(f"request body is larger than {preview.MAX_REQUEST_BYTES:,} bytes")
    return body


def _handlers(web):
    async def preview_image(request):
        global _gate
        if _gate is None:
            _gate = preview.PreviewGate()
        try:
            data = preview.parse_request(await _body(web, request))
            editor, sequence = str(data.get("editor", ""))[:64], data.get("sequence", 0)
            if isinstance(sequence, bool) or not isinstance(sequence, int):
                raise NodeInputError("sequence: expected a whole number")
            started = time.perf_counter()
            png = await _gate.run(editor, sequence, preview.render_preview, data)
        except NodeInputError as error:
            return _error(web, str(error))
        except PoseError as error:
            return _error(web, f"pose: {error}")
        except preview.PreviewBusy as error:
            return _error(web, str(error), 429)
        except Exception as error:  # the model's own failures reach the editor as text, not a 500 page
            logging.exception("comfyui-rptgan: preview failed")
            return _error(web, f"preview failed: {type(error).__name__}: {error}", 500)
        if png is None:
            return web.json_response({"superseded": True}, status=409)
        milliseconds = (time.perf_counter() - started) * 1000
        return web.Response(body=png, content_type="image/png",
                            headers={"Cache-Control": "no-store", "X-RPTGAN-Milliseconds": f"{milliseconds:.1f}"})

    async def models(request):
        return web.json_response({"checkpoints": checkpoint_choices()})

    async def pose_names(request):
        folder = comfy_compat.pose_library_directory()
        return web.json_response({"builtin": list(pose_library.BUILTIN_NAMES),
                                  "saved": pose_library.saved_pose_names(folder)})

    def _canvas(request) -> tuple[int, int] | None:
        width, height = request.query.get("width"), request.query.get("height")
        if width is None and height is None:
            return None
        try:
            size = int(width), int(height)
        except (TypeError, ValueError):
            raise NodeInputError(f"width and height must be whole numbers, got {width!r} and {height!r}") from None
        if not all(1 <= side <= MAX_CANVAS_SIDE for side in size):
            raise NodeInputError(f"width and height must be 1 to {MAX_CANVAS_SIDE}, got {size[0]}x{size[1]}")
        return size

    async def load_pose(request):
        name = request.match_info["name"]
        try:
            canvas = _canvas(request)
            pose = pose_library.load_pose(name, comfy_compat.pose_library_directory())
        except NodeInputError as error:
            return _error(web, str(error))
        except PoseLibraryError as error:
            return _error(web, str(error), 404 if "no pose named" in str(error) else 400)
        if canvas is not None:
            pose = Letterbox.fit((pose.height, pose.width), (canvas[1], canvas[0])).apply_pose(pose)
        return web.json_response(poses_to_keypoints([pose]))

    async def save_pose(request):
        name = request.match_info["name"]
        folder = comfy_compat.pose_library_directory()
        try:
            pose_library.check_pose_name(name)
            body = parse_json(await _body(web, request), "pose", NodeInputError, max_bytes=preview.MAX_REQUEST_BYTES)
            poses = poses_from_keypoints(body, "pose")
            pose_library.save_pose(name, poses[0], folder)
        except (NodeInputError, PoseLibraryError) as error:
            return _error(web, str(error))
        return web.json_response({"saved": name, "saved_names": pose_library.saved_pose_names(folder)})

    return {"preview": preview_image, "models": models, "pose_names": pose_names, "load_pose": load_pose,
            "save_pose": save_pose}


def add_routes(routes, web) -> None:
    """Add the routes to an aiohttp ``RouteTableDef`` (ComfyUI's ``PromptServer.instance.routes``)."""
    handlers = _handlers(web)
    for method, path, name in (("post", "/preview", "preview"), ("get", "/models", "models"),
                               ("get", "/poses", "pose_names"), ("get", "/poses/{name}", "load_pose"),
                               ("post", "/poses/{name}", "save_pose")):
        getattr(routes, method)(f"{PREFIX}{path}")(handlers[name])


def register() -> bool:
    """Add the routes to the running ComfyUI server; False outside ComfyUI."""
    try:
        from aiohttp import web
        from server import PromptServer
    except ImportError:
        return False
    server = getattr(PromptServer, "instance", None)
    if server is None:
        return False
    add_routes(server.routes, web)
    return True
