"""Inference cost of the RPT-GAN generator on the CPU.

For each config: trainable and total parameters, GFLOP per image
(torch.utils.flop_counter), median ms per image at batch 1, images/s at
batch 8, peak resident memory, and the achieved GFLOP/s at batch 1 as a
fraction of a large float32 matmul's GFLOP/s measured in the same process.
Each config runs in its own process so peak RSS is its own.

Targets (256x176, batch 1, torch's default threads): at most 30 GFLOP, at most
150 ms per image, peak RSS under 1.5 GB. The default run puts the paper's
generator (deepfashion) and the flow generator (deepfashion-flow) side by
side, with the SyntheticPeople demo's two presets.

    python bench/inference.py                 # paper and flow generators, a table
    python bench/inference.py --config market --json   # last line: one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.timing import median_seconds  # noqa: E402

TARGET_GFLOP = 30.0
TARGET_MS = 150.0
TARGET_RSS_MB = 1536.0


def matmul_gflops(size: int = 2048, repeats: int = 7) -> float:
    """GFLOP/s of a size x size float32 matmul: the machine's practical peak."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / median_seconds(lambda: a @ b, repeats) / 1e9


def measure(config_name: str, repeats: int) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from rptgan_core.config import get_config
    from rptgan_core.networks import build_generator
    from rptgan_core.processing import generator_inputs

    torch.manual_seed(0)
    config = get_config(config_name)
    generator = build_generator(config).eval()
    height, width = config.image_size

    def inputs(batch: int):
        source = torch.rand(batch, 3, height, width)
        keypoints = torch.rand(batch, 18, 3) * torch.tensor([width, height, 1.0])
        return source, keypoints

    def run(source, keypoints):
        # the whole step from [0, 1] images and keypoints: pose maps (both, where used) and the network
        return generator(**generator_inputs(generator, source, keypoints, keypoints))

    with torch.inference_mode():
        single, batch8 = inputs(1), inputs(8)
        with FlopCounterMode(display=False) as counter:
            run(*single)
        gflop = counter.get_total_flops() / 1e9
        seconds_batch1 = median_seconds(lambda: run(*single), repeats)
        seconds_batch8 = median_seconds(lambda: run(*batch8), max(3, repeats // 3), warmup=1)
        peak_matmul = matmul_gflops()
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "config": config_name,
        "generator": config.generator,
        "image_size": [height, width],
        "threads": torch.get_num_threads(),
        "params_trainable": sum(p.numel() for p in generator.trainable_parameters()),
        "params_total": sum(p.numel() for p in generator.parameters()),
        "gflop": round(gflop, 3),
        "ms_batch1": round(seconds_batch1 * 1000, 2),
        "ips_batch8": round(8 / seconds_batch8, 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "matmul_gflops": round(peak_matmul, 1),
        "efficiency": round(gflop / seconds_batch1 / peak_matmul, 4),
    }


def _report(result: dict) -> str:
    checks = [
        ("GFLOP", result["gflop"], TARGET_GFLOP),
        ("ms/image", result["ms_batch1"], TARGET_MS),
        ("peak RSS MB", result["peak_rss_mb"], TARGET_RSS_MB),
    ]
    lines = [
        f"{result['config']} ({result['generator']} generator) {result['image_size'][0]}x{result['image_size'][1]}, "
        f"{result['threads']} threads",
        f"  parameters: {result['params_trainable'] / 1e6:.2f}M trainable, {result['params_total'] / 1e6:.2f}M total",
        f"  batch 1: {result['ms_batch1']:.1f} ms/image (median); batch 8: {result['ips_batch8']:.1f} images/s",
        f"  matmul peak {result['matmul_gflops']:.0f} GFLOP/s; achieved {result['efficiency']:.1%} of it at batch 1",
    ]
    for name, value, target in checks:
        verdict = "ok" if value <= target else "OVER TARGET"
        lines.append(f"  {name}: {value:g} (target <= {target:g}, ratio {value / target:.2f}) {verdict}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append",
                        help="preset to measure (repeatable); default deepfashion, deepfashion-flow, synthetic, "
                             "synthetic-flow")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs at batch 1 (median reported)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per config, the last line last")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    configs = args.config or ["deepfashion", "deepfashion-flow", "synthetic", "synthetic-flow"]

    if args.in_process:
        print(json.dumps(measure(configs[0], args.repeats)))
        return
    for name in configs:
        completed = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--config", name, "--repeats", str(args.repeats), "--in-process"],
            check=True, capture_output=True, text=True,
        )
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        print(json.dumps(result) if args.json else _report(result), flush=True)


if __name__ == "__main__":
    main()
