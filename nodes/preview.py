"""The pose editor's live preview: the source image re-posed for one pose, outside the queue.

``render_preview`` runs exactly what Pose Transfer runs (its ``generate``, the
same cached model the checkpoint loader gives for the same checkpoint, device and precision, output on the
pose canvas), so the picture the editor shows is the one a queued run gives
for the same pose. ``PreviewGate`` lets a burst of drags through one at a time,
newest first: a request that a newer one from the same editor has overtaken
is answered "superseded" without running the model.
"""

from __future__ import annotations

import asyncio
import io
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from PIL import Image

from rptgan_core.imageio import ImageLoadError, image_size, load_image
from rptgan_core.jsonio import parse_json
from rptgan_core.limits import MAX_EDITORS, MAX_REQUEST_BYTES, MAX_SOURCE_PIXELS, MAX_WAITING

from . import comfy_compat
from .convert import NodeInputError, poses_from_keypoints, poses_to_keypoints, require_people
from .transfer import PoseTransfer, load_pipeline

IMAGE_FOLDERS = ("input", "temp")


class PreviewBusy(RuntimeError):
    """Too many previews are waiting; the editor tries again after its next change."""


def _image_path(reference: Any) -> str:
    """The file behind ``{"filename", "subfolder", "type"}`` (ComfyUI's /view reference)."""
    if not isinstance(reference, dict):
        raise NodeInputError("image: expected {filename, subfolder, type} of the source image; connect an image to "
                             "Edit Pose and run the workflow once")
    filename, subfolder = reference.get("filename"), reference.get("subfolder") or ""
    folder = reference.get("type", "temp")
    if not isinstance(filename, str) or not isinstance(subfolder, str) or folder not in IMAGE_FOLDERS:
        raise NodeInputError(f"image: filename and subfolder must be text and type one of {list(IMAGE_FOLDERS)}")
    name = f"{subfolder}/{filename}" if subfolder else filename
    try:
        return comfy_compat.resolve_input_file(name, "image", folder)
    except comfy_compat.InputFileError as error:
        raise NodeInputError(f"image: {error}") from None


def _source_image(reference: Any) -> torch.Tensor:
    path = _image_path(reference)
    try:
        width, height = image_size(path)
        if width * height > MAX_SOURCE_PIXELS:
            raise NodeInputError(f"image: {width}x{height} is larger than the preview reads "
                                 f"({MAX_SOURCE_PIXELS:,} pixels)")
        loaded = load_image(path)
    except ImageLoadError as error:
        raise NodeInputError(f"image: {error}") from None
    return torch.from_numpy(np.ascontiguousarray(loaded.rgb, dtype=np.float32))[None]


def parse_request(body: bytes) -> dict:
    """The request's JSON object, bounded in size and depth."""
    data = parse_json(body, "preview request", NodeInputError, max_bytes=MAX_REQUEST_BYTES)
    if not isinstance(data, dict):
        raise NodeInputError("preview request: expected a JSON object")
    return data


def render_preview(request: dict) -> bytes:
    """PNG bytes of the source re-posed, on the pose's canvas.

    ``request``: ``image`` (a /view reference to a file in the input or temp
    folder), ``checkpoint`` (a name in the rptgan model folders), ``pose`` (a
    POSE_KEYPOINT frame or list; the first frame is used), optionally
    ``source_pose`` (the source image's own pose; estimated when absent, as Pose
    Transfer does) and ``precision``.
    """
    model = load_pipeline(request.get("checkpoint"), precision=request.get("precision", "auto"))
    image = _source_image(request.get("image"))
    size = (image.shape[2], image.shape[1])
    poses = poses_from_keypoints(request.get("pose"), "pose", size)[:1]
    require_people(poses, "pose")
    source_pose = request.get("source_pose")
    if source_pose is not None:
        source_pose = poses_from_keypoints(source_pose, "source_pose", size)[:1]
        require_people(source_pose, "source_pose")
    # As Edit Pose hands its result on: the pose in the ecosystem's POSE_KEYPOINT convention.
    generated = PoseTransfer().generate(image, poses_to_keypoints(poses), model, output="pose canvas", batch_size=1,
                                        source_pose=None if source_pose is None else poses_to_keypoints(source_pose))[0]
    picture = (generated[0].numpy() * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class PreviewGate:
    """One preview at a time; per editor, only the newest waiting request runs."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._newest: OrderedDict[str, int] = OrderedDict()
        self._waiting = 0
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rptgan-preview")

    def note(self, editor: str, sequence: int) -> None:
        self._newest[editor] = max(sequence, self._newest.get(editor, sequence))
        self._newest.move_to_end(editor)
        while len(self._newest) > MAX_EDITORS:
            self._newest.popitem(last=False)

    def superseded(self, editor: str, sequence: int) -> bool:
        return self._newest.get(editor, sequence) > sequence

    async def run(self, editor: str, sequence: int, work, *args):
        """``work(*args)`` on the preview thread once it is this request's turn; None when a
        newer request from ``editor`` came in while it waited."""
        self.note(editor, sequence)
        if self._waiting >= MAX_WAITING:
            raise PreviewBusy(f"{self._waiting} previews are already waiting")
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        try:
            if self.superseded(editor, sequence):
                return None
            # One worker thread: even a request whose client went away finishes before the next starts.
            return await asyncio.get_running_loop().run_in_executor(self._worker, work, *args)
        finally:
            self._lock.release()
