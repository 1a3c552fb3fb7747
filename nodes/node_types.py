"""What the node files share: the menu category and the pack's own ComfyUI type (RPTGAN_CROP)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rptgan_core.framing import CropBox

CATEGORY = "RPT-GAN"


@dataclass(frozen=True)
class CropInfo:
    """How a LoadPersonImage output was cut from its photo (the RPTGAN_CROP type).

    Attributes:
        frame: the whole photo, (1, 3, H, W) float32 in [0, 1].
        box: the window the output shows, in photo pixels (may reach past the edges).
    """

    frame: torch.Tensor
    box: CropBox

    @property
    def output_size(self) -> tuple[int, int]:
        """(height, width) of the cropped image."""
        return self.box.height, self.box.width
