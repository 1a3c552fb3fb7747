"""One training step of the GAN: a discriminator update, then a generator update.

The step is the same for the paper's generator and the flow generator; the flow
generator's parts (its flows, its own painting) add the warp and painting losses.
``training.loop`` calls it once per batch; ``bench/train.py`` times it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from accelerate import Accelerator

from ..pose import soft_body_mask
from ..processing import generator_inputs, to_model_range
from .losses import LossConfig, body_l1, discriminator_loss, generator_loss, limb_correction_size, warp_loss


def gan_step(batch: dict[str, torch.Tensor], generator, discriminator, opt_g, opt_d, accelerator: Accelerator,
             losses: LossConfig, perceptual=None) -> dict[str, float]:
    """One discriminator update then one generator update on ``batch`` (from ``PairDataset``).

    ``generator`` and ``discriminator`` are the prepared (possibly DDP-wrapped) networks.
    Returns the named loss values.
    """
    plain_g, plain_d = accelerator.unwrap_model(generator), accelerator.unwrap_model(discriminator)
    inputs = generator_inputs(plain_g, batch["source"], batch["target_keypoints"], batch["source_keypoints"])
    target = to_model_range(batch["target"])
    identity = batch["identity"]
    parts = {}
    if plain_g.uses_source_pose:
        generated, parts = generator(**inputs, return_parts=True)
    else:
        generated = generator(**inputs)
    condition = {"source": inputs["source"], "pose_maps": inputs["pose_maps"]}

    real_logits, real_identity = discriminator(target, **condition)
    fake_logits, _ = discriminator(generated.detach(), **condition)
    d_loss, d_parts = discriminator_loss(real_logits, fake_logits, real_identity, identity, losses)
    accelerator.backward(d_loss)
    opt_d.step()
    opt_d.zero_grad(set_to_none=True)

    # The generator's adversarial terms go through the bare discriminator with its
    # weights frozen: no gradient reaches (or needs reducing for) its parameters.
    plain_d.requires_grad_(False)
    try:
        with accelerator.autocast():
            fake_logits, fake_identity = plain_d(generated, **condition)
        g_loss, g_parts = generator_loss(generated, target, fake_logits, fake_identity, identity, losses, perceptual)
        if "flows" in parts and losses.warp > 0:
            g_parts["g_warp"] = warp_loss(inputs["source"], target, parts["flows"])
            g_loss = g_loss + losses.warp * g_parts["g_warp"]
            g_parts["g_warp"] = float(g_parts["g_warp"].detach())
        if "painted" in parts and losses.painted > 0:
            painted = F.l1_loss(parts["painted"].float(), target.float())
            g_loss = g_loss + losses.painted * painted
            g_parts["g_painted"] = float(painted.detach())
        if "correction" in parts and losses.limb_correction > 0:
            limbs = limb_correction_size(parts["correction"], batch["target_keypoints"])
            g_loss = g_loss + losses.limb_correction * limbs
            g_parts["g_limb_correction"] = float(limbs.detach())
        if losses.body > 0:
            mask = soft_body_mask(batch["target_keypoints"], *target.shape[-2:]).to(target.device)
            body = body_l1(generated, target, mask)
            g_loss = g_loss + losses.body * body
            g_parts["g_body"] = float(body.detach())
        accelerator.backward(g_loss)
    finally:
        plain_d.requires_grad_(True)
    opt_g.step()
    opt_g.zero_grad(set_to_none=True)
    return {**d_parts, **g_parts}
