"""rptgan_core: RPT-GAN pose-guided person image synthesis as a plain PyTorch library.

Modules: ``pose`` (keypoints, formats, pose maps, geometry), ``config`` (model
configs and presets), ``networks`` (the paper's generator and the flow
generator, discriminators, encoders), ``processing`` (the generator's one
input/output path), ``checkpoint`` (safetensors with the config inside),
``inference`` (images and target poses in, images out). For training and
scoring: ``evaluation`` and ``pose_metrics`` (figures beside copy-source,
best-blur and no-pose baselines), ``metrics``, ``losses``, ``data``,
``augment``, ``synthetic``, ``train_config``, ``train_state``. Nothing here
imports ComfyUI.
"""

__version__ = "0.1.0"
