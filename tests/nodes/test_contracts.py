"""The ComfyUI contract of every node class, the pack's entry point and its import cost."""

from __future__ import annotations

import inspect
import subprocess
import sys
import types

import pytest

EXPECTED = {
    "RPTGAN_LoadPersonImage": (("IMAGE", "MASK", "RPTGAN_CROP"), {"image"}),
    "RPTGAN_LoadPoseKeypoints": (("POSE_KEYPOINT", "IMAGE", "INT"), {"pose_file"}),
    "RPTGAN_LoadVideoFrames": (("IMAGE", "IMAGE", "INT"), {"video", "every", "max_frames"}),
    "RPTGAN_EstimatePose": (("POSE_KEYPOINT", "IMAGE"), {"image", "backend", "if_no_person"}),
    "RPTGAN_EditPose": (("POSE_KEYPOINT", "IMAGE"), {"pose", "mirror", "scale", "rotate", "translate_x", "translate_y",
                                                     "limb", "limb_angle", "keypoint", "edited_pose"}),
    "RPTGAN_PoseLibrary": (("POSE_KEYPOINT", "IMAGE"), {"name"}),
    "RPTGAN_SavePoseToLibrary": (("POSE_KEYPOINT",), {"pose", "name", "frame"}),
    "RPTGAN_PoseKeyframes": (("POSE_KEYPOINT", "IMAGE", "INT"), {"keyframes", "frames", "easing", "loop"}),
    "RPTGAN_CheckpointLoader": (("RPTGAN_MODEL", "STRING"), {"checkpoint", "device", "precision"}),
    "RPTGAN_PoseTransfer": (("IMAGE",), {"image", "pose", "model", "output"}),
    "RPTGAN_Upscale": (("IMAGE",), {"image", "method", "scale", "upscale_model"}),
    "RPTGAN_FineTune": (("RPTGAN_MODEL", "STRING"), {"images", "checkpoint", "steps", "learning_rate", "save_as"}),
}
WIDGETS = {"INT", "FLOAT", "STRING", "BOOLEAN"}


def test_every_expected_node_is_registered_with_a_display_name(pack, kit):
    assert set(pack.NODE_CLASS_MAPPINGS) == set(EXPECTED)
    assert set(pack.NODE_DISPLAY_NAME_MAPPINGS) == set(EXPECTED)
    assert pack.WEB_DIRECTORY == "./web"
    assert (kit.repo / "web").is_dir()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_node_contract(pack, folders, name):
    cls = pack.NODE_CLASS_MAPPINGS[name]
    returns, required = EXPECTED[name]
    assert cls.RETURN_TYPES == returns
    assert cls.CATEGORY == "RPT-GAN"
    assert len(getattr(cls, "RETURN_NAMES", returns)) == len(returns)
    spec = cls.INPUT_TYPES()
    assert set(spec) <= {"required", "optional", "hidden"}
    assert required <= set(spec["required"])
    function = getattr(cls(), cls.FUNCTION)
    parameters = inspect.signature(function).parameters
    for category in ("required", "optional"):
        for input_name, entry in spec.get(category, {}).items():
            assert isinstance(entry, tuple) and 1 <= len(entry) <= 2, (input_name, entry)
            kind = entry[0]
            assert isinstance(kind, (list, str)), (input_name, kind)
            options = entry[1] if len(entry) == 2 else {}
            assert isinstance(options, dict)
            if kind in ("INT", "FLOAT"):
                assert options["min"] <= options["default"] <= options["max"], input_name
            if isinstance(kind, list) and "default" in options:
                assert options["default"] in kind, input_name
            assert input_name in parameters, f"{name}.{cls.FUNCTION} does not take {input_name}"
    # Optional inputs must have defaults in the function so ComfyUI can leave them out.
    for input_name in spec.get("optional", {}):
        assert parameters[input_name].default is not inspect.Parameter.empty


def test_edit_pose_has_the_editor_widget(nodes):
    entry = nodes["RPTGAN_EditPose"].INPUT_TYPES()["required"]["edited_pose"]
    assert entry[0] == "STRING" and entry[1]["default"] == ""


def test_load_person_image_offers_upload(nodes, folders):
    entry = nodes["RPTGAN_LoadPersonImage"].INPUT_TYPES()["required"]["image"]
    assert entry[1].get("image_upload") is True


def _fake_folder_paths(tmp_path, existing=None):
    module = types.ModuleType("folder_paths")
    module.models_dir = str(tmp_path / "models")
    module.folder_names_and_paths = dict(existing or {})
    return module


def test_model_folder_is_registered_with_folder_paths(tmp_path, monkeypatch, kit):
    compat = kit.pack_module("nodes.comfy_compat")
    fake = _fake_folder_paths(tmp_path)
    monkeypatch.setitem(sys.modules, "folder_paths", fake)
    compat.register_model_folders()
    paths, extensions = fake.folder_names_and_paths["rptgan"]
    assert paths[0] == str(tmp_path / "models" / "rptgan")
    assert compat.PACK_CHECKPOINTS in paths
    assert extensions == {".safetensors"}
    compat.register_model_folders()  # idempotent
    assert fake.folder_names_and_paths["rptgan"][0] == paths


def test_model_folder_keeps_extra_model_paths_entries(tmp_path, monkeypatch, kit):
    # extra_model_paths.yaml creates the key before custom nodes load, with no extension filter.
    compat = kit.pack_module("nodes.comfy_compat")
    fake = _fake_folder_paths(tmp_path, {"rptgan": (["/data/rptgan"], set())})
    monkeypatch.setitem(sys.modules, "folder_paths", fake)
    compat.register_model_folders()
    paths, extensions = fake.folder_names_and_paths["rptgan"]
    assert paths[0] == "/data/rptgan" and str(tmp_path / "models" / "rptgan") in paths
    assert extensions == {".safetensors"}


def test_importing_the_pack_loads_nothing_heavy(kit):
    repo = kit.repo
    """Networks, checkpoints, estimators and spandrel load when a node runs, not at ComfyUI start."""
    code = (
        "import importlib.util, sys, torch\n"
        f"spec = importlib.util.spec_from_file_location('pack', {str(repo / '__init__.py')!r}, "
        f"submodule_search_locations=[{str(repo)!r}])\n"
        "module = importlib.util.module_from_spec(spec); sys.modules['pack'] = module; "
        "spec.loader.exec_module(module)\n"
        "heavy = ['rptgan_core.networks', 'rptgan_core.checkpoint', 'rptgan_core.inference', 'torchvision',\n"
        "         'controlnet_aux', 'mediapipe', 'spandrel', 'cv2', 'huggingface_hub', 'requests']\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
        "print(sorted(p for p in sys.path if p.rstrip('/') == " + repr(str(repo)) + "))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=120)
    assert result.returncode == 0, result.stderr
    loaded, on_path = result.stdout.strip().splitlines()
    assert loaded == "[]"
    assert on_path == "[]", "the pack folder must not be put on sys.path"


def test_every_input_and_output_has_a_tooltip(nodes):
    for name, cls in nodes.items():
        spec = cls.INPUT_TYPES()
        for group in ("required", "optional"):
            for input_name, entry in spec.get(group, {}).items():
                assert len(entry) > 1 and entry[1].get("tooltip"), f"{name}.{input_name} has no tooltip"
        tooltips = getattr(cls, "OUTPUT_TOOLTIPS", ())
        assert len(tooltips) == len(cls.RETURN_TYPES) and all(tooltips), f"{name}'s outputs lack tooltips"
