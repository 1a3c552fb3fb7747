"""The Fine-tune node's loop on a clip of one person: time, and quality on the clip's held-out end.

    python bench/finetune.py CLIP [--checkpoint checkpoints/rptgan-synthetic-demo.safetensors] [--steps 300] [--json]

Reads the clip's frames as Load Video Frames does, estimates their poses
(MediaPipe), fine-tunes on the first four fifths with ``rptgan_core.training.finetune``
(the node's loop, its default settings), and scores held-out pairs of the last
fifth (poses the fine-tune never saw, pairs whose pose changed at least
``--min-pose-change``), every frame as the node sees it: the whole frame
letterboxed onto the model's canvas, or with ``--person-crop`` cut around the
person as Load Video Frames' person_crop does. Beside the fine-tuned model:
the model before fine-tuning, copy-source and the best blur of the source.
Target: at most 10 minutes on a 2-core CPU, and better than all three.

CLIP: e.g. ComfyUI/input/rptgan_ai_clip_waving_man.webp (AI-generated; the pack
copies it there from ComfyUI's template media).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rptgan_core.checkpoint import load_generator  # noqa: E402
from rptgan_core.estimation import create_estimator  # noqa: E402
from rptgan_core.framing import crop_frames_to_person  # noqa: E402
from rptgan_core.processing import generate  # noqa: E402
from rptgan_core.training.finetune import FineTuneConfig, FineTuneData, finetune  # noqa: E402
from rptgan_core.training.metrics import ssim, to_uint8  # noqa: E402
from rptgan_core.training.pose_metrics import BLUR_SIGMAS, gaussian_blur, keypoint_part_labels, moved_region, region_l1  # noqa: E402
from rptgan_core.video_people import keypoint_shift, read_video  # noqa: E402

TARGET_SECONDS = 600


def _scores(generated: np.ndarray, target: np.ndarray, moved: np.ndarray) -> tuple[float, float]:
    return float(ssim(generated, target).mean()), float(np.nanmean(region_l1(generated, target, moved)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip")
    parser.add_argument("--checkpoint", default=os.path.join(REPO, "checkpoints", "rptgan-synthetic-demo.safetensors"))
    parser.add_argument("--steps", type=int, default=FineTuneConfig.steps)
    parser.add_argument("--pairs", type=int, default=60, help="held-out pairs scored")
    parser.add_argument("--person-crop", action="store_true",
                        help="cut each frame around the person first, as Load Video Frames' person_crop does")
    parser.add_argument("--min-pose-change", type=float, default=0.02,
                        help="score only pairs whose keypoints moved this share of the canvas height on average")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    frames = [frame for _, frame in read_video(args.clip)]
    estimator = create_estimator("mediapipe")
    poses = [estimator.estimate(frame) for frame in frames]
    images = torch.from_numpy(np.stack(frames).astype(np.float32) / 255).permute(0, 3, 1, 2)
    generator, _ = load_generator(args.checkpoint)
    config = generator.config
    if args.person_crop:  # as Load Video Frames' person_crop does
        images, poses = crop_frames_to_person(images, poses, config.image_width / config.image_height, 0.15,
                                              config.letterbox_fill)
    data = FineTuneData.from_frames(images, poses, config.image_size, config.letterbox_fill)
    cut = round(len(frames) * 0.8)
    train = FineTuneData(data.images[:cut], data.keypoints[:cut])
    rng = np.random.default_rng(0)
    held = np.arange(cut, len(frames))
    height = config.image_height

    def change(a: int, b: int) -> float:
        return keypoint_shift(data.keypoints[a].numpy(), data.keypoints[b].numpy(), height)

    pairs = [(a, b) for a in held for b in held if a != b and change(a, b) >= args.min_pose_change]
    if not pairs:
        raise SystemExit(f"no held-out pair moved {args.min_pose_change} of the height; lower --min-pose-change")
    pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), min(args.pairs, len(pairs)), replace=False))]
    sources, targets = (torch.tensor([p[k] for p in pairs]) for k in (0, 1))
    truth = to_uint8(data.images[targets])
    width = config.image_width
    labels = [keypoint_part_labels(data.keypoints[i].numpy(), height, width) for i in range(len(frames))]
    moved = np.stack([moved_region(labels[a], labels[b]) for a, b in pairs])

    def run(model) -> np.ndarray:
        return to_uint8(generate(model, data.images[sources], data.keypoints[targets], data.keypoints[sources]))

    before = _scores(run(generator.eval()), truth, moved)
    copy = _scores(to_uint8(data.images[sources]), truth, moved)
    blurs = [_scores(gaussian_blur(to_uint8(data.images[sources]), sigma), truth, moved) for sigma in BLUR_SIGMAS]
    best_blur = (max(b[0] for b in blurs), min(b[1] for b in blurs))
    started = time.perf_counter()
    result = finetune(generator, train, FineTuneConfig(steps=args.steps))
    seconds = time.perf_counter() - started
    after = _scores(run(generator), truth, moved)
    figures = {
        "clip": os.path.basename(args.clip), "person_crop": args.person_crop, "frames": len(frames),
        "train_frames": cut, "held_out_pairs": len(pairs),
        "steps": result["steps"], "seconds": round(seconds, 1), "target_seconds": TARGET_SECONDS,
        "ssim": round(after[0], 4), "moved_l1": round(after[1], 2),
        "ssim_before": round(before[0], 4), "moved_l1_before": round(before[1], 2),
        "ssim_copy_source": round(copy[0], 4), "moved_l1_copy_source": round(copy[1], 2),
        "ssim_best_blur": round(best_blur[0], 4), "moved_l1_best_blur": round(best_blur[1], 2),
    }
    print(f"fine-tuned {result['steps']} steps in {seconds:.0f} s ({seconds / TARGET_SECONDS:.2f}x the 10-minute "
          f"target) on {cut} frames; {len(pairs)} held-out pairs of the last fifth:")
    for label, key in (("SSIM", "ssim"), ("moved-region L1", "moved_l1")):
        print(f"  {label}: fine-tuned {figures[key]} | before {figures[key + '_before']} | "
              f"copy-source {figures[key + '_copy_source']} | best blur {figures[key + '_best_blur']}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
