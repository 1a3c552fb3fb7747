"""Load Video Frames: a clip from the input folder as an IMAGE batch."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


def _gif(path, frames: int = 6, size=(40, 30)):
    pictures = [Image.new("RGB", size, (40 * i, 100, 200 - 30 * i)) for i in range(frames)]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=100, loop=0)


def test_frames_of_an_animated_image(nodes, folders):
    _gif(folders["input"] / "clip.gif")
    node = nodes["RPTGAN_LoadVideoFrames"]
    assert "clip.gif" in node.INPUT_TYPES()["required"]["video"][0]
    frames, first, count = node().load("clip.gif", every=2, max_frames=10)
    assert count == 3 and frames.shape == (3, 30, 40, 3) and first.shape == (1, 30, 40, 3)
    assert frames.dtype.is_floating_point and 0 <= float(frames.min()) and float(frames.max()) <= 1
    np.testing.assert_allclose(first[0, 0, 0].numpy(), np.array([0, 100, 200]) / 255, atol=0.02)
    assert float(frames[1, 0, 0, 0]) > float(frames[0, 0, 0, 0])  # frame 2, not frame 1
    assert node().load("clip.gif", every=1, max_frames=4)[2] == 4
    assert node.VALIDATE_INPUTS("clip.gif") is True
    assert isinstance(node.IS_CHANGED("clip.gif"), str)


def test_bad_clips_are_refused(nodes, folders):
    node = nodes["RPTGAN_LoadVideoFrames"]
    (folders["input"] / "junk.mp4").write_bytes(b"\x00" * 4000)
    with pytest.raises(ValueError, match="video: .*cannot open|video: .*no frame"):
        node().load("junk.mp4")
    assert "outside the input folder" in node.VALIDATE_INPUTS("../../etc/passwd")
    assert "not found" in node.VALIDATE_INPUTS("missing.webp")


def test_frames_cut_around_the_person(nodes, folders, fake_estimator, kit):
    _gif(folders["input"] / "clip.gif", size=(90, 60))
    frames, first, count = nodes["RPTGAN_LoadVideoFrames"]().load("clip.gif", person_crop=kit.fake_backend,
                                                                  aspect="synthetic (96x128)", margin=0.1)
    assert count == 6 and fake_estimator.calls == 6
    assert (frames.shape[1] / frames.shape[2] == pytest.approx(128 / 96, rel=0.05)
            and first.shape[1:] == frames.shape[1:])
