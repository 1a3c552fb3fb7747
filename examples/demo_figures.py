"""Pictures and figures of what a checkpoint does on SyntheticPeople (synthetic data).

    python examples/demo_figures.py [--checkpoint checkpoints/rptgan-synthetic-demo.safetensors] [--out docs/images]

Writes, beside printing the numbers behind them:

* ``demo_pairs.png``: held-out pairs of the demo's test set (people the model
  never saw), one row each: source | target pose | output | ground truth |
  the model given no pose;
* ``demo_wave.png``: the example person (examples/assets) re-posed into the
  8-frame wave of ``synthetic_wave_sequence.json`` and into the edit of
  ``example_workflows/rptgan_edit_pose.json`` (left arm raised 110 degrees),
  each over the renderer's ground truth for that pose. SyntheticPeople can
  draw the example person in any pose, so the wave is scored as held-out
  pairs are: moved-region L1 against the ground truth beside copy-source.
  The edit's ground truth is the renderer's pose closest to the edited
  keypoints (the arm turned about the shoulder); its keypoint error is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)

from make_assets import HEIGHT, WIDTH, neutral_angles, wave_angles  # noqa: E402

from rptgan_core.inference import PoseTransferPipeline  # noqa: E402
from rptgan_core.pose import Pose, draw_skeleton  # noqa: E402
from rptgan_core.pose_edit import rotate_limb  # noqa: E402
from rptgan_core.training.evaluation import generate_pairs  # noqa: E402
from rptgan_core.training.metrics import to_uint8  # noqa: E402
from rptgan_core.training.pose_metrics import moved_region, region_l1  # noqa: E402
from rptgan_core.training.synthetic import (  # noqa: E402
    SYNTHETIC_LABEL,
    SyntheticPeopleSpec,
    identity_ranges,
    render_person,
    sample_identity,
)

DEMO = os.path.join(REPO, "checkpoints", "rptgan-synthetic-demo.safetensors")
EDIT_LIMB, EDIT_DEGREES = "left_arm", -110.0  # as example_workflows/rptgan_edit_pose.json edits the pose
SCALE = 2  # pictures drawn at twice the model's size


def _captioned(grid: np.ndarray, caption: str, header: list[str], column: int) -> Image.Image:
    band = 28
    image = Image.new("RGB", (grid.shape[1], grid.shape[0] + band), (255, 255, 255))
    image.paste(Image.fromarray(grid), (0, band))
    draw = ImageDraw.Draw(image)
    draw.text((4, 2), caption, fill=(0, 0, 0))
    for i, title in enumerate(header):
        draw.text((i * column + 4, 15), title, fill=(0, 0, 0))
    return image


def _big(tile: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(tile).resize((tile.shape[1] * SCALE, tile.shape[0] * SCALE), Image.NEAREST))


def held_out_pairs(pipeline: PoseTransferPipeline, rows: int) -> Image.Image:
    sys.path.insert(0, os.path.join(REPO, "training"))
    from evaluate import synthetic_test_pairs

    pairs, limit = synthetic_test_pairs()
    caption = f"held-out pairs, {SYNTHETIC_LABEL.split(' (')[0]} (synthetic data)"
    return pairs_grid(pipeline, pairs, limit, rows, caption)


def pairs_grid(pipeline: PoseTransferPipeline, pairs, limit: int, rows: int, caption: str) -> Image.Image:
    """``rows`` of the first ``limit`` pairs, evenly spaced: source | target pose | output | ground truth | no pose."""
    from rptgan_core.training.data import PairList

    chosen = pairs.pairs[: limit][:: max(1, limit // rows)][:rows]
    tiles = []
    for batch in generate_pairs(pipeline.generator, PairList(tuple(chosen), pairs.description, True),
                                pipeline.config.letterbox_fill, batch_size=rows):
        for i in range(len(batch.generated)):
            target_pose = Pose(batch.target_keypoints[i], batch.target.shape[2], batch.target.shape[1])
            row = [batch.source[i], draw_skeleton(target_pose), batch.generated[i], batch.target[i],
                   batch.variants["no_pose"][i]]
            tiles.append(np.concatenate([_big(t) for t in row], axis=1))
    grid = np.concatenate(tiles, axis=0)
    return _captioned(grid, caption, ["source", "target pose", "output", "ground truth", "no pose"],
                      pipeline.config.image_width * SCALE)


def _best_edit_angles(person, source_angles, edited: Pose) -> tuple[dict, float]:
    """Renderer angles whose keypoints come closest to the edited arm (shoulder turn and elbow)."""
    side = EDIT_LIMB.split("_")[0]
    want = edited.keypoints[0]
    best, best_error = None, np.inf
    for out in np.linspace(0.0, 3.1, 63):
        for forward in np.linspace(-0.6, 0.6, 13):
            angles = {**source_angles, f"{side}_arm_out": float(out), f"{side}_arm_forward": float(forward)}
            got = render_person(person, angles, HEIGHT, WIDTH, background=False).pose
            points = [i for i in (6, 7) if want[i, 2] > 0 and got.keypoints[0][i, 2] > 0]
            error = float(np.linalg.norm(got.keypoints[0][points, :2] - want[points, :2], axis=1).mean())
            if error < best_error:
                best, best_error = angles, error
    return best, best_error


def wave_and_edit(pipeline: PoseTransferPipeline) -> tuple[Image.Image, dict]:
    spec = SyntheticPeopleSpec()
    identity = identity_ranges(spec)["test"][0]
    person = sample_identity(spec.seed, identity)

    def render(angles):
        return render_person(person, angles, HEIGHT, WIDTH, background=True)

    source = render(neutral_angles())
    targets = [(f"wave {i + 1}/8", wave_angles(i / 7)) for i in range(8)]
    edited = rotate_limb(source.pose, EDIT_LIMB, EDIT_DEGREES)
    edit_angles, edit_error = _best_edit_angles(person, neutral_angles(), edited)
    targets.append(("edit: left arm -110", edit_angles))
    truths = [render(angles) for _, angles in targets]
    poses = [t.pose for t in truths[:-1]] + [edited]
    image = torch.from_numpy(source.image).permute(2, 0, 1)[None].float() / 255
    out = to_uint8(pipeline(image, poses, source_poses=source.pose))
    rows, figures = [], {"frames": []}
    for (name, _), truth, pose, generated in zip(targets, truths, poses, out):
        moved = moved_region(source.parts, truth.parts)[None]
        l1 = float(region_l1(generated[None], truth.image[None], moved)[0])
        copy = float(region_l1(source.image[None], truth.image[None], moved)[0])
        figures["frames"].append({"frame": name, "moved_pixels": int(moved.sum()), "moved_l1": round(l1, 2),
                                  "moved_l1_copy_source": round(copy, 2)})
        rows.append(np.concatenate([_big(t) for t in (draw_skeleton(pose), generated, truth.image)], axis=0))
    figures["edit_keypoint_error_px"] = round(edit_error, 2)
    wave = [f for f in figures["frames"] if f["frame"].startswith("wave")]
    # the first frame is the source's own pose: nothing moves, its region is empty (NaN)
    figures["wave_moved_l1"] = round(float(np.nanmean([f["moved_l1"] for f in wave])), 2)
    figures["wave_moved_l1_copy_source"] = round(float(np.nanmean([f["moved_l1_copy_source"] for f in wave])), 2)
    column = np.concatenate([_big(source.image), np.full_like(_big(source.image), 255),
                             np.full_like(_big(source.image), 255)], axis=0)
    grid = np.concatenate([column, *rows], axis=1)
    picture = _captioned(grid, "the example person (synthetic data) re-posed; rows: target pose, output, ground truth",
                         ["source"] + [name for name, _ in targets], WIDTH * SCALE)
    return picture, figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=DEMO)
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "images"))
    parser.add_argument("--rows", type=int, default=8, help="held-out pairs in demo_pairs.png")
    parser.add_argument("--data", help="instead: a PATN-layout dataset (e.g. from training/prepare_video.py); "
                                       "writes only the grid of its test pairs, to --out as a file")
    parser.add_argument("--caption", default="held-out pairs", help="with --data: the grid's caption")
    args = parser.parse_args(argv)
    pipeline = PoseTransferPipeline.from_checkpoint(args.checkpoint, device="cpu", dtype="float32")
    if args.data:
        from rptgan_core.training.data import read_patn_split

        pairs = read_patn_split(args.data, "test", identity="folder")
        pairs_grid(pipeline, pairs, len(pairs.pairs), args.rows, args.caption).save(args.out)
        print(f"wrote {args.out}")
        return
    os.makedirs(args.out, exist_ok=True)
    held_out_pairs(pipeline, args.rows).save(os.path.join(args.out, "demo_pairs.png"))
    picture, figures = wave_and_edit(pipeline)
    picture.save(os.path.join(args.out, "demo_wave.png"))
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
