"""The shipped example workflows: valid node classes and inputs, UI and API twins in
step, and the headless example run (examples/run_example.py) end to end."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys

import numpy as np
import pytest
from PIL import Image


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


def test_every_api_workflow_names_existing_nodes_with_valid_inputs(kit, executor, example_folders):
    classes = executor.node_classes()
    for path in _api_workflows(kit):
        prompt = executor.read_workflow(str(path))
        assert executor.validate(prompt, classes) == [], path.name
        assert any(node["class_type"] == "SaveImage" for node in prompt.values()), path.name


def test_workflow_files_match_their_generator(kit, tmp_path, example_folders):
    builder = _load_script(kit, "examples/build_workflows.py")
    classes = builder.node_classes()
    for workflow in builder.WORKFLOWS:
        shipped_ui = json.loads((kit.repo / "example_workflows" / f"{workflow.name}.json").read_text())
        shipped_api = json.loads((kit.repo / "example_workflows" / "api" / f"{workflow.name}.json").read_text())
        assert shipped_ui == json.loads(json.dumps(builder.ui_format(workflow, classes))), workflow.name
        assert shipped_api == json.loads(json.dumps(builder.api_format(workflow))), workflow.name


def test_ui_workflows_are_the_api_workflows(kit):
    """Same nodes, same links, and widget values in the order of each node's inputs."""
    for path in _api_workflows(kit):
        api = json.loads(path.read_text())
        ui = json.loads((kit.repo / "example_workflows" / path.name).read_text())
        assert ui["version"] == 0.4 and ui["last_link_id"] == len(ui["links"])
        nodes = {str(n["id"]): n for n in ui["nodes"] if n["type"] != "Note"}
        assert {k: n["type"] for k, n in nodes.items()} == {k: n["class_type"] for k, n in api.items()}
        ui_links = {(str(l[3]), nodes[str(l[3])]["inputs"][l[4]]["name"]): [str(l[1]), l[2]] for l in ui["links"]}
        api_links = {(k, name): v for k, n in api.items() for name, v in n["inputs"].items() if isinstance(v, list)}
        assert ui_links == api_links, path.name
        for node_id, node in nodes.items():
            constants = [v for v in api[node_id]["inputs"].values() if not isinstance(v, list)]
            widgets = [v for v in node["widgets_values"] if v != "image" or node["type"] != "RPTGAN_LoadPersonImage"]
            assert widgets == constants, (path.name, node_id)


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
    assert "not in the rptgan model folders" in broken(lambda p: p["3"]["inputs"].update(checkpoint="x.safetensors"))


def _not_blank(path) -> bool:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    return array.std() > 1.0


def test_run_example_writes_the_frames(kit, folders, tiny_checkpoint, tmp_path, capsys):
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


def test_run_example_edit_workflow(kit, folders, tiny_checkpoint, tmp_path):
    run_example = _load_script(kit, "examples/run_example.py")
    code = run_example.main(["--out", str(tmp_path), "--checkpoint", str(folders["models"] / tiny_checkpoint),
                             "--workflow", str(kit.repo / "example_workflows" / "api" / "rptgan_edit_pose.json")])
    assert code == 0
    assert len(list((tmp_path / "rptgan").glob("edited_0*.png"))) == 1


def test_run_example_names_a_missing_checkpoint(kit, tmp_path, capsys):
    run_example = _load_script(kit, "examples/run_example.py")
    code = run_example.main(["--out", str(tmp_path), "--checkpoint", str(tmp_path / "absent.safetensors")])
    assert code == 2
    assert f"checkpoint not found: {tmp_path / 'absent.safetensors'}" in capsys.readouterr().err


def test_run_example_reports_a_failing_node(kit, folders, tmp_path, capsys):
    run_example = _load_script(kit, "examples/run_example.py")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00garbage!")
    code = run_example.main(["--out", str(tmp_path / "out"), "--checkpoint", str(bad)])
    assert code == 1
    assert "node 3 (RPTGAN_PoseTransfer) failed: CheckpointError" in capsys.readouterr().err


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
