"""The layers stay layers: the library never imports the nodes, the training scripts or
ComfyUI; the nodes never import the training scripts (they run without them)."""

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


@pytest.mark.parametrize("path", sorted((REPO / "nodes").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_the_nodes_do_not_import_the_training_scripts(path):
    assert not _imports(path) & {"training", "bench", "examples"}
