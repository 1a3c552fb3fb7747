import json

import numpy as np
import pytest

from rptgan_core.pose import (
    KEYPOINT_INDEX,
    Pose,
    PoseError,
    pose_from_patn_row,
    pose_to_patn_lists,
    poses_from_openpose_json,
    poses_to_openpose_json,
    read_patn_annotations,
    write_patn_annotations,
)


def _two_people(make_person):
    first = make_person()
    second = make_person(shift=0.2)
    second[KEYPOINT_INDEX["left_ankle"]] = 0  # missing
    return Pose(np.stack([first, second]), 176, 256)


@pytest.mark.parametrize("normalised", [False, True])
def test_openpose_json_round_trip_keeps_people_missing_points_and_frames(make_person, normalised):
    frames = [_two_people(make_person), Pose(make_person(176, 256), 176, 256), Pose.empty(176, 256)]
    data = poses_to_openpose_json(frames, normalised=normalised)
    assert [len(frame["people"]) for frame in data] == [2, 1, 0]
    assert all(frame["canvas_width"] == 176 and frame["canvas_height"] == 256 for frame in data)
    if normalised:
        assert max(max(p["pose_keypoints_2d"]) for p in data[0]["people"]) <= 1.0
    back = poses_from_openpose_json(json.loads(json.dumps(data)))
    assert len(back) == 3
    for original, restored in zip(frames, back):
        assert restored.num_people == original.num_people
        assert np.allclose(restored.keypoints, original.keypoints, atol=1e-2)
    assert back[0].keypoints[1, KEYPOINT_INDEX["left_ankle"]].tolist() == [0, 0, 0]


def test_missing_keypoints_are_written_as_zeros(make_person):
    points = make_person()
    points[4] = 0
    frame = poses_to_openpose_json([Pose(points, 88, 128)])[0]
    assert frame["people"][0]["pose_keypoints_2d"][12:15] == [0.0, 0.0, 0.0]


def test_normalised_input_is_detected_and_scaled_to_pixels():
    flat = []
    for i in range(18):
        flat += [0.5, 0.05 * i, 1.0]
    frame = {"people": [{"pose_keypoints_2d": flat}], "canvas_width": 200, "canvas_height": 400}
    pose = poses_from_openpose_json(frame)[0]
    assert pose.keypoints[0, 3, :2].tolist() == pytest.approx([100, 60])


def test_body25_and_hands_are_read_and_hands_survive_a_round_trip():
    body = [v for i in range(25) for v in (10.0 + i, 20.0, 0.9)]
    hand = [v for i in range(21) for v in (30.0 + i, 40.0, 0.8)]
    frame = {"people": [{"pose_keypoints_2d": body, "hand_left_keypoints_2d": hand}],
             "canvas_width": 64, "canvas_height": 64}
    pose = poses_from_openpose_json(json.dumps([frame]))[0]
    assert pose.keypoints[0, 8, 0] == pytest.approx(19.0)  # BODY_25 index 9 (R-hip)
    again = poses_to_openpose_json([pose])[0]["people"][0]
    assert again["hand_left_keypoints_2d"][:3] == pytest.approx([30.0, 40.0, 0.8])
    flipped = poses_to_openpose_json([pose.flipped()])[0]["people"][0]
    assert "hand_right_keypoints_2d" in flipped and "hand_left_keypoints_2d" not in flipped


def test_a_frame_without_canvas_needs_a_size(make_person):
    frame = {"people": [{"pose_keypoints_2d": make_person().reshape(-1).tolist()}]}
    with pytest.raises(PoseError, match="canvas"):
        poses_from_openpose_json(frame)
    assert poses_from_openpose_json(frame, canvas_size=(88, 128))[0].width == 88


@pytest.mark.parametrize("frame, message", [
    ({"people": [{"pose_keypoints_2d": [1, 2, 1] * 17}], "canvas_width": 9, "canvas_height": 9}, "17 keypoints"),
    ({"people": [{"pose_keypoints_2d": [1, 2] * 17}], "canvas_width": 9, "canvas_height": 9}, "multiple of 3"),
    ({"canvas_width": 9, "canvas_height": 9}, "no 'people'"),
    ({"people": "x", "canvas_width": 9, "canvas_height": 9}, "must be a list"),
    ({"people": [], "canvas_width": -1, "canvas_height": 9}, "positive"),
])
def test_malformed_frames_name_the_problem(frame, message):
    with pytest.raises(PoseError, match=message):
        poses_from_openpose_json([frame])


def test_invalid_json_text_is_reported():
    with pytest.raises(PoseError, match="not valid JSON"):
        poses_from_openpose_json("{people: ")


def test_patn_row_round_trip_with_missing_points():
    ys = [10, 20, -1] + [30] * 15
    xs = [5, 6, -1] + [7] * 15
    pose = pose_from_patn_row(str(ys), str(xs), 176, 256)
    assert pose.keypoints[0, 2].tolist() == [0, 0, 0]
    assert pose.keypoints[0, 0].tolist() == [5, 10, 1]
    assert pose_to_patn_lists(pose) == (ys, xs)


def test_patn_csv_file_round_trip_and_errors_name_the_line(tmp_path, make_person):
    poses = {"a.jpg": Pose(make_person(176, 256), 176, 256), "b.jpg": Pose.empty(176, 256)}
    path = tmp_path / "fashion-annotation-train.csv"
    write_patn_annotations(path, poses)
    text = path.read_text()
    assert text.splitlines()[0] == "name:keypoints_y:keypoints_x"
    back = read_patn_annotations(path, 176, 256)
    assert np.allclose(back["a.jpg"].keypoints, np.round(poses["a.jpg"].keypoints), atol=0.51)
    assert not back["b.jpg"].visible.any()

    path.write_text(text + "c.jpg:[1, 2]:[3, 4]\n")
    with pytest.raises(PoseError, match=r"line 4.*2 keypoints"):
        read_patn_annotations(path, 176, 256)
    path.write_text("name,keypoints_y,keypoints_x\n")
    with pytest.raises(PoseError, match="header"):
        read_patn_annotations(path, 176, 256)


def test_controlnet_aux_style_frame_with_none_parts():
    body = [v for i in range(18) for v in ((0.1 + 0.04 * i, 0.5, 1.0) if i != 4 else (0, 0, 0))]
    frame = {"people": [{"pose_keypoints_2d": body, "face_keypoints_2d": None, "hand_left_keypoints_2d": None,
                         "hand_right_keypoints_2d": None}, {"pose_keypoints_2d": None}],
             "canvas_height": 512, "canvas_width": 256}
    pose = poses_from_openpose_json([frame])[0]
    assert pose.num_people == 2
    assert pose.keypoints[0, 0, :2].tolist() == pytest.approx([25.6, 256])
    assert pose.keypoints[0, 4].tolist() == [0, 0, 0]
    assert not pose.visible[1].any()


@pytest.mark.parametrize("frame, message", [
    ({"people": [], "canvas_width": 2**40, "canvas_height": 512}, "at most 16384 px a side"),
    ({"people": [], "canvas_width": float("inf"), "canvas_height": 512}, "not a pair of integers"),
    ({"people": [{"pose_keypoints_2d": [0.5, 0.5, 1] * 18}] * 101, "canvas_width": 64, "canvas_height": 64},
     "101 people, more than the 100"),
    ({"people": [{"pose_keypoints_2d": [0.5, 0.5, 1] * 18, "face_keypoints_2d": [0.5, 0.5, 1] * 2000}],
      "canvas_width": 64, "canvas_height": 64}, "face_keypoints_2d must be a list of at most 3000"),
    ({"people": [{"pose_keypoints_2d": [0.5, 0.5, 1] * 18, "hand_left_keypoints_2d": [[1, 2], "x"]}],
      "canvas_width": 64, "canvas_height": 64}, "hand_left_keypoints_2d must be a flat list of numbers"),
])
def test_pose_json_sizes_are_bounded_with_clear_errors(frame, message):
    with pytest.raises(PoseError, match=message):
        poses_from_openpose_json([frame])


def test_a_sequence_longer_than_the_bound_is_refused_before_any_frame_is_read():
    with pytest.raises(PoseError, match="20001 frames, more than the 20000"):
        poses_from_openpose_json([None] * 20_001)


def _frame(points, width=100, height=200):
    return {"people": [{"pose_keypoints_2d": [v for x, y in points for v in (x, y, 1.0)]}],
            "canvas_width": width, "canvas_height": height}


def test_one_convention_for_the_whole_sequence_decided_from_all_its_frames():
    standing = [(0.5, 0.1 + 0.04 * i) for i in range(18)]
    reaching = standing[:7] + [(2.1, 0.3)] + standing[8:]  # a hand well off the canvas, in fractions
    poses = poses_from_openpose_json([_frame(standing), _frame(reaching)])
    assert poses[1].keypoints[0, 7, :2].tolist() == pytest.approx([210, 60])  # read as normalised too
    assert poses[1].keypoints[0, 0, :2].tolist() == pytest.approx([50, 20])

    walking = [(40 + i, 30 + 5 * i) for i in range(18)]
    tiny = [(1.0 + 0.05 * i, 1.5) for i in range(18)]  # a frame whose pixel points all lie within 2 px
    poses = poses_from_openpose_json([_frame(walking), _frame(walking), _frame(tiny)])
    assert poses[2].keypoints[0, 4, :2].tolist() == pytest.approx([1.2, 1.5])  # stays in pixels


def test_the_convention_can_be_chosen():
    standing = [(0.5, 0.1 + 0.04 * i) for i in range(18)]
    as_pixels = poses_from_openpose_json([_frame(standing)], coordinates="pixels")[0]
    assert as_pixels.keypoints[0, 1, :2].tolist() == pytest.approx([0.5, 0.14])
    walking = [(40 + i, 30 + 5 * i) for i in range(18)]
    as_fractions = poses_from_openpose_json([_frame(walking, 10, 10)], coordinates="normalised")[0]
    assert as_fractions.keypoints[0, 0, :2].tolist() == pytest.approx([400, 300])
    with pytest.raises(PoseError, match="coordinates must be one of"):
        poses_from_openpose_json([_frame(walking)], coordinates="inches")
