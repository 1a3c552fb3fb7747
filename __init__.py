"""comfyui-rptgan: RPT-GAN pose transfer nodes for ComfyUI.

ComfyUI imports this file when the pack sits in ComfyUI/custom_nodes/. It
makes the bundled ``rptgan_core`` library importable, registers the
models/rptgan folder, copies the example inputs into ComfyUI's input folder
where they are missing, adds the pose editor's routes (/rptgan/...) to
ComfyUI's server, and exposes the node classes. Nothing heavy happens
here: networks, checkpoints and pose estimators load when a node first runs.
"""

import importlib.util
import logging
import os
import sys

_PACK_DIR = os.path.dirname(os.path.abspath(__file__))


def _use_bundled_core() -> None:
    """Import the rptgan_core that ships with this pack under its own name, without
    putting the pack folder (and its generic names: nodes, scripts, ...) on sys.path."""
    loaded = sys.modules.get("rptgan_core")
    if loaded is not None:
        origin = os.path.dirname(os.path.abspath(getattr(loaded, "__file__", "") or ""))
        if os.path.dirname(origin) != _PACK_DIR:
            logging.warning("comfyui-rptgan: using the rptgan_core already imported from %s, not the one in %s",
                            origin, _PACK_DIR)
        return
    package_dir = os.path.join(_PACK_DIR, "rptgan_core")
    spec = importlib.util.spec_from_file_location(
        "rptgan_core", os.path.join(package_dir, "__init__.py"), submodule_search_locations=[package_dir]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["rptgan_core"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["rptgan_core"]
        raise


_use_bundled_core()

from .nodes import (  # noqa: E402
    NODE_CLASS_MAPPINGS,
    NODE_DISPLAY_NAME_MAPPINGS,
    place_example_inputs,
    register_model_folders,
    register_routes,
)

register_model_folders()
register_routes()
_copied = place_example_inputs()
if _copied:
    logging.info("comfyui-rptgan: copied the example inputs %s into ComfyUI's input folder", ", ".join(_copied))

WEB_DIRECTORY = "./web"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
