"""Run the example pipeline headlessly, without a ComfyUI server.

    python examples/run_example.py --out outputs/example

Executes example_workflows/api/rptgan_pose_sequence.json in this process with
the pack's own nodes: the synthetic person in examples/assets/ is re-posed into
the 8-frame wave sequence by the demo checkpoint, upscaled 2x, and written as
PNG files under --out (plus the target pose skeletons). Prints the files written.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from graph_executor import PACK_DIR, WorkflowError, execute, load_pack, read_workflow  # noqa: E402

DEFAULT_WORKFLOW = os.path.join(PACK_DIR, "example_workflows", "api", "rptgan_pose_sequence.json")
DEMO_CHECKPOINT = os.path.join(PACK_DIR, "checkpoints", "rptgan-synthetic-demo.safetensors")
ASSETS = os.path.join(HERE, "assets")


def _use_checkpoint(prompt: dict, checkpoint: str) -> None:
    """Point every checkpoint dropdown of the workflow at ``checkpoint``'s file name."""
    name = os.path.basename(checkpoint)
    for node in prompt.values():
        if "checkpoint" in node.get("inputs", {}) and not isinstance(node["inputs"]["checkpoint"], list):
            node["inputs"]["checkpoint"] = name


def _stage_inputs(inputs: str, staging: str) -> str:
    """``inputs``, or when ComfyUI's template clips are installed (the fine-tuning example uses
    them), a folder holding copies of both."""
    compat = importlib.import_module(f"{load_pack().__name__}.nodes.comfy_compat")
    clips = {name: compat.template_clip(*where) for name, where in compat.TEMPLATE_CLIPS.items()}
    clips = {name: path for name, path in clips.items() if path and not os.path.exists(os.path.join(inputs, name))}
    if not clips:
        return inputs
    os.makedirs(staging, exist_ok=True)
    for name in os.listdir(inputs):  # copies: the nodes refuse links that leave their input folder
        if os.path.isfile(os.path.join(inputs, name)):
            shutil.copyfile(os.path.join(inputs, name), os.path.join(staging, name))
    for name, path in clips.items():
        shutil.copyfile(path, os.path.join(staging, name))
    return staging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run an example RPT-GAN workflow without a ComfyUI server.")
    parser.add_argument("--out", default=os.path.join("outputs", "example"), help="folder for the PNG files")
    parser.add_argument("--workflow", default=DEFAULT_WORKFLOW, help="API-format workflow to run")
    parser.add_argument("--checkpoint", default=DEMO_CHECKPOINT, help="RPT-GAN .safetensors checkpoint")
    parser.add_argument("--inputs", default=ASSETS, help="folder the workflow's image and pose files are read from")
    args = parser.parse_args(argv)

    checkpoint = os.path.abspath(args.checkpoint)
    if not os.path.isfile(checkpoint):
        hint = ("the demo checkpoint is made by training/train.py with the 'synthetic' preset"
                if checkpoint == DEMO_CHECKPOINT else "check the path")
        print(f"error: checkpoint not found: {checkpoint} ({hint})", file=sys.stderr)
        return 2
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    # The nodes read their folders from these when ComfyUI is not around (nodes/comfy_compat.py).
    os.environ["RPTGAN_INPUT_DIR"] = _stage_inputs(os.path.abspath(args.inputs), os.path.join(out, "inputs"))
    os.environ["RPTGAN_MODELS_DIR"] = os.path.dirname(checkpoint)
    os.environ["RPTGAN_MODEL_SAVE_DIR"] = os.path.join(out, "models")  # a fine-tune saves here, not beside the demo
    os.environ.setdefault("RPTGAN_TEMP_DIR", os.path.join(tempfile.gettempdir(), "rptgan-example-temp"))

    try:
        prompt = read_workflow(args.workflow)
    except (OSError, json.JSONDecodeError, WorkflowError) as error:
        print(f"error: cannot read workflow {args.workflow}: {error}", file=sys.stderr)
        return 2
    _use_checkpoint(prompt, checkpoint)
    load_pack()
    start = time.perf_counter()
    try:
        uis = execute(prompt, out, on_node=lambda node_id, class_type: print(f"  running node {node_id}: {class_type}"))
    except WorkflowError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    files = [image["path"] for ui in uis.values() for image in ui.get("images", [])]
    for path in files:
        print(f"  wrote {os.path.relpath(path)}")
    print(f"{len(files)} images from {os.path.basename(args.workflow)} in {time.perf_counter() - start:.1f} s, "
          f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
