"""Finding and following people in videos (rptgan_core.video_people), on videos the tests draw."""

from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from rptgan_core.pose import Pose  # noqa: E402
from rptgan_core.video_people import (  # noqa: E402
    StaticCameraDetector,
    VideoError,
    check_crop,
    colour_signature,
    iou,
    read_video,
    side_flips,
    track_boxes,
)

WIDTH, HEIGHT = 320, 240
EMPTY = 10  # frames of the empty scene first, for the background model


def walkers(frames: int = 60, hidden: tuple[int, int] | None = None):
    """Frames of a fixed scene, empty for ``EMPTY`` frames, then two people-shaped blobs walking
    across: red from the left, blue from the right lower down. ``hidden``: frames during which the red
    one is behind a pillar."""
    rng = np.random.default_rng(0)
    background = (rng.integers(90, 110, (HEIGHT, WIDTH, 3))).astype(np.uint8)
    scene = []
    for t in range(frames):
        frame = background.copy()
        walking = t - EMPTY
        for colour, x, top in (((200, 40, 40), 4 + 5 * walking, 20), ((40, 60, 210), WIDTH - 30 - 4 * walking, 135)):
            if walking < 0 or (colour[0] == 200 and hidden and hidden[0] <= t < hidden[1]):
                continue
            frame[top:top + 20, x + 6:x + 18] = (230, 190, 160)  # head
            frame[top + 20:top + 60, x:x + 24] = colour  # body
            frame[top + 60:top + 90, x + 2:x + 22] = (30, 30, 40)  # legs
        scene.append(frame)
    return scene


def write_video(path, frames, fps: int = 10) -> str:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    return str(path)


def test_read_video_gives_rgb_frames_and_refuses_bad_files(tmp_path):
    frames = walkers(14)
    path = write_video(tmp_path / "walk.avi", frames)
    read = list(read_video(path, every=3))
    assert [i for i, _ in read] == [0, 3, 6, 9, 12]
    # MJPG is lossy; the red walker's body is still red (RGB order, not OpenCV's BGR)
    last = read[-1][1]
    assert last.shape == (HEIGHT, WIDTH, 3) and last[60, 4 + 5 * (12 - EMPTY) + 12, 0] > 150 > last[60, 26, 2]
    assert len(list(read_video(path, max_frames=5))) == 5
    (tmp_path / "junk.avi").write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoError, match="cannot open|no frame"):
        list(read_video(tmp_path / "junk.avi"))
    with pytest.raises(VideoError, match="not found"):
        list(read_video(tmp_path / "missing.avi"))


def _detect(frames, detector=None):
    detector = detector or StaticCameraDetector(min_height=40, warmup=5)
    detections, signatures = {}, {}
    for index, frame in enumerate(frames):
        detections[index] = detector(frame)
        signatures[index] = [colour_signature(frame, box) for box in detections[index]]
    return detections, signatures


def test_two_walkers_become_two_tracks_that_follow_them():
    detections, signatures = _detect(walkers(60))
    tracks = track_boxes(detections, signatures)
    long = [t for t in tracks if len(t.boxes) > 30]
    assert len(long) == 2
    for track in long:
        xs = [track.boxes[i][0] for i in sorted(track.boxes)]
        assert abs(xs[-1] - xs[0]) > 100  # it went across the scene
        steps = np.diff(xs)
        assert (np.sign(steps[np.abs(steps) > 0]) == np.sign(xs[-1] - xs[0])).all()  # one person, one direction


def test_a_person_hidden_for_a_while_keeps_their_track():
    detections, signatures = _detect(walkers(70, hidden=(30, 36)))
    red = [t for t in track_boxes(detections, signatures) if t.boxes[min(t.boxes)][1] < 90]
    assert len(red) == 1 and max(red[0].boxes) - min(red[0].boxes) > 50  # bridged by patience
    detections, signatures = _detect(walkers(70, hidden=(25, 45)))
    red = [t for t in track_boxes(detections, signatures) if t.boxes[min(t.boxes)][1] < 90]
    assert len(red) == 1, "re-joined by place and colour after 20 frames behind the pillar"
    assert len([t for t in track_boxes(detections) if t.boxes[min(t.boxes)][1] < 90]) >= 2  # not without colours


def _standing(box, visible=18):
    left, top, width, height = box
    u = np.array([[.5, .1], [.5, .2], [.3, .2], [.25, .35], [.2, .5], [.7, .2], [.75, .35], [.8, .5], [.4, .52],
                  [.4, .7], [.4, .9], [.6, .52], [.6, .7], [.6, .9], [.45, .08], [.55, .08], [.4, .09], [.6, .09]])
    points = np.concatenate([u * [width, height] + [left, top], np.ones((18, 1))], axis=1)
    points[visible:] = 0
    return Pose(points, 1000, 1000)


def test_check_crop_names_each_doubt():
    box = (100, 100, 40, 120)
    assert check_crop(box, [], _standing(box)) is None
    assert "too small" in check_crop((100, 100, 15, 40), [], _standing((100, 100, 15, 40)))
    assert "wider than one person" in check_crop((100, 100, 100, 120), [], _standing((100, 100, 100, 120)))
    assert "overlaps another" in check_crop(box, [(110, 110, 40, 120)], _standing(box))
    assert "occluded or unclear" in check_crop(box, [], _standing(box, visible=8))
    assert "occluded or unclear (0 of 18" in check_crop(box, [], Pose.empty(1000, 1000))
    # a pose much narrower than its box: someone else stands in it
    narrow = _standing((100, 100, 12, 120))
    assert "wider than one person" in check_crop((100, 100, 80, 120), [], narrow)
    red, blue = np.zeros(64), np.zeros(64)
    red[48], blue[3] = 1, 1
    assert "colours unlike" in check_crop(box, [], _standing(box), colour=blue, usual_colour=red)
    assert check_crop(box, [], _standing(box), colour=red, usual_colour=red) is None
    assert iou(box, box) == 1.0 and iou(box, (500, 500, 10, 10)) == 0.0


def test_side_flips_catch_one_frame_swaps_not_turning_round():
    from rptgan_core.pose import FLIP_PERMUTATION

    facing = _standing((100, 100, 40, 120))
    away = Pose(facing.keypoints[:, list(FLIP_PERMUTATION)], 1000, 1000)  # left and right names swapped in place
    sequence = [facing, facing, away, facing, facing, away, away, away]
    assert side_flips(sequence) == [False, False, True, False, False, False, False, False]
    assert side_flips([]) == [] and side_flips([facing]) == [False]
