"""The RPT-GAN node classes for ComfyUI (the classic NODE_CLASS_MAPPINGS contract).

Each node is a thin layer: it checks ComfyUI's values, converts them to
rptgan_core's types, calls rptgan_core, and converts back. See docs/nodes.md.
"""

from .comfy_compat import place_example_inputs, register_model_folders
from .finetune import FineTune
from .loaders import LoadPersonImage, LoadPoseKeypoints, LoadVideoFrames
from .pose_nodes import EditPose, EstimatePose
from .routes import register as register_routes
from .sequences import PoseKeyframes, PoseLibrary, SavePoseToLibrary
from .transfer import CheckpointLoader, PoseTransfer
from .upscale import Upscale

NODE_CLASS_MAPPINGS = {
    "RPTGAN_LoadPersonImage": LoadPersonImage,
    "RPTGAN_LoadPoseKeypoints": LoadPoseKeypoints,
    "RPTGAN_LoadVideoFrames": LoadVideoFrames,
    "RPTGAN_EstimatePose": EstimatePose,
    "RPTGAN_EditPose": EditPose,
    "RPTGAN_PoseLibrary": PoseLibrary,
    "RPTGAN_SavePoseToLibrary": SavePoseToLibrary,
    "RPTGAN_PoseKeyframes": PoseKeyframes,
    "RPTGAN_CheckpointLoader": CheckpointLoader,
    "RPTGAN_PoseTransfer": PoseTransfer,
    "RPTGAN_Upscale": Upscale,
    "RPTGAN_FineTune": FineTune,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "RPTGAN_LoadPersonImage": "Load Person Image (RPT-GAN)",
    "RPTGAN_LoadPoseKeypoints": "Load Pose Keypoints (RPT-GAN)",
    "RPTGAN_LoadVideoFrames": "Load Video Frames (RPT-GAN)",
    "RPTGAN_EstimatePose": "Estimate Pose (RPT-GAN)",
    "RPTGAN_EditPose": "Edit Pose (RPT-GAN)",
    "RPTGAN_PoseLibrary": "Pose Library (RPT-GAN)",
    "RPTGAN_SavePoseToLibrary": "Save Pose to Library (RPT-GAN)",
    "RPTGAN_PoseKeyframes": "Pose Keyframes (RPT-GAN)",
    "RPTGAN_CheckpointLoader": "RPT-GAN Checkpoint Loader",
    "RPTGAN_PoseTransfer": "Pose Transfer GAN (RPT-GAN)",
    "RPTGAN_Upscale": "Upscale (RPT-GAN)",
    "RPTGAN_FineTune": "Fine-tune RPT-GAN on a Person",
}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "place_example_inputs", "register_model_folders",
           "register_routes"]
