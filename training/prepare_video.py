"""Turn videos of people into a training dataset: the same person in different poses.

    python training/prepare_video.py VIDEO [VIDEO ...] OUT [--size 128x64] [--one-person]

Without ``--one-person`` (a fixed camera watching several people, such as
surveillance footage): people are found as moving blobs against the learnt
background, followed across frames (a person lost behind something and found
again nearby, in the same colours, keeps their track), and every
``--crop-every``-th frame of a track is cropped at the model's aspect and its
pose estimated. With ``--one-person`` (a clip of one person, any camera): the
pose is estimated on whole frames, and the clip is one identity; a clip where
several people show up is refused.

Doubtful crops are dropped, each with its reason in ``PREPARED.json``: too
small, a box wider than one person, a box overlapping another person's, too
few keypoints (occluded or unclear), left and right swapped against the
track's neighbouring crops. Tracks with fewer than ``--min-track`` crops are
dropped. Pairs join crops of one track whose poses differ (mean keypoint
distance at least ``--min-pose-change`` of the crop height). Identities (one
per track) are split into train and test, none in both. ``OUT`` then holds the
layouts ``prepare_dataset.py`` writes (generic and PATN), a contact sheet per
split (``contact-<split>.png``: each track's crops with their skeletons), and
``PREPARED.json`` (counts, drops, settings, each video's sha256).
Everything is deterministic: the same videos and settings give the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for path in (REPO, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from prepare_dataset import PREFIX, parse_size, save_sample, split_identities, write_patn_split  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from rptgan_core.errors import run_command  # noqa: E402
from rptgan_core.estimation import EstimatorUnavailable, create_estimator  # noqa: E402
from rptgan_core.files import sha256_file  # noqa: E402
from rptgan_core.framing import CropBox  # noqa: E402
from rptgan_core.pose import Pose, draw_skeleton  # noqa: E402
from rptgan_core.video_people import (  # noqa: E402
    MAX_VIDEO_FRAMES,
    CropCheck,
    StaticCameraDetector,
    VideoError,
    check_crop,
    colour_signature,
    keypoint_shift,
    read_video,
    side_flips,
    track_boxes,
)

ESTIMATE_HEIGHT = 256  # crops are enlarged to this height for the pose estimator
MAX_CONTACT_TRACKS = 40
MAX_CONTACT_CROPS = 12


@dataclass
class Crop:
    identity: str
    frame: int
    image: np.ndarray  # (h, w, 3) uint8 at the output size
    pose: Pose  # on the output canvas


@dataclass
class Report:
    videos: dict[str, dict] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_tracks: list[str] = field(default_factory=list)

    def drop(self, reason: str) -> None:
        key = reason.split(" (")[0]
        self.dropped[key] = self.dropped.get(key, 0) + 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="VIDEO ... OUT",
                        help="video files, then the dataset folder to write")
    parser.add_argument("--one-person", action="store_true", help="each video shows one person (any camera)")
    parser.add_argument("--size", default="128x64", help="HEIGHTxWIDTH of the crops (default 128x64, Market's)")
    parser.add_argument("--estimator", default="mediapipe", help="pose estimator backend (mediapipe, openpose)")
    parser.add_argument("--model-dir", help="model folder for the estimator")
    parser.add_argument("--crop-every", type=int, default=5, help="crop every N-th frame of a track")
    parser.add_argument("--max-frames", type=int, default=MAX_VIDEO_FRAMES,
                        help="read at most this many frames a video")
    parser.add_argument("--margin", type=float, default=0.12, help="space around the box, as a share of its height")
    parser.add_argument("--min-track", type=int, default=4, help="drop tracks with fewer kept crops")
    parser.add_argument("--min-pose-change", type=float, default=0.04,
                        help="pair only crops whose keypoints moved this share of the height on average")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="share of identities held out for testing")
    parser.add_argument("--test-last", type=float, default=0.0,
                        help="with --one-person: hold out the last share of each clip instead (its later poses), "
                             "for fine-tuning on that person")
    parser.add_argument("--max-pairs-per-identity", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="seed of the identity split")
    args = parser.parse_args(argv)
    if len(args.paths) < 2:
        parser.error("give at least one video and the output folder")
    args.videos, args.output = args.paths[:-1], args.paths[-1]
    return args


def _size(text: str) -> tuple[int, int]:
    height, width = parse_size(text)
    if not (16 <= height <= 1024 and 16 <= width <= 1024):
        raise SystemExit(f"--size sides must be 16 to 1024, got {text!r}")
    return height, width


def crop_box(box: tuple[int, int, int, int], aspect: float, margin: float) -> CropBox:
    """The box grown by ``margin`` of its height on every side, then widened or heightened to ``aspect``."""
    left, top, width, height = box
    grow = margin * height
    width, height = width + 2 * grow, height + 2 * grow
    if width / height < aspect:
        width = height * aspect
    else:
        height = width / aspect
    centre_x, centre_y = left + box[2] / 2, top + box[3] / 2
    return CropBox(round(centre_x - width / 2), round(centre_y - height / 2), max(1, round(width)),
                   max(1, round(height)))


def cut(frame: np.ndarray, box: CropBox, size: tuple[int, int]) -> np.ndarray:
    """The box of ``frame`` (edge pixels repeated past the frame) at ``size`` (h, w), uint8."""
    height, width = frame.shape[:2]
    ys = np.clip(np.arange(box.top, box.top + box.height), 0, height - 1)
    xs = np.clip(np.arange(box.left, box.left + box.width), 0, width - 1)
    window = Image.fromarray(frame[ys][:, xs])
    return np.asarray(window.resize((size[1], size[0]), Image.BICUBIC))


def estimate(estimator, image: np.ndarray) -> Pose:
    """The estimator's pose of ``image``, found on a copy enlarged to ``ESTIMATE_HEIGHT``."""
    height, width = image.shape[:2]
    scale = ESTIMATE_HEIGHT / height
    large = np.asarray(Image.fromarray(image).resize((round(width * scale), ESTIMATE_HEIGHT), Image.BICUBIC))
    return estimator.estimate(large).resized(width, height)


def crops_of_tracks(path: str, stem: str, estimator, size: tuple[int, int], args,
                    report: Report) -> dict[str, list[Crop]]:
    """identity -> kept crops (time order) of a video of several people, from a fixed camera."""
    detector = StaticCameraDetector(min_height=CropCheck().min_height)
    detections, signatures, frames = {}, {}, {}
    for index, frame in tqdm(read_video(path, max_frames=args.max_frames), desc=f"{stem}: finding people",
                             unit="frame", leave=False):
        boxes = detector(frame)
        detections[index] = boxes
        signatures[index] = [colour_signature(frame, box) for box in boxes]
        if index % args.crop_every == 0:
            frames[index] = frame
    tracks = track_boxes(detections, signatures)
    if not tracks:
        raise SystemExit(f"{path}: no person found (nothing moved against the background)")
    aspect = size[1] / size[0]
    kept: dict[str, list[Crop]] = {}
    with tqdm(total=len(tracks), desc=f"{stem}: estimating poses", unit="track", leave=False) as bar:
        for track in tracks:
            bar.update(1)
            identity = f"{stem}-{track.id:03d}"
            candidates = []
            indices = sorted(i for i in track.boxes if i in frames)
            colours = {i: signatures[i][detections[i].index(track.boxes[i])] for i in indices}
            usual = np.median(np.stack(list(colours.values())), axis=0) if colours else None
            for index in indices:
                box = track.boxes[index]
                others = [b for b in detections[index] if b != box]
                window = crop_box(box, aspect, args.margin)
                image = cut(frames[index], window, size)
                pose = estimate(estimator, image)
                in_frame = pose.resized(window.width, window.height).translated(window.left, window.top,
                                                                                1 << 14, 1 << 14)
                reason = check_crop(box, others, in_frame, colour=colours[index], usual_colour=usual)
                if reason:
                    report.drop(reason)
                else:
                    candidates.append(Crop(identity, index, image, pose.main_person()))
            flipped = side_flips([c.pose for c in candidates])
            for crop, flip in zip(candidates, flipped):
                if flip:
                    report.drop("left and right swapped against the track's neighbouring crops")
            candidates = [c for c, flip in zip(candidates, flipped) if not flip]
            if len(candidates) < args.min_track:
                report.dropped_tracks.append(f"{identity}: {len(candidates)} usable crops (need {args.min_track})")
                continue
            kept[identity] = candidates
    return kept


def crops_of_one_person(path: str, stem: str, estimator, size: tuple[int, int], args,
                        report: Report) -> dict[str, list[Crop]]:
    """{stem: kept crops} of a clip of one person: the pose found on whole frames, the crop around it."""
    aspect = size[1] / size[0]
    crops, several = [], 0
    sampled = 0
    for index, frame in tqdm(read_video(path, every=args.crop_every, max_frames=args.max_frames),
                             desc=f"{stem}: estimating poses", unit="frame", leave=False):
        sampled += 1
        pose = estimator.estimate(frame)
        people = [i for i in range(pose.num_people) if pose.person(i).visible.sum() >= CropCheck().min_keypoints]
        if len(people) > 1:
            several += 1
            continue
        if not people:
            report.drop("occluded or unclear")
            continue
        person = pose.person(people[0])
        points = person.keypoints[0][person.keypoints[0][:, 2] > 0]
        x0, y0 = points[:, :2].min(axis=0)
        x1, y1 = points[:, :2].max(axis=0)
        height = (y1 - y0) * 1.15  # keypoints sit inside the body: crown above the eyes, soles below the ankles
        box = (int(x0), int(y0 - 0.1 * height), max(1, int(x1 - x0)), max(1, int(height)))
        window = crop_box(box, aspect, args.margin)
        image = cut(frame, window, size)
        moved = person.translated(-window.left, -window.top, window.width, window.height).resized(size[1], size[0])
        crops.append(Crop(stem, index, image, moved))
    if sampled and several > 0.2 * sampled:
        raise SystemExit(f"{path}: several people in {several} of {sampled} sampled frames; --one-person takes clips "
                         "of one person (leave it out for a fixed camera watching several people)")
    flipped = side_flips([c.pose for c in crops])
    crops = [c for c, flip in zip(crops, flipped) if not flip]
    report.dropped["left and right swapped against the track's neighbouring crops"] = \
        report.dropped.get("left and right swapped against the track's neighbouring crops", 0) + sum(flipped)
    if len(crops) < args.min_track:
        raise SystemExit(f"{path}: only {len(crops)} usable frames of the person (need {args.min_track}); "
                         "use a longer clip, or a smaller --crop-every")
    return {stem: crops}


def pairs_of(crops: list[Crop], names: list[str], min_change: float, limit: int) -> list[tuple[str, str]]:
    pairs = [(names[i], names[j]) for i in range(len(crops)) for j in range(len(crops))
             if i != j and keypoint_shift(crops[i].pose.keypoints[0], crops[j].pose.keypoints[0],
                                         crops[i].pose.height) >= min_change]
    if len(pairs) <= limit:
        return pairs
    picks = np.linspace(0, len(pairs) - 1, limit).round().astype(int)  # spread over the track, deterministic
    return [pairs[i] for i in picks]


def contact_sheet(path: str, tracks: dict[str, list[Crop]]) -> None:
    """Each track a row: its crops with their skeletons, the identity written at the left."""
    rows = list(tracks.items())[:MAX_CONTACT_TRACKS]
    if not rows:
        return
    height, width = rows[0][1][0].image.shape[:2]
    label = 90
    sheet = Image.new("RGB", (label + MAX_CONTACT_CROPS * width, len(rows) * height), (30, 30, 30))
    draw = ImageDraw.Draw(sheet)
    for row, (identity, crops) in enumerate(rows):
        draw.text((4, row * height + height // 2 - 6), identity, fill=(230, 230, 230))
        picks = np.linspace(0, len(crops) - 1, min(len(crops), MAX_CONTACT_CROPS)).round().astype(int)
        for column, pick in enumerate(picks):
            crop = crops[pick]
            picture = draw_skeleton(crop.pose, (crop.image.astype(np.float32) * 0.7).astype(np.uint8))
            sheet.paste(Image.fromarray(picture), (label + column * width, row * height))
    sheet.save(path)


def prepare(args: argparse.Namespace) -> dict:
    size = _size(args.size)
    if not 0 < args.test_fraction < 1:
        raise SystemExit("--test-fraction must be between 0 and 1")
    if args.crop_every < 1 or args.min_track < 2 or args.max_frames < 1:
        raise SystemExit("--crop-every and --max-frames must be at least 1 and --min-track at least 2")
    missing = [path for path in args.videos if not os.path.isfile(path)]
    if missing:  # before the estimator starts, which takes seconds
        raise SystemExit(f"video not found: {', '.join(missing)}")
    options = {"model_dir": args.model_dir} if args.model_dir else {}
    try:
        estimator = create_estimator(args.estimator, **options)
    except EstimatorUnavailable as error:
        raise SystemExit(f"pose estimator {args.estimator!r} is unavailable: {error}") from None
    report = Report()
    tracks: dict[str, list[Crop]] = {}
    stems = set()
    for path in args.videos:
        stem = "".join(c if c.isalnum() or c == "-" else "-" for c in os.path.splitext(os.path.basename(path))[0])
        if stem in stems:
            raise SystemExit(f"two videos are named {stem!r}; rename one")
        stems.add(stem)
        try:
            crops_of = crops_of_one_person if args.one_person else crops_of_tracks
            found = crops_of(path, stem, estimator, size, args, report)
        except VideoError as error:
            raise SystemExit(str(error)) from None
        report.videos[os.path.basename(path)] = {"sha256": sha256_file(path), "identities": len(found),
                                                 "crops": sum(len(c) for c in found.values())}
        tracks.update(found)
    if not tracks:
        raise SystemExit(f"no track kept {args.min_track} usable crops; see the reasons with fewer --min-track")
    identities = sorted(tracks)
    if args.test_last:
        if not (args.one_person and 0 < args.test_last < 1):
            raise SystemExit("--test-last takes a share between 0 and 1, with --one-person")
        cuts = {identity: round(len(tracks[identity]) * (1 - args.test_last)) for identity in identities}
        if any(not 2 <= cut <= len(tracks[identity]) - 2 for identity, cut in cuts.items()):
            raise SystemExit("--test-last leaves fewer than two frames on one side of a clip; use a longer clip")
        parts = {"train": {i: tracks[i][:cuts[i]] for i in identities},
                 "test": {i: tracks[i][cuts[i]:] for i in identities}}
    else:
        test = split_identities(identities, args.test_fraction, args.seed) if len(identities) > 1 else set()
        parts = {split: {i: tracks[i] for i in identities if (i in test) == (split == "test")}
                 for split in ("train", "test")}
    counts = {}
    for split in ("train", "test"):
        chosen = parts[split]
        annotations, pairs = {}, []
        for identity, crops in chosen.items():
            names = [save_sample(args.output, split, identity, f"{identity}-f{crop.frame:05d}", crop.image, crop.pose)
                     for crop in crops]
            annotations.update(zip(names, (crop.pose for crop in crops)))
            pairs += pairs_of(crops, names, args.min_pose_change, args.max_pairs_per_identity)
        if chosen and not pairs:
            raise SystemExit(f"no {split} pairs: no two crops of one {split} track differ in pose by "
                             f"--min-pose-change {args.min_pose_change}")
        if chosen:
            write_patn_split(args.output, split, annotations, pairs)
            contact_sheet(os.path.join(args.output, f"contact-{split}.png"), chosen)
        counts[split] = {"identities": len(chosen), "images": len(annotations), "pairs": len(pairs)}
    summary = {"counts": counts, "dropped_crops": dict(sorted(report.dropped.items())),
               "dropped_tracks": report.dropped_tracks, "videos": report.videos,
               "settings": {k: v for k, v in vars(args).items() if k not in ("paths", "videos", "output")},
               "layout": {"patn_prefix": PREFIX, "size": list(size)}}
    with open(os.path.join(args.output, "PREPARED.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=1, sort_keys=True)
    return summary


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    summary = prepare(args)
    for split, count in summary["counts"].items():
        print(f"{split}: {count['identities']} identities, {count['images']} images, {count['pairs']} pairs")
    dropped = sum(summary["dropped_crops"].values())
    print(f"dropped {dropped} crops ({', '.join(f'{k}: {v}' for k, v in summary['dropped_crops'].items())}) and "
          f"{len(summary['dropped_tracks'])} short tracks; wrote {args.output} (PREPARED.json, contact-*.png)")


if __name__ == "__main__":
    run_command(main)
