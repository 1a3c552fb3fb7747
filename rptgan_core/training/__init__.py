"""Training and scoring: everything that serves training a generator, beside the inference library.

Nothing outside this package in ``rptgan_core`` imports it (``tests/test_layering.py``
checks), so inference needs none of it. Importing the package imports nothing;
its modules:

- ``config`` (the training config: data, augmentation, losses, schedule),
  ``data`` (pair lists, the dataset, epoch sampling), ``augment``, ``synthetic``
  (SyntheticPeople, drawn people in any pose: synthetic data);
- ``losses``, ``step`` (one GAN step), ``loop`` (the training loop and its run),
  ``state`` (resumable training state in safetensors and JSON), ``finetune``
  (a checkpoint fitted to one person's frames, as the Fine-tune node does it);
- ``evaluation`` and ``pose_metrics`` (figures beside copy-source, best-blur and
  no-pose baselines), ``metrics`` (SSIM, LPIPS, FID, IS), ``protocols`` (the
  papers' evaluation scripts).
"""
