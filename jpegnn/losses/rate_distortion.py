"""Rate-distortion objective of learned image compression (Ballé et al.; CompressAI's recipe).

``loss = λ·255²·MSE + bpp`` (distortion ``"mse"``) or ``loss = λ·(1 − MS-SSIM) + bpp``
(``"ms-ssim"``), where ``bpp`` is the *estimated* rate: −Σ log2 p(ŷ) over every likelihood tensor,
divided by the number of pixels of the batch (bits per pixel, not per sample). The objective is
computed with the operations of ``compressai.losses.RateDistortionLoss`` in their order, so a
training step here equals CompressAI's ``examples/train.py`` step bit for bit in float32
(``tests/tasks/test_compressai_parity.py``).
"""

from __future__ import annotations

import math
import numbers
from typing import Mapping

import pytorch_msssim
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

from jpegnn.errors import ConfigError
from jpegnn.metrics.image_quality import MS_SSIM_MIN_SIDE

_MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def bits_from_likelihoods(likelihoods: Mapping[str, Tensor]) -> Tensor:
    """Estimated bits per sample of the batch (shape ``B``): Σ −log2 p over all latents.

    No clamp: CompressAI's entropy models already bound every likelihood from below (their
    ``LowerBound``, whose gradient still raises a likelihood sitting on the bound). A clamp here
    would cut that gradient (a ``clamp_min(1e-9)`` made training drift from CompressAI's).
    """
    total = None
    for lik in likelihoods.values():
        bits = -torch.log2(lik).flatten(1).sum(dim=1)
        total = bits if total is None else total + bits
    assert total is not None, "no likelihoods"
    return total


def bpp_loss(likelihoods: Mapping[str, Tensor], num_pixels: int) -> Tensor:
    """Estimated bits per pixel of a batch, computed exactly as ``compressai.losses.RateDistortionLoss``.

    ``Σ_tensors (Σ ln p) / (−ln 2 · num_pixels)`` in that order of operations, so the training
    objective (and its gradient) equals CompressAI's bit for bit in float32.
    """
    return sum(torch.log(lik).sum() / (-math.log(2) * num_pixels) for lik in likelihoods.values())  # type: ignore[return-value]


def ms_ssim_loss_value(x_hat: Tensor, x: Tensor, normalize: str = "relu") -> Tensor:
    """MS-SSIM on [0, 1] images (the training term of ``λ·(1 − MS-SSIM)``).

    ``normalize="relu"`` (the standard MS-SSIM) is ``pytorch_msssim.ms_ssim(data_range=1)``, the
    function CompressAI's ``RateDistortionLoss`` and ``eval_model`` use, whenever the patch allows
    its five scales (shorter side of at least ``MS_SSIM_MIN_SIDE`` = 161 px). Smaller training
    patches fall back to torchmetrics with the first k scales and their weights renormalised (a
    documented deviation, tiny patches only).

    ``normalize="simple"`` is torchmetrics' (s + 1) / 2 surrogate: standard MS-SSIM clamps negative
    contrast-structure terms to 0, so an untrained decoder's output scores exactly 0 with a zero
    gradient; the surrogate keeps a gradient there (training from scratch).
    """
    with torch.autocast(x.device.type, enabled=False):  # float32 under bf16/fp16 AMP too
        return _ms_ssim_float32(x_hat.float(), x.float(), normalize)


def _ms_ssim_float32(x_hat: Tensor, x: Tensor, normalize: str) -> Tensor:
    side = min(x.shape[-2:])
    if normalize == "relu" and side >= MS_SSIM_MIN_SIDE:
        return pytorch_msssim.ms_ssim(x_hat, x, data_range=1)
    scales = 5
    while scales > 1 and side < 11 * 2 ** (scales - 1):
        scales -= 1
    betas = _MS_SSIM_BETAS[:scales]
    s = sum(betas)
    betas = tuple(b / s for b in betas)
    kernel = 11 if side >= 11 else (side // 2) * 2 - 1
    return multiscale_structural_similarity_index_measure(
        x_hat, x, data_range=1.0, betas=betas, kernel_size=max(kernel, 3), normalize=normalize
    )


class RateDistortionLoss(nn.Module):
    """λ-weighted distortion plus estimated rate.

    Args:
        lmbda: Lagrange multiplier λ.
        distortion: ``"mse"`` (λ·255²·MSE) or ``"ms-ssim"`` (λ·(1 − MS-SSIM)).
        ms_ssim_normalize: ``"relu"`` (standard MS-SSIM) or ``"simple"`` (a training surrogate
            with a gradient from the first step; see :func:`ms_ssim_loss_value`).
    """

    def __init__(self, lmbda: float, distortion: str = "mse", ms_ssim_normalize: str = "relu"):
        super().__init__()
        if distortion not in ("mse", "ms-ssim"):
            raise ConfigError(f"distortion must be 'mse' or 'ms-ssim', got {distortion!r}")
        if ms_ssim_normalize not in ("relu", "simple"):
            raise ConfigError(f"ms_ssim_normalize must be 'relu' or 'simple', got {ms_ssim_normalize!r}")
        self.ms_ssim_normalize = ms_ssim_normalize
        if isinstance(lmbda, bool) or not isinstance(lmbda, numbers.Real) or not math.isfinite(lmbda) or lmbda <= 0:
            raise ConfigError(f"lmbda (the rate-distortion λ) must be a finite number > 0, got {lmbda!r}")
        self.lmbda = float(lmbda)
        self.distortion = distortion

    def forward(self, output: Mapping[str, object], target: Tensor) -> dict[str, Tensor]:
        """Return ``loss``, ``bpp`` (estimated), ``mse`` and, for MS-SSIM training, ``ms_ssim``.

        Same operations in the same order as ``compressai.losses.RateDistortionLoss``:
        ``bpp`` by :func:`bpp_loss`, ``mse`` by ``F.mse_loss``, ``loss = λ·(255²·MSE) + bpp``,
        and MS-SSIM by ``pytorch_msssim.ms_ssim`` (see :func:`ms_ssim_loss_value`).
        """
        n, _, h, w = target.shape
        bpp = bpp_loss(output["likelihoods"], n * h * w)  # type: ignore[arg-type]
        x_hat = output["x_hat"]
        mse = F.mse_loss(x_hat, target)  # type: ignore[arg-type]
        out = {"bpp": bpp, "mse": mse}
        if self.distortion == "mse":
            out["loss"] = self.lmbda * (255**2 * mse) + bpp
        else:
            ms = ms_ssim_loss_value(x_hat, target, self.ms_ssim_normalize)  # type: ignore[arg-type]
            out["ms_ssim"] = ms
            out["loss"] = self.lmbda * (1 - ms) + bpp
        return out


def psnr_from_mse(mse: float, peak: float = 1.0) -> float:
    """PSNR in dB for a mean squared error on [0, peak] signals."""
    return float("inf") if mse <= 0 else 10 * math.log10(peak**2 / mse)
