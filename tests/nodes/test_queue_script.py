"""scripts/queue_workflows.py against a small stand-in for ComfyUI's HTTP API on 127.0.0.1."""

from __future__ import annotations

import email.parser
import email.policy
import importlib.util
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

NODE_CLASSES = {"RPTGAN_LoadPersonImage", "RPTGAN_LoadPoseKeypoints", "RPTGAN_CheckpointLoader",
                "RPTGAN_PoseTransfer", "RPTGAN_Upscale", "SaveImage"}


class FakeComfyUI(BaseHTTPRequestHandler):
    """Enough of /upload/image, /prompt, /history and /view to run a batch."""

    uploads: dict[str, bytes]
    history: dict[str, dict]
    prompts: list[dict]
    deleted: list[str]
    interrupted: list[str]

    def log_message(self, *args):
        pass

    def _send(self, status: int, payload=None, raw: bytes | None = None):
        body = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/system_stats":
            return self._send(200, {"system": {}})
        if url.path == "/object_info":
            return self._send(200, {name: {} for name in NODE_CLASSES})
        if url.path.startswith("/history/"):
            prompt_id = url.path.rsplit("/", 1)[1]
            return self._send(200, {prompt_id: self.history[prompt_id]} if prompt_id in self.history else {})
        if url.path == "/view":
            query = parse_qs(url.query)
            return self._send(200, raw=f"PNG:{query['subfolder'][0]}/{query['filename'][0]}".encode())
        self._send(404, {})

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/upload/image":
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body)
            fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
            upload = fields["image"]
            assert fields["type"].get_content().strip() == "input"
            name = f"{fields['subfolder'].get_content().strip()}/{upload.get_filename()}"
            self.uploads[name] = upload.get_payload(decode=True)
            return self._send(200, {"name": upload.get_filename(), "subfolder": "rptgan_batch", "type": "input"})
        if self.path == "/queue":
            self.deleted.extend(json.loads(body)["delete"])
            return self._send(200, raw=b"")
        if self.path == "/interrupt":
            self.interrupted.append(json.loads(body)["prompt_id"])
            return self._send(200, raw=b"")
        if self.path == "/prompt":
            prompt = json.loads(body)["prompt"]
            image = prompt["1"]["inputs"]["image"]
            if image.endswith("refused.png"):
                return self._send(400, {
                    "error": {"type": "prompt_outputs_failed_validation",
                              "message": "Prompt outputs failed validation"},
                    "node_errors": {"1": {"class_type": "RPTGAN_LoadPersonImage", "dependent_outputs": ["5"],
                                          "errors": [{"type": "custom_validation_failed",
                                                      "message": "Custom validation failed for node",
                                                      "details": "image - image 'x' not found",
                                                      "extra_info": {"input_name": "image"}}]}}})
            prompt_id = f"id{len(self.prompts)}"
            self.prompts.append(prompt)
            if image.endswith("slow.png"):  # still running: no history entry yet
                pass
            elif image.endswith("crash.png"):
                status = {"status_str": "error", "completed": False, "messages": [
                    ["execution_error", {"node_id": "3", "node_type": "RPTGAN_PoseTransfer",
                                         "exception_type": "ValueError",
                                         "exception_message": "pose: frame 0 has no person"}]]}
                self.history[prompt_id] = {"status": status, "outputs": {}}
            else:
                prefix = prompt["5"]["inputs"]["filename_prefix"]
                self.history[prompt_id] = {
                    "status": {"status_str": "success", "completed": True, "messages": []},
                    "outputs": {"5": {"images": [{"filename": f"{prefix.split('/')[-1]}_00001_.png",
                                                  "subfolder": "rptgan", "type": "output"}]}},
                }
            return self._send(200, {"prompt_id": prompt_id, "number": 0, "node_errors": {}})
        self._send(404, {})


@pytest.fixture
def server():
    handler = type("Handler", (FakeComfyUI,), {"uploads": {}, "history": {}, "prompts": [], "deleted": [],
                                               "interrupted": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def queue_script(kit):
    name = "queue_workflows_under_test"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, kit.repo / "scripts" / "queue_workflows.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_the_script_queues_every_image_the_pack_reads(queue_script):
    from rptgan_core.imageio import IMAGE_EXTENSIONS

    assert queue_script.IMAGE_SUFFIXES == set(IMAGE_EXTENSIONS)


def _pictures(kit, folder, names):
    """A folder of small black pictures; the fake server answers by their names."""
    folder.mkdir()
    for name in names:
        kit.save_picture(folder / name, np.zeros((4, 4, 3), np.uint8))
    return folder


@pytest.fixture
def batch(tmp_path, kit):
    images, poses = tmp_path / "images", tmp_path / "poses"
    images.mkdir()
    poses.mkdir()
    for name in ("anna.png", "ben.png"):
        kit.save_picture(images / name, np.zeros((8, 8, 3), np.uint8))
    (images / "readme.txt").write_text("not an image")
    for name in ("wave.json", "jump.json"):
        (poses / name).write_text(json.dumps([kit.keypoint_frame(96, 128)]))
    return images, poses


WORKFLOW = "example_workflows/api/rptgan_pose_sequence.json"


def test_batch_over_images_and_poses(server, queue_script, batch, kit, tmp_path, capsys):
    url, handler = server
    images, poses = batch
    code = queue_script.main(["--workflow", str(kit.repo / WORKFLOW), "--images", str(images), "--poses", str(poses),
                              "--server", url, "--poll", "0.01", "--download", str(tmp_path / "dl")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert sorted(handler.uploads) == ["rptgan_batch/anna.png", "rptgan_batch/ben.png", "rptgan_batch/jump.json",
                                       "rptgan_batch/wave.json"]
    assert len(handler.prompts) == 4  # every image with every pose
    chosen = {(p["1"]["inputs"]["image"], p["2"]["inputs"]["pose_file"]) for p in handler.prompts}
    assert ("rptgan_batch/anna.png", "rptgan_batch/wave.json") in chosen
    # the workflow's source-pose file (node 7) belongs to its own image: new images get their pose estimated
    assert all("source_pose" not in p["3"]["inputs"] and p["7"]["inputs"]["pose_file"] == "synthetic_person_pose.json"
               for p in handler.prompts)
    prefixes = sorted(p["5"]["inputs"]["filename_prefix"] for p in handler.prompts)
    assert prefixes[0] == "rptgan/wave_anna_jump"
    assert "4 of 4 jobs succeeded, 4 images downloaded to" in out.out
    assert "ok      anna_jump: 1 images\n" in out.out and ".png" not in out.out  # paths only with --list-outputs
    assert (tmp_path / "dl" / "rptgan" / "wave_anna_wave_00001_.png").read_bytes().startswith(b"PNG:")
    assert "4/4" in out.err  # the progress bar


def test_zip_pairing_and_images_only(server, queue_script, batch, kit):
    url, handler = server
    images, poses = batch
    assert queue_script.main(["--workflow", str(kit.repo / WORKFLOW), "--images", str(images), "--poses", str(poses),
                              "--pairing", "zip", "--server", url, "--poll", "0.01"]) == 0
    assert len(handler.prompts) == 2
    assert queue_script.main(["--workflow", str(kit.repo / WORKFLOW), "--images", str(images), "--server", url,
                              "--poll", "0.01"]) == 0
    assert len(handler.prompts) == 4


def test_node_errors_and_execution_errors_are_reported(server, queue_script, kit, tmp_path, capsys):
    url, _ = server
    folder = _pictures(kit, tmp_path / "mixed", ("fine.png", "refused.png", "crash.png"))
    code = queue_script.main(["--workflow", str(kit.repo / WORKFLOW), "--images", str(folder), "--server", url,
                              "--poll", "0.01"])
    out = capsys.readouterr().out
    assert code == 1
    assert ("node 1 (RPTGAN_LoadPersonImage), input 'image': Custom validation failed for node: "
            "image - image 'x' not found") in out
    assert "node 3 (RPTGAN_PoseTransfer) failed: ValueError: pose: frame 0 has no person" in out
    assert "1 of 3 jobs succeeded" in out


@pytest.mark.parametrize("arguments, message", [
    (["--images", "{images}"], "cannot reach ComfyUI"),
    ([], "give --images and/or --poses"),
])
def test_clear_errors_before_queueing(queue_script, kit, batch, capsys, arguments, message):
    images, _ = batch
    code = queue_script.main(["--workflow", str(kit.repo / WORKFLOW), "--server", "http://127.0.0.1:9"]
                             + [a.format(images=images) for a in arguments])
    assert code == 2 and message in capsys.readouterr().err


def test_ui_workflows_and_missing_nodes_are_explained(server, queue_script, kit, batch, tmp_path, capsys):
    url, _ = server
    images, _ = batch
    assert queue_script.main(["--workflow", str(kit.repo / "example_workflows" / "rptgan_pose_sequence.json"),
                              "--images", str(images), "--server", url]) == 2
    assert "UI-format workflow" in capsys.readouterr().err
    workflow = tmp_path / "w.json"
    workflow.write_text(json.dumps({"1": {"class_type": "RPTGAN_EstimatePose", "inputs": {}}}))
    assert queue_script.main(["--workflow", str(workflow), "--images", str(images), "--server", url]) == 2
    assert "lacks node classes ['RPTGAN_EstimatePose']" in capsys.readouterr().err


def test_listed_outputs_one_per_line(server, queue_script, batch, kit, capsys):
    url, _ = server
    images, _ = batch
    assert queue_script.main(["--workflow", str(kit.repo / WORKFLOW), "--images", str(images), "--server", url,
                              "--poll", "0.01", "--list-outputs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[lines.index("ok      anna: 1 images") + 1] == "          rptgan/wave_anna_00001_.png"


def test_fail_fast_cancels_the_jobs_it_queued(server, queue_script, kit, tmp_path, capsys):
    url, handler = server
    folder = _pictures(kit, tmp_path / "mixed", ("a_crash.png", "b_slow.png", "c_slow.png"))
    code = queue_script.main(["--workflow", str(kit.repo / WORKFLOW), "--images", str(folder), "--server", url,
                              "--poll", "0.01", "--fail-fast"])
    out = capsys.readouterr().out
    assert code == 1
    assert handler.deleted == handler.interrupted == ["id1", "id2"]  # the two still running, not the failed one
    assert out.count("cancelled after the first failure") == 2
    assert "0 of 3 jobs succeeded" in out


def test_fail_fast_stops_queueing_at_a_refused_job(server, queue_script, kit, tmp_path, capsys):
    url, handler = server
    folder = _pictures(kit, tmp_path / "mixed", ("a_slow.png", "b_refused.png", "c_fine.png"))
    assert queue_script.main(["--workflow", str(kit.repo / WORKFLOW), "--images", str(folder), "--server", url,
                              "--poll", "0.01", "--fail-fast"]) == 1
    out = capsys.readouterr().out
    assert len(handler.prompts) == 1 and handler.deleted == ["id0"]
    assert "skipped c_fine: not queued after the first failure" in out


@pytest.mark.parametrize("subfolder, filename", [
    ("", "../../escaped.png"),
    ("../..", "escaped.png"),
    ("/tmp", "escaped.png"),
    ("rptgan/../../..", "escaped.png"),
    ("", "/etc/escaped.png"),
    ("", "nul\0.png"),
    ("", ""),
    ("C:", "escaped.png"),
    (None, "escaped.png"),
])
def test_downloads_stay_inside_their_folder_whatever_the_server_names(server, queue_script, tmp_path,
                                                                      subfolder, filename):
    url, _ = server
    folder = tmp_path / "downloads" / "inner"
    folder.mkdir(parents=True)
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(queue_script.QueueError, match="outside|not text"):
        queue_script.ComfyClient(url).download({"filename": filename, "subfolder": subfolder, "type": "output"},
                                               str(folder))
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_a_symlink_out_of_the_download_folder_is_not_followed(server, queue_script, tmp_path):
    url, _ = server
    folder, outside = tmp_path / "downloads", tmp_path / "elsewhere"
    folder.mkdir()
    outside.mkdir()
    (folder / "rptgan").symlink_to(outside, target_is_directory=True)
    with pytest.raises(queue_script.QueueError, match="outside"):
        queue_script.ComfyClient(url).download({"filename": "a.png", "subfolder": "rptgan", "type": "output"},
                                               str(folder))
    assert list(outside.iterdir()) == []


def test_a_reply_beyond_the_size_bound_is_refused_and_nothing_written(server, queue_script, tmp_path, monkeypatch):
    url, _ = server
    monkeypatch.setattr(queue_script, "MAX_REPLY_BYTES", 8)
    with pytest.raises(queue_script.QueueError, match="larger than"):
        queue_script.ComfyClient(url).download({"filename": "a.png", "subfolder": "rptgan", "type": "output"},
                                               str(tmp_path))
    assert list(tmp_path.iterdir()) == []
