"""The shipped example workflows: valid node classes and inputs, UI and API twins in
step, and the headless example run (examples/run_example.py) end to end."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def example_environment(monkeypatch):
    """run_example.py sets the pack's folder variables for its own run; put them back afterwards,
    or later tests would save where the example did."""
    for name in ("RPTGAN_INPUT_DIR", "RPTGAN_MODELS_DIR", "RPTGAN_MODEL_SAVE_DIR", "RPTGAN_TEMP_DIR"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
        if not os.environ[name]:
            monkeypatch.delenv(name)


def _load_script(kit, relative: str):
    path = kit.repo / relative
    name = "example_" + path.stem
    if name not in sys.modules:
        sys.path.insert(0, str(path.parent))  # the scripts import their neighbours, as when run directly
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(path.parent))
    return sys.modules[name]


@pytest.fixture
def executor(kit):
    return _load_script(kit, "examples/graph_executor.py")


@pytest.fixture
def example_folders(folders, tiny_checkpoint, kit, monkeypatch):
    """The example assets as the input folder and a stand-in for the demo checkpoint."""
    monkeypatch.setenv("RPTGAN_INPUT_DIR", str(kit.repo / "examples" / "assets"))
    shutil.copy(folders["models"] / tiny_checkpoint, folders["models"] / "rptgan-synthetic-demo.safetensors")
    return folders


def _api_workflows(kit):
    return sorted((kit.repo / "example_workflows" / "api").glob("*.json"))


def test_there_are_example_workflows(kit):
    names = [p.stem for p in _api_workflows(kit)]
    assert "rptgan_pose_sequence" in names and len(names) >= 3
    assert sorted(p.stem for p in (kit.repo / "example_workflows").glob("*.json")) == names
    for name in names:  # the Templates browser's thumbnails (examples/make_thumbnails.py)
        with Image.open(kit.repo / "example_workflows" / f"{name}.jpg") as thumbnail:
            assert thumbnail.format == "JPEG" and np.asarray(thumbnail, dtype=np.float32).std() > 1.0, name


def test_every_api_workflow_names_existing_nodes_with_valid_inputs(kit, executor, example_folders, pack_module):
    classes = executor.node_classes()
    # the fine-tuning example's clips come from ComfyUI's template media packages, which ComfyUI installs
    clips = pack_module("nodes.comfy_compat").TEMPLATE_CLIPS
    for path in _api_workflows(kit):
        prompt = executor.read_workflow(str(path))
        problems = [p for p in executor.validate(prompt, classes)
                    if not any(f"video {name!r} not found in the input folder" in p for name in clips)]
        assert problems == [], path.name
        assert any(node["class_type"] == "SaveImage" for node in prompt.values()), path.name


def test_workflow_files_match_their_generator(kit, tmp_path, example_folders):
    builder = _load_script(kit, "examples/build_workflows.py")
    classes = builder.node_classes()
    for workflow in builder.WORKFLOWS:
        shipped_ui = json.loads((kit.repo / "example_workflows" / f"{workflow.name}.json").read_text())
        shipped_api = json.loads((kit.repo / "example_workflows" / "api" / f"{workflow.name}.json").read_text())
        assert shipped_ui == json.loads(json.dumps(builder.ui_format(workflow, classes))), workflow.name
        assert shipped_api == json.loads(json.dumps(builder.api_format(workflow))), workflow.name


def test_ui_workflows_are_the_api_workflows(kit, example_folders):
    """Same nodes, same links, and widget values that the frontend reads back as the API inputs."""
    layout = _load_script(kit, "examples/frontend_layout.py")
    classes = _load_script(kit, "examples/graph_executor.py").node_classes()
    for path in _api_workflows(kit):
        api = json.loads(path.read_text())
        ui = json.loads((kit.repo / "example_workflows" / path.name).read_text())
        assert ui["version"] == 0.4 and ui["last_link_id"] == len(ui["links"])
        nodes = {str(n["id"]): n for n in ui["nodes"] if n["type"] != "Note"}
        assert {k: n["type"] for k, n in nodes.items()} == {k: n["class_type"] for k, n in api.items()}
        ui_links = {(str(link[3]), nodes[str(link[3])]["inputs"][link[4]]["name"]): [str(link[1]), link[2]]
                    for link in ui["links"]}
        api_links = {(k, name): v for k, n in api.items() for name, v in n["inputs"].items() if isinstance(v, list)}
        assert ui_links == api_links, path.name
        for node_id, node in nodes.items():
            spec = classes[node["type"]].INPUT_TYPES()
            assert [i["name"] for i in node["inputs"]] == list(layout.sockets(spec)), (path.name, node_id)
            constants = {k: v for k, v in api[node_id]["inputs"].items() if not isinstance(v, list)}
            assert layout.read_widgets_values(spec, node["widgets_values"]) == constants, (path.name, node_id)


# Widgets of fresh nodes in ComfyUI 0.8's frontend (1.35.9), read off the browser.
FRONTEND_WIDGETS = {
    "LoadImage": ({"required": {"image": (["a.png"], {"image_upload": True})}}, ["image", "upload"]),
    "KSampler": ({"required": {"model": ("MODEL",), "seed": ("INT", {"default": 0}), "steps": ("INT", {"default": 20}),
                               "cfg": ("FLOAT", {"default": 8.0}), "sampler_name": (["euler"],),
                               "scheduler": (["simple"],), "positive": ("CONDITIONING",),
                               "negative": ("CONDITIONING",), "latent_image": ("LATENT",),
                               "denoise": ("FLOAT", {"default": 1.0})}},
                 ["seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler", "denoise"]),
}


def test_widget_order_is_the_frontends(kit, example_folders):
    layout = _load_script(kit, "examples/frontend_layout.py")
    for name, (spec, names) in FRONTEND_WIDGETS.items():
        assert [w.name for w in layout.widgets(spec)] == names, name
    assert layout.widgets_values(FRONTEND_WIDGETS["KSampler"][0], {"seed": 7}) == [7, "fixed", 20, 8.0, "euler",
                                                                                   "simple", 1.0]
    person = _load_script(kit, "examples/graph_executor.py").node_classes()["RPTGAN_LoadPersonImage"].INPUT_TYPES()
    # The upload button comes after every other widget, optional ones included.
    person = {**person, "optional": {"later": ("BOOLEAN", {"default": True})}}
    assert [w.name for w in layout.widgets(person)] == ["image", "person_crop", "aspect", "margin", "transparency",
                                                          "later", "upload"]
    assert layout.widgets_values(person, {"image": "p.png"}) == ["p.png", "off", "source", 0.15, "keep colours",
                                                                  True, "image"]
    control = {"required": {"noise": ("FLOAT", {"control_after_generate": True}),
                            "socket": ("INT", {"forceInput": True})}}
    assert [w.role for w in layout.widgets(control)] == ["value", "control"]
    assert list(layout.sockets(control)) == ["socket"]


def test_shifted_widget_values_are_refused(kit, example_folders):
    """The old writer's order (the upload value right after the file name) no longer reads back."""
    layout = _load_script(kit, "examples/frontend_layout.py")
    spec = _load_script(kit, "examples/graph_executor.py").node_classes()["RPTGAN_LoadPersonImage"].INPUT_TYPES()
    with pytest.raises(ValueError, match="upload button of 'image' holds 'keep colours'"):
        layout.read_widgets_values(spec, ["p.png", "image", "off", "source", 0.15, "keep colours"])
    with pytest.raises(ValueError, match="5 widget values for 6 widgets"):
        layout.read_widgets_values(spec, ["p.png", "off", "source", 0.15, "keep colours"])


def test_ui_nodes_do_not_overlap_at_the_frontends_sizes(kit, example_folders):
    layout = _load_script(kit, "examples/frontend_layout.py")
    classes = _load_script(kit, "examples/graph_executor.py").node_classes()
    for path in sorted((kit.repo / "example_workflows").glob("*.json")):
        boxes = []
        for node in json.loads(path.read_text())["nodes"]:
            width, height = node["size"]
            if node["type"] in classes:
                values = layout.read_widgets_values(classes[node["type"]].INPUT_TYPES(), node["widgets_values"])
                least = layout.node_size(node["type"], classes[node["type"]], values)
                assert width >= least[0] and height >= least[1], (path.name, node["id"])
            left, top = node["pos"]
            boxes.append((node["id"], left, top - layout.TITLE_HEIGHT, left + width, top + height))
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2], (path.name, a[0], b[0])


def test_validation_catches_broken_workflows(kit, executor, example_folders):
    classes = executor.node_classes()
    good = executor.read_workflow(str(kit.repo / "example_workflows" / "api" / "rptgan_pose_sequence.json"))

    def broken(change):
        prompt = json.loads(json.dumps(good))
        change(prompt)
        return "\n".join(executor.validate(prompt, classes))

    assert "no such node class" in broken(lambda p: p["1"].update(class_type="NoSuchNode"))
    assert "required input 'pose' is missing" in broken(lambda p: p["3"]["inputs"].pop("pose"))
    assert "is not one of" in broken(lambda p: p["4"]["inputs"].update(method="sharpest"))
    assert "wants POSE_KEYPOINT" in broken(lambda p: p["3"]["inputs"].update(pose=["1", 0]))
    assert "outside" in broken(lambda p: p["4"]["inputs"].update(scale=100.0))
    assert "outside the input folder" in broken(lambda p: p["1"]["inputs"].update(image="../../README.md"))
    assert "is not one of" in broken(lambda p: p["8"]["inputs"].update(checkpoint="x.safetensors"))
    assert "unknown inputs ['checkpoint']" in broken(lambda p: p["3"]["inputs"].update(checkpoint="x.safetensors"))


def _not_blank(path) -> bool:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    return array.std() > 1.0


def test_run_example_writes_the_frames(kit, folders, tiny_checkpoint, tmp_path, capsys, example_environment):
    run_example = _load_script(kit, "examples/run_example.py")
    out = tmp_path / "example"
    code = run_example.main(["--out", str(out), "--checkpoint", str(folders["models"] / tiny_checkpoint)])
    assert code == 0, capsys.readouterr().err
    frames = sorted((out / "rptgan").glob("wave_0*.png"))
    poses = sorted((out / "rptgan").glob("wave_pose_*.png"))
    assert len(frames) == 8 and len(poses) == 8
    assert Image.open(frames[0]).size == (192, 256)  # 96x128 pose canvas, upscaled 2x
    assert all(_not_blank(p) for p in frames + poses)
    assert f"written to {out}" in capsys.readouterr().out


def test_run_example_edit_workflow(kit, folders, tiny_checkpoint, tmp_path, example_environment):
    run_example = _load_script(kit, "examples/run_example.py")
    code = run_example.main(["--out", str(tmp_path), "--checkpoint", str(folders["models"] / tiny_checkpoint),
                             "--workflow", str(kit.repo / "example_workflows" / "api" / "rptgan_edit_pose.json")])
    assert code == 0
    assert len(list((tmp_path / "rptgan").glob("edited_0*.png"))) == 1


def test_run_example_names_a_missing_checkpoint(kit, tmp_path, capsys, example_environment):
    run_example = _load_script(kit, "examples/run_example.py")
    code = run_example.main(["--out", str(tmp_path), "--checkpoint", str(tmp_path / "absent.safetensors")])
    assert code == 2
    assert f"checkpoint not found: {tmp_path / 'absent.safetensors'}" in capsys.readouterr().err


def test_run_example_reports_a_failing_node(kit, folders, tmp_path, capsys, example_environment):
    run_example = _load_script(kit, "examples/run_example.py")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00garbage!")
    code = run_example.main(["--out", str(tmp_path / "out"), "--checkpoint", str(bad)])
    assert code == 1
    assert "node 8 (RPTGAN_CheckpointLoader) failed: CheckpointError" in capsys.readouterr().err


def test_photo_workflow_runs_with_a_pose_estimator(kit, executor, example_folders, fake_estimator, tmp_path):
    """The estimation chain (person crop -> estimate -> edit -> paste back), with the fake estimator."""
    prompt = executor.read_workflow(str(kit.repo / "example_workflows" / "api" / "rptgan_photo_to_pose.json"))
    for node in prompt.values():
        for name in ("person_crop", "backend"):
            if name in node["inputs"]:
                node["inputs"][name] = kit.fake_backend
    executor.execute(prompt, str(tmp_path))
    (photo,) = (tmp_path / "rptgan").glob("photo_0*.png")
    source = Image.open(kit.repo / "examples" / "assets" / "synthetic_person.png")
    assert Image.open(photo).size == source.size  # pasted back into the whole photo
    assert fake_estimator.calls == 2  # once to crop, once for the pose
