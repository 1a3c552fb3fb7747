"""The training loop: a config in, a run folder with a checkpoint, states, samples and metrics out.

``training/train.py`` is the command line over ``train``. Read ``train`` top to
bottom: it builds the run (``TrainingRun.start``), then takes batches from
``endless_batches`` and calls ``step.gan_step`` on each until ``max_steps``,
with ``TrainingRun.after_step`` logging, evaluating, drawing samples and saving
the resumable state on their schedules, and ``TrainingRun.finish`` writing the
checkpoint. Runs wherever accelerate launches it (CPU, one or several GPUs,
several machines), with mixed precision and gradient accumulation.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import get_int_from_env
from PIL import Image, ImageDraw
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..checkpoint import load_discriminator, load_generator, save_checkpoint
from ..config import ModelConfig, get_config
from ..errors import RptganError
from ..inference import has_native_bf16, resolve_device
from ..networks import build_discriminator, build_generator
from ..pose import Pose, draw_skeleton
from .config import TrainConfig, without_augmentation
from .data import EpochSampler, PairDataset, PairList, collate, read_generic_folder, read_patn_split
from .evaluation import CORRUPTIONS, evaluate_generator, format_scores, generate_pairs
from .losses import build_perceptual
from .state import check_same_model, latest_state, load_training_state, save_training_state
from .step import gan_step
from .synthetic import SYNTHETIC_LABEL, SyntheticPeopleSpec, write_dataset

SAMPLE_ROWS = 6


class TrainingSetupError(RptganError):
    """A run that cannot start as configured (no dataset, too few pairs, a foreign init_from)."""


# set-up ---------------------------------------------------------------------------


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
        # the device accelerate will pick: CUDA, then Apple MPS, then the CPU
        options["mixed_precision"] = "bf16" if has_native_bf16(resolve_device("auto")) else "no"
    elif config.mixed_precision is not None:
        options["mixed_precision"] = config.mixed_precision
    # Several processes without a GPU (torchrun, or a cluster launcher): accelerate forms
    # the CPU (gloo) process group only when told it runs on the CPU.
    world_size = get_int_from_env(["WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"], 1)
    if world_size > 1 and not torch.cuda.is_available():
        options["cpu"] = True
    return Accelerator(**options)


def read_pairs(config: TrainConfig, accelerator: Accelerator) -> tuple[PairList, PairList]:
    """The training and the held-out pairs of ``config.data`` (SyntheticPeople rendered first when asked)."""
    data = config.data
    if not data.root:
        raise TrainingSetupError("no dataset: set data.root (--data) to a PATN-layout or generic dataset folder")
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
            raise TrainingSetupError("the generic layout needs data.eval_root: a folder of held-out identities")
        return read_generic_folder(data.root), read_generic_folder(data.eval_root)
    annotations = [os.path.join(data.root, name) if name else None for name in (data.train_annotation,
                                                                               data.eval_annotation)]
    train = read_patn_split(data.root, data.train_split, annotation=annotations[0], identity=data.identity)
    for root in data.extra_train_roots:
        extra = read_patn_split(root, data.train_split)
        train = PairList(train.pairs + extra.pairs, f"{train.description} + {extra.description}",
                         train.synthetic and extra.synthetic)
    return train, read_patn_split(data.root, data.eval_split, annotation=annotations[1], identity=data.identity)


def initialise_from(path: str, generator, discriminator) -> None:
    """Copy a checkpoint's weights into freshly built networks (fine-tuning).

    The generator must match exactly; the discriminator is taken only when the
    checkpoint holds one with the same identity count (otherwise it starts fresh).
    """
    loaded, info = load_generator(path)
    ours = generator.config
    differences = ours.differences(info.config, ignore=("name", "num_identities"))
    if differences:
        listed = "; ".join(f"{name}: checkpoint {theirs!r}, run {mine!r}" for name, mine, theirs in differences)
        raise TrainingSetupError(f"init_from {path}: its model config differs from this run's ({listed})")
    generator.load_state_dict(loaded.state_dict())
    if info.has_discriminator and info.config.num_identities == ours.num_identities:
        discriminator.load_state_dict(load_discriminator(path).state_dict())


def endless_batches(loader: DataLoader, sampler: EpochSampler, progress: dict[str, Any],
                    per_batch: int) -> Iterator[dict[str, torch.Tensor]]:
    """The loader's batches epoch after epoch, starting where ``progress`` left off.

    ``progress["batches_in_epoch"]`` is the caller's to count (after each step, so a
    state saved then resumes at the next batch); a new epoch resets it.
    """
    while True:
        sampler.start_epoch(progress["epoch"], progress["batches_in_epoch"] * per_batch)
        yield from loader
        progress["epoch"] += 1
        progress["batches_in_epoch"] = 0


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


def tracker_config(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as the flat ``{"a/b": scalar}`` that experiment trackers take."""
    if not isinstance(value, dict):
        return {prefix: value if isinstance(value, (int, float, str, bool)) else json.dumps(value)}
    flat: dict[str, Any] = {}
    for key, inner in value.items():
        flat.update(tracker_config(inner, f"{prefix}/{key}" if prefix else key))
    return flat


# the run --------------------------------------------------------------------------


@dataclasses.dataclass
class TrainingRun:
    """What one run holds: the prepared networks, optimisers and schedules, the data, and its progress.

    ``progress`` is what a saved state resumes: ``step``, ``epoch``,
    ``batches_in_epoch`` and ``history`` (every evaluation's scores).
    """

    config: TrainConfig
    accelerator: Accelerator
    model_config: ModelConfig
    train_pairs: PairList
    eval_pairs: PairList
    generator: torch.nn.Module
    discriminator: torch.nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    sched_g: torch.optim.lr_scheduler.LRScheduler
    sched_d: torch.optim.lr_scheduler.LRScheduler
    loader: DataLoader
    sampler: EpochSampler
    perceptual: torch.nn.Module | None
    max_steps: int
    steps_per_epoch: int
    decay_steps: int
    progress: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {"step": 0, "epoch": 0, "batches_in_epoch": 0, "history": []})

    @classmethod
    def start(cls, config: TrainConfig, accelerator: Accelerator, resume_from: str | None) -> "TrainingRun":
        """Read the data, build and prepare the networks, and restore ``resume_from`` when given."""
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

        dataset = PairDataset(train_pairs, model_config.image_size, model_config.letterbox_fill, config.augment,
                              config.seed, identities)
        sampler = EpochSampler(len(dataset), config.seed)
        loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True,
                            num_workers=config.num_workers, collate_fn=collate,
                            persistent_workers=False, pin_memory=torch.cuda.is_available())
        processes = accelerator.num_processes
        batches_per_epoch = len(dataset) // (config.batch_size * processes)
        if batches_per_epoch < config.gradient_accumulation:
            raise TrainingSetupError(f"{len(dataset)} training pairs are too few for batch_size {config.batch_size} "
                                     f"x {processes} processes x {config.gradient_accumulation} accumulation steps")
        steps_per_epoch = batches_per_epoch // config.gradient_accumulation
        max_steps = config.max_steps or max(1, math.ceil(config.epochs * steps_per_epoch))
        decay_steps = config.optim.lr_decay_steps or max(1, round(config.optim.lr_decay_epochs * steps_per_epoch))

        betas = (config.optim.beta1, config.optim.beta2)
        opt_g = torch.optim.Adam(generator.trainable_parameters(), lr=config.optim.lr, betas=betas)
        opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.optim.lr, betas=betas)
        sched_g = torch.optim.lr_scheduler.StepLR(opt_g, decay_steps, gamma=config.optim.lr_decay)
        sched_d = torch.optim.lr_scheduler.StepLR(opt_d, decay_steps, gamma=config.optim.lr_decay)
        generator, discriminator, opt_g, opt_d, loader = accelerator.prepare(generator, discriminator, opt_g, opt_d,
                                                                             loader)
        if perceptual is not None:
            perceptual = perceptual.to(accelerator.device)
        run = cls(config, accelerator, model_config, train_pairs, eval_pairs, generator, discriminator, opt_g, opt_d,
                  sched_g, sched_d, loader, sampler, perceptual, max_steps, steps_per_epoch, decay_steps)
        if resume_from:
            run.restore(resume_from)
        return run

    @property
    def plain_networks(self) -> dict[str, torch.nn.Module]:
        """The generator and discriminator without their DDP wrappers, by the names states store them under."""
        unwrap = self.accelerator.unwrap_model
        return {"generator": unwrap(self.generator), "discriminator": unwrap(self.discriminator)}

    def restore(self, state: str) -> None:
        restored = load_training_state(state, self.plain_networks, {"optimizer_g": self.opt_g,
                                                                    "optimizer_d": self.opt_d})
        self.sched_g.load_state_dict(restored["scheduler_g"])
        self.sched_d.load_state_dict(restored["scheduler_d"])
        if self.accelerator.scaler is not None and restored.get("scaler"):
            self.accelerator.scaler.load_state_dict(restored["scaler"])
        check_same_model(state, restored.get("model_config"), self.model_config)
        self.progress = restored["progress"]
        self.accelerator.print(f"resuming from {state} at step {self.progress['step']}")

    def save_state(self) -> None:
        if self.accelerator.is_main_process:
            scaler = self.accelerator.scaler
            save_training_state(self.config.output_dir, self.progress["step"], self.plain_networks,
                                {"optimizer_g": self.opt_g, "optimizer_d": self.opt_d},
                                {"scheduler_g": self.sched_g.state_dict(), "scheduler_d": self.sched_d.state_dict(),
                                 "scaler": scaler.state_dict() if scaler is not None else None,
                                 "progress": self.progress, "model_config": self.model_config.to_dict()},
                                keep=self.config.keep_states)
        self.accelerator.wait_for_everyone()

    def log(self, values: dict[str, Any]) -> None:
        """To the tracker (numbers only) and, on the main process, a line of ``metrics.jsonl``."""
        self.accelerator.log({k: v for k, v in values.items() if isinstance(v, (int, float))},
                             step=self.progress["step"])
        if self.accelerator.is_main_process:
            with open(os.path.join(self.config.output_dir, "metrics.jsonl"), "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": self.progress["step"], **values}) + "\n")

    def evaluate(self) -> dict[str, float]:
        """Scores on the held-out pairs beside their baselines, logged and kept in the history."""
        data = self.config.data
        scores = evaluate_generator(self.plain_networks["generator"], self.eval_pairs,
                                    self.model_config.letterbox_fill, data.evaluation, data.protocol,
                                    limit=data.eval_pairs)
        self.log({f"eval/{k}": v for k, v in scores.items()})
        self.progress["history"].append({"step": self.progress["step"], **scores})
        return scores

    def write_samples(self) -> None:
        folder = os.path.join(self.config.output_dir, "samples")
        os.makedirs(folder, exist_ok=True)
        scored_on = "SyntheticPeople (synthetic data)" if self.eval_pairs.synthetic else "held-out pairs"
        grid = sample_grid(self.plain_networks["generator"], self.eval_pairs, self.model_config.letterbox_fill,
                           SAMPLE_ROWS, f"{scored_on}, step {self.progress['step']}")
        grid.save(os.path.join(folder, f"step-{self.progress['step']:08d}.png"))

    def after_step(self, running: dict[str, list[float]], timer: dict[str, float], bar) -> None:
        """What each optimizer step's schedule asks for: log the running losses, evaluate,
        draw samples, save the resumable state (not at the last step: ``finish`` does)."""
        config, step, main = self.config, self.progress["step"], self.accelerator.is_main_process
        if config.log_every and step % config.log_every == 0:
            means = {k: float(np.mean(v)) for k, v in running.items()}
            total = timer["data"] + timer["compute"]
            means.update({"lr": self.sched_g.get_last_lr()[0], "data_fraction": timer["data"] / max(total, 1e-9)})
            self.log(means)
            bar.set_postfix({k: f"{means[k]:.3f}" for k in ("g_mse", "g_adv", "d_real", "d_fake") if k in means})
            running.clear()
        if main and config.eval_every and step % config.eval_every == 0:
            bar.write(f"step {step}: {format_scores(self.evaluate())}")
        if main and config.sample_every and step % config.sample_every == 0:
            self.write_samples()
        if config.save_every and step % config.save_every == 0 and step < self.max_steps:
            self.save_state()

    def finish(self) -> dict[str, Any]:
        """Score the final weights (unless the last step just did), draw samples, write the
        checkpoint and ``summary.json``, and save the state. Returns the summary."""
        summary: dict[str, Any] = {}
        config, progress = self.config, self.progress
        if self.accelerator.is_main_process:
            history = progress["history"]
            final = history[-1] if history and history[-1]["step"] == progress["step"] else self.evaluate()
            self.write_samples()
            summary = {
                "data": SYNTHETIC_LABEL if self.train_pairs.synthetic else self.train_pairs.description,
                "train_pairs": len(self.train_pairs),
                "identities": len(self.train_pairs.identities),
                "steps": progress["step"],
                "batch_size": config.batch_size * self.accelerator.num_processes * config.gradient_accumulation,
                "augmentation": config.augment.any_enabled,
                "initialised_from": os.path.basename(config.init_from) if config.init_from else None,
                "eval": {k: v for k, v in final.items() if k != "step"},
                "config": config.model,
            }
            path = os.path.join(config.output_dir, config.checkpoint_name)
            save_checkpoint(path, self.plain_networks["generator"], training=summary, dtype=config.checkpoint_dtype)
            with open(os.path.join(config.output_dir, "summary.json"), "w", encoding="utf-8") as handle:
                json.dump(summary, handle, indent=2)
            self.accelerator.print(f"wrote {path}: {format_scores(final)}")
        self.save_state()
        return summary


def train(config: TrainConfig, accelerator: Accelerator, fresh: bool = False) -> dict[str, Any]:
    """Train to ``config.max_steps`` (or ``config.epochs``), resuming from ``output_dir`` when it holds a state.

    Returns the run summary (also stored in the checkpoint's training metadata).
    """
    output = config.output_dir
    resume_from = latest_state(output)
    if resume_from and fresh:
        raise TrainingSetupError(f"{output} already holds a training state ({resume_from}); choose another "
                                 "--output-dir or drop --fresh to resume it")
    if accelerator.is_main_process:
        os.makedirs(output, exist_ok=True)
        with open(os.path.join(output, "train_config.json"), "w", encoding="utf-8") as handle:
            handle.write(config.to_json())
    run = TrainingRun.start(config, accelerator, resume_from)
    accelerator.init_trackers(os.path.basename(os.path.normpath(output)) or "rptgan",
                              config=tracker_config(config.to_dict()))
    accelerator.print(f"training on {run.train_pairs.description} ({len(run.train_pairs.identities)} identities); "
                      f"evaluating on {run.eval_pairs.description}")
    accelerator.print(f"{run.max_steps} steps, {run.steps_per_epoch} steps per epoch, lr x{config.optim.lr_decay} "
                      f"every {run.decay_steps} steps, {accelerator.num_processes} process(es), "
                      f"device {accelerator.device}")

    progress = run.progress
    bar = tqdm(total=run.max_steps, initial=progress["step"], desc="training", unit="step",
               disable=not accelerator.is_local_main_process, dynamic_ncols=True)
    batches = endless_batches(run.loader, run.sampler, progress, config.batch_size * accelerator.num_processes)
    running: dict[str, list[float]] = {}
    timer = {"data": 0.0, "compute": 0.0}
    run.generator.train()
    run.discriminator.train()
    while progress["step"] < run.max_steps:
        fetched = time.perf_counter()
        batch = next(batches)
        started = time.perf_counter()
        timer["data"] += started - fetched
        with accelerator.accumulate(run.generator, run.discriminator):
            losses = gan_step(batch, run.generator, run.discriminator, run.opt_g, run.opt_d, accelerator,
                              config.loss, run.perceptual)
        for name, value in losses.items():
            running.setdefault(name, []).append(value)
        progress["batches_in_epoch"] += 1
        timer["compute"] += time.perf_counter() - started
        if accelerator.sync_gradients:  # an optimizer step (the last batch of an accumulation)
            progress["step"] += 1
            run.sched_g.step()
            run.sched_d.step()
            bar.update(1)
            run.after_step(running, timer, bar)
    batches.close()  # lets the loader's workers go before the final evaluation
    bar.close()
    summary = run.finish()
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
