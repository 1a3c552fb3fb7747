"""The controlnet-aux OpenPose backend: model lookup and loading, the peak-to-pose
mapping, the whole path with random weights and with planted network outputs, and
the real annotator weights when a local copy exists."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from rptgan_core.estimation import EstimatorUnavailable, create_estimator, openpose
from rptgan_core.pose import KEYPOINT_INDEX, LIMBS, Pose


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """A randomly initialised body network saved as .safetensors (the network's own
    tensor names) and as .pth (the annotator file's names, without the block prefix)."""
    torch.manual_seed(0)
    network = openpose.import_controlnet_openpose().model.bodypose_model()
    folder = tmp_path_factory.mktemp("openpose")
    state = {name: tensor.contiguous() for name, tensor in network.state_dict().items()}
    save_file(state, str(folder / "random.safetensors"))
    torch.save({name.split(".", 1)[1]: tensor for name, tensor in state.items()}, str(folder / "random.pth"))
    return folder


def test_people_from_peaks_keeps_parts_in_their_slots():
    candidate = np.array([[10.0, 20.0, 0.9, 0], [30.0, 40.0, 1.7, 1], [50.0, 60.0, 0.0, 2]])
    subset = -np.ones((1, 20))
    subset[0, KEYPOINT_INDEX["nose"]] = 0
    subset[0, KEYPOINT_INDEX["left_ankle"]] = 1
    subset[0, KEYPOINT_INDEX["neck"]] = 2
    people = openpose.people_from_peaks(candidate, subset)
    assert people.shape == (1, 18, 3)
    assert people[0, KEYPOINT_INDEX["nose"]].tolist() == pytest.approx([10, 20, 0.9])
    assert people[0, KEYPOINT_INDEX["left_ankle"]].tolist() == [30, 40, 1.0]   # score clipped
    assert people[0, KEYPOINT_INDEX["neck"], 2] > 0                           # found, however faint
    others = [i for i in range(18) if i not in (0, 1, 13)]
    assert (people[0, others] == 0).all()
    assert openpose.people_from_peaks(np.zeros((0,)), -np.ones((0, 20))).shape == (0, 18, 3)


def test_the_model_is_searched_in_the_given_folders(tmp_path):
    nested = tmp_path / "ckpts" / "lllyasviel" / "Annotators"
    nested.mkdir(parents=True)
    (nested / "body_pose_model.pth").write_bytes(b"x")
    found = openpose.find_body_model(model_dir=tmp_path / "empty", search_dirs=[tmp_path / "ckpts"], download=False)
    assert found == nested / "body_pose_model.pth"
    (tmp_path / "body_pose_model.safetensors").write_bytes(b"x")
    (tmp_path / "body_pose_model.pth").write_bytes(b"x")
    assert openpose.find_body_model(model_dir=tmp_path, download=False).name == "body_pose_model.safetensors"


def test_a_missing_model_says_where_it_looked_and_what_to_get(tmp_path):
    with pytest.raises(EstimatorUnavailable, match=r"not found; searched .*body_pose_model.pth.*huggingface.co"):
        create_estimator("openpose", model_dir=tmp_path, download=False)
    with pytest.raises(EstimatorUnavailable, match="does not exist"):
        create_estimator("openpose", model_path=tmp_path / "nope.pth")


def test_a_failed_download_is_unavailable_not_a_crash(tmp_path, monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(EstimatorUnavailable,
                       match=r"downloading lllyasviel/Annotators/body_pose_model.pth failed \(OSError"):
        openpose.find_body_model(model_dir=tmp_path)


def test_foreign_and_corrupt_files_are_refused(tmp_path):
    save_file({"weight": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(EstimatorUnavailable, match="not an OpenPose body model: .*tensors missing"):
        openpose.load_body_network(tmp_path / "foreign.safetensors")
    (tmp_path / "corrupt.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(EstimatorUnavailable, match="could not be read"):
        openpose.load_body_network(tmp_path / "corrupt.pth")
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(EstimatorUnavailable, match=".safetensors or .pth"):
        openpose.load_body_network(tmp_path / "model.onnx")


def test_wrong_shapes_are_named(random_weights, tmp_path):
    from safetensors.torch import load_file

    state = load_file(str(random_weights / "random.safetensors"))
    state["model0.conv1_1.weight"] = torch.zeros(64, 3, 5, 5)
    save_file(state, str(tmp_path / "bad.safetensors"))
    with pytest.raises(EstimatorUnavailable, match=r"wrong shape \(e.g. model0.conv1_1.weight \(64, 3, 5, 5\)"):
        openpose.load_body_network(tmp_path / "bad.safetensors")


def test_annotator_pth_and_safetensors_load_the_same_network(random_weights):
    from_pth = openpose.load_body_network(random_weights / "random.pth")
    from_safetensors = openpose.load_body_network(random_weights / "random.safetensors")
    assert not from_pth.training
    for (name, a), (_, b) in zip(from_pth.state_dict().items(), from_safetensors.state_dict().items()):
        assert torch.equal(a, b), name


def test_random_weights_run_end_to_end(random_weights, astronaut):
    estimator = create_estimator("openpose", model_path=random_weights / "random.pth", download=False)
    pose = estimator.estimate(astronaut.image)
    assert isinstance(pose, Pose) and (pose.width, pose.height) == (512, 512)
    keypoints = pose.keypoints
    assert keypoints.shape == (pose.num_people, 18, 3)
    assert ((keypoints[..., 2] >= 0) & (keypoints[..., 2] <= 1)).all()
    present = keypoints[keypoints[..., 2] > 0]
    assert ((present[:, :2] >= -0.5) & (present[:, :2] <= 511.5)).all()


# OpenPose's part-affinity channels for each limb of LIMBS (controlnet-aux's mapIdx minus 19).
_PAF_CHANNELS = [(12, 13), (20, 21), (14, 15), (16, 17), (22, 23), (24, 25), (0, 1), (2, 3), (4, 5), (6, 7),
                 (8, 9), (10, 11), (28, 29), (30, 31), (34, 35), (32, 33), (36, 37), (18, 19), (26, 27)]


class _PlantedBodyNetwork(torch.nn.Module):
    """Stands in for the body network: returns the part heatmaps and limb affinity
    fields that real weights would give for people at known places, so
    controlnet-aux's peak finding and limb grouping, and the mapping back to the
    photo, run on a known answer."""

    def __init__(self, people_on_input: list[np.ndarray]) -> None:
        super().__init__()
        self.people = people_on_input
        self.input_shapes: list[tuple[int, ...]] = []
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # Body reads the device from the parameters

    def forward(self, image: torch.Tensor):
        self.input_shapes.append(tuple(image.shape))
        rows, cols = image.shape[2] // 8, image.shape[3] // 8
        # Centres of the stride-8 cells in input pixels.
        y, x = np.meshgrid(np.arange(rows) * 8 + 3.5, np.arange(cols) * 8 + 3.5, indexing="ij")
        heat = np.zeros((19, rows, cols))
        paf = np.zeros((38, rows, cols))
        for person in self.people:
            for k, (px, py) in enumerate(person):
                heat[k] = np.maximum(heat[k], np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * 6.0**2)))
            for (a, b), (cx, cy) in zip(LIMBS, _PAF_CHANNELS):
                start, end = person[a], person[b]
                length = np.hypot(*(end - start))
                ux, uy = (end - start) / length
                along = (x - start[0]) * ux + (y - start[1]) * uy
                across = np.abs(-(x - start[0]) * uy + (y - start[1]) * ux)
                on_limb = (along >= -8) & (along <= length + 8) & (across <= 10)
                paf[cx][on_limb], paf[cy][on_limb] = ux, uy
        as_tensor = lambda a: torch.from_numpy(a[None]).float()  # noqa: E731
        return as_tensor(paf), as_tensor(heat)


def test_planted_network_outputs_come_back_as_the_people_on_the_photo(random_weights, monkeypatch, make_person):
    height, width = 480, 400
    people = [make_person(200, 400)[:, :2] + [20, 40], make_person(100, 200)[:, :2] + [280, 250]]
    # Body scales the photo to 184 px high before the network; plant the people there.
    scale = 0.5 * 368 / height
    sx, sy = int(width * scale) / width, int(height * scale) / height
    on_input = [(p + 0.5) * [sx, sy] - 0.5 for p in people]
    monkeypatch.setattr(openpose, "load_body_network", lambda path, device="cpu": _PlantedBodyNetwork(on_input))
    estimator = create_estimator("openpose", model_path=random_weights / "random.safetensors")
    photo = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    pose = estimator.estimate(photo)
    assert pose.num_people == 2 and (pose.width, pose.height) == (width, height)
    assert pose.visible.all()
    order = np.argsort(pose.keypoints[:, 0, 0])  # left person first
    for found, truth in zip(pose.keypoints[order], people):
        np.testing.assert_allclose(found[:, :2], truth, atol=2.5 / scale)
    assert pose.main_person_index() == order[0]


def test_long_thin_strips_are_padded_for_the_network(random_weights, monkeypatch):
    network = _PlantedBodyNetwork([])
    monkeypatch.setattr(openpose, "load_body_network", lambda path, device="cpu": network)
    estimator = create_estimator("openpose", model_path=random_weights / "random.safetensors")
    strip = np.random.default_rng(0).integers(0, 256, (16, 640, 3), dtype=np.uint8)
    pose = estimator.estimate(strip)
    assert pose.num_people == 0 and (pose.width, pose.height) == (640, 16)
    (_, _, input_height, input_width), = network.input_shapes
    assert input_height == 184 and input_width <= 4 * 184 + 8


def _local_body_model():
    path = os.environ.get("RPTGAN_OPENPOSE_MODEL")
    if path:
        return path
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(openpose.HUB_REPO, openpose.HUB_FILENAME)
    return cached if isinstance(cached, str) else None


@pytest.mark.slow
@pytest.mark.skipif(_local_body_model() is None, reason="no local body_pose_model.pth (set RPTGAN_OPENPOSE_MODEL, "
                    "or have lllyasviel/Annotators/body_pose_model.pth in the Hugging Face cache)")
def test_real_weights_find_the_astronaut(astronaut):
    estimator = create_estimator("openpose", model_path=_local_body_model(), download=False)
    pose = estimator.estimate(astronaut.image)
    assert pose.num_people >= 1
    main = pose.main_person().keypoints[0]
    for name, (x, y) in astronaut.points.items():
        keypoint = main[KEYPOINT_INDEX[name]]
        assert keypoint[2] > 0, f"{name} missing"
        assert np.hypot(keypoint[0] - x, keypoint[1] - y) <= astronaut.tolerance[name], (name, keypoint)


@pytest.mark.slow
def test_controlnet_aux_is_usable_next_to_a_mediapipe_without_solutions():
    """mediapipe >= 0.10.30 has no ``solutions``, which controlnet_aux/__init__.py touches:
    the OpenPose module must still import, and ``import controlnet_aux`` elsewhere must
    fail or work exactly as it would without this package."""
    script = textwrap.dedent("""
        import importlib.machinery, sys, types
        fake = types.ModuleType("mediapipe")
        fake.__spec__ = importlib.machinery.ModuleSpec("mediapipe", None)
        sys.modules["mediapipe"] = fake  # like mediapipe 1.x: no solutions
        from rptgan_core.estimation.openpose import import_controlnet_openpose
        open_pose = import_controlnet_openpose()
        assert open_pose.Body and open_pose.model.bodypose_model
        assert not [m for m in sys.modules if m.split(".")[0] == "controlnet_aux"], "controlnet_aux modules left behind"
        try:
            import controlnet_aux
        except AttributeError as error:
            assert "solutions" in str(error)
        else:
            raise AssertionError("controlnet_aux imported although mediapipe has no solutions")
        del sys.modules["mediapipe"]
        import controlnet_aux
        assert controlnet_aux.OpenposeDetector and controlnet_aux.open_pose.Body
        print("ok")
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True,
                            cwd=root, env={**os.environ, "PYTHONPATH": root}, timeout=120)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


def test_a_failed_download_leaves_no_lock_file_behind(tmp_path, monkeypatch):
    import huggingface_hub

    def interrupted(repo, filename, local_dir=None):
        # What huggingface_hub leaves in local_dir when the connection fails mid-way.
        download = Path(local_dir) / ".cache" / "huggingface" / "download"
        download.mkdir(parents=True)
        (download / f"{filename}.lock").write_bytes(b"")
        raise OSError("connection reset")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", interrupted)
    models = tmp_path / "annotators"
    models.mkdir()
    with pytest.raises(EstimatorUnavailable, match="connection reset"):
        openpose.find_body_model(model_dir=models)
    assert list(models.iterdir()) == []
    # A hub cache that was there before is the user's: it stays.
    (models / ".cache").mkdir()
    (models / ".cache" / "kept").write_bytes(b"x")
    with pytest.raises(EstimatorUnavailable):
        openpose.find_body_model(model_dir=models)
    assert (models / ".cache" / "kept").is_file()
