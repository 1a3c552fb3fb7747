"""Inference cost of the generators on the CPU: the whole pipeline call, at each precision.

For each config (random weights: speed does not depend on them): trainable and
total parameters, GFLOP per image (torch.utils.flop_counter), median ms per
image at batch 1 of the whole ``PoseTransferPipeline`` call (letterbox, pose
maps, network, output) at precision ``auto`` and at float32, and where that
time goes (pose maps, network, the rest); images/s at batch 8; how close
``auto`` stays to float32 (PSNR of the output); onnxruntime's time for the
exported graph beside PyTorch's; peak resident memory; and the achieved GFLOP/s
at batch 1 as a fraction of a large float32 matmul's, measured in the same
process. Each config runs in its own process so peak RSS is its own.

Targets (256x176, batch 1, torch's default threads): at most 30 GFLOP, at most
150 ms per image in float32 and peak RSS under 1.5 GB; at ``auto`` on a CPU
with native bfloat16 at most 30 ms per image and at least 3x faster than
float32. The peers' generators, timed on the same 2-core machine at 256x176
and batch 1 with random weights, stand beside ours as ratios. The default run
puts the paper's generator (deepfashion) and the flow generator
(deepfashion-flow) side by side, with the SyntheticPeople demo's two presets.

    python bench/inference.py                 # paper and flow generators, a table
    python bench/inference.py --config deepfashion-flow --json   # last line: one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.timing import median_seconds  # noqa: E402

TARGET_GFLOP = 30.0
TARGET_MS = 150.0
TARGET_RSS_MB = 1536.0
TARGET_AUTO_MS = 30.0
TARGET_SPEEDUP = 3.0
# Median ms per image, 256x176, batch 1, random weights, the same 2-core machine (2026-11)
PEER_MS = {"PATN": 948.0, "DPTN": 216.0}


def matmul_gflops(size: int = 2048, repeats: int = 7) -> float:
    """GFLOP/s of a size x size float32 matmul: the machine's practical peak."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / median_seconds(lambda: a @ b, repeats) / 1e9


def psnr_db(a, b) -> float:
    """PSNR in dB of two [0, 1] image tensors."""
    import math

    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def _onnx_ms(generator, source, target, own, repeats: int) -> float | None:
    """Median ms per image of the exported graph in onnxruntime (CPU), or None without it."""
    try:
        import onnxruntime
    except ImportError:
        return None
    from rptgan_core.export import export_onnx, input_names

    with tempfile.TemporaryDirectory() as folder:
        path = export_onnx(generator, os.path.join(folder, "generator.onnx"))
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = dict(zip(input_names(generator), (source.numpy(), target.numpy(), own.numpy())))
    return median_seconds(lambda: session.run(None, feeds), repeats) * 1000


def measure(config_name: str, repeats: int) -> dict:
    import copy

    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from rptgan_core.config import get_config
    from rptgan_core.inference import PoseTransferPipeline
    from rptgan_core.networks import build_generator
    from rptgan_core.pose import Pose
    from rptgan_core.processing import generator_inputs

    torch.manual_seed(0)
    config = get_config(config_name)
    generator = build_generator(config).eval()
    height, width = config.image_size
    rng = np.random.default_rng(0)

    def pose() -> Pose:
        keypoints = rng.uniform(0.1, 0.9, (18, 3)) * [width, height, 1]
        keypoints[:, 2] = 1
        return Pose(keypoints.astype(np.float32), width, height)

    fp32 = PoseTransferPipeline(copy.deepcopy(generator), "cpu", "float32")
    auto = PoseTransferPipeline(copy.deepcopy(generator), "cpu", "auto")
    image, target, own = torch.rand(1, 3, height, width), pose(), pose()
    images8, targets8 = image.expand(8, -1, -1, -1), [pose() for _ in range(8)]

    def call(pipeline, images=image, poses=target):
        return pipeline(images, poses, source_poses=own, batch_size=8)

    with torch.inference_mode():
        keypoints = torch.from_numpy(target.keypoints)  # (1, 18, 3), on the canvas already
        own_keypoints = torch.from_numpy(own.keypoints)
        with FlopCounterMode(display=False) as counter:
            generator(**generator_inputs(generator, image, keypoints, own_keypoints))
        gflop = counter.get_total_flops() / 1e9
        ms_fp32 = median_seconds(lambda: call(fp32), repeats) * 1000
        ms_auto = median_seconds(lambda: call(auto), repeats) * 1000
        ips8_fp32 = 8 / median_seconds(lambda: call(fp32, images8, targets8), max(3, repeats // 3), warmup=1)
        ips8_auto = 8 / median_seconds(lambda: call(auto, images8, targets8), max(3, repeats // 3), warmup=1)
        # where the auto call's time goes
        net = auto.generator
        pose_ms = median_seconds(lambda: (net.render_pose(keypoints), net.render_pose(own_keypoints)), repeats) * 1000
        inputs = generator_inputs(net, image.to(auto.dtype), keypoints, own_keypoints)
        network_ms = median_seconds(lambda: net(**inputs), repeats) * 1000
        psnr = psnr_db(call(auto, images8, targets8), call(fp32, images8, targets8))
        onnx_ms = _onnx_ms(generator, image, keypoints, own_keypoints, repeats)
        peak_matmul = matmul_gflops()
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "config": config_name,
        "generator": config.generator,
        "image_size": [height, width],
        "threads": torch.get_num_threads(),
        "precision": str(auto.dtype).removeprefix("torch."),
        "channels_last": next(m.weight for m in auto.generator.modules() if isinstance(m, torch.nn.Conv2d))
        .is_contiguous(memory_format=torch.channels_last),
        "params_trainable": sum(p.numel() for p in generator.trainable_parameters()),
        "params_total": sum(p.numel() for p in generator.parameters()),
        "gflop": round(gflop, 3),
        "ms_batch1": round(ms_auto, 2),
        "ms_batch1_fp32": round(ms_fp32, 2),
        "speedup_vs_fp32": round(ms_fp32 / ms_auto, 2),
        "psnr_vs_fp32_db": round(psnr, 1),
        "ms_pose_maps": round(pose_ms, 2),
        "ms_network": round(network_ms, 2),
        "ms_rest": round(ms_auto - pose_ms - network_ms, 2),
        "ips_batch8": round(ips8_auto, 2),
        "ips_batch8_fp32": round(ips8_fp32, 2),
        "ms_batch1_onnxruntime": None if onnx_ms is None else round(onnx_ms, 2),
        "peer_ms": PEER_MS,
        "peer_ratios": {name: round(ms / ms_auto, 1) for name, ms in PEER_MS.items()},
        "peak_rss_mb": round(peak_rss_mb, 1),
        "matmul_gflops": round(peak_matmul, 1),
        "efficiency_fp32": round(gflop / (ms_fp32 / 1000) / peak_matmul, 4),
    }
    return result


def _report(result: dict) -> str:
    checks = [
        ("GFLOP", result["gflop"], TARGET_GFLOP),
        ("ms/image float32", result["ms_batch1_fp32"], TARGET_MS),
        ("peak RSS MB", result["peak_rss_mb"], TARGET_RSS_MB),
    ]
    if result["precision"] == "bfloat16":
        checks.append((f"ms/image auto ({result['precision']})", result["ms_batch1"], TARGET_AUTO_MS))
    lines = [
        f"{result['config']} ({result['generator']} generator) {result['image_size'][0]}x{result['image_size'][1]}, "
        f"{result['threads']} threads",
        f"  parameters: {result['params_trainable'] / 1e6:.2f}M trainable, {result['params_total'] / 1e6:.2f}M total",
        f"  batch 1, whole pipeline call (median): auto = {result['precision']}"
        f"{' channels-last' if result['channels_last'] else ''} {result['ms_batch1']:.1f} ms, float32 "
        f"{result['ms_batch1_fp32']:.1f} ms: {result['speedup_vs_fp32']:.2f}x "
        f"(target >= {TARGET_SPEEDUP:g}x where auto is bfloat16); output PSNR vs float32 "
        f"{result['psnr_vs_fp32_db']} dB",
        f"  auto's time: pose maps {result['ms_pose_maps']:.2f} ms + network {result['ms_network']:.1f} ms "
        f"+ letterbox and the rest {result['ms_rest']:.1f} ms",
        f"  batch 8: {result['ips_batch8']:.1f} images/s auto, {result['ips_batch8_fp32']:.1f} float32",
        f"  onnxruntime (float32, CPU): {result['ms_batch1_onnxruntime']} ms/image",
        "  peers at batch 1 on the same machine: " + ", ".join(
            f"{name} {ms:g} ms ({result['peer_ratios'][name]:g}x ours)" for name, ms in result["peer_ms"].items()),
        f"  matmul peak {result['matmul_gflops']:.0f} GFLOP/s; float32 achieves {result['efficiency_fp32']:.1%} of it",
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
            [sys.executable, os.path.abspath(__file__), "--config", name, "--repeats", str(args.repeats),
             "--in-process"],
            check=True, capture_output=True, text=True,
        )
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        print(json.dumps(result) if args.json else _report(result), flush=True)


if __name__ == "__main__":
    main()
