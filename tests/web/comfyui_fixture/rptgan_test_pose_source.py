"""A ComfyUI custom node for the pose editor's in-ComfyUI test: emits a fixed
POSE_KEYPOINT value (from its JSON widget), so EditPose gets an incoming pose
without a pose-estimation model."""

import json


class RPTGANTestPoseSource:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pose_json": ("STRING", {"multiline": True, "default": "[]"})}}

    RETURN_TYPES = ("POSE_KEYPOINT",)
    FUNCTION = "emit"
    CATEGORY = "RPT-GAN/testing"

    def emit(self, pose_json):
        return (json.loads(pose_json),)


NODE_CLASS_MAPPINGS = {"RPTGAN_TestPoseSource": RPTGANTestPoseSource}
