"""Pose estimators for the nodes: the backend list for dropdowns, model folders,
and one loaded estimator per backend kept for the next run."""

from __future__ import annotations

import os
import threading

from . import comfy_compat

# The preferred backend first: BlazePose runs offline once install.py has built its model;
# OpenPose needs controlnet-aux's body_pose_model.pth.
KNOWN_BACKENDS = ("mediapipe", "openpose")
# Where install.py writes the BlazePose .task file.
PACK_ANNOTATORS = os.path.join(comfy_compat.PACK_DIR, "annotators")
_cache: dict[str, object] = {}
_lock = threading.Lock()


def backend_choices() -> list[str]:
    """Installed backends first (the preferred one at the top), then the known ones that
    are not installed, so choosing one explains what to install."""
    from rptgan_core.estimation import available_backends

    installed = sorted(available_backends(), key=lambda name: (KNOWN_BACKENDS.index(name) if name in KNOWN_BACKENDS
                                                               else len(KNOWN_BACKENDS)))
    return installed + [name for name in KNOWN_BACKENDS if name not in installed]


def _pose_model_dirs() -> list[str]:
    """Where pose model files are looked for: models/rptgan/annotators in every rptgan model
    folder, comfyui_controlnet_aux's download folder when that pack is installed, and the
    pack's own annotators folder (install.py's BlazePose model)."""
    dirs = []
    folder_paths = comfy_compat.folder_paths_module()
    if folder_paths is not None:
        roots = folder_paths.get_folder_paths(comfy_compat.MODEL_FOLDER) if comfy_compat.MODEL_FOLDER in \
            folder_paths.folder_names_and_paths else []
        custom_nodes = folder_paths.get_folder_paths("custom_nodes")
    else:
        roots, custom_nodes = comfy_compat.fallback_model_dirs(comfy_compat.MODEL_FOLDER), []
    dirs += [os.path.join(root, "annotators") for root in roots]
    dirs += [os.path.join(root, "comfyui_controlnet_aux", "ckpts") for root in custom_nodes]
    return dirs + [PACK_ANNOTATORS]


def _options(name: str) -> dict:
    dirs = _pose_model_dirs()
    if name == "openpose":
        return {"model_dir": dirs[0] if dirs else None, "search_dirs": dirs[1:]}
    if name == "mediapipe":
        from rptgan_core.estimation.blazepose import TASK_FILES

        with_model = [d for d in dirs if any(os.path.isfile(os.path.join(d, f)) for f in TASK_FILES)]
        existing = [d for d in dirs if os.path.isdir(d)]
        return {"model_dir": (with_model or existing or [None])[0]}
    return {}


def get_estimator(name: str):
    """The estimator ``name``, built on first use; KeyError / EstimatorUnavailable explain failures."""
    from rptgan_core.estimation import create_estimator

    with _lock:
        if name not in _cache:
            _cache[name] = create_estimator(name, **_options(name))
        return _cache[name]


def forget_estimators() -> None:
    """Drop loaded estimators (after registering a different backend under a used name)."""
    with _lock:
        _cache.clear()
