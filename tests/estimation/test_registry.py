"""Backend registry: names, options, missing packages."""

import numpy as np
import pytest

from rptgan_core.estimation import (
    EstimatorUnavailable,
    PoseEstimator,
    available_backends,
    base,
    create_estimator,
    register_backend,
)
from rptgan_core.pose import Pose


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch):
    monkeypatch.setattr(base, "_BACKENDS", dict(base._BACKENDS))


class _Constant(PoseEstimator):
    name = "constant"

    def __init__(self, x: float = 5.0) -> None:
        self.x = x

    def detect(self, image: np.ndarray) -> Pose:
        points = np.zeros((18, 3), np.float32)
        points[0] = self.x, 2.0, 0.5
        return Pose(points, image.shape[1], image.shape[0])


def test_builtin_backends_are_registered_in_order_of_preference():
    assert list(base._BACKENDS)[:2] == ["openpose", "mediapipe"]
    assert "openpose" in available_backends()  # controlnet-aux is a test dependency


def test_a_registered_backend_gets_the_options():
    register_backend("constant", _Constant)
    assert "constant" in available_backends()
    estimator = create_estimator("constant", x=9.0)
    image = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    pose = estimator.estimate(image)
    assert pose.num_people == 1 and (pose.width, pose.height) == (256, 256)
    np.testing.assert_allclose(pose.keypoints[0, 0], [9.0, 2.0, 0.5])


def test_unknown_names_list_the_known_ones():
    with pytest.raises(KeyError, match="openpose"):
        create_estimator("no-such-backend")


def test_missing_packages_make_a_backend_unavailable_with_the_pip_line():
    register_backend("needs-missing", _Constant, requires={"rptgan_no_such_module": "rptgan-no-such-package>=1"})
    assert "needs-missing" not in available_backends()
    with pytest.raises(EstimatorUnavailable, match=r"pip install 'rptgan-no-such-package>=1'"):
        create_estimator("needs-missing")


def test_bad_registrations_are_refused():
    with pytest.raises(ValueError):
        register_backend("", _Constant)
    with pytest.raises(TypeError):
        register_backend("not-callable", 42)
