"""Queue an API-format workflow over a folder of images and/or poses on a running ComfyUI.

    python scripts/queue_workflows.py --workflow example_workflows/api/rptgan_pose_sequence.json \\
        --images photos/ --poses poses/ --server http://127.0.0.1:8188 --download outputs/batch

For each input (each image, each pose file, or each image x pose pair) the files
are uploaded with /upload/image, the workflow's loader nodes are pointed at them,
every SaveImage prefix gets the input names appended, and the job is queued on
/prompt. Jobs are followed on /history until done; validation errors (node_errors)
and execution errors are printed per node. The end is a summary of the outputs,
optionally downloaded with /view. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import itertools
import json
import mimetypes
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field

IMAGE_LOADERS = ("RPTGAN_LoadPersonImage", "LoadImage")
POSE_LOADERS = ("RPTGAN_LoadPoseKeypoints",)
# what rptgan_core.imageio reads (tests/nodes/test_queue_script.py keeps them the same); this
# script runs on the standard library alone, so it keeps its own copy
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
POSE_SUFFIXES = {".json"}
UPLOAD_SUBFOLDER = "rptgan_batch"


class QueueError(RuntimeError):
    """The server refused something or could not be reached; the message says what."""


# No image or reply a batch needs comes near this; a server sending more is refused.
MAX_REPLY_BYTES = 256 * 2**20


@dataclass
class Job:
    name: str
    prompt: dict
    prompt_id: str | None = None
    status: str = "pending"
    error: str = ""
    outputs: list[dict] = field(default_factory=list)


class ComfyClient:
    """The few ComfyUI HTTP endpoints a batch needs."""

    def __init__(self, server: str, timeout: float = 60.0) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.client_id = uuid.uuid4().hex

    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(self.server + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, self._bounded(response, path)
        except urllib.error.HTTPError as error:
            return error.code, self._bounded(error, path)
        except (urllib.error.URLError, OSError) as error:
            raise QueueError(f"cannot reach ComfyUI at {self.server} ({error}); is it running?") from None

    @staticmethod
    def _bounded(response, path: str) -> bytes:
        """The reply's body, refusing one larger than MAX_REPLY_BYTES instead of holding it in memory."""
        raw = response.read(MAX_REPLY_BYTES + 1)
        if len(raw) > MAX_REPLY_BYTES:
            raise QueueError(f"the reply to {path.split('?')[0]} is larger than {MAX_REPLY_BYTES // 2**20} MiB; "
                             "refusing it")
        return raw

    def _json(self, method: str, path: str, payload=None) -> tuple[int, object]:
        body = json.dumps(payload).encode() if payload is not None else None
        status, raw = self._request(method, path, body, {"Content-Type": "application/json"} if body else {})
        try:
            return status, json.loads(raw.decode() or "null")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return status, raw.decode("utf-8", "replace")
        except RecursionError:
            raise QueueError(f"the reply to {path} is JSON nested too deeply to read") from None

    def check(self) -> None:
        status, _ = self._json("GET", "/system_stats")
        if status != 200:
            raise QueueError(f"{self.server} answered {status} to /system_stats; is it a ComfyUI server?")

    def node_classes(self) -> set[str]:
        status, data = self._json("GET", "/object_info")
        if status != 200 or not isinstance(data, dict):
            raise QueueError(f"/object_info failed with status {status}")
        return set(data)

    def upload(self, path: str, subfolder: str = UPLOAD_SUBFOLDER) -> str:
        """Upload a file to the input folder; returns the name a loader node takes ("subfolder/file")."""
        boundary = uuid.uuid4().hex
        filename = os.path.basename(path)
        with open(path, "rb") as handle:
            content = handle.read()
        kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        parts = []
        for name, value in (("type", "input"), ("subfolder", subfolder), ("overwrite", "true")):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
                     f"Content-Type: {kind}\r\n\r\n".encode() + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        status, raw = self._request("POST", "/upload/image", b"".join(parts),
                                    {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        if status != 200:
            raise QueueError(f"uploading {path} failed with status {status}: {raw[:300]!r}")
        answer = json.loads(raw.decode())
        return f"{answer['subfolder']}/{answer['name']}" if answer.get("subfolder") else answer["name"]

    def queue(self, prompt: dict) -> str:
        status, data = self._json("POST", "/prompt", {"prompt": prompt, "client_id": self.client_id})
        if status == 200 and isinstance(data, dict) and "prompt_id" in data:
            if data.get("node_errors"):
                raise QueueError("some outputs were rejected:\n" + describe_node_errors(data["node_errors"], prompt))
            return data["prompt_id"]
        if isinstance(data, dict):
            message = data.get("error", {})
            message = message.get("message", str(message)) if isinstance(message, dict) else str(message)
            details = describe_node_errors(data.get("node_errors") or {}, prompt)
            raise QueueError(f"ComfyUI refused the workflow: {message}" + (f"\n{details}" if details else ""))
        raise QueueError(f"ComfyUI refused the workflow (status {status}): {str(data)[:300]}")

    def history(self, prompt_id: str) -> dict | None:
        status, data = self._json("GET", f"/history/{prompt_id}")
        if status != 200 or not isinstance(data, dict):
            raise QueueError(f"/history/{prompt_id} failed with status {status}")
        return data.get(prompt_id)

    def cancel(self, prompt_ids: list[str]) -> None:
        """Take jobs off the queue (/queue delete) and stop whichever of them is running
        (/interrupt with its prompt_id, which leaves other clients' jobs alone)."""
        status, _ = self._json("POST", "/queue", {"delete": prompt_ids})
        if status != 200:
            raise QueueError(f"/queue refused to delete {len(prompt_ids)} jobs (status {status})")
        for prompt_id in prompt_ids:
            status, _ = self._json("POST", "/interrupt", {"prompt_id": prompt_id})
            if status != 200:
                raise QueueError(f"/interrupt failed for {prompt_id} (status {status})")

    def download(self, image: dict, folder: str) -> str:
        """Fetch one output image into ``folder`` (under its subfolder), never outside it."""
        target = contained_path(folder, image.get("subfolder", ""), image.get("filename"))
        query = urllib.parse.urlencode({k: image.get(k, "") for k in ("filename", "subfolder", "type")})
        status, raw = self._request("GET", f"/view?{query}")
        if status != 200:
            raise QueueError(f"downloading {image.get('filename')} failed with status {status}")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(raw)
        return target


def contained_path(folder: str, subfolder, filename) -> str:
    """``folder/subfolder/filename`` for a name the server gave, or QueueError when that name
    is not a plain relative path that stays inside ``folder`` (absolute, ``..``, NUL, empty)."""
    if not isinstance(filename, str) or not isinstance(subfolder, str):
        raise QueueError(f"the server named an output {filename!r} in {subfolder!r}: not text")
    parts = [p for p in subfolder.replace("\\", "/").split("/") if p not in ("", ".")]
    if (not filename or filename in (".", "..") or "/" in filename or "\\" in filename or "\0" in filename + subfolder
            or os.path.isabs(subfolder) or subfolder.startswith(("/", "\\")) or ".." in parts
            or any(":" in p for p in parts + [filename])):
        raise QueueError(f"the server named an output {filename!r} in subfolder {subfolder!r}, which would be "
                         f"written outside {folder}; not downloading it")
    root = os.path.realpath(folder)
    target = os.path.realpath(os.path.join(root, *parts, filename))
    if os.path.commonpath([root, target]) != root:  # a symlink inside the folder pointing out of it
        raise QueueError(f"{os.path.join(*parts, filename) if parts else filename} would be written outside {folder}")
    return target


def describe_node_errors(node_errors: dict, prompt: dict) -> str:
    """ComfyUI's node_errors as readable lines: node, class, input, message."""
    lines = []
    for node_id, entry in node_errors.items():
        class_type = entry.get("class_type") or prompt.get(node_id, {}).get("class_type", "?")
        for error in entry.get("errors", []):
            name = (error.get("extra_info") or {}).get("input_name")
            where = f"node {node_id} ({class_type})" + (f", input '{name}'" if name else "")
            lines.append(f"  {where}: {error.get('message', '')}: {error.get('details', '')}".rstrip(": "))
    return "\n".join(lines)


def execution_error(entry: dict) -> str:
    for kind, data in entry.get("status", {}).get("messages", []):
        if kind == "execution_error":
            return (f"node {data.get('node_id')} ({data.get('node_type')}) failed: "
                    f"{data.get('exception_type', '').split('.')[-1]}: {data.get('exception_message', '').strip()}")
        if kind == "execution_interrupted":
            return "interrupted"
    return "failed without an error message"


def _linked_to(prompt: dict, input_name: str) -> set[str]:
    """Ids of the nodes whose output feeds some node's ``input_name`` input."""
    return {str(value[0]) for node in prompt.values() for name, value in node.get("inputs", {}).items()
            if name == input_name and isinstance(value, list)}


def find_node(prompt: dict, classes: tuple[str, ...], chosen: str | None, what: str) -> str:
    if chosen is not None:
        if chosen not in prompt:
            raise QueueError(f"--{what}-node {chosen}: the workflow has no node with that id")
        return chosen
    found = [node_id for node_id, node in prompt.items() if node.get("class_type") in classes]
    if len(found) > 1 and what == "pose":  # a source-pose file beside the target poses: fill the target's
        found = [node_id for node_id in found if node_id in _linked_to(prompt, "pose")] or found
    if len(found) != 1:
        raise QueueError(f"the workflow has {len(found)} {what} loader nodes ({', '.join(classes)}); "
                         f"name the one to fill with --{what}-node")
    return found[0]


def list_files(folder: str, suffixes: set[str]) -> list[str]:
    if not os.path.isdir(folder):
        raise QueueError(f"{folder} is not a folder")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if os.path.splitext(f)[1].lower() in suffixes)
    if not files:
        raise QueueError(f"{folder} holds no files ending in {', '.join(sorted(suffixes))}")
    return files


def build_jobs(client: ComfyClient, prompt: dict, images: list[str], poses: list[str], pairing: str,
               image_node: str | None, pose_node: str | None) -> list[Job]:
    """One job per input; uploads the files and rewrites loader inputs and SaveImage prefixes."""
    image_id = find_node(prompt, IMAGE_LOADERS, image_node, "image") if images else None
    pose_id = find_node(prompt, POSE_LOADERS, pose_node, "pose") if poses else None
    if images and poses:
        if pairing == "zip" and len(images) != len(poses):
            raise QueueError(f"--pairing zip needs as many images as poses, got {len(images)} and {len(poses)}")
        combos = list(zip(images, poses, strict=True)) if pairing == "zip" else list(itertools.product(images, poses))
    else:
        combos = [(f, None) for f in images] if images else [(None, f) for f in poses]
    if images:
        # A source-pose file belongs to the workflow's own source image: with other images,
        # Pose Transfer estimates each one's pose instead.
        pose_files = {node_id for node_id, node in prompt.items() if node.get("class_type") in POSE_LOADERS}
        prompt = json.loads(json.dumps(prompt))
        for node in prompt.values():
            link = node.get("inputs", {}).get("source_pose")
            if isinstance(link, list) and str(link[0]) in pose_files:
                del node["inputs"]["source_pose"]
    uploaded: dict[str, str] = {}
    jobs = []
    for image, pose in combos:
        job_prompt = json.loads(json.dumps(prompt))
        stems = []
        for path, node_id, field_name in ((image, image_id, "image"), (pose, pose_id, "pose_file")):
            if path is None:
                continue
            if path not in uploaded:
                uploaded[path] = client.upload(path)
            job_prompt[node_id]["inputs"][field_name] = uploaded[path]
            stems.append(os.path.splitext(os.path.basename(path))[0])
        suffix = "_".join(stems)
        for node in job_prompt.values():
            if node.get("class_type") == "SaveImage":
                node["inputs"]["filename_prefix"] = f"{node['inputs'].get('filename_prefix', 'ComfyUI')}_{suffix}"
        jobs.append(Job(suffix, job_prompt))
    return jobs


def progress_bar(done: int, total: int, label: str, width: int = 30) -> None:
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label[:40]:<40}")
    sys.stderr.flush()
    if done == total:
        sys.stderr.write("\n")


def run(client: ComfyClient, jobs: list[Job], timeout: float, poll: float, fail_fast: bool) -> None:
    for job in jobs:
        try:
            job.prompt_id = client.queue(job.prompt)
            job.status = "queued"
        except QueueError as error:
            job.status, job.error = "refused", str(error)
            if fail_fast:
                break
    pending = [job for job in jobs if job.status == "queued"]
    finished = len(jobs) - len(pending)
    progress_bar(finished, len(jobs), "queued")
    deadline = time.monotonic() + timeout * max(1, len(pending))
    while pending:
        if time.monotonic() > deadline:
            for job in pending:
                job.status, job.error = "timeout", f"not finished after {timeout:.0f} s per job"
            break
        time.sleep(poll)
        for job in list(pending):
            entry = client.history(job.prompt_id)
            status = (entry or {}).get("status", {})
            if not entry or (not status.get("completed") and status.get("status_str") != "error"):
                continue
            pending.remove(job)
            if status.get("status_str") == "success":
                job.status = "done"
                job.outputs = [image for output in entry.get("outputs", {}).values()
                               for image in output.get("images", []) if image.get("type") == "output"]
            else:
                job.status, job.error = "error", execution_error(entry)
            finished += 1
            progress_bar(finished, len(jobs), job.name)
            if fail_fast and job.status == "error":
                break
        if fail_fast and any(job.status in ("refused", "error") for job in jobs):
            break
    stopped = [job for job in pending if job.status == "queued"] if fail_fast else []
    if stopped:
        client.cancel([job.prompt_id for job in stopped])
        for job in stopped:
            job.status, job.error = "cancelled", "cancelled after the first failure (--fail-fast)"
    for job in jobs:
        if job.status == "pending":
            job.status, job.error = "skipped", "not queued after the first failure (--fail-fast)"


def summarise(jobs: list[Job], client: ComfyClient, download: str | None, list_outputs: bool = False) -> int:
    """One line per job (its image count, or why it failed), the paths with ``list_outputs``,
    and a total; returns the exit status."""
    failed = 0
    for job in jobs:
        if job.status == "done":
            names = []
            for image in job.outputs:
                names.append(client.download(image, download) if download else
                             "/".join(p for p in (image.get("subfolder"), image["filename"]) if p))
            print(f"ok      {job.name}: {len(job.outputs)} images")
            if list_outputs:
                for name in names:
                    print(f"          {name}")
        else:
            failed += 1
            print(f"{job.status:<7} {job.name}: {job.error}")
    images = sum(len(job.outputs) for job in jobs)
    where = f"downloaded to {download}" if download else "in ComfyUI's output folder"
    print(f"{len(jobs) - failed} of {len(jobs)} jobs succeeded, {images} images {where}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Queue a workflow over folders of images and/or poses on ComfyUI.")
    parser.add_argument("--workflow", required=True, help="API-format workflow (example_workflows/api/*.json)")
    parser.add_argument("--images", help="folder of source images to upload and run")
    parser.add_argument("--poses", help="folder of pose JSON files to upload and run")
    parser.add_argument("--pairing", choices=("product", "zip"), default="product",
                        help="with both folders: every image with every pose, or the i-th with the i-th")
    parser.add_argument("--image-node", help="id of the node that loads the image (found by class if omitted)")
    parser.add_argument("--pose-node", help="id of the node that loads the pose (found by class if omitted)")
    parser.add_argument("--server", default="http://127.0.0.1:8188")
    parser.add_argument("--download", help="folder to download the output images into")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per job")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between /history checks")
    parser.add_argument("--fail-fast", action="store_true",
                        help="stop at the first refused or failed job, cancelling the jobs this run queued")
    parser.add_argument("--list-outputs", action="store_true", help="print the path of every output image")
    args = parser.parse_args(argv)

    try:
        with open(args.workflow, encoding="utf-8") as handle:
            prompt = json.load(handle)
        if "nodes" in prompt and "links" in prompt:
            raise QueueError(f"{args.workflow} is a UI-format workflow; use the API-format one "
                             "(example_workflows/api/, or Export (API) in ComfyUI)")
        if not args.images and not args.poses:
            raise QueueError("give --images and/or --poses")
        client = ComfyClient(args.server)
        client.check()
        missing = {node["class_type"] for node in prompt.values()} - client.node_classes()
        if missing:
            raise QueueError(f"the server lacks node classes {sorted(missing)}; is comfyui-rptgan installed in "
                             "custom_nodes and ComfyUI restarted?")
        images = list_files(args.images, IMAGE_SUFFIXES) if args.images else []
        poses = list_files(args.poses, POSE_SUFFIXES) if args.poses else []
        jobs = build_jobs(client, prompt, images, poses, args.pairing, args.image_node, args.pose_node)
        run(client, jobs, args.timeout, args.poll, args.fail_fast)
        return summarise(jobs, client, args.download, args.list_outputs)
    except (QueueError, OSError, json.JSONDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
