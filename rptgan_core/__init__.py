"""rptgan_core: RPT-GAN pose-guided person image synthesis as a plain PyTorch library.

Modules: ``pose`` (keypoints, formats, pose maps, geometry), ``config`` (model
configs and presets), ``networks`` (generator, discriminator, encoders),
``checkpoint`` (safetensors with the config inside), ``inference`` (images and
target poses in, images out). Nothing here imports ComfyUI.
"""

__version__ = "0.1.0"
