"""The layers stay layers: the library never imports the nodes, the training scripts or
ComfyUI; its inference half never imports its training package; the nodes never import
the training scripts (they run without them)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMFYUI_MODULES = {"comfy", "comfy_extras", "folder_paths", "server", "execution", "nodes"}


def _imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one file (relative imports stay in their package)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((REPO / "rptgan_core").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_the_library_imports_neither_nodes_nor_training_nor_comfyui(path):
    assert not _imports(path) & (COMFYUI_MODULES | {"training", "bench", "examples", "scripts"})


def _imports_the_training_package(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0 and (module == "rptgan_core.training" or module.startswith("rptgan_core.training.")):
                return True
            # from .training import x (in rptgan_core/), from ..training import x (one package down)
            if node.level > 0 and (module.split(".")[0] == "training" or (
                    not module and any(alias.name == "training" for alias in node.names))):
                return True
        elif isinstance(node, ast.Import) and any(alias.name.startswith("rptgan_core.training")
                                                  for alias in node.names):
            return True
    return False


INFERENCE_LIBRARY = sorted(p for p in (REPO / "rptgan_core").rglob("*.py")
                           if "training" not in p.relative_to(REPO / "rptgan_core").parts)


@pytest.mark.parametrize("path", INFERENCE_LIBRARY, ids=lambda p: str(p.relative_to(REPO)))
def test_the_inference_library_does_not_import_the_training_package(path):
    assert not _imports_the_training_package(path)


def test_the_training_package_check_sees_each_way_of_importing_it(tmp_path):
    for line in ("from rptgan_core.training.losses import warp_loss", "from .training import losses",
                 "from ..training.data import PairList", "import rptgan_core.training.loop",
                 "from . import training"):
        (tmp_path / "module.py").write_text(line + "\n")
        assert _imports_the_training_package(tmp_path / "module.py"), line
    (tmp_path / "module.py").write_text("from .pose import Pose\nimport training_wheels\n")
    assert not _imports_the_training_package(tmp_path / "module.py")


@pytest.mark.parametrize("path", sorted((REPO / "nodes").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_the_nodes_do_not_import_the_training_scripts(path):
    assert not _imports(path) & {"training", "bench", "examples"}
