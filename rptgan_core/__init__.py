"""rptgan_core: RPT-GAN pose-guided person image synthesis as a plain PyTorch library.

Nothing here imports ComfyUI (``tests/test_layering.py`` checks). Modules:

- Inference: ``pose`` (keypoints, formats, pose maps, geometry), ``config`` (model
  configs and presets), ``networks`` (the paper's generator and the flow generator,
  discriminators, encoders), ``processing`` (the generator's one input/output path),
  ``checkpoint`` (safetensors with the config inside), ``inference`` (images and
  target poses in, images out), ``export`` (ONNX), ``upscale``, ``estimation`` (pose
  estimators behind one registry).
- Poses and framing: ``pose_edit``, ``pose_library``, ``keyframes``, ``framing``
  (boxes around people, crops, pasting back).
- Files and inputs: ``imageio`` (the one image reader), ``jsonio`` (the bounded JSON
  reader), ``files``, ``limits`` (every size an input can set), ``errors``.
- People in video: ``video_people`` (one person tracked through frames, for the
  Load Video Frames node and for datasets made from video).
- ``training``: the training package beside this inference library (data,
  augmentation, SyntheticPeople, losses, the GAN step and loop, resumable state,
  fine-tuning, evaluation against baselines, metrics); nothing above imports it.
"""

__version__ = "0.1.0"
