"""Training throughput: steps/s and samples/s, and data-loading time against compute time.

    python bench/train.py [--steps 20] [--batch-size 8] [--workers 2] [--json]

Three setups: Market-1501's 128x64 images (preset "market": letterboxed onto
the 256x176 canvas) and DeepFashion's 256x176 (preset "deepfashion"), both with
the paper's ResNet-50 encoder (random weights: speed does not depend on them),
and the SyntheticPeople demo's flow generator at 128x96 ("synthetic-flow"), on
SyntheticPeople images (synthetic data) of those sizes, through the same
DataLoader, augmentation and GAN step (``rptgan_core.training.step``) as training. Each runs in float32
and in bfloat16 mixed precision (autocast) side by side where the device
computes bfloat16 natively; on the CPU, and on the GPU too when one is present.
Figures are medians over the timed steps (the first ``--warmup`` are dropped).
Target: data loading under 10% of the step time with 2 workers. With ``--json``
the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from accelerate import Accelerator  # noqa: E402
from accelerate.state import AcceleratorState  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from rptgan_core.config import get_config  # noqa: E402
from rptgan_core.inference import has_native_bf16  # noqa: E402
from rptgan_core.networks import build_discriminator, build_generator  # noqa: E402
from rptgan_core.training.augment import AugmentConfig  # noqa: E402
from rptgan_core.training.data import EpochSampler, PairDataset, collate, read_patn_split  # noqa: E402
from rptgan_core.training.losses import LossConfig  # noqa: E402
from rptgan_core.training.step import gan_step  # noqa: E402
from rptgan_core.training.synthetic import SyntheticPeopleSpec, write_dataset  # noqa: E402

SIZES = {"128x64": ("market", 128, 64), "256x176": ("deepfashion", 256, 176), "128x96": ("synthetic-flow", 128, 96)}


def bench_size(name: str, device: str, precision: str, args: argparse.Namespace, root: str) -> dict[str, float]:
    preset, height, width = SIZES[name]
    data = os.path.join(root, name)
    if not os.path.isdir(data):
        write_dataset(data, SyntheticPeopleSpec(seed=0, train_identities=24, test_identities=2, images_per_identity=4,
                                                height=height, width=width))
    pairs = read_patn_split(data, "train")
    config = get_config(preset, num_identities=len(pairs.identities))
    accelerator = Accelerator(cpu=device == "cpu", mixed_precision=precision)
    torch.manual_seed(0)
    generator, discriminator = build_generator(config), build_discriminator(config)
    opt_g = torch.optim.Adam(generator.trainable_parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    dataset = PairDataset(pairs, config.image_size, config.letterbox_fill, AugmentConfig(), seed=0)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=EpochSampler(len(dataset)), drop_last=True,
                        num_workers=args.workers, collate_fn=collate, pin_memory=device == "cuda")
    generator, discriminator, opt_g, opt_d, loader = accelerator.prepare(generator, discriminator, opt_g, opt_d, loader)
    data_times, compute_times = [], []
    batches = iter(loader)
    synchronise = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for step in range(args.warmup + args.steps):
        started = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(loader)
            batch = next(batches)
        loaded = time.perf_counter()
        gan_step(batch, generator, discriminator, opt_g, opt_d, accelerator, LossConfig())
        synchronise()
        finished = time.perf_counter()
        if step >= args.warmup:
            data_times.append(loaded - started)
            compute_times.append(finished - loaded)
    data_ms, compute_ms = float(np.median(data_times)) * 1e3, float(np.median(compute_times)) * 1e3
    step_ms = float(np.median(np.add(data_times, compute_times))) * 1e3
    accelerator.free_memory()
    AcceleratorState._reset_state(reset_partial_state=True)  # the next setup may use another precision
    return {"size": name, "preset": preset, "device": device, "mixed_precision": precision,
            "batch_size": args.batch_size, "workers": args.workers,
            "step_ms": step_ms, "steps_per_s": 1e3 / step_ms, "samples_per_s": args.batch_size * 1e3 / step_ms,
            "data_ms": data_ms, "compute_ms": compute_ms,
            "data_fraction": float(np.sum(data_times) / (np.sum(data_times) + np.sum(compute_times)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per size and device")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=sorted(SIZES))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = []
    with tempfile.TemporaryDirectory() as root:
        for device in devices:
            native_bf16 = has_native_bf16(torch.device(device))
            for size in args.sizes:
                for precision in ["no"] + (["bf16"] if native_bf16 else []):
                    row = bench_size(size, device, precision, args, root)
                    results.append(row)
                    _print_row(row)
                if native_bf16:
                    fp32, bf16 = results[-2:]
                    print(f"      {size}: bf16 mixed precision {bf16['steps_per_s'] / fp32['steps_per_s']:.2f}x "
                          "float32's steps/s", flush=True)
    if args.json:
        print(json.dumps({"benchmark": "train", "torch": torch.__version__, "threads": torch.get_num_threads(),
                          "machine": platform.machine(), "results": results}))


def _print_row(row: dict) -> None:
    print(f"{row['device']:5s} {row['size']:8s} {row['preset']:15s} {row['mixed_precision']:4s} batch "
          f"{row['batch_size']:3d}: {row['steps_per_s']:6.2f} steps/s {row['samples_per_s']:7.1f} samples/s | "
          f"step {row['step_ms']:8.1f} ms = data {row['data_ms']:7.1f} + compute {row['compute_ms']:8.1f} ms "
          "(median) | "
          f"data {100 * row['data_fraction']:.1f}% of step time "
          f"({'meets' if row['data_fraction'] < 0.1 else 'misses'} the 10% target)", flush=True)


if __name__ == "__main__":
    main()
