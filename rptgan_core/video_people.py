"""People in videos, for building training sets: read frames, find people, follow
each one across frames, and keep the crops a pose-transfer model can learn from.

* ``read_video``: frames of a video file (OpenCV) or an animated image (WebP,
  GIF, APNG: Pillow) as uint8 RGB, bounded in count and size; a file that
  cannot be decoded is a ``VideoError``.
* ``StaticCameraDetector``: people as moving blobs against a learnt background
  (OpenCV's MOG2), for fixed cameras such as surveillance footage; its boxes
  are (left, top, width, height) in frame pixels.
* ``track_boxes``: boxes linked frame to frame by overlap (IoU), with a short
  memory so a person lost for a few frames keeps their track; tracks that end
  and begin again near each other with similar colours are joined (a person
  who walks behind something and comes out again).
* ``CropCheck`` / ``check_crop``: why a crop is doubtful (too small, a box
  holding two people, a box overlapping another person's, a pose with too few
  keypoints); ``side_flips``: crops of a track whose left and right look
  swapped against their neighbours in time.

Videos, boxes and poses never leave the caller's process: nothing is uploaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .errors import RptganError
from .limits import MAX_FRAME_PIXELS, MAX_VIDEO_FRAMES
from .pose import KEYPOINT_INDEX, Pose

ANIMATED_IMAGE_EXTENSIONS = (".webp", ".gif", ".png", ".apng")

Box = tuple[int, int, int, int]  # left, top, width, height


class VideoError(RptganError, ValueError):
    """A video cannot be read, or holds nothing usable; the message says which and why."""


def _cv2():
    try:
        import cv2
    except ImportError:
        raise VideoError("reading videos needs OpenCV (pip install opencv-python-headless)") from None
    return cv2


def _animated_image(path: str | os.PathLike):
    """The open Pillow image when ``path`` is an animated image, else None."""
    if not os.fspath(path).lower().endswith(ANIMATED_IMAGE_EXTENSIONS):
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
    except (UnidentifiedImageError, OSError) as error:
        raise VideoError(f"{path}: not a readable image ({error})") from None
    return image


def video_info(path: str | os.PathLike) -> dict[str, float]:
    """{frames, fps, width, height} of a video, as its container states them."""
    if not os.path.isfile(path):
        raise VideoError(f"video not found: {path}")
    image = _animated_image(path)
    if image is not None:
        with image:
            duration = image.info.get("duration") or 0
            return {"frames": float(getattr(image, "n_frames", 1)), "fps": 1000.0 / duration if duration else 0.0,
                    "width": float(image.width), "height": float(image.height)}
    cv2 = _cv2()
    capture = cv2.VideoCapture(os.fspath(path))
    try:
        if not capture.isOpened():
            raise VideoError(f"{path}: OpenCV cannot open this video (unknown format or damaged file)")
        return {"frames": capture.get(cv2.CAP_PROP_FRAME_COUNT), "fps": capture.get(cv2.CAP_PROP_FPS) or 0.0,
                "width": capture.get(cv2.CAP_PROP_FRAME_WIDTH), "height": capture.get(cv2.CAP_PROP_FRAME_HEIGHT)}
    finally:
        capture.release()


def read_video(path: str | os.PathLike, every: int = 1,
               max_frames: int = MAX_VIDEO_FRAMES) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, (H, W, 3) uint8 RGB) for every ``every``-th frame, at most ``max_frames``.

    Raises VideoError when the file cannot be opened or decodes to no frame at all, or a
    frame is larger than ``MAX_FRAME_PIXELS``.
    """
    if every < 1:
        raise VideoError(f"every must be at least 1, got {every}")
    info = video_info(path)
    if info["width"] * info["height"] > MAX_FRAME_PIXELS:
        raise VideoError(f"{path}: frames of {int(info['width'])}x{int(info['height'])} are larger than "
                         f"{MAX_FRAME_PIXELS:,} pixels")
    image = _animated_image(path)
    if image is not None:
        yield from _image_frames(path, image, every, max_frames)
        return
    cv2 = _cv2()
    capture = cv2.VideoCapture(os.fspath(path))
    index = kept = 0
    try:
        while kept < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            if index % every == 0:
                if frame.shape[0] * frame.shape[1] > MAX_FRAME_PIXELS:
                    raise VideoError(f"{path}: frame {index} is larger than {MAX_FRAME_PIXELS:,} pixels")
                yield index, np.ascontiguousarray(frame[..., ::-1])
                kept += 1
            index += 1
    finally:
        capture.release()
    if kept == 0:
        raise VideoError(f"{path}: no frame could be decoded")


@dataclass
class StaticCameraDetector:
    """People as moving blobs against the background a fixed camera sees.

    Blobs are kept when they stand like a person: at least ``min_height`` px
    tall, between ``min_aspect`` and ``max_aspect`` times taller than wide. The
    background model needs ``warmup`` frames before its blobs are trusted.
    """

    min_height: int = 45
    min_aspect: float = 1.2
    max_aspect: float = 4.5
    warmup: int = 20
    _subtractor: object = field(default=None, init=False, repr=False)
    _seen: int = field(default=0, init=False, repr=False)

    def __call__(self, frame: np.ndarray) -> list[Box]:
        cv2 = _cv2()
        if self._subtractor is None:
            self._subtractor = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=25, detectShadows=True)
        foreground = self._subtractor.apply(np.ascontiguousarray(frame[..., ::-1]))
        self._seen += 1
        if self._seen <= self.warmup:
            return []
        mask = (foreground == 255).astype(np.uint8) * 255  # 127 marks shadows
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 15)))
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        boxes = []
        for left, top, width, height, area in stats[1:count]:
            if height >= self.min_height and self.min_aspect <= height / max(width, 1) <= self.max_aspect \
                    and area >= 0.25 * width * height:
                boxes.append((int(left), int(top), int(width), int(height)))
        return boxes


def _image_frames(path, image, every: int, max_frames: int) -> Iterator[tuple[int, np.ndarray]]:
    kept = 0
    with image:
        for index in range(0, getattr(image, "n_frames", 1), every):
            if kept >= max_frames:
                break
            try:
                image.seek(index)
                frame = np.asarray(image.convert("RGB"))
            except (OSError, EOFError) as error:
                if kept == 0:
                    raise VideoError(f"{path}: frame {index} cannot be decoded ({error})") from None
                break
            yield index, frame
            kept += 1


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    """One person's boxes: ``boxes[frame index] = box``; ``colour`` an appearance signature."""

    id: int
    boxes: dict[int, Box] = field(default_factory=dict)
    colour: np.ndarray | None = None

    @property
    def first(self) -> int:
        return min(self.boxes)

    @property
    def last(self) -> int:
        return max(self.boxes)


def colour_signature(frame: np.ndarray, box: Box) -> np.ndarray:
    """A normalised 3D colour histogram (4 bins a channel) of the box's middle, where the clothes are."""
    left, top, width, height = box
    inner = frame[top + height // 6: top + height * 5 // 6, left + width // 5: left + width * 4 // 5]
    if inner.size == 0:
        return np.zeros(64)
    bins = (inner.reshape(-1, 3) // 64).astype(int)
    histogram = np.bincount(bins[:, 0] * 16 + bins[:, 1] * 4 + bins[:, 2], minlength=64).astype(np.float64)
    return histogram / max(1.0, histogram.sum())


def track_boxes(detections: dict[int, list[Box]], signatures: dict[int, list[np.ndarray]] | None = None,
                min_iou: float = 0.3, patience: int = 8, rejoin_frames: int = 60,
                rejoin_distance: float = 1.5, rejoin_similarity: float = 0.8) -> list[Track]:
    """Link boxes into tracks.

    Args:
        detections: frame index -> boxes found in that frame.
        signatures: frame index -> ``colour_signature`` of each box (same order); with them,
            a track that ended is joined to one that starts within ``rejoin_frames`` frames,
            within ``rejoin_distance`` box heights of where it ended, when their colours
            agree (histogram intersection at least ``rejoin_similarity``).
        min_iou: the least overlap with a track's last box to continue it.
        patience: frames a track may go unmatched before it ends.

    Returns:
        tracks sorted by id, ids from 0 in order of first appearance.
    """
    active: list[tuple[Track, int]] = []  # (track, last matched frame)
    finished: list[Track] = []
    next_id = 0
    for frame in sorted(detections):
        boxes = detections[frame]
        colours = signatures.get(frame, []) if signatures else []
        active = [(t, seen) for t, seen in active if frame - seen <= patience or finished.append(t)]
        pairs = sorted(((iou(t.boxes[seen], box), ti, bi) for ti, (t, seen) in enumerate(active)
                        for bi, box in enumerate(boxes)), reverse=True)
        used_tracks, used_boxes = set(), set()
        for overlap, ti, bi in pairs:
            if overlap < min_iou or ti in used_tracks or bi in used_boxes:
                continue
            used_tracks.add(ti)
            used_boxes.add(bi)
            track = active[ti][0]
            track.boxes[frame] = boxes[bi]
            if bi < len(colours):
                track.colour = colours[bi] if track.colour is None else 0.9 * track.colour + 0.1 * colours[bi]
            active[ti] = (track, frame)
        for bi, box in enumerate(boxes):
            if bi not in used_boxes:
                track = Track(next_id, {frame: box}, colours[bi] if bi < len(colours) else None)
                next_id += 1
                active.append((track, frame))
    finished.extend(t for t, _ in active)
    tracks = sorted(finished, key=lambda t: t.first)
    if signatures:
        tracks = _rejoin(tracks, rejoin_frames, rejoin_distance, rejoin_similarity)
    for index, track in enumerate(tracks):
        track.id = index
    return tracks


def _rejoin(tracks: list[Track], frames: int, distance: float, similarity: float) -> list[Track]:
    merged: list[Track] = []
    for track in tracks:
        best, best_score = None, similarity
        start = track.boxes[track.first]
        for earlier in merged:
            gap = track.first - earlier.last
            if not 0 < gap <= frames or earlier.colour is None or track.colour is None:
                continue
            end = earlier.boxes[earlier.last]
            height = max(end[3], start[3])
            centre_gap = np.hypot(start[0] + start[2] / 2 - end[0] - end[2] / 2,
                                  start[1] + start[3] / 2 - end[1] - end[3] / 2)
            score = float(np.minimum(earlier.colour, track.colour).sum())
            if centre_gap <= distance * height and score >= best_score:
                best, best_score = earlier, score
        if best is None:
            merged.append(track)
        else:
            best.boxes.update(track.boxes)
            best.colour = 0.5 * (best.colour + track.colour)
    return merged


@dataclass(frozen=True)
class CropCheck:
    """Limits for ``check_crop``."""

    min_height: int = 50  # box height in frame pixels
    max_width_ratio: float = 0.75  # box width / height above which it likely holds two people
    min_keypoints: int = 12  # visible body keypoints of 18
    max_overlap: float = 0.1  # IoU with any other box in the frame
    max_box_to_pose_width: float = 1.8  # box width / the pose's own width: more, and someone else is in the box
    min_colour_match: float = 0.6  # histogram intersection with the track's usual colours


def keypoint_shift(a: np.ndarray, b: np.ndarray, height: float) -> float:
    """How far a person's pose moved between two (18, 3) keypoint arrays: the mean distance of
    the keypoints present in both, as a share of ``height``; 0 when none is."""
    both = (a[:, 2] > 0) & (b[:, 2] > 0)
    if not both.any():
        return 0.0
    return float(np.linalg.norm(a[both, :2] - b[both, :2], axis=1).mean() / height)


def _side_sign(pose: Pose) -> float | None:
    """+1 when the person's right shoulder and hip lie left of their left ones (facing the camera), -1 when
    right of them (facing away), None when it cannot be told."""
    points = pose.keypoints[0]
    signs = []
    for right, left in (("right_shoulder", "left_shoulder"), ("right_hip", "left_hip")):
        on_right, on_left = points[KEYPOINT_INDEX[right]], points[KEYPOINT_INDEX[left]]
        if on_right[2] > 0 and on_left[2] > 0 and abs(on_left[0] - on_right[0]) > 1:
            signs.append(np.sign(on_left[0] - on_right[0]))
    return float(signs[0]) if signs and all(s == signs[0] for s in signs) else None


def check_crop(box: Box, others: list[Box], pose: Pose, check: CropCheck = CropCheck(),
               colour: np.ndarray | None = None, usual_colour: np.ndarray | None = None) -> str | None:
    """Why the crop of ``box`` should be dropped, or None to keep it.

    ``pose`` is the pose found in the crop, in frame pixels; ``others`` the frame's other
    boxes; ``colour`` the box's ``colour_signature`` and ``usual_colour`` the track's (their
    median), to catch a track that has jumped to someone else.
    """
    if box[3] < check.min_height:
        return f"too small ({box[3]} px tall, need {check.min_height})"
    if box[2] > check.max_width_ratio * box[3]:
        return "box wider than one person (two people?)"
    if any(iou(box, other) > check.max_overlap for other in others):
        return "overlaps another person"
    found = 0 if pose.num_people == 0 else int(pose.main_person().visible.sum())
    if found < check.min_keypoints:
        return f"occluded or unclear ({found} of 18 keypoints, need {check.min_keypoints})"
    points = pose.main_person().keypoints[0]
    xs = points[points[:, 2] > 0, 0]
    if box[2] > check.max_box_to_pose_width * max(float(xs.max() - xs.min()), 0.2 * box[3]):
        return "box wider than one person (two people?)"
    if colour is not None and usual_colour is not None and \
            float(np.minimum(colour, usual_colour).sum()) < check.min_colour_match:
        return "colours unlike the rest of the track (another person?)"
    return None


def side_flips(poses: list[Pose]) -> list[bool]:
    """For one track's poses in time order: True where left and right look swapped, i.e. the
    person's facing (right shoulder and hip left or right of the left ones) differs from the
    nearest readable crops before and after it, which agree with each other. A person who turns
    round changes facing once and for good, which this leaves alone; a pose estimator's swap
    is one or two frames."""
    signs = [_side_sign(pose.main_person()) if pose.num_people else None for pose in poses]
    flipped = []
    for index, sign in enumerate(signs):
        before = next((s for s in reversed(signs[:index]) if s is not None), None)
        after = next((s for s in signs[index + 1:] if s is not None), None)
        flipped.append(sign is not None and before is not None and before == after and sign != before)
    return flipped
