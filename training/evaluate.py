"""Score pose-transfer results: a checkpoint on a dataset's test pairs, or a folder of generated images.

    python training/evaluate.py --checkpoint run/rptgan.safetensors --data DATASET [--convention market]
    python training/evaluate.py --generated results/ --data DATASET --convention deepfashion --protocol patn

``--protocol`` names how the numbers are computed (rptgan_core/protocols.py):
"plain" (SSIM with range 255; "deepfashion" pads results to 256x256 with
white first, "market" adds masked SSIM), "patn" (PATN's getMetrics scripts:
each generated image's own data range, padding for SSIM and IS, PATN's body
mask) or "gfla" (GFLA's metrics.py: the same SSIM unpadded, FID against the
training images, LPIPS). ``--as-written`` (checkpoint mode) stores the results
as the protocol's test script does before scoring them (PATN: 5-panel JPEG,
GFLA: JPEG). Every score is reported next to the "copy the source image"
baseline. IS and FID need ``--inception-weights`` (pytorch-fid's FID-Inception
or torchvision's Inception-v3 state dict, .safetensors), LPIPS needs
``--alexnet-weights`` and ``--lpips-weights``; without them those metrics are
skipped with a message saying what to provide.

Generated images in a folder are matched to pairs by PATN's
``<from>___<to>_vis.jpg`` (5 panels, the generated one last; under "patn" the
target panel is scored too, as PATN does), GFLA's ``<from>_2_<to>_vis.jpg``,
``<from>___<to>.<ext>`` or the target's name (``protocols.result_names``).
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
from rptgan_core.data import DatasetError, PairList, load_image, read_generic_folder, read_patn_split  # noqa: E402
from rptgan_core.evaluation import CORRUPTIONS, ScoredBatch, generate_pairs, score_batch  # noqa: E402
from rptgan_core.inference import resolve_device  # noqa: E402
from rptgan_core.metrics import LPIPS, InceptionMetrics, MetricWeightsError, to_uint8  # noqa: E402
from rptgan_core.pose import Letterbox  # noqa: E402
from rptgan_core.protocols import (  # noqa: E402
    CONVENTIONS, PROTOCOLS, find_result, get_protocol, image_folder_batches, inception_images, read_result)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--checkpoint", help="an RPT-GAN .safetensors checkpoint to run on the test pairs")
    what.add_argument("--generated", help="a folder of generated images to score")
    parser.add_argument("--data", required=True, help="the dataset folder (PATN layout, or generic with --layout)")
    parser.add_argument("--layout", choices=("patn", "generic"), default="patn")
    parser.add_argument("--split", default="test", help="PATN split to score (default: test)")
    parser.add_argument("--annotation", help="PATN layout: the split's annotation CSV, when the folder holds several")
    parser.add_argument("--identity", default="auto", help="identity scheme for PATN names")
    parser.add_argument("--convention", choices=CONVENTIONS, default="plain")
    parser.add_argument("--protocol", choices=tuple(PROTOCOLS), default="plain",
                        help="how the numbers are computed: plain, patn (PATN's scripts) or gfla (GFLA's)")
    parser.add_argument("--as-written", action="store_true",
                        help="checkpoint mode: store results as the protocol's test script does (JPEG) before scoring")
    parser.add_argument("--limit", type=int, help="score only the first N pairs")
    parser.add_argument("--corruption", choices=CORRUPTIONS, default="none",
                        help="alter the source images first (checkpoint mode): occlusion or colour shift")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--inception-weights", help="pytorch-fid FID-Inception or torchvision Inception-v3 state dict "
                        "(.safetensors) for IS/FID")
    parser.add_argument("--alexnet-weights", help="torchvision AlexNet state dict (.safetensors) for LPIPS")
    parser.add_argument("--lpips-weights", help="LPIPS v0.1 AlexNet linear layers (.safetensors) for LPIPS")
    parser.add_argument("--save-images", help="write the generated images here (checkpoint mode)")
    parser.add_argument("--json", action="store_true", help="print the scores as one JSON object on the last line")
    return parser.parse_args(argv)


def _stem(name: str) -> str:
    return os.path.splitext(os.path.basename(name))[0]


def _fit(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return image if tuple(image.shape[-2:]) == size else Letterbox.fit(tuple(image.shape[-2:]), size).apply_image(image, 1.0)


def folder_batches(folder: str, pairs: PairList, limit: int | None, batch_size: int, protocol: str = "plain"):
    """Batches of generated images read from ``folder``, resized (letterboxed) to each target's size.

    A PATN 5-panel result under the "patn" protocol also gives the target and
    source panels, which are scored in place of the dataset's files, as PATN does.
    """
    if not os.path.isdir(folder):
        raise DatasetError(f"generated-image folder not found: {folder}")
    records = pairs.pairs[: limit or len(pairs)]
    use_panels = get_protocol(protocol).writer == "patn"
    for start in range(0, len(records), batch_size):
        chunk = records[start:start + batch_size]
        generated, targets, sources = [], [], []
        for record in chunk:
            target = load_image(record.target)
            size = tuple(target.shape[-2:])
            result = read_result(find_result(folder, record.source, record.target))
            image = torch.from_numpy(result.generated).permute(2, 0, 1).float() / 255
            generated.append(to_uint8(_fit(image, size)[None])[0])
            if use_panels and result.target is not None and result.target.shape[:2] == size:
                targets.append(result.target)
                sources.append(result.source)
            else:
                targets.append(to_uint8(target[None])[0])
                sources.append(to_uint8(_fit(load_image(record.source), size)[None])[0])
        yield ScoredBatch(np.stack(generated), np.stack(targets), np.stack(sources),
                          np.stack([r.target_keypoints for r in chunk]), [r.target for r in chunk])


def evaluate(args: argparse.Namespace) -> dict[str, object]:
    if args.layout == "generic":
        pairs = read_generic_folder(args.data)
    else:
        pairs = read_patn_split(args.data, args.split, annotation=args.annotation, identity=args.identity)
    device = resolve_device(args.device)
    if args.checkpoint:
        generator, info = load_generator(args.checkpoint, device=device)
        batches = generate_pairs(generator, pairs, info.config.letterbox_fill, args.limit, args.batch_size,
                                 args.corruption, device, written_as=args.protocol if args.as_written else None)
    else:
        if args.corruption != "none" or args.as_written:
            raise SystemExit("--corruption and --as-written apply to --checkpoint runs only")
        batches = folder_batches(args.generated, pairs, args.limit, args.batch_size, args.protocol)

    collected: dict[str, list[np.ndarray]] = {}
    generated_all, target_all = [], []
    for batch in batches:
        for name, values in score_batch(batch, args.convention, args.protocol).items():
            collected.setdefault(name, []).append(values)
        generated_all.append(batch.generated)
        target_all.append(batch.target)
        if args.save_images:
            os.makedirs(args.save_images, exist_ok=True)
            from PIL import Image

            for image, name in zip(batch.generated, batch.names):
                Image.fromarray(image).save(os.path.join(args.save_images, _stem(name) + ".png"))
    scores: dict[str, object] = {name: float(np.concatenate(v).mean()) for name, v in collected.items()}
    scores["pairs"] = int(sum(len(v) for v in collected["ssim"]))
    scores["data"] = pairs.description
    scores["protocol"] = args.protocol
    generated, target = np.concatenate(generated_all), np.concatenate(target_all)
    skipped: list[str] = []
    try:
        inception = InceptionMetrics(args.inception_weights)
        scores["is_mean"], scores["is_std"] = inception.inception_score(
            inception_images(generated, args.convention, args.protocol))
        if get_protocol(args.protocol).fid_reference == "train":
            if args.layout != "patn":
                raise SystemExit("--protocol gfla computes FID against the training images: it needs --layout patn")
            training = os.path.join(args.data, "train")
            scores["fid"] = inception.fid(generated, inception.statistics(image_folder_batches(training, args.batch_size)))
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
    for key, value in scores.items():
        if isinstance(value, float):
            print(f"  {key:26s} {value:.4f}")
    print(f"  {'pairs':26s} {scores['pairs']}")
    if args.json:
        print(json.dumps(scores))


if __name__ == "__main__":
    main()
