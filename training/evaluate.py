"""Score pose-transfer results: a checkpoint on a dataset's test pairs, or a folder of generated images.

    python training/evaluate.py --checkpoint run/rptgan.safetensors --data DATASET [--convention market]
    python training/evaluate.py --checkpoint checkpoints/rptgan-synthetic-demo.safetensors --synthetic-test --json
    python training/evaluate.py --generated results/ --data DATASET --convention deepfashion --protocol patn

Every figure stands beside its baselines on the same pairs: copy-source, the
best Gaussian blur of the source, and (for a checkpoint) the model given no
pose and given the source's own pose; ``moved_l1`` (0..255) and ``body_ssim``
score where the body moved and the target's body (``rptgan_core.training.evaluation``),
and ``--pckh BACKEND`` re-detects the pose on the outputs.
``--synthetic-test`` scores the held-out SyntheticPeople pairs the demo
checkpoint is judged on (rendered first if absent).

``--protocol`` names how SSIM, IS and FID are computed (rptgan_core/training/protocols.py):
"plain" (SSIM with range 255; "deepfashion" pads results to 256x256 with
white first, "market" adds masked SSIM), "patn" (PATN's getMetrics scripts:
each generated image's own data range, padding for SSIM and IS, PATN's body
mask) or "gfla" (GFLA's metrics.py: the same SSIM unpadded, FID against the
training images, LPIPS). ``--as-written`` (checkpoint mode) stores the results
as the protocol's test script does before scoring them (PATN: 5-panel JPEG,
GFLA: JPEG). IS and FID need ``--inception-weights`` (pytorch-fid's
FID-Inception or torchvision's Inception-v3 state dict, .safetensors), LPIPS
needs ``--alexnet-weights`` and ``--lpips-weights``; without them those
metrics are skipped with a message saying what to provide.

Generated images in a folder are matched to pairs by PATN's
``<from>___<to>_vis.jpg`` (5 panels, the generated one last; under "patn" the
target panel is scored too, as PATN does), GFLA's ``<from>_2_<to>_vis.jpg``,
``<from>___<to>.<ext>`` or the target's name (``protocols.result_names``);
``--save-images`` writes ``<from>___<to>.png`` names, which never collide.
With ``--json`` the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rptgan_core.checkpoint import load_generator  # noqa: E402
from rptgan_core.errors import run_command  # noqa: E402
from rptgan_core.estimation import create_estimator  # noqa: E402
from rptgan_core.inference import resolve_device  # noqa: E402
from rptgan_core.pose import Letterbox  # noqa: E402
from rptgan_core.training.config import read_config_file  # noqa: E402
from rptgan_core.training.data import DatasetError, PairList, read_generic_folder, read_patn_split  # noqa: E402
from rptgan_core.training.evaluation import (  # noqa: E402
    CORRUPTIONS,
    format_scores,
    generate_pairs,
    load_scoring_batch,
    pair_names,
    score_batches,
)
from rptgan_core.training.metrics import LPIPS, InceptionMetrics, MetricWeightsError, to_uint8  # noqa: E402
from rptgan_core.training.pose_metrics import pckh  # noqa: E402
from rptgan_core.training.protocols import (  # noqa: E402
    CONVENTIONS,
    PROTOCOLS,
    find_result,
    get_protocol,
    image_folder_batches,
    inception_images,
    read_result,
)
from rptgan_core.training.synthetic import SyntheticPeopleSpec, write_dataset  # noqa: E402

SYNTHETIC_CONFIG = os.path.join(HERE, "configs", "synthetic.json")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--checkpoint", help="an RPT-GAN .safetensors checkpoint to run on the test pairs")
    what.add_argument("--generated", help="a folder of generated images to score")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", help="the dataset folder (PATN layout, or generic with --layout)")
    data.add_argument("--synthetic-test", action="store_true",
                      help="the held-out SyntheticPeople pairs of training/configs/synthetic.json (synthetic data)")
    parser.add_argument("--layout", choices=("patn", "generic"), default="patn")
    parser.add_argument("--split", default="test", help="PATN split to score (default: test)")
    parser.add_argument("--annotation", help="PATN layout: the split's annotation CSV, when the folder holds several")
    parser.add_argument("--identity", default="auto", help="identity scheme for PATN names")
    parser.add_argument("--convention", choices=CONVENTIONS, default="plain")
    parser.add_argument("--protocol", choices=tuple(PROTOCOLS), default="plain",
                        help="how the numbers are computed: plain, patn (PATN's scripts) or gfla (GFLA's)")
    parser.add_argument("--as-written", action="store_true",
                        help="checkpoint mode: store results as the protocol's test script does (JPEG) before scoring")
    parser.add_argument("--limit", type=int, help="score only the first N pairs (--synthetic-test: its 160 by default)")
    parser.add_argument("--corruption", choices=CORRUPTIONS, default="none",
                        help="alter the source images first (checkpoint mode): occlusion or colour shift")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--inception-weights", help="pytorch-fid FID-Inception or torchvision Inception-v3 state dict "
                        "(.safetensors) for IS/FID")
    parser.add_argument("--alexnet-weights", help="torchvision AlexNet state dict (.safetensors) for LPIPS")
    parser.add_argument("--lpips-weights", help="LPIPS v0.1 AlexNet linear layers (.safetensors) for LPIPS")
    parser.add_argument("--save-images", help="write the generated images here (checkpoint mode)")
    parser.add_argument("--pckh", metavar="BACKEND",
                        help="pose fidelity: re-detect keypoints on the outputs with this pose estimator "
                             "(e.g. mediapipe) and report PCKh@0.5 beside copy-source and no pose")
    parser.add_argument("--json", action="store_true", help="print the scores as one JSON object on the last line")
    return parser.parse_args(argv)


def _fit(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(image.shape[-2:]) == size:
        return image
    return Letterbox.fit(tuple(image.shape[-2:]), size).apply_image(image, 1.0)


def folder_batches(folder: str, pairs: PairList, limit: int | None, batch_size: int, protocol: str = "plain"):
    """Batches of generated images read from ``folder``, resized (letterboxed) to each target's size.

    A PATN 5-panel result under the "patn" protocol also gives the target and
    source panels, which are scored in place of the dataset's files, as PATN does.
    """
    if not os.path.isdir(folder):
        raise DatasetError(f"generated-image folder not found: {folder}")
    records = list(pairs.pairs[: limit or len(pairs)])
    names = pair_names(records)
    use_panels = get_protocol(protocol).writer == "patn"
    for start in range(0, len(records), batch_size):
        chunk = records[start:start + batch_size]
        _, batch = load_scoring_batch(chunk, names[start:start + batch_size], fill=1.0)
        generated = []
        for i, record in enumerate(chunk):
            size = batch.target.shape[1:3]
            result = read_result(find_result(folder, record.source, record.target))
            image = torch.from_numpy(result.generated).permute(2, 0, 1).float() / 255
            generated.append(to_uint8(_fit(image, size)[None])[0])
            if use_panels and result.target is not None and result.target.shape[:2] == size:
                batch.target[i], batch.source[i] = result.target, result.source
        batch.generated = np.stack(generated)
        yield batch


def count_pckh(estimator, batch, counts: dict[str, list[int]]) -> None:
    """Add one batch's PCKh counts [correct, total, images with a person found, images] to ``counts``,
    for the model (``pckh``), copy-source and the no-pose variant."""
    predictions = {"pckh": batch.generated, "pckh_copy_source": batch.source}
    if "no_pose" in batch.variants:
        predictions["pckh_no_pose"] = batch.variants["no_pose"]
    for name, images in predictions.items():
        tally = counts.setdefault(name, [0, 0, 0, 0])
        for image, target in zip(images, batch.target_keypoints):
            pose = estimator.estimate(image)
            detected = pose.main_person().keypoints[0] if pose.has_person else np.zeros((18, 3), np.float32)
            correct, total = pckh(detected, target)
            tally[0] += correct
            tally[1] += total
            tally[2] += int(detected[:, 2].any())
            tally[3] += 1


def synthetic_test_pairs() -> tuple[PairList, int]:
    """The demo's held-out SyntheticPeople pairs (rendered if absent) and how many are scored."""
    data = read_config_file(SYNTHETIC_CONFIG)["data"]
    root = os.path.join(REPO, data["root"])
    write_dataset(root, SyntheticPeopleSpec(**data["synthetic"]))
    return read_patn_split(root, "test"), int(data["eval_pairs"])


def evaluate(args: argparse.Namespace) -> dict[str, object]:
    limit = args.limit
    if args.checkpoint:  # a checkpoint it cannot use is refused before any data is read or rendered
        generator, info = load_generator(args.checkpoint, device=resolve_device(args.device))
    elif args.corruption != "none" or args.as_written:
        raise SystemExit("--corruption and --as-written apply to --checkpoint runs only")
    if args.synthetic_test:
        pairs, default_limit = synthetic_test_pairs()
        limit = limit or default_limit
    elif args.layout == "generic":
        pairs = read_generic_folder(args.data)
    else:
        pairs = read_patn_split(args.data, args.split, annotation=args.annotation, identity=args.identity)
    if args.checkpoint:
        batches = generate_pairs(generator, pairs, info.config.letterbox_fill, limit, args.batch_size,
                                 args.corruption, written_as=args.protocol if args.as_written else None)
    else:
        batches = folder_batches(args.generated, pairs, limit, args.batch_size, args.protocol)

    generated_all, target_all = [], []
    counts: dict[str, list[int]] = {}
    estimator = create_estimator(args.pckh) if args.pckh else None

    def keep(batch) -> None:
        if estimator is not None:
            count_pckh(estimator, batch, counts)
        generated_all.append(batch.generated)
        target_all.append(batch.target)
        if args.save_images:
            os.makedirs(args.save_images, exist_ok=True)
            from PIL import Image

            for image, name in zip(batch.generated, batch.names):
                Image.fromarray(image).save(os.path.join(args.save_images, name + ".png"))

    scores: dict[str, object] = score_batches(batches, args.convention, args.protocol, keep)
    for name, (correct, total, found, images) in counts.items():
        scores[name] = correct / total if total else float("nan")
        scores[f"{name}_detected"] = found / images
    scores["data"] = pairs.description
    scores["protocol"] = args.protocol
    generated, target = np.concatenate(generated_all), np.concatenate(target_all)
    skipped: list[str] = []
    try:
        inception = InceptionMetrics(args.inception_weights)
        scores["is_mean"], scores["is_std"] = inception.inception_score(
            inception_images(generated, args.convention, args.protocol))
        if get_protocol(args.protocol).fid_reference == "train":
            if args.synthetic_test or args.layout != "patn":
                raise SystemExit("--protocol gfla computes FID against the training images: it needs --data with "
                                 "--layout patn")
            training = os.path.join(args.data, "train")
            reference = inception.statistics(image_folder_batches(training, args.batch_size))
            scores["fid"] = inception.fid(generated, reference)
        else:
            scores["fid"] = inception.fid(generated, target)
    except MetricWeightsError as error:
        skipped.append(f"IS/FID skipped: {error}")
    try:
        lpips = LPIPS(args.alexnet_weights, args.lpips_weights)
        scores["lpips"] = float(lpips.score(generated, target).mean())
    except MetricWeightsError as error:
        skipped.append(f"LPIPS skipped: {error}")
    scores["skipped"] = skipped
    return scores


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        with torch.no_grad():
            scores = evaluate(args)
    except DatasetError as error:
        raise SystemExit(f"error: {error}") from None
    for message in scores["skipped"]:
        print(message, file=sys.stderr)
    print(scores["data"])
    print(format_scores(scores))
    for key, value in scores.items():
        if isinstance(value, float):
            print(f"  {key:26s} {value:.4f}")
    print(f"  {'pairs':26s} {scores['pairs']}")
    if args.json:
        print(json.dumps({k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in scores.items()}))


if __name__ == "__main__":
    run_command(main)
