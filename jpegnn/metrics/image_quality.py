"""Per-image quality in the convention of CompressAI's evaluation.

Both images are brought to 8-bit (scaled to [0, 255], clamped and rounded) before measuring, as
``compressai.utils.eval_model`` does, so the numbers are those of the decoded PNG a user would
save. PSNR-RGB is one MSE over all three channels with peak 255, in dB. MS-SSIM-RGB uses
torchmetrics' multi-scale SSIM (5 scales, Gaussian window 11, data range 255); torchmetrics needs
a shorter side of more than (11 - 1) * 2**4 + 15 = 175 pixels, and the value is NaN below that
(tiny test images).
"""

from __future__ import annotations

import math

import torch

#: smallest side torchmetrics accepts for 5-scale MS-SSIM with an 11-tap window (checked: 175 raises)
MS_SSIM_MIN_SIDE = 176


def to_8bit(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats to rounded [0, 255] floats (what saving as 8-bit PNG keeps)."""
    return (x.clamp(0, 1) * 255).round()


def psnr_rgb(x: torch.Tensor, ref: torch.Tensor) -> float:
    """PSNR in dB between two 3xHxW (or 1x3xHxW) images in [0, 1], after 8-bit rounding."""
    mse = torch.mean((to_8bit(x).double() - to_8bit(ref).double()) ** 2).item()
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ms_ssim_rgb(x: torch.Tensor, ref: torch.Tensor) -> float:
    """MS-SSIM (linear, in [0, 1]) after 8-bit rounding; NaN when a side is under 176 pixels (torchmetrics' 5-scale check)."""
    if x.dim() == 3:
        x, ref = x.unsqueeze(0), ref.unsqueeze(0)
    if min(x.shape[-2:]) < MS_SSIM_MIN_SIDE:
        return float("nan")
    # imported here: torchmetrics' image package pulls in torchvision models (seconds of start-up)
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    val = multiscale_structural_similarity_index_measure(
        to_8bit(x).float(), to_8bit(ref).float(), data_range=255.0
    )
    return float(val)


def ms_ssim_db(value: float) -> float:
    """MS-SSIM expressed in dB, ``-10 log10(1 - value)``, as CompressAI's plots do."""
    return float("inf") if value >= 1 else -10 * math.log10(1 - value)
