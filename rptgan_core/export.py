"""ONNX export of a checkpoint's generator, for deployment outside PyTorch.

The exported graph is the whole ``processing`` path, so a runtime needs no
Python of ours: images on the model canvas in [0, 1] and keypoints in canvas
pixels in, images in [0, 1] out. Letterboxing other sizes onto the canvas is
the caller's (``pose.Letterbox`` shows how).

    python -m rptgan_core.export checkpoints/rptgan-synthetic-demo.safetensors demo.onnx

Inputs of the ONNX graph (batch size free):
    ``source``: (B, 3, H, W) float32 in [0, 1].
    ``target_keypoints``: (B, 18, 3) float32, x and y in canvas pixels, confidence (0: missing).
    ``source_keypoints``: the same for the source image's own pose (only for
        generators that take it, ``uses_source_pose``).
Output: ``image``, (B, 3, H, W) float32 in [0, 1].
"""

from __future__ import annotations

import argparse
import os
import warnings

import torch
from torch import nn

from .checkpoint import load_generator
from .errors import run_command
from .processing import from_model_range, generator_inputs

OPSET = 17  # grid_sample (opset 16) and every op here; onnxruntime on PyPI runs it on CPU and GPU


class ExportedGenerator(nn.Module):
    """``generator`` with its input/output conversion: what ``processing.generate`` computes."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, source: torch.Tensor, target_keypoints: torch.Tensor,
                source_keypoints: torch.Tensor | None = None) -> torch.Tensor:
        inputs = generator_inputs(self.generator, source, target_keypoints, source_keypoints)
        return from_model_range(self.generator(**inputs))


def input_names(generator: nn.Module) -> list[str]:
    return ["source", "target_keypoints"] + (["source_keypoints"] if generator.uses_source_pose else [])


def export_onnx(generator: nn.Module, path: str | os.PathLike, opset: int = OPSET) -> str:
    """Write ``generator`` (float32, on the CPU) to ``path`` as ONNX; returns the path.

    The file is written next to its destination and moved into place, so a failed
    export leaves no partial file behind.
    """
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise RuntimeError("ONNX export needs the onnx package: pip install 'comfyui-rptgan[export]'") from None
    generator = generator.float().cpu().eval()
    height, width = generator.config.image_size
    names = input_names(generator)
    example = (torch.rand(1, 3, height, width), torch.rand(1, 18, 3) * torch.tensor([width, height, 1.0]))
    if generator.uses_source_pose:
        example = (*example, example[1].clone())
    path = os.fspath(path)
    partial = f"{path}.partial"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shape checks, which hold for every batch
            torch.onnx.export(ExportedGenerator(generator), example, partial, dynamo=False, opset_version=opset,
                              input_names=names, output_names=["image"],
                              dynamic_axes={name: {0: "batch"} for name in [*names, "image"]})
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Export a checkpoint's generator to ONNX.")
    parser.add_argument("checkpoint", help="an RPT-GAN safetensors checkpoint")
    parser.add_argument("output", help="the .onnx file to write")
    parser.add_argument("--opset", type=int, default=OPSET)
    args = parser.parse_args(argv)
    generator, info = load_generator(args.checkpoint)
    export_onnx(generator, args.output, args.opset)
    print(f"wrote {args.output}: {info.config.name} generator, {generator.config.image_height}x"
          f"{generator.config.image_width}, inputs {', '.join(input_names(generator))}")


if __name__ == "__main__":
    run_command(main)
