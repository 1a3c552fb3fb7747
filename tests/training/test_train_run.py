"""train.py end to end: the flow preset, trained from scratch, transfers pose beyond every baseline
(a blur, a copy and a pose-blind model fail the same bar), the paper's preset trains, and their
checkpoints load in the inference pipeline and the PoseTransfer node; a run killed with SIGKILL resumes
without losing steps; data-parallel processes and machines train like one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rptgan_core.checkpoint import read_checkpoint_info
from rptgan_core.inference import PoseTransferPipeline
from rptgan_core.pose import Pose, poses_to_openpose_json
from rptgan_core.training.data import read_patn_split

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN = os.path.join(REPO, "training", "train.py")
ACCELERATE = os.path.join(os.path.dirname(sys.executable), "accelerate")
SMALL_DATA = {"seed": 0, "train_identities": 8, "test_identities": 2, "images_per_identity": 4,
              "height": 64, "width": 48, "test_pairs_per_identity": 2}


def _command(output: str, data: str, *extra: str, launcher: bool = False, preset: str = "synthetic") -> list[str]:
    launch = [ACCELERATE, "launch", "--num_processes", "1", "--num_machines", "1", "--mixed_precision", "no",
              "--dynamo_backend", "no"] if launcher else [sys.executable]
    return [*launch, TRAIN, "--preset", preset, "--output-dir", output, "--data", data, "--num-workers", "0",
            "--set", f"data.synthetic={json.dumps(SMALL_DATA)}", *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"), "PYTHONPATH": REPO}


# New people (another SyntheticPeople seed) at the presets' own 128x96 size.
FRESH_PEOPLE = {"seed": 1, "train_identities": 30, "test_identities": 12, "images_per_identity": 6,
                "height": 128, "width": 96, "test_pairs_per_identity": 5}
# The acceptance run's budget: 400 steps of batch 16, the learning rate x0.1 for the last
# quarter as the preset has it over its 2,000. Its whole-image SSIM is mostly background,
# which a short run learns unevenly: with batch 8 (600 or 800 steps, decayed or not) one
# training seed in three ended under the bar, with ghosts of the source's outline left in
# the background; batch 16 halves the gradient noise at the same cost. docs/training.md
# has the seeds' figures.
ACCEPTANCE_STEPS, ACCEPTANCE_BATCH, ACCEPTANCE_DECAY_STEPS = 400, 16, 300
# What pose transfer must reach over its baselines on held-out people (docs/architecture.md
# has the figures). A blur, a copy of the source and a pose-blind model each fail it:
# ``test_the_quality_bar_fails_a_blur_a_copy_and_a_pose_blind_model`` checks that on the same run.
SSIM_OVER_BEST_BLUR = 0.04
SSIM_OVER_NO_POSE = 0.04
MOVED_L1_OF_BEST_BASELINE = 0.8


def quality_bar_failures(scores: dict) -> list[str]:
    """The reasons ``scores`` (evaluate_generator's) fall short of pose transfer; empty when they pass."""
    failures = []
    if not scores["ssim"] > scores["ssim_best_blur"] + SSIM_OVER_BEST_BLUR:
        failures.append(f"SSIM {scores['ssim']:.4f} not above best blur {scores['ssim_best_blur']:.4f} + "
                        f"{SSIM_OVER_BEST_BLUR}")
    if not scores["ssim"] > scores["ssim_copy_source"] + SSIM_OVER_BEST_BLUR:
        failures.append(f"SSIM {scores['ssim']:.4f} not above copy-source {scores['ssim_copy_source']:.4f} + "
                        f"{SSIM_OVER_BEST_BLUR}")
    if not scores["ssim_no_pose"] < scores["ssim"] - SSIM_OVER_NO_POSE:
        failures.append(f"no-pose SSIM {scores['ssim_no_pose']:.4f} not below {scores['ssim']:.4f} - "
                        f"{SSIM_OVER_NO_POSE}")
    best = min(scores["moved_l1_copy_source"], scores["moved_l1_best_blur"], scores["moved_l1_no_pose"])
    if not scores["moved_l1"] < MOVED_L1_OF_BEST_BASELINE * best:
        failures.append(f"moved-region L1 {scores['moved_l1']:.1f} not below {MOVED_L1_OF_BEST_BASELINE} x "
                        f"the best baseline's {best:.1f}")
    return failures


def as_baseline(scores: dict, baseline: str) -> dict:
    """``scores`` with the model's own figures replaced by a baseline's (a model that only does that)."""
    replaced = dict(scores)
    for metric in ("ssim", "moved_l1"):
        replaced[metric] = scores[f"{metric}_{baseline}"]
    if baseline == "no_pose":  # a pose-blind model gives the same picture whatever the pose
        replaced["ssim_no_pose"] = replaced["ssim"]
        replaced["moved_l1_no_pose"] = replaced["moved_l1"]
    return replaced


def _train_acceptance(tmp_path, preset: str, steps: int, batch: int, decay_steps: int) -> tuple[str, str, dict]:
    output, data = str(tmp_path / "run"), str(tmp_path / "data")
    result = subprocess.run(
        _command(output, data, "--max-steps", str(steps), "--batch-size", str(batch),
                 "--set", f"data.synthetic={json.dumps(FRESH_PEOPLE)}",
                 "--set", "eval_every=0", "--set", "sample_every=0", "--set", "save_every=0",
                 "--set", "data.eval_pairs=60", "--set", f"optim.lr_decay_steps={decay_steps}",
                 launcher=True, preset=preset),
        env=_env(), capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = os.path.join(output, f"rptgan-{preset}.safetensors")
    info = read_checkpoint_info(checkpoint)
    summary = info.training
    assert info.config.name == preset and "synthetic" in summary["data"].lower()
    assert summary["steps"] == steps and summary["initialised_from"] is None
    assert summary["eval"]["pairs"] == 60
    return checkpoint, data, summary["eval"]


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory):
    return _train_acceptance(tmp_path_factory.mktemp("flow"), "synthetic-flow", ACCEPTANCE_STEPS,
                             ACCEPTANCE_BATCH, ACCEPTANCE_DECAY_STEPS)


@pytest.mark.slow
def test_flow_preset_transfers_pose_beyond_every_baseline_and_loads_in_the_nodes(flow_run, monkeypatch, pack_module):
    # From scratch, the preset's model as it is, a small budget: 400 steps of batch 16 (6,400
    # samples; about seven minutes on a 2-core CPU), scored on 60 pairs of held-out people.
    checkpoint, data, scores = flow_run
    print("acceptance run:", json.dumps({k: round(v, 4) for k, v in scores.items() if isinstance(v, float)}))
    assert quality_bar_failures(scores) == [], scores

    pipeline = PoseTransferPipeline.from_checkpoint(checkpoint, device="cpu", dtype="float32")
    record = read_patn_split(data, "test").pairs[0]
    from PIL import Image

    source = torch.from_numpy(np.array(Image.open(record.source))).permute(2, 0, 1)[None].float() / 255
    pose, source_pose = Pose(record.target_keypoints, 96, 128), Pose(record.source_keypoints, 96, 128)
    out = pipeline(source, pose, source_poses=source_pose)
    assert out.shape == (1, 3, 128, 96) and 0 <= float(out.min()) and float(out.max()) <= 1

    monkeypatch.setenv("RPTGAN_MODELS_DIR", os.path.dirname(checkpoint))
    transfer = pack_module("nodes.transfer")
    model, _ = transfer.CheckpointLoader().load(os.path.basename(checkpoint), device="cpu", precision="float32")
    node_out, = transfer.PoseTransfer().generate(source.permute(0, 2, 3, 1), poses_to_openpose_json([pose]), model,
                                                source_pose=poses_to_openpose_json([source_pose]))
    assert node_out.shape == (1, 128, 96, 3)
    assert torch.allclose(node_out.permute(0, 3, 1, 2), out, atol=1e-5)


@pytest.mark.slow
def test_the_quality_bar_fails_a_blur_a_copy_and_a_pose_blind_model(flow_run):
    _, _, scores = flow_run
    for baseline in ("best_blur", "copy_source", "no_pose"):
        assert quality_bar_failures(as_baseline(scores, baseline)), baseline


@pytest.mark.slow
def test_papers_generator_trains_from_scratch_and_loads_in_the_pipeline(tmp_path):
    # The paper's generator stays trainable (docs/architecture.md compares it with the flow
    # generator at the same budget); only plumbing is asserted here, on a smaller canvas.
    checkpoint, data, scores = _train_acceptance(tmp_path, "synthetic", 60, 8, 45)
    info = read_checkpoint_info(checkpoint)
    assert (info.config.generator, info.config.norm, info.config.upsample) == ("rptgan", "none", "resize")
    assert all(np.isfinite(scores[k]) for k in ("ssim", "ssim_best_blur", "ssim_no_pose", "moved_l1"))
    pipeline = PoseTransferPipeline.from_checkpoint(checkpoint, device="cpu")
    record = read_patn_split(data, "test").pairs[0]
    out = pipeline(torch.rand(1, 3, 128, 96), Pose(record.target_keypoints, 96, 128))
    assert out.shape == (1, 3, 128, 96) and 0 <= float(out.min()) and float(out.max()) <= 1


def _tiny(output: str, data: str, steps: int) -> list[str]:
    return _command(output, data, "--max-steps", str(steps), "--batch-size", "4", "--seed", "5",
                    "--set", 'model="tiny"', "--set", "save_every=10", "--set", "keep_states=3",
                    "--set", "eval_every=0", "--set", "sample_every=0", "--set", "data.eval_pairs=4")


def _state_step(output: str) -> int | None:
    pointer = os.path.join(output, "state", "latest")
    if not os.path.isfile(pointer):
        return None
    with open(pointer, encoding="utf-8") as handle:
        return int(handle.read().strip().split("-")[1])


@pytest.mark.slow
def test_a_run_killed_mid_way_resumes_from_its_last_state_with_the_same_data(tmp_path):
    data = str(tmp_path / "data")
    steps = 100
    straight, interrupted = str(tmp_path / "straight"), str(tmp_path / "interrupted")
    done = subprocess.run(_tiny(straight, data, steps), env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    process = subprocess.Popen(_tiny(interrupted, data, steps), env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while _state_step(interrupted) is None and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = _state_step(interrupted)
    assert killed_at is not None and killed_at < steps, "the run ended before it could be killed"

    resumed = subprocess.run(_tiny(interrupted, data, steps), env=_env(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"at step {killed_at}" in resumed.stdout + resumed.stderr
    for name in ("generator", "discriminator", "optimizer_g"):
        a = load_file(os.path.join(straight, "state", f"step-{steps:08d}", f"{name}.safetensors"))
        b = load_file(os.path.join(interrupted, "state", f"step-{steps:08d}", f"{name}.safetensors"))
        assert a.keys() == b.keys()
        for key in a:
            # Same data in the same order with the same augmentation: the same numbers.
            assert torch.equal(a[key], b[key]), f"{name}.{key} differs after resuming"
    with open(os.path.join(interrupted, "state", f"step-{steps:08d}", "state.json"), encoding="utf-8") as handle:
        assert json.load(handle)["progress"]["step"] == steps


def test_a_state_is_not_resumed_as_another_model(tmp_path):
    """Shapes can agree while the model differs (here the pose maps' width): resuming would go on
    training another model without a word, and write its checkpoint under the new config."""
    data, output = str(tmp_path / "data"), str(tmp_path / "run")
    done = subprocess.run(_tiny(output, data, 10), env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    changed = _tiny(output, data, 20) + ["--set", 'model_overrides={"pose_sigma": 2.5}']
    refused = subprocess.run(changed, env=_env(), capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0
    assert "another model config (pose_sigma: 1.5 -> 2.5)" in refused.stderr
    assert _state_step(output) == 10


def _six_tiny_steps(output: str, data: str, batch: int) -> list[str]:
    """train.py and its arguments, without an interpreter, for launchers to put in front."""
    return _command(output, data, "--max-steps", "6", "--batch-size", str(batch), "--seed", "5",
                    "--set", 'model="tiny"', "--set", "save_every=0", "--set", "eval_every=0",
                    "--set", "sample_every=0", "--set", "data.eval_pairs=4")[1:]


@pytest.mark.slow
def test_data_parallel_processes_and_machines_train_like_one_process_with_the_whole_batch(tmp_path, free_port):
    # DDP on the CPU (gloo): 2 processes x batch 2 and 2 "machines" x 1 process x batch 2 must
    # take the same steps as 1 process x batch 4 (same samples, averaged gradients).
    data = str(tmp_path / "data")
    runs = {name: str(tmp_path / name) for name in ("one", "processes", "machines")}
    torchrun = [sys.executable, "-m", "torch.distributed.run"]
    single = subprocess.run([sys.executable, *_six_tiny_steps(runs["one"], data, 4)], env=_env(), capture_output=True,
                            text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    processes = subprocess.run([*torchrun, "--nproc_per_node", "2", "--master_port", str(free_port()),
                                *_six_tiny_steps(runs["processes"], data, 2)], env=_env(), capture_output=True,
                               text=True, timeout=600)
    assert processes.returncode == 0, processes.stderr[-3000:]
    assert "2 process(es)" in processes.stdout
    port = str(free_port())
    machines = [subprocess.Popen([*torchrun, "--nnodes", "2", "--node_rank", str(rank), "--nproc_per_node", "1",
                                  "--master_addr", "127.0.0.1", "--master_port", port,
                                  *_six_tiny_steps(runs["machines"], data, 2)], env=_env(), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    outputs = [machine.communicate(timeout=600) for machine in machines]
    assert [machine.returncode for machine in machines] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
    assert "2 process(es)" in outputs[0][0]

    reference = load_file(os.path.join(runs["one"], "state", "step-00000006", "generator.safetensors"))
    for name in ("processes", "machines"):
        with open(os.path.join(runs[name], "summary.json"), encoding="utf-8") as handle:
            assert json.load(handle)["batch_size"] == 4
        weights = load_file(os.path.join(runs[name], "state", "step-00000006", "generator.safetensors"))
        assert weights.keys() == reference.keys()
        for key in reference:
            assert torch.allclose(weights[key], reference[key], atol=1e-4), f"{name}: {key} differs"


@pytest.mark.slow
def test_bf16_mixed_precision_trains_in_autocast_and_keeps_float32_weights(tmp_path):
    data = str(tmp_path / "data")
    weights = {}
    for precision in ("no", "bf16"):
        output = str(tmp_path / precision)
        run = subprocess.run([sys.executable, *_six_tiny_steps(output, data, 4), "--set",
                              f"mixed_precision={precision}"],
                             env=_env(), capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        weights[precision] = load_file(os.path.join(output, "state", "step-00000006", "generator.safetensors"))
    differences = []
    for key, reference in weights["no"].items():
        mixed = weights["bf16"][key]
        assert mixed.dtype == torch.float32 and torch.isfinite(mixed).all()
        differences.append(float((mixed - reference).abs().max()))
    # bf16 arithmetic changes the numbers a little (autocast really ran), not the training.
    assert 0 < max(differences) < 0.05, max(differences)
