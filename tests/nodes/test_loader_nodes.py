"""LoadPersonImage and LoadPoseKeypoints on real files in a temporary input folder."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch


def test_load_person_image_returns_image_mask_and_crop(nodes, folders, kit):
    array = np.zeros((40, 30, 4), np.uint8)
    array[..., 1] = 255
    array[..., 3] = 255
    array[:10, :, 3] = 0  # transparent top rows
    kit.save_picture(folders["input"] / "rgba.png", array)
    image, mask, crop = nodes["RPTGAN_LoadPersonImage"]().load("rgba.png")
    assert image.shape == (1, 40, 30, 3) and image.dtype == torch.float32
    assert mask.shape == (1, 40, 30)
    assert float(mask[0, :10].min()) == 1.0 and float(mask[0, 10:].max()) == 0.0  # MASK = 1 - alpha
    assert float(image[0, 20, 10, 1]) == pytest.approx(1.0)
    assert crop.output_size == (40, 30) and crop.frame.shape == (1, 3, 40, 30)


def test_transparency_fill(nodes, folders, kit):
    array = np.zeros((8, 8, 4), np.uint8)
    kit.save_picture(folders["input"] / "clear.png", array)
    image, _, _ = nodes["RPTGAN_LoadPersonImage"]().load("clear.png", transparency="white")
    assert float(image.min()) == pytest.approx(1.0)


def test_greyscale_sixteen_bit_and_rotated_files_load(nodes, folders, kit):
    from PIL import Image

    kit.save_picture(folders["input"] / "grey16.png", (np.arange(48).reshape(6, 8) * 1000).astype(np.uint16))
    image, _, _ = nodes["RPTGAN_LoadPersonImage"]().load("grey16.png")
    assert image.shape == (1, 6, 8, 3) and 0 < float(image.max()) < 1
    picture = Image.fromarray(np.zeros((10, 20, 3), np.uint8))
    exif = picture.getexif()
    exif[0x0112] = 8
    picture.save(folders["input"] / "turned.jpg", exif=exif)
    image, _, _ = nodes["RPTGAN_LoadPersonImage"]().load("turned.jpg")
    assert image.shape == (1, 20, 10, 3)


def test_aspect_letterboxes_the_whole_picture(nodes, folders, kit, person_png):
    image, mask, crop = nodes["RPTGAN_LoadPersonImage"]().load(person_png, aspect="deepfashion (176x256)")
    assert image.shape[1:3] == (70, 48)  # 48x64 padded to 176:256 = 48 x 69.8
    assert crop.box.top == -3
    assert float(mask[0, 0].min()) == 1.0 and float(mask[0, 3:67].max()) == 0.0  # padding is outside the picture
    assert float(image[0, 0].min()) == 1.0  # padded with the preset's white


def test_person_crop_uses_the_estimator(nodes, folders, kit, fake_estimator):
    array = np.full((200, 150, 3), 128, np.uint8)
    kit.save_picture(folders["input"] / "photo.png", array)
    image, mask, crop = nodes["RPTGAN_LoadPersonImage"]().load("photo.png", person_crop=kit.fake_backend,
                                                                aspect="synthetic (96x128)", margin=0.1)
    assert fake_estimator.calls == 1
    height, width = image.shape[1:3]
    assert width / height == pytest.approx(0.75, abs=0.02)
    assert height < 200 and crop.box.top > 0
    assert (height, width) == crop.output_size


def test_person_crop_without_a_person_is_an_error(nodes, folders, kit, fake_estimator):
    kit.save_picture(folders["input"] / "black.png", np.zeros((50, 40, 3), np.uint8))
    with pytest.raises(ValueError, match="found no person in 'black.png'"):
        nodes["RPTGAN_LoadPersonImage"]().load("black.png", person_crop=kit.fake_backend)


@pytest.mark.parametrize("name", ["../outside.png", "/etc/passwd", "sub/../../outside.png", "link.png"])
def test_names_outside_the_input_folder_are_refused(nodes, folders, kit, name):
    kit.save_picture(folders["input"].parent / "outside.png", np.zeros((4, 4, 3), np.uint8))
    os.symlink(folders["input"].parent / "outside.png", folders["input"] / "link.png")
    node = nodes["RPTGAN_LoadPersonImage"]
    message = node.VALIDATE_INPUTS(name)
    assert isinstance(message, str) and ("outside the input folder" in message or "absolute path" in message)
    with pytest.raises(ValueError, match="outside the input folder|absolute path"):
        node().load(name)


def test_subfolders_inside_the_input_folder_are_fine(nodes, folders, kit):
    (folders["input"] / "batch").mkdir()
    kit.save_picture(folders["input"] / "batch" / "a.png", np.zeros((4, 4, 3), np.uint8))
    node = nodes["RPTGAN_LoadPersonImage"]
    assert node.VALIDATE_INPUTS("batch/a.png") is True
    assert node().load("batch/a.png")[0].shape == (1, 4, 4, 3)
    assert isinstance(node.IS_CHANGED("batch/a.png"), str)


def test_missing_and_corrupt_images(nodes, folders):
    node = nodes["RPTGAN_LoadPersonImage"]
    assert "not found" in node.VALIDATE_INPUTS("nope.png")
    (folders["input"] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(ValueError, match="image: .*broken.png"):
        node().load("broken.png")


def test_input_list_shows_images_only(nodes, folders, kit, person_png):
    (folders["input"] / "notes.txt").write_text("x")
    choices = nodes["RPTGAN_LoadPersonImage"].INPUT_TYPES()["required"]["image"][0]
    assert choices == [person_png]


def test_load_pose_keypoints_sequence_and_single_frame(nodes, folders, kit):
    frames = [kit.keypoint_frame(96, 128), kit.keypoint_frame(96, 128, people=2)]
    (folders["input"] / "seq.json").write_text(json.dumps(frames))
    (folders["input"] / "one.json").write_text(json.dumps(frames[0]))
    pose, preview, count = nodes["RPTGAN_LoadPoseKeypoints"]().load("seq.json")
    assert count == 2 and len(pose) == 2 and len(pose[1]["people"]) == 2
    assert preview.shape == (2, 128, 96, 3) and float(preview.max()) > 0.5
    keypoints = np.asarray(pose[0]["people"][0]["pose_keypoints_2d"]).reshape(18, 3)
    assert keypoints[:, :2].max() <= 1.0 and set(keypoints[:, 2]) == {1.0}  # normalised, confidence 1
    pose, _, count = nodes["RPTGAN_LoadPoseKeypoints"]().load("one.json")
    assert count == 1


def test_load_pose_keypoints_errors(nodes, folders):
    node = nodes["RPTGAN_LoadPoseKeypoints"]
    (folders["input"] / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        node().load("bad.json")
    (folders["input"] / "empty.json").write_text("[]")
    with pytest.raises(ValueError, match="empty"):
        node().load("empty.json")
    (folders["input"] / "short.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": [1, 2, 1] * 5}]}))
    with pytest.raises(ValueError, match="holds 5 keypoints"):
        node().load("short.json")
    assert "outside the input folder" in node.VALIDATE_INPUTS("../x.json")


def test_a_long_sequence_on_a_large_canvas_previews_smaller_instead_of_allocating_gigabytes(nodes, folders, kit):
    frame = {**kit.keypoint_frame(96, 128), "canvas_width": 4096, "canvas_height": 4096}
    (folders["input"] / "long.json").write_text(json.dumps([frame] * 200))  # 200 x 4096^2 x 12 B = 40 GB at full size
    pose, preview, count = nodes["RPTGAN_LoadPoseKeypoints"]().load("long.json")
    assert count == 200 and len(pose) == 200
    assert preview.numel() * 4 <= 2**30 and preview.shape[1] == preview.shape[2] > 100


def test_load_pose_keypoints_takes_the_coordinate_convention_it_is_told(nodes, folders):
    frame = {"people": [{"pose_keypoints_2d": [v for i in range(18) for v in (0.5, 0.05 * i, 1)]}],
             "canvas_width": 100, "canvas_height": 200}
    (folders["input"] / "fractions.json").write_text(json.dumps([frame]))
    node = nodes["RPTGAN_LoadPoseKeypoints"]()
    assert "coordinates" in node.INPUT_TYPES()["optional"]
    auto, _, _ = node.load("fractions.json")
    pixels, _, _ = node.load("fractions.json", coordinates="pixels")
    as_read = lambda pose: np.asarray(pose[0]["people"][0]["pose_keypoints_2d"]).reshape(18, 3)  # noqa: E731
    # the node writes normalised POSE_KEYPOINT: read as fractions the point stays 0.5; as pixels it is 0.5 px
    assert as_read(auto)[3, 0] == pytest.approx(0.5) and as_read(pixels)[3, 0] == pytest.approx(0.005)
