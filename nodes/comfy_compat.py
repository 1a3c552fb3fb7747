"""What the nodes need from ComfyUI, with stand-ins when ComfyUI is not there.

Inside ComfyUI this uses ``folder_paths`` (input, temp and model folders),
``comfy.utils.ProgressBar`` and ``comfy.model_management``'s interrupt flag.
Without ComfyUI (tests, the headless example) the folders come from
environment variables, progress is not shown, and nothing interrupts:

=====================  =====================================================
RPTGAN_INPUT_DIR       the input folder (default: ./input)
RPTGAN_TEMP_DIR        where previews go (default: a folder in the system temp)
RPTGAN_MODELS_DIR      extra folder searched for checkpoints, before the pack's
                       own ``checkpoints/``
RPTGAN_UPSCALE_DIR     folder of upscale models
=====================  =====================================================
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from typing import Callable

from rptgan_core import imageio
from rptgan_core.files import sha256_file

from .convert import NodeInputError

MODEL_FOLDER = "rptgan"
UPSCALE_FOLDER = "upscale_models"
CHECKPOINT_EXTENSIONS = {".safetensors"}
PACK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACK_CHECKPOINTS = os.path.join(PACK_DIR, "checkpoints")
IMAGE_EXTENSIONS = set(imageio.IMAGE_EXTENSIONS)
POSE_EXTENSIONS = {".json"}
VIDEO_EXTENSIONS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".webp", ".gif", ".apng"}


class InputFileError(NodeInputError):
    """A file name given to a loader node is unusable (outside the input folder, missing)."""


InputFileError.__module__ = NodeInputError.__module__  # shown as the pack's, like NodeInputError


def folder_paths_module():
    """ComfyUI's ``folder_paths`` module, or None outside ComfyUI."""
    try:
        import folder_paths
    except ImportError:
        return None
    return folder_paths


def in_comfyui() -> bool:
    return folder_paths_module() is not None


# folders ----------------------------------------------------------------------


def input_directory() -> str:
    folder_paths = folder_paths_module()
    if folder_paths is not None:
        return folder_paths.get_input_directory()
    return os.path.abspath(os.environ.get("RPTGAN_INPUT_DIR", "input"))


def temp_directory() -> str:
    folder_paths = folder_paths_module()
    if folder_paths is not None:
        directory = folder_paths.get_temp_directory()
    else:
        directory = os.environ.get("RPTGAN_TEMP_DIR") or os.path.join(tempfile.gettempdir(), "rptgan-temp")
    os.makedirs(directory, exist_ok=True)
    return directory


def pose_library_directory() -> str:
    """Where saved poses live: ``rptgan_poses`` in ComfyUI's user folder (the default user's, as the
    frontend's own settings), else ``$RPTGAN_POSE_LIBRARY_DIR`` or ./rptgan_poses."""
    folder_paths = folder_paths_module()
    if folder_paths is not None:
        return os.path.join(folder_paths.get_user_directory(), "default", "rptgan_poses")
    return os.path.abspath(os.environ.get("RPTGAN_POSE_LIBRARY_DIR", "rptgan_poses"))


EXAMPLE_INPUTS = os.path.join(PACK_DIR, "examples", "assets")


# Short AI-generated clips of one person (MIT, from ComfyUI's template media packages on
# PyPI, which ComfyUI installs), for the fine-tuning example: input name -> (package, file).
TEMPLATE_CLIPS = {
    "rptgan_ai_clip_waving_man.webp": ("comfyui_workflow_templates_media_api",
                                       "templates/api_moonvalley_video_to_video_pose_control-2.webp"),
    "rptgan_ai_clip_knitted_dancer.webp": ("comfyui_workflow_templates_media_api",
                                           "templates/api_moonvalley_video_to_video_pose_control-1.webp"),
}


def template_clip(package: str, relative: str) -> str | None:
    """The file in an installed package (found without importing it), or None."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(root, relative)
        if os.path.isfile(path):
            return path
    return None


def place_example_inputs() -> list[str]:
    """Copy the example workflows' inputs (examples/assets, and the template clips where their
    packages are installed) into ComfyUI's input folder, so the examples run right after install;
    files already there are left as they are. Returns the names copied. Outside ComfyUI there
    is no input folder to fill."""
    if not in_comfyui():
        return []
    target = input_directory()
    sources = {name: os.path.join(EXAMPLE_INPUTS, name) for name in sorted(os.listdir(EXAMPLE_INPUTS))
               if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS | POSE_EXTENSIONS}
    for name, (package, relative) in TEMPLATE_CLIPS.items():
        found = template_clip(package, relative)
        if found:
            sources[name] = found
    copied = []
    for name, source in sources.items():
        if os.path.exists(os.path.join(target, name)):
            continue
        os.makedirs(target, exist_ok=True)
        shutil.copyfile(source, os.path.join(target, name))
        copied.append(name)
    return copied


def register_model_folders() -> None:
    """Make ``models/rptgan`` (and the pack's ``checkpoints/``) a ComfyUI model folder of
    .safetensors files; entries from extra_model_paths.yaml are kept."""
    folder_paths = folder_paths_module()
    if folder_paths is None:
        return
    default = os.path.join(folder_paths.models_dir, MODEL_FOLDER)
    paths, extensions = folder_paths.folder_names_and_paths.get(MODEL_FOLDER, ([], set()))
    paths = list(paths)
    for path in (default, PACK_CHECKPOINTS):
        if path not in paths:
            paths.append(path)
    folder_paths.folder_names_and_paths[MODEL_FOLDER] = (paths, set(extensions) | CHECKPOINT_EXTENSIONS)


def fallback_model_dirs(folder: str) -> list[str]:
    if folder == MODEL_FOLDER:
        return [d for d in (os.environ.get("RPTGAN_MODELS_DIR"), PACK_CHECKPOINTS) if d]
    return [d for d in (os.environ.get("RPTGAN_UPSCALE_DIR"),) if d]


def _fallback_extensions(folder: str) -> set[str]:
    return CHECKPOINT_EXTENSIONS if folder == MODEL_FOLDER else {".safetensors", ".sft", ".pth", ".pt", ".ckpt", ".bin"}


def _partial(name: str) -> bool:
    """A checkpoint still being written, or left half-written by a killed save (``save_checkpoint``'s temp file)."""
    return os.path.basename(name).startswith(".tmp-")


def model_files(folder: str) -> list[str]:
    """Names (relative paths) of the model files in ComfyUI's ``folder`` (e.g. "rptgan", "upscale_models");
    partial files a save left behind are not offered."""
    folder_paths = folder_paths_module()
    if folder_paths is not None:
        try:
            return [name for name in folder_paths.get_filename_list(folder) if not _partial(name)]
        except KeyError:
            return []
    names = set()
    extensions = _fallback_extensions(folder)
    for directory in fallback_model_dirs(folder):
        for root, _dirs, files in os.walk(directory):
            for name in files:
                if os.path.splitext(name)[1].lower() in extensions and not _partial(name):
                    names.add(os.path.relpath(os.path.join(root, name), directory))
    return sorted(names)


def model_path(folder: str, name: str) -> str:
    """Full path of model ``name`` in ``folder``; FileNotFoundError naming the folders searched."""
    folder_paths = folder_paths_module()
    if folder_paths is not None:
        path = folder_paths.get_full_path(folder, name)
        searched = folder_paths.get_folder_paths(folder) if folder in folder_paths.folder_names_and_paths else []
    else:
        searched = fallback_model_dirs(folder)
        safe = os.path.relpath(os.path.join(os.sep, name), os.sep)
        candidates = [os.path.join(directory, safe) for directory in searched]
        path = next((c for c in candidates if os.path.isfile(c)), None)
    if path is None:
        raise FileNotFoundError(f"model {name!r} not found in the {folder} folders: {', '.join(searched) or 'none'}")
    return path


def model_save_directory() -> str:
    """Where new RPT-GAN checkpoints go: ComfyUI's models/rptgan, else $RPTGAN_MODEL_SAVE_DIR,
    $RPTGAN_MODELS_DIR or ./models/rptgan."""
    folder_paths = folder_paths_module()
    if folder_paths is not None:
        directory = os.path.join(folder_paths.models_dir, MODEL_FOLDER)
    else:
        directory = os.path.abspath(os.environ.get("RPTGAN_MODEL_SAVE_DIR") or os.environ.get("RPTGAN_MODELS_DIR")
                                    or os.path.join("models", MODEL_FOLDER))
    os.makedirs(directory, exist_ok=True)
    return directory


# input files ------------------------------------------------------------------


def resolve_input_file(name: str, kind: str = "file", folder: str = "input") -> str:
    """The path of ``name`` inside the input folder, or with ``folder="temp"`` the temp
    folder (subfolders allowed).

    Raises InputFileError for absolute paths, names that climb out with ``..``
    or through a link pointing elsewhere, NUL bytes, and files that do not exist.
    """
    if not isinstance(name, str) or not name.strip():
        raise InputFileError(f"no {kind} chosen")
    if "\x00" in name:
        raise InputFileError(f"{kind} {name!r} contains a NUL byte; refused")
    bases = {"input": input_directory, "temp": temp_directory}
    if folder not in bases:
        raise InputFileError(f"{kind}: folder {folder!r} is not one files can be read from (input or temp)")
    base = os.path.realpath(bases[folder]())
    if name.endswith(f" [{folder}]"):
        name = name[: -len(f" [{folder}]")]
    if os.path.isabs(name) or os.path.splitdrive(name)[0]:
        raise InputFileError(f"{kind} {name!r} is an absolute path; only files in the {folder} folder can be loaded")
    path = os.path.realpath(os.path.join(base, name))
    if os.path.commonpath([base, path]) != base:
        raise InputFileError(f"{kind} {name!r} points outside the {folder} folder {base}; refused")
    if not os.path.isfile(path):
        raise InputFileError(f"{kind} {name!r} not found in the {folder} folder {base}")
    return path


def list_input_files(extensions: set[str]) -> list[str]:
    """Top-level files of the input folder with one of ``extensions`` (as LoadImage lists them)."""
    directory = input_directory()
    if not os.path.isdir(directory):
        return []
    return sorted(
        name for name in os.listdir(directory)
        if os.path.isfile(os.path.join(directory, name)) and os.path.splitext(name)[1].lower() in extensions
    )


def file_fingerprint(path: str) -> str:
    """sha256 of a file's bytes: ComfyUI re-runs a loader when it changes."""
    return sha256_file(path)


def input_file_problem(name: str, kind: str) -> bool | str:
    """A loader's VALIDATE_INPUTS: True, or the message saying why ``name`` can't be used."""
    try:
        resolve_input_file(name, kind)
    except InputFileError as error:
        return str(error)
    return True


def input_file_version(name: str, kind: str) -> str | float:
    """A loader's IS_CHANGED: the file's fingerprint, or NaN (never equal, so it re-runs and reports)."""
    try:
        return file_fingerprint(resolve_input_file(name, kind))
    except (InputFileError, OSError):
        return float("nan")


def compute_device(choice: str = "auto") -> str:
    """The device for "auto": ComfyUI's own (so --cpu is honoured), else rptgan_core's choice."""
    if choice != "auto" or not in_comfyui():
        return choice
    try:
        import comfy.model_management as model_management
    except ImportError:
        return choice
    return str(model_management.get_torch_device())


# progress and interruption ----------------------------------------------------


def check_interrupt() -> None:
    """Raise ComfyUI's InterruptProcessingException when the user pressed Cancel."""
    if not in_comfyui():
        return
    try:
        import comfy.model_management as model_management
    except ImportError:
        return
    model_management.throw_exception_if_processing_interrupted()


def interrupt_requested() -> bool:
    """Whether the user pressed Cancel (without raising: a long job can save its work first)."""
    if not in_comfyui():
        return False
    try:
        import comfy.model_management as model_management
    except ImportError:
        return False
    return bool(model_management.processing_interrupted())


def progress_callback(total: int, honour_cancel: bool = True) -> Callable[[int, int], None]:
    """A ``callback(done, total)`` that moves ComfyUI's progress bar and (``honour_cancel``) raises on Cancel."""
    bar = None
    if in_comfyui():
        try:
            from comfy.utils import ProgressBar
        except ImportError:
            ProgressBar = None
        if ProgressBar is not None:
            bar = ProgressBar(total)

    def callback(done: int, of: int) -> None:
        if bar is not None:
            bar.update_absolute(done, of)
        if honour_cancel:
            check_interrupt()

    return callback
