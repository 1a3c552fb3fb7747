"""Train RPT-GAN: ``accelerate launch training/train.py --preset synthetic``.

Runs wherever accelerate launches it: the CPU, one GPU, several GPUs (DDP) or
several machines; mixed precision (``--mixed_precision bf16|fp16`` at launch,
or ``mixed_precision`` in the config) and gradient accumulation
(``gradient_accumulation``). Plain ``python training/train.py`` runs one process.

Configuration: a preset (``training/configs/<name>.json``) or ``--config
file.json``, then ``--set dotted.key=value`` overrides and the shortcut flags.
``--print-config`` shows the result.

Outputs in ``output_dir``: the inference checkpoint (safetensors, loads in the
nodes and ``PoseTransferPipeline`` as it is), ``state/`` (resumable training
state; a rerun with the same output folder continues from its newest state),
``samples/`` (grids: source | target pose | generated | ground truth),
``metrics.jsonl`` and, when tensorboard is installed, its logs.

``--ablation`` trains the config twice, with and without the six
augmentations, and scores both on clean, occluded and colour-shifted inputs
(``ablation.json`` and ``ablation.md`` in the output folder).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)  # run from a checkout without installing the package

from rptgan_core.errors import run_command  # noqa: E402
from rptgan_core.training.config import (  # noqa: E402
    TrainConfig,
    apply_overrides,
    check_encoder_weights,
    read_config_file,
    train_config_from_dict,
    without_augmentation,
)
from rptgan_core.training.loop import make_accelerator, run_ablation, set_cpu_threads, train  # noqa: E402

CONFIG_DIR = os.path.join(HERE, "configs")


def preset_names() -> list[str]:
    return sorted(n[:-5] for n in os.listdir(CONFIG_DIR) if n.endswith(".json"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=preset_names(),
                        help="a training preset: training/configs/<name>.json (its \"model\" names the model preset)")
    source.add_argument("--config", help="a training config JSON file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set augment.erasing.p=0.5 (repeatable)")
    parser.add_argument("--data", help="dataset folder (data.root)")
    parser.add_argument("--output-dir", help="run folder (output_dir)")
    parser.add_argument("--max-steps", type=int, help="optimizer steps (max_steps)")
    parser.add_argument("--batch-size", type=int, help="per-process batch size (batch_size)")
    parser.add_argument("--num-workers", type=int, help="data-loading worker processes (num_workers)")
    parser.add_argument("--threads", type=int,
                        help="CPU threads of a single-process CPU run (default: every core this process may use)")
    parser.add_argument("--seed", type=int, help="seed for initialisation, data order and augmentation")
    parser.add_argument("--no-augment", action="store_true", help="switch all six augmentations off")
    parser.add_argument("--ablation", action="store_true",
                        help="train with and without augmentation and compare on occluded and colour-shifted inputs")
    parser.add_argument("--fresh", action="store_true", help="refuse to resume: stop if output_dir holds a state")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> TrainConfig:
    data: dict[str, Any] = {}
    if args.preset:
        data = read_config_file(os.path.join(CONFIG_DIR, f"{args.preset}.json"))
    elif args.config:
        data = read_config_file(args.config)
    overrides = list(args.set)
    shortcuts = {"data.root": args.data, "output_dir": args.output_dir, "max_steps": args.max_steps,
                 "batch_size": args.batch_size, "num_workers": args.num_workers, "seed": args.seed}
    overrides += [f"{key}={json.dumps(value)}" for key, value in shortcuts.items() if value is not None]
    config = train_config_from_dict(apply_overrides(data, overrides))
    check_encoder_weights(config)
    return without_augmentation(config) if args.no_augment else config


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = build_config(args)
    if args.print_config:
        print(config.to_json())
        return
    accelerator = make_accelerator(config)
    set_cpu_threads(accelerator, args.threads)
    if args.ablation:
        run_ablation(config, accelerator, args.fresh)
    else:
        train(config, accelerator, args.fresh)


if __name__ == "__main__":
    run_command(main)
