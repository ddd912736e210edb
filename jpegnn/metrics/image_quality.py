"""Per-image quality in the convention of CompressAI's evaluation (``compressai.utils.eval_model``).

Both images are brought to 8-bit (scaled to [0, 255], clamped and rounded) before measuring, as
``eval_model``'s ``compute_metrics`` does, so the numbers are those of the decoded PNG a user would
save. PSNR-RGB is one MSE over all three channels with peak 255, in dB.

MS-SSIM-RGB is exactly ``pytorch_msssim.ms_ssim(org, rec, data_range=255)`` on the float32 8-bit
images, the call ``eval_model`` (and ``compressai.utils.bench``) makes: 5 scales with weights
(0.0448, 0.2856, 0.3001, 0.2363, 0.1333), an 11-tap Gaussian of sigma 1.5 applied separably in
valid mode (no padding) at every scale, K = (0.01, 0.03); per channel, the relu'd mean
contrast-structure term of scales 1-4 and the relu'd mean SSIM of scale 5 are raised to their
weights and multiplied, then the product is averaged over the channels. Between scales the images
are 2x2 average-pooled with a padding of ``side % 2`` (zeros counted). pytorch_msssim asserts a
shorter side of more than (11 - 1) * 2**4 = 160 px; :func:`ms_ssim_rgb` returns NaN there instead
(tiny test images).

(Before issue 14 this module used torchmetrics' MS-SSIM, which averages the channels before the
product over scales and reflection-pads the last scale. On the 24 Kodak images with Pillow JPEG
4:2:0 at qualities 10/30/50/75/95 it differed from CompressAI's figure by 2.3e-4 on average and
by up to 3.2e-3 (q=10; up to 1.5e-4 at q >= 50), and it had no value below 176 px.)
"""

from __future__ import annotations

import math

import pytorch_msssim
import torch

#: Smallest shorter side (px, inclusive) for which :func:`ms_ssim_rgb` has a value: pytorch_msssim
#: requires ``min(H, W) > (11 - 1) * 2**4 = 160`` for its 5 scales with an 11-tap window. Sides of
#: 160 px and less give NaN.
MS_SSIM_MIN_SIDE = 161


def to_8bit(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats to rounded [0, 255] floats (what saving as 8-bit PNG keeps)."""
    return (x.clamp(0, 1) * 255).round()


def psnr_rgb(x: torch.Tensor, ref: torch.Tensor) -> float:
    """PSNR in dB between two 3xHxW (or 1x3xHxW) images in [0, 1], after 8-bit rounding."""
    mse = torch.mean((to_8bit(x).double() - to_8bit(ref).double()) ** 2).item()
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ms_ssim_rgb(x: torch.Tensor, ref: torch.Tensor) -> float:
    """MS-SSIM (linear, in [0, 1]) of 3xHxW (or Nx3xHxW) images in [0, 1], as CompressAI's ``eval_model``.

    Returns ``pytorch_msssim.ms_ssim(to_8bit(x), to_8bit(ref), data_range=255)`` computed in
    float32 (a batch is averaged over images and channels), or NaN when the shorter side is below
    :data:`MS_SSIM_MIN_SIDE` (161 px).
    """
    if x.dim() == 3:
        x, ref = x.unsqueeze(0), ref.unsqueeze(0)
    if x.shape != ref.shape:
        raise ValueError(f"shape mismatch: {tuple(x.shape)} vs reference {tuple(ref.shape)}")
    if min(x.shape[-2:]) < MS_SSIM_MIN_SIDE:
        return float("nan")
    # float32 even where the caller runs under autocast (Lightning's test loop with bf16-mixed):
    # bf16 convolutions lose most of the E[x²] − μ² variance term at data range 255
    with torch.autocast(x.device.type, enabled=False):
        val = pytorch_msssim.ms_ssim(to_8bit(x.float()), to_8bit(ref.float()), data_range=255)
    return float(val)


def ms_ssim_db(value: float) -> float:
    """MS-SSIM expressed in dB, ``-10 log10(1 - value)``, as CompressAI's plots do."""
    return float("inf") if value >= 1 else -10 * math.log10(1 - value)
