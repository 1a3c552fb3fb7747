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
import dataclasses
import importlib.util
import json
import math
import os
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)  # run from a checkout without installing the package

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from accelerate import Accelerator  # noqa: E402
from accelerate.utils import get_int_from_env  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from rptgan_core.checkpoint import load_discriminator, load_generator, read_checkpoint_info, save_checkpoint  # noqa: E402
from rptgan_core.config import ModelConfig, get_config  # noqa: E402
from rptgan_core.data import EpochSampler, PairDataset, PairList, collate, read_generic_folder, read_patn_split  # noqa: E402
from rptgan_core.errors import run_command  # noqa: E402
from rptgan_core.evaluation import CORRUPTIONS, evaluate_generator, format_scores, generate_pairs  # noqa: E402
from rptgan_core.inference import has_native_bf16  # noqa: E402
from rptgan_core.losses import LossConfig, body_l1, build_perceptual, discriminator_loss, generator_loss, warp_loss  # noqa: E402
from rptgan_core.networks import build_discriminator, build_generator  # noqa: E402
from rptgan_core.pose import Pose, draw_skeleton, soft_body_mask  # noqa: E402
from rptgan_core.processing import generator_inputs, to_model_range  # noqa: E402
from rptgan_core.synthetic import SYNTHETIC_LABEL, SyntheticPeopleSpec, write_dataset  # noqa: E402
from rptgan_core.train_config import (  # noqa: E402
    TrainConfig,
    apply_overrides,
    check_encoder_weights,
    read_config_file,
    train_config_from_dict,
    without_augmentation,
)
from rptgan_core.train_state import latest_state, load_training_state, save_training_state  # noqa: E402

CONFIG_DIR = os.path.join(HERE, "configs")
SAMPLE_ROWS = 6


def preset_names() -> list[str]:
    return sorted(n[:-5] for n in os.listdir(CONFIG_DIR) if n.endswith(".json"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=preset_names(), help="a config from training/configs/")
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


# data -----------------------------------------------------------------------------


def read_pairs(config: TrainConfig, accelerator: Accelerator) -> tuple[PairList, PairList]:
    data = config.data
    if not data.root:
        raise SystemExit("no dataset: set data.root (--data) to a PATN-layout or generic dataset folder")
    if data.synthetic is not None:
        spec = SyntheticPeopleSpec(**data.synthetic)
        with accelerator.main_process_first():
            if accelerator.is_main_process:
                bar = tqdm(desc="rendering SyntheticPeople (synthetic data)", unit="img", leave=False)
                write_dataset(data.root, spec, progress=lambda done, total: (setattr(bar, "total", total),
                                                                                bar.update(done - bar.n)))
                bar.close()
    if data.layout == "generic":
        if not data.eval_root:
            raise SystemExit("the generic layout needs data.eval_root: a folder of held-out identities")
        return read_generic_folder(data.root), read_generic_folder(data.eval_root)
    annotations = [os.path.join(data.root, name) if name else None for name in (data.train_annotation,
                                                                               data.eval_annotation)]
    train = read_patn_split(data.root, data.train_split, annotation=annotations[0], identity=data.identity)
    for root in data.extra_train_roots:
        extra = read_patn_split(root, data.train_split)
        train = PairList(train.pairs + extra.pairs, f"{train.description} + {extra.description}",
                         train.synthetic and extra.synthetic)
    return train, read_patn_split(data.root, data.eval_split, annotation=annotations[1], identity=data.identity)


# pictures -------------------------------------------------------------------------


def sample_grid(generator, pairs: PairList, fill: float, rows: int, caption: str) -> Image.Image:
    """Rows of source | target pose | generated | ground truth for ``rows`` pairs spread over ``pairs``."""
    spread = PairList(pairs.pairs[:: max(1, len(pairs) // rows)][:rows], pairs.description, pairs.synthetic)
    tiles = []
    for batch in generate_pairs(generator, spread, fill, limit=rows, batch_size=rows, variants=False):
        for generated, target, source, keypoints in zip(batch.generated, batch.target, batch.source,
                                                        batch.target_keypoints):
            skeleton = draw_skeleton(Pose(keypoints, target.shape[1], target.shape[0]))
            tiles.append(np.concatenate([source, skeleton, generated, target], axis=1))
    grid = np.concatenate(tiles, axis=0)
    band = 14
    image = Image.new("RGB", (grid.shape[1], grid.shape[0] + band), (255, 255, 255))
    image.paste(Image.fromarray(grid), (0, band))
    ImageDraw.Draw(image).text((2, 1), caption, fill=(0, 0, 0))
    return image


# training -------------------------------------------------------------------------


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flat(f"{prefix}/{key}" if prefix else key, inner, out)
    else:
        out[prefix] = value if isinstance(value, (int, float, str, bool)) else json.dumps(value)
    return out


def initialise_from(path: str, generator, discriminator) -> None:
    """Copy a checkpoint's weights into freshly built networks (fine-tuning).

    The generator must match exactly; the discriminator is taken only when the
    checkpoint holds one with the same identity count (otherwise it starts fresh).
    """
    info = read_checkpoint_info(path)
    ours = generator.config
    if info.config.replace(name=ours.name, num_identities=ours.num_identities) != ours:
        theirs = info.config.to_dict()
        differences = [f"{k}: checkpoint {theirs[k]!r}, run {v!r}" for k, v in ours.to_dict().items()
                       if k not in ("name", "num_identities") and theirs[k] != v]
        raise SystemExit(f"init_from {path}: its model config differs from this run's ({'; '.join(differences)})")
    loaded, _ = load_generator(path)
    generator.load_state_dict(loaded.state_dict())
    if info.has_discriminator and info.config.num_identities == ours.num_identities:
        discriminator.load_state_dict(load_discriminator(path).state_dict())


def available_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_cpu_threads(accelerator: Accelerator, threads: int | None = None) -> None:
    """A single process on the CPU computes with ``threads`` (default every core it may use).

    `accelerate launch` sets OMP_NUM_THREADS=1 for a lone process on a machine
    without a GPU, which leaves all but one core idle; several processes share the
    cores as the launcher divided them.
    """
    if accelerator.device.type == "cpu" and accelerator.num_processes == 1:
        torch.set_num_threads(threads or available_cores())


def make_accelerator(config: TrainConfig) -> Accelerator:
    has_tensorboard = importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX")
    tracker = "tensorboard" if has_tensorboard else None
    options: dict[str, Any] = {"gradient_accumulation_steps": config.gradient_accumulation,
                               "log_with": tracker, "project_dir": config.output_dir}
    if config.mixed_precision == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        options["mixed_precision"] = "bf16" if has_native_bf16(device) else "no"
    elif config.mixed_precision is not None:
        options["mixed_precision"] = config.mixed_precision
    # Several processes without a GPU (torchrun, or a cluster launcher): accelerate forms
    # the CPU (gloo) process group only when told it runs on the CPU.
    world_size = get_int_from_env(["WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"], 1)
    if world_size > 1 and not torch.cuda.is_available():
        options["cpu"] = True
    return Accelerator(**options)


def gan_step(batch: dict[str, torch.Tensor], generator, discriminator, opt_g, opt_d, accelerator: Accelerator,
             losses: LossConfig, perceptual=None) -> dict[str, float]:
    """One discriminator update then one generator update on ``batch`` (from ``PairDataset``).

    ``generator`` and ``discriminator`` are the prepared (possibly DDP-wrapped) networks.
    Returns the named loss values.
    """
    plain_g, plain_d = accelerator.unwrap_model(generator), accelerator.unwrap_model(discriminator)
    inputs = generator_inputs(plain_g, batch["source"], batch["target_keypoints"], batch["source_keypoints"])
    target = to_model_range(batch["target"])
    identity = batch["identity"]
    parts = {}
    if plain_g.uses_source_pose:
        generated, parts = generator(**inputs, return_parts=True)
    else:
        generated = generator(**inputs)
    condition = {"source": inputs["source"], "pose_maps": inputs["pose_maps"]}

    real_logits, real_identity = discriminator(target, **condition)
    fake_logits, _ = discriminator(generated.detach(), **condition)
    d_loss, d_parts = discriminator_loss(real_logits, fake_logits, real_identity, identity, losses)
    accelerator.backward(d_loss)
    opt_d.step()
    opt_d.zero_grad(set_to_none=True)

    # The generator's adversarial terms go through the bare discriminator with its
    # weights frozen: no gradient reaches (or needs reducing for) its parameters.
    plain_d.requires_grad_(False)
    try:
        with accelerator.autocast():
            fake_logits, fake_identity = plain_d(generated, **condition)
        g_loss, g_parts = generator_loss(generated, target, fake_logits, fake_identity, identity, losses, perceptual)
        if "flows" in parts and losses.warp > 0:
            g_parts["g_warp"] = warp_loss(inputs["source"], target, parts["flows"])
            g_loss = g_loss + losses.warp * g_parts["g_warp"]
            g_parts["g_warp"] = float(g_parts["g_warp"].detach())
        if "painted" in parts and losses.painted > 0:
            painted = F.l1_loss(parts["painted"].float(), target.float())
            g_loss = g_loss + losses.painted * painted
            g_parts["g_painted"] = float(painted.detach())
        if losses.body > 0:
            mask = soft_body_mask(batch["target_keypoints"], *target.shape[-2:]).to(target.device)
            body = body_l1(generated, target, mask)
            g_loss = g_loss + losses.body * body
            g_parts["g_body"] = float(body.detach())
        accelerator.backward(g_loss)
    finally:
        plain_d.requires_grad_(True)
    opt_g.step()
    opt_g.zero_grad(set_to_none=True)
    return {**d_parts, **g_parts}


def _check_same_model(state: str, saved: dict[str, Any] | None, model_config: ModelConfig) -> None:
    """Refuse to resume a state trained with another model config: the weights would load (the
    shapes can agree) and the run would go on as a different model without a word. States
    saved before the config was kept in them are resumed as they were."""
    if saved is None:
        return
    before, now = ModelConfig.from_dict(saved).to_dict(), model_config.to_dict()
    changed = [f"{name}: {before.get(name)!r} -> {now.get(name)!r}" for name in sorted(set(before) | set(now))
               if before.get(name) != now.get(name)]
    if changed:
        raise SystemExit(f"{state} was trained with another model config ({', '.join(changed[:4])}); choose "
                         "another --output-dir, or set the model back, to resume it")


def train(config: TrainConfig, accelerator: Accelerator, fresh: bool = False) -> dict[str, Any]:
    """Train to ``config.max_steps`` (or ``config.epochs``), resuming from ``output_dir`` when it holds a state.

    Returns the run summary (also stored in the checkpoint's training metadata).
    """
    output = config.output_dir
    resume_from = latest_state(output)
    if resume_from and fresh:
        raise SystemExit(f"{output} already holds a training state ({resume_from}); choose another --output-dir "
                         "or drop --fresh to resume it")
    if accelerator.is_main_process:
        os.makedirs(output, exist_ok=True)
        with open(os.path.join(output, "train_config.json"), "w", encoding="utf-8") as handle:
            handle.write(config.to_json())
    torch.manual_seed(config.seed)
    train_pairs, eval_pairs = read_pairs(config, accelerator)
    identities = train_pairs.identities
    model_config = get_config(config.model, **config.model_overrides, num_identities=len(identities))
    generator = build_generator(model_config, encoder_weights=config.encoder_weights)
    discriminator = build_discriminator(model_config)
    perceptual = build_perceptual(config.loss)
    if config.init_from and not resume_from:
        initialise_from(config.init_from, generator, discriminator)
        accelerator.print(f"initialised from {config.init_from}")
    fill = model_config.letterbox_fill

    dataset = PairDataset(train_pairs, model_config.image_size, fill, config.augment, config.seed, identities)
    sampler = EpochSampler(len(dataset), config.seed)
    loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True,
                        num_workers=config.num_workers, collate_fn=collate,
                        persistent_workers=False, pin_memory=torch.cuda.is_available())
    processes = accelerator.num_processes
    batches_per_epoch = len(dataset) // (config.batch_size * processes)
    if batches_per_epoch < config.gradient_accumulation:
        raise SystemExit(f"{len(dataset)} training pairs are too few for batch_size {config.batch_size} x "
                         f"{processes} processes x {config.gradient_accumulation} accumulation steps")
    steps_per_epoch = batches_per_epoch // config.gradient_accumulation
    max_steps = config.max_steps or max(1, math.ceil(config.epochs * steps_per_epoch))
    decay_steps = config.optim.lr_decay_steps or max(1, round(config.optim.lr_decay_epochs * steps_per_epoch))

    betas = (config.optim.beta1, config.optim.beta2)
    opt_g = torch.optim.Adam(generator.trainable_parameters(), lr=config.optim.lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.optim.lr, betas=betas)
    sched_g = torch.optim.lr_scheduler.StepLR(opt_g, decay_steps, gamma=config.optim.lr_decay)
    sched_d = torch.optim.lr_scheduler.StepLR(opt_d, decay_steps, gamma=config.optim.lr_decay)
    generator, discriminator, opt_g, opt_d, loader = accelerator.prepare(generator, discriminator, opt_g, opt_d, loader)
    if perceptual is not None:
        perceptual = perceptual.to(accelerator.device)
    plain_g, plain_d = accelerator.unwrap_model(generator), accelerator.unwrap_model(discriminator)

    progress = {"step": 0, "epoch": 0, "batches_in_epoch": 0, "history": []}
    if resume_from:
        restored = load_training_state(resume_from, {"generator": plain_g, "discriminator": plain_d},
                                       {"optimizer_g": opt_g, "optimizer_d": opt_d})
        sched_g.load_state_dict(restored["scheduler_g"])
        sched_d.load_state_dict(restored["scheduler_d"])
        if accelerator.scaler is not None and restored.get("scaler"):
            accelerator.scaler.load_state_dict(restored["scaler"])
        _check_same_model(resume_from, restored.get("model_config"), model_config)
        progress = restored["progress"]
        accelerator.print(f"resuming from {resume_from} at step {progress['step']}")

    def save_state() -> None:
        if accelerator.is_main_process:
            save_training_state(output, progress["step"], {"generator": plain_g, "discriminator": plain_d},
                                {"optimizer_g": opt_g, "optimizer_d": opt_d},
                                {"scheduler_g": sched_g.state_dict(), "scheduler_d": sched_d.state_dict(),
                                 "scaler": accelerator.scaler.state_dict() if accelerator.scaler is not None else None,
                                 "progress": progress, "model_config": model_config.to_dict()},
                                keep=config.keep_states)
        accelerator.wait_for_everyone()

    label = SYNTHETIC_LABEL if train_pairs.synthetic else train_pairs.description
    run_name = os.path.basename(os.path.normpath(output)) or "rptgan"
    accelerator.init_trackers(run_name, config=_flat("", config.to_dict(), {}))
    metrics_path = os.path.join(output, "metrics.jsonl")

    def log(values: dict[str, Any]) -> None:
        accelerator.log({k: v for k, v in values.items() if isinstance(v, (int, float))}, step=progress["step"])
        if accelerator.is_main_process:
            with open(metrics_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": progress["step"], **values}) + "\n")

    def evaluate() -> dict[str, float]:
        scores = evaluate_generator(plain_g, eval_pairs, fill, config.data.evaluation, config.data.protocol,
                                    limit=config.data.eval_pairs)
        log({f"eval/{k}": v for k, v in scores.items()})
        progress["history"].append({"step": progress["step"], **scores})
        return scores

    def write_samples() -> None:
        folder = os.path.join(output, "samples")
        os.makedirs(folder, exist_ok=True)
        scored_on = "SyntheticPeople (synthetic data)" if eval_pairs.synthetic else "held-out pairs"
        caption = f"{scored_on}, step {progress['step']}"
        grid = sample_grid(plain_g, eval_pairs, fill, SAMPLE_ROWS, caption)
        grid.save(os.path.join(folder, f"step-{progress['step']:08d}.png"))

    accelerator.print(f"training on {train_pairs.description} ({len(identities)} identities); "
                      f"evaluating on {eval_pairs.description}")
    accelerator.print(f"{max_steps} steps, {steps_per_epoch} steps per epoch, lr x{config.optim.lr_decay} every "
                      f"{decay_steps} steps, {processes} process(es), device {accelerator.device}")
    bar = tqdm(total=max_steps, initial=progress["step"], desc="training", unit="step",
               disable=not accelerator.is_local_main_process, dynamic_ncols=True)
    running: dict[str, list[float]] = {}
    timer = {"data": 0.0, "compute": 0.0}
    generator.train()
    discriminator.train()
    while progress["step"] < max_steps:
        sampler.start_epoch(progress["epoch"], progress["batches_in_epoch"] * config.batch_size * processes)
        fetched = time.perf_counter()
        for batch in loader:
            started = time.perf_counter()
            timer["data"] += started - fetched
            with accelerator.accumulate(generator, discriminator):
                parts = gan_step(batch, generator, discriminator, opt_g, opt_d, accelerator, config.loss, perceptual)
            for name, value in parts.items():
                running.setdefault(name, []).append(value)
            progress["batches_in_epoch"] += 1
            timer["compute"] += time.perf_counter() - started
            if accelerator.sync_gradients:
                progress["step"] += 1
                sched_g.step()
                sched_d.step()
                bar.update(1)
                step = progress["step"]
                if config.log_every and step % config.log_every == 0:
                    means = {k: float(np.mean(v)) for k, v in running.items()}
                    total = timer["data"] + timer["compute"]
                    means.update({"lr": sched_g.get_last_lr()[0], "data_fraction": timer["data"] / max(total, 1e-9)})
                    log(means)
                    bar.set_postfix({k: f"{means[k]:.3f}" for k in ("g_mse", "g_adv", "d_real", "d_fake")
                                     if k in means})
                    running.clear()
                if accelerator.is_main_process and config.eval_every and step % config.eval_every == 0:
                    scores = evaluate()
                    bar.write(f"step {step}: {format_scores(scores)}")
                if accelerator.is_main_process and config.sample_every and step % config.sample_every == 0:
                    write_samples()
                if config.save_every and step % config.save_every == 0 and step < max_steps:
                    save_state()
                if step >= max_steps:
                    break
            fetched = time.perf_counter()
        else:
            progress["epoch"] += 1
            progress["batches_in_epoch"] = 0
            continue
        break
    bar.close()

    summary: dict[str, Any] = {}
    if accelerator.is_main_process:
        final = evaluate() if not progress["history"] or progress["history"][-1]["step"] != progress["step"] \
            else progress["history"][-1]
        write_samples()
        summary = {
            "data": label,
            "train_pairs": len(train_pairs),
            "identities": len(identities),
            "steps": progress["step"],
            "batch_size": config.batch_size * processes * config.gradient_accumulation,
            "augmentation": config.augment.any_enabled,
            "initialised_from": os.path.basename(config.init_from) if config.init_from else None,
            "eval": {k: v for k, v in final.items() if k != "step"},
            "config": config.model,
        }
        path = os.path.join(output, config.checkpoint_name)
        save_checkpoint(path, plain_g, training=summary, dtype=config.checkpoint_dtype)
        with open(os.path.join(output, "summary.json"), "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2)
        accelerator.print(f"wrote {path}: {format_scores(final)}")
    save_state()
    accelerator.end_training()
    return summary


def run_ablation(config: TrainConfig, accelerator: Accelerator, fresh: bool) -> dict[str, Any]:
    """Train with and without augmentation; score both on clean, occluded and colour-shifted inputs."""
    arms = {"augmented": config, "no-augmentation": without_augmentation(config)}
    results: dict[str, Any] = {}
    for name, arm in arms.items():
        arm = dataclasses.replace(arm, output_dir=os.path.join(config.output_dir, name))
        train(arm, accelerator, fresh)
        if accelerator.is_main_process:
            generator, _info = load_generator(os.path.join(arm.output_dir, arm.checkpoint_name))
            _, eval_pairs = read_pairs(arm, accelerator)
            fill = generator.config.letterbox_fill
            results[name] = {corruption: evaluate_generator(generator, eval_pairs, fill, arm.data.evaluation,
                                                            arm.data.protocol, limit=arm.data.eval_pairs,
                                                            corruption=corruption)
                             for corruption in CORRUPTIONS}
    if accelerator.is_main_process:
        with open(os.path.join(config.output_dir, "ablation.json"), "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
        lines = ["| input | SSIM with augmentation | SSIM without | copy-source | best blur | no pose (with aug.) "
                 "| moved-region L1 with | without | copy-source | best blur |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        for corruption in CORRUPTIONS:
            a, b = results["augmented"][corruption], results["no-augmentation"][corruption]
            lines.append(f"| {corruption} | {a['ssim']:.4f} | {b['ssim']:.4f} | {a['ssim_copy_source']:.4f} | "
                         f"{a['ssim_best_blur']:.4f} | {a['ssim_no_pose']:.4f} | {a['moved_l1']:.1f} | "
                         f"{b['moved_l1']:.1f} | {a['moved_l1_copy_source']:.1f} | {a['moved_l1_best_blur']:.1f} |")
        table = "\n".join(lines) + "\n"
        with open(os.path.join(config.output_dir, "ablation.md"), "w", encoding="utf-8") as handle:
            handle.write(table)
        accelerator.print(table)
    return results


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
