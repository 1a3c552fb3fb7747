"""Run a ComfyUI API-format workflow in this process, without a ComfyUI server.

Only this pack's nodes are available, plus the two ComfyUI output nodes the
examples use, SaveImage and PreviewImage, which write PNG files the way
ComfyUI names them (``<prefix>_00001_.png``). Inputs are checked as ComfyUI
checks them (required inputs, link types, combo choices, number ranges,
VALIDATE_INPUTS), then the nodes run in dependency order.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from PIL import Image

PACK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACK_MODULE = "comfyui_rptgan"
WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN")


class WorkflowError(ValueError):
    """A workflow cannot run; the message names the node and the problem."""


def _save_images(output_dir: str, images, filename_prefix: str = "ComfyUI") -> list[str]:
    """Write an IMAGE batch as PNGs named as ComfyUI's SaveImage names them."""
    prefix = filename_prefix.replace("\\", "/")
    folder = os.path.realpath(os.path.join(output_dir, os.path.dirname(prefix)))
    if os.path.commonpath([os.path.realpath(output_dir), folder]) != os.path.realpath(output_dir):
        raise WorkflowError(f"filename_prefix {filename_prefix!r} points outside the output folder")
    os.makedirs(folder, exist_ok=True)
    stem = os.path.basename(prefix)
    pattern = re.compile(re.escape(stem) + r"_(\d{5})_\.png$")
    counter = max([int(m.group(1)) for name in os.listdir(folder) if (m := pattern.match(name))], default=0) + 1
    written = []
    for picture in images:
        array = (np.clip(picture.detach().cpu().float().numpy(), 0, 1) * 255).round().astype(np.uint8)
        path = os.path.join(folder, f"{stem}_{counter:05d}_.png")
        Image.fromarray(array).save(path, compress_level=4)
        written.append(path)
        counter += 1
    return written


class SaveImage:
    """ComfyUI's SaveImage, writing to the executor's output folder."""

    output_dir = "output"
    RETURN_TYPES = ()
    FUNCTION = "save_images"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",), "filename_prefix": ("STRING", {"default": "ComfyUI"})}}

    def save_images(self, images, filename_prefix="ComfyUI"):
        files = _save_images(self.output_dir, images, filename_prefix)
        return {"ui": {"images": [{"filename": os.path.basename(f), "path": f} for f in files]}}


class PreviewImage(SaveImage):
    """ComfyUI's PreviewImage: here it saves under the prefix "preview"."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",)}}

    def save_images(self, images, filename_prefix="preview"):
        return super().save_images(images, "preview")


CORE_NODES = {"SaveImage": SaveImage, "PreviewImage": PreviewImage}


def load_pack(pack_dir: str = PACK_DIR):
    """Import the node pack as ComfyUI does (its folder as a package) and return the module."""
    if PACK_MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(PACK_MODULE, os.path.join(pack_dir, "__init__.py"),
                                                      submodule_search_locations=[pack_dir])
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACK_MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[PACK_MODULE]


def node_classes(pack=None) -> dict[str, type]:
    """This pack's nodes and the core output nodes the examples use."""
    pack = pack or load_pack()
    return {**pack.NODE_CLASS_MAPPINGS, **CORE_NODES}


def read_workflow(path: str) -> dict[str, dict]:
    """An API-format workflow: {node id: {"class_type", "inputs"}}. UI-format files are refused with a hint."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if isinstance(data, dict) and "nodes" in data and "links" in data:
        raise WorkflowError(f"{path} is a UI-format workflow; use its API-format twin (example_workflows/api/)")
    if not isinstance(data, dict) or not all(isinstance(v, dict) and "class_type" in v for v in data.values()):
        raise WorkflowError(f"{path} is not an API-format workflow ({{id: {{class_type, inputs}}}})")
    return data


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def _input_spec(cls) -> dict[str, tuple[str, tuple]]:
    spec = cls.INPUT_TYPES()
    out = {}
    for category in ("required", "optional"):
        for name, entry in spec.get(category, {}).items():
            out[name] = (category, entry)
    return out


def validate(prompt: Mapping[str, dict], classes: Mapping[str, type]) -> list[str]:
    """Everything ComfyUI's validation would reject, as messages; empty when the workflow is valid."""
    errors = []
    for node_id, node in prompt.items():
        class_type = node.get("class_type")
        where = f"node {node_id} ({class_type})"
        if class_type not in classes:
            errors.append(f"{where}: no such node class")
            continue
        cls = classes[class_type]
        inputs = node.get("inputs", {})
        spec = _input_spec(cls)
        validate_fn = getattr(cls, "VALIDATE_INPUTS", None)
        custom = set(inspect.signature(validate_fn).parameters) if validate_fn else set()
        for name, (category, entry) in spec.items():
            kind, options = entry[0], (entry[1] if len(entry) > 1 else {})
            if name not in inputs:
                if category == "required":
                    errors.append(f"{where}: required input {name!r} is missing")
                continue
            value = inputs[name]
            if _is_link(value):
                source = prompt.get(value[0])
                if source is None or source.get("class_type") not in classes:
                    errors.append(f"{where}: input {name!r} links to missing node {value[0]}")
                    continue
                returns = classes[source["class_type"]].RETURN_TYPES
                if value[1] >= len(returns):
                    errors.append(f"{where}: input {name!r} links to output {value[1]} of node {value[0]}, "
                                  f"which has {len(returns)} outputs")
                elif returns[value[1]] != kind and kind != "*":
                    errors.append(f"{where}: input {name!r} wants {kind}, node {value[0]} output {value[1]} "
                                  f"gives {returns[value[1]]}")
                continue
            if name in custom:
                continue
            if isinstance(kind, list):
                if value not in kind:
                    errors.append(f"{where}: {name}={value!r} is not one of {kind[:20]}")
            elif kind in ("INT", "FLOAT"):
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    errors.append(f"{where}: {name}={value!r} is not a number")
                elif ("min" in options and value < options["min"]) or ("max" in options and value > options["max"]):
                    errors.append(f"{where}: {name}={value} is outside [{options.get('min')}, {options.get('max')}]")
            elif kind == "BOOLEAN" and not isinstance(value, bool):
                errors.append(f"{where}: {name}={value!r} is not true or false")
            elif kind == "STRING" and not isinstance(value, str):
                errors.append(f"{where}: {name}={value!r} is not a string")
            elif kind not in WIDGET_TYPES:
                errors.append(f"{where}: input {name!r} of type {kind} must be linked, got a constant")
        unknown = set(inputs) - set(spec)
        if unknown:
            errors.append(f"{where}: unknown inputs {sorted(unknown)}")
        if validate_fn and custom:
            # As ComfyUI does: linked inputs arrive as None, unlinked ones are left out.
            arguments = {k: None if _is_link(inputs[k]) else inputs[k] for k in custom if k in inputs}
            verdict = validate_fn(**arguments)
            if verdict is not True:
                errors.append(f"{where}: {verdict}")
    return errors


def _order(prompt: Mapping[str, dict]) -> list[str]:
    """Node ids with every node after the nodes it reads from."""
    done, order, visiting = set(), [], set()

    def visit(node_id: str) -> None:
        if node_id in done:
            return
        if node_id in visiting:
            raise WorkflowError(f"the workflow has a cycle through node {node_id}")
        visiting.add(node_id)
        for value in prompt[node_id].get("inputs", {}).values():
            if _is_link(value):
                visit(value[0])
        visiting.discard(node_id)
        done.add(node_id)
        order.append(node_id)

    for node_id in prompt:
        visit(node_id)
    return order


def execute(prompt: Mapping[str, dict], output_dir: str, classes: Mapping[str, type] | None = None,
            on_node: Callable[[str, str], None] | None = None) -> dict[str, dict]:
    """Validate and run ``prompt``; returns {node id: ui dict} for nodes that produced one.

    Raises:
        WorkflowError: the workflow is invalid (all problems listed), or a node failed
            (the node and its error named).
    """
    classes = dict(classes or node_classes())
    problems = validate(prompt, classes)
    if problems:
        raise WorkflowError("the workflow is invalid:\n  " + "\n  ".join(problems))
    SaveImage.output_dir = output_dir
    results: dict[str, tuple] = {}
    uis: dict[str, dict] = {}
    for node_id in _order(prompt):
        node = prompt[node_id]
        cls = classes[node["class_type"]]
        spec = _input_spec(cls)
        arguments = {}
        for name, value in node.get("inputs", {}).items():
            if _is_link(value):
                value = results[value[0]][value[1]]
            elif spec[name][1][0] == "INT":
                value = int(value)
            elif spec[name][1][0] == "FLOAT":
                value = float(value)
            arguments[name] = value
        if on_node is not None:
            on_node(node_id, node["class_type"])
        try:
            returned = getattr(cls(), cls.FUNCTION)(**arguments)
        except Exception as error:
            raise WorkflowError(f"node {node_id} ({node['class_type']}) failed: "
                                f"{type(error).__name__}: {error}") from error
        if isinstance(returned, dict):
            if "ui" in returned:
                uis[node_id] = returned["ui"]
            returned = returned.get("result", ())
        results[node_id] = tuple(returned or ())
    return uis
