"""Pose estimation on real photos: 18 OpenPose keypoints with confidences, all people.

    from rptgan_core.estimation import create_estimator, available_backends
    estimator = create_estimator("mediapipe", model_dir=d) # BlazePose: 0.10.21 bundled, 1.x with a .task
    estimator = create_estimator("openpose", model_dir=d) # controlnet-aux OpenPose body model
    pose = estimator.estimate(image)                      # (H, W, 3) uint8 RGB -> Pose, maybe 0 people

Backends: "openpose" (``openpose.py``; needs controlnet-aux and the body model
file) and "mediapipe" (``blazepose.py``; needs mediapipe). Importing this
package imports neither; ``create_estimator`` does. See docs/pose-estimation.md.
"""

from __future__ import annotations

from typing import Any

from .base import EstimatorUnavailable, PoseEstimator, available_backends, create_estimator, register_backend
from .preprocess import PreparedImage, prepare_image


def _openpose(**options: Any) -> PoseEstimator:
    from .openpose import OpenPoseEstimator

    return OpenPoseEstimator(**options)


def _mediapipe(**options: Any) -> PoseEstimator:
    from .blazepose import BlazePoseEstimator

    return BlazePoseEstimator(**options)


register_backend("openpose", _openpose, requires={"controlnet_aux": "controlnet-aux>=0.0.9"})
register_backend("mediapipe", _mediapipe, requires={"mediapipe": "mediapipe>=1.2"})

__all__ = [
    "EstimatorUnavailable", "PoseEstimator", "PreparedImage", "available_backends", "create_estimator",
    "prepare_image", "register_backend",
]
