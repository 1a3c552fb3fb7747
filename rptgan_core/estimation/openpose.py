"""OpenPose body estimation through controlnet-aux (18 COCO keypoints, several people).

The body network is the well-known annotator ``body_pose_model.pth``
(lllyasviel/Annotators on the Hugging Face hub), body only: the hand and face
models are never needed. It is looked up, in order, at ``model_path``, in
``model_dir`` (ComfyUI's ``models/rptgan/annotators``), in ``search_dirs``
(for example an existing comfyui_controlnet_aux ``ckpts`` folder), and last
downloaded from the hub into ``model_dir`` when ``download`` is on and a
network exists. A ``body_pose_model.safetensors`` with the same tensors is
preferred to the ``.pth``; a ``.pth`` is read with ``torch.load(...,
weights_only=True)``, which restores tensors only and never runs code from the
file.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import torch

from ..files import load_weights, read_safetensors
from ..pose import NUM_KEYPOINTS, Pose
from .base import EstimatorUnavailable, PoseEstimator

HUB_REPO = "lllyasviel/Annotators"
HUB_FILENAME = "body_pose_model.pth"
BODY_MODEL_FILES = ("body_pose_model.safetensors", "body_pose_model.pth")
MAX_ASPECT = 4.0
# Where comfyui_controlnet_aux and the hub's local_dir layout keep the file under a ckpts folder.
_NESTED_FOLDERS = ("", "lllyasviel/Annotators", "annotator/ckpts")


def import_controlnet_openpose():
    """controlnet_aux.open_pose, imported without running controlnet_aux/__init__.py
    unless controlnet_aux is imported already.

    That __init__ imports every annotator controlnet-aux ships (seconds of
    imports) and, with mediapipe >= 0.10.30 installed, fails with
    ``AttributeError: module 'mediapipe' has no attribute 'solutions'``. The
    OpenPose module needs none of it, so it is imported under a bare package
    object, and every ``controlnet_aux`` entry this adds to ``sys.modules`` is
    taken out again: the module stays private to this package, and a later
    ``import controlnet_aux`` elsewhere behaves exactly as it would without it.
    """
    if "controlnet_aux" in sys.modules:
        return importlib.import_module("controlnet_aux.open_pose")
    spec = importlib.util.find_spec("controlnet_aux")
    if spec is None or spec.submodule_search_locations is None:
        raise EstimatorUnavailable("the openpose estimator needs controlnet-aux: pip install 'controlnet-aux>=0.0.9'")
    before = set(sys.modules)
    sys.modules["controlnet_aux"] = importlib.util.module_from_spec(spec)
    try:
        return importlib.import_module("controlnet_aux.open_pose")
    finally:
        for name in set(sys.modules) - before:
            if name == "controlnet_aux" or name.startswith("controlnet_aux."):
                del sys.modules[name]


def find_body_model(model_path: str | os.PathLike | None = None, model_dir: str | os.PathLike | None = None,
                    search_dirs: Iterable[str | os.PathLike] = (), download: bool = True) -> Path:
    """The body model file to use (see the module docstring for the order).

    Raises:
        EstimatorUnavailable: not found locally and not downloadable; the message
            lists the places searched and where to put the file.
    """
    if model_path is not None:
        path = Path(model_path)
        if not path.is_file():
            raise EstimatorUnavailable(f"OpenPose body model {path} does not exist")
        return path
    folders = [Path(model_dir)] if model_dir is not None else []
    folders += [Path(folder) for folder in search_dirs]
    searched = []
    for folder in folders:
        for nested in _NESTED_FOLDERS:
            for filename in BODY_MODEL_FILES:
                candidate = folder / nested / filename
                searched.append(str(candidate))
                if candidate.is_file():
                    return candidate
    where = "; searched " + ", ".join(searched) if searched else ""
    hint = (f"put {HUB_FILENAME} from https://huggingface.co/{HUB_REPO} into "
            f"{model_dir if model_dir is not None else 'model_dir'}")
    if not download:
        raise EstimatorUnavailable(f"OpenPose body model not found{where}; {hint}")
    # hf_hub_download keeps its lock and partial files in model_dir/.cache; a failed download
    # should not leave that behind in the user's model folder.
    hub_cache = Path(model_dir) / ".cache" if model_dir is not None else None
    ours = hub_cache is not None and not hub_cache.exists()
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(HUB_REPO, HUB_FILENAME,
                                    local_dir=str(model_dir) if model_dir is not None else None))
    except Exception as error:  # the hub raises many types (offline, HTTP, disk); all mean "not available"
        if ours:
            shutil.rmtree(hub_cache, ignore_errors=True)
        raise EstimatorUnavailable(
            f"OpenPose body model not found{where}, and downloading {HUB_REPO}/{HUB_FILENAME} failed "
            f"({type(error).__name__}: {error}); {hint}"
        ) from error


def read_body_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a body model file (.safetensors, or .pth read with weights_only=True)."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            weights = read_safetensors(path)
        elif path.suffix in (".pth", ".pt", ".bin"):
            weights = torch.load(str(path), map_location="cpu", weights_only=True)
        else:
            raise EstimatorUnavailable(f"{path}: expected a .safetensors or .pth OpenPose body model")
    except EstimatorUnavailable:
        raise
    except Exception as error:
        raise EstimatorUnavailable(
            f"{path} could not be read as an OpenPose body model ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(weights, Mapping) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise EstimatorUnavailable(f"{path} does not hold a flat mapping of tensor names to tensors")
    return dict(weights)


def load_body_network(path: str | os.PathLike, device: str | torch.device = "cpu") -> torch.nn.Module:
    """controlnet-aux's ``bodypose_model`` with the weights of ``path``, in eval mode.

    Tensor names may be the network's own (``model0.conv1_1.weight``) or the
    annotator file's, which lack the block prefix (``conv1_1.weight``).

    Raises:
        EstimatorUnavailable: the file is unreadable or holds another network.
    """
    weights = read_body_weights(path)
    open_pose = import_controlnet_openpose()
    # Built on the meta device: no time spent on a random initialisation that is overwritten.
    with torch.device("meta"):
        network = open_pose.model.bodypose_model()
    # each tensor under the network's own name, or the annotator file's without the block prefix
    load_weights(network, weights, os.fspath(path), "an OpenPose body model", EstimatorUnavailable,
                 name_in_file=lambda name: name if name in weights else name.split(".", 1)[1], assign=True)
    return network.to(device).eval()


def people_from_peaks(candidate: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """(P, 18, 3) keypoints from the body model's peak list and person table.

    Args:
        candidate: (N, 4) peaks: x, y in pixels, heatmap score, id (N may be 0).
        subset: (P, 20) one row per person: 18 indices into ``candidate`` (-1 for
            a part not found), total score, part count.

    Returns:
        float32 (P, 18, 3): x, y, confidence (the peak score, clipped to [0, 1]);
        parts not found are (0, 0, 0).
    """
    candidate = np.asarray(candidate, dtype=np.float64).reshape(-1, 4)
    subset = np.asarray(subset, dtype=np.float64).reshape(-1, 20)
    people = np.zeros((len(subset), NUM_KEYPOINTS, 3), np.float32)
    indices = subset[:, :NUM_KEYPOINTS].astype(np.int64)
    found = indices >= 0
    people[found] = candidate[indices[found], :3]
    people[..., 2] = np.clip(people[..., 2], 0.0, 1.0)
    # A found part with a zero score would read as missing; keep it, faintly.
    people[found & (people[..., 2] == 0), 2] = 1e-3
    return people


class OpenPoseEstimator(PoseEstimator):
    """controlnet-aux's OpenPose body model (CMU OpenPose, COCO 18 keypoints).

    Confidence is the part heatmap's peak value. Several people come back, one
    per limb-connected group with at least 4 parts (controlnet-aux's rule).
    """

    name = "openpose"
    # Post-processing runs at the working resolution on float64 maps with 57
    # channels; 640 px keeps that near 190 MB. The network itself always sees
    # the picture at 184 px high.
    max_side = 640

    def __init__(self, model_dir: str | os.PathLike | None = None, model_path: str | os.PathLike | None = None,
                 search_dirs: Iterable[str | os.PathLike] = (), download: bool = True,
                 device: str | torch.device = "cpu") -> None:
        self.model_path = find_body_model(model_path, model_dir, search_dirs, download)
        open_pose = import_controlnet_openpose()
        network = load_body_network(self.model_path, device)

        class _LoadedBody(open_pose.Body):
            # Body.__init__ would torch.load the file itself, without weights_only.
            def __init__(self, model: torch.nn.Module) -> None:
                self.model = model

        self._body = _LoadedBody(network)

    def detect(self, image: np.ndarray) -> Pose:
        height, width = image.shape[:2]
        # The network sees the picture 184 px high, so a long thin strip would become a
        # very wide input; grey rows below it keep the input at most MAX_ASPECT wide.
        padded_height = max(height, math.ceil(width / MAX_ASPECT))
        bgr = np.full((padded_height, width, 3), 128, np.uint8)
        bgr[:height] = image[:, :, ::-1]
        with torch.inference_mode():
            candidate, subset = self._body(bgr)
        return Pose(people_from_peaks(candidate, subset), width, padded_height).translated(0, 0, width, height)

    def __repr__(self) -> str:
        return f"OpenPoseEstimator(model_path={str(self.model_path)!r})"
