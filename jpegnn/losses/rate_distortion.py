"""Rate-distortion objective of learned image compression (Ballé et al.; CompressAI's recipe).

``loss = λ·255²·MSE + bpp`` (distortion ``"mse"``) or ``loss = λ·(1 − MS-SSIM) + bpp``
(``"ms-ssim"``), where ``bpp`` is the *estimated* rate: −Σ log2 p(ŷ) over every likelihood tensor,
divided by the number of pixels of the batch (bits per pixel, not per sample).
"""

from __future__ import annotations

import math
import numbers
from typing import Mapping

import torch
from torch import Tensor, nn
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

from jpegnn.errors import ConfigError

_MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def bits_from_likelihoods(likelihoods: Mapping[str, Tensor]) -> Tensor:
    """Estimated bits per sample of the batch (shape ``B``): Σ −log2 p over all latents.

    Likelihood tensors are clamped at 1e-9 like CompressAI's lower bound, so one impossible
    symbol cannot make the estimate infinite.
    """
    total = None
    for lik in likelihoods.values():
        bits = -torch.log2(lik.clamp_min(1e-9)).flatten(1).sum(dim=1)
        total = bits if total is None else total + bits
    assert total is not None, "no likelihoods"
    return total


def ms_ssim_loss_value(x_hat: Tensor, x: Tensor, normalize: str = "relu") -> Tensor:
    """MS-SSIM on [0, 1] images, using as many of the 5 standard scales as the patch allows.

    Five scales with an 11-tap window need a side of 11 * 2**4 = 176 px (torchmetrics' check);
    smaller training patches use the first k scales with their weights renormalised (documented
    deviation, only for tiny patches).

    ``normalize`` is torchmetrics' option: ``"relu"`` (the standard MS-SSIM, as pytorch_msssim and
    TensorFlow compute it) clamps negative contrast-structure terms to 0, so an image with no
    structure in common with the target (an untrained decoder's output) scores exactly 0 with a
    zero gradient; ``"simple"`` maps each term to (s + 1) / 2, which keeps a gradient there.
    """
    side = min(x.shape[-2:])
    scales = 5
    while scales > 1 and side < 11 * 2 ** (scales - 1):
        scales -= 1
    betas = _MS_SSIM_BETAS[:scales]
    s = sum(betas)
    betas = tuple(b / s for b in betas)
    kernel = 11 if side >= 11 else (side // 2) * 2 - 1
    return multiscale_structural_similarity_index_measure(
        x_hat.float(), x.float(), data_range=1.0, betas=betas, kernel_size=max(kernel, 3), normalize=normalize
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
        """Return ``loss``, ``bpp`` (estimated), ``mse`` and, for MS-SSIM training, ``ms_ssim``."""
        n, _, h, w = target.shape
        bits = bits_from_likelihoods(output["likelihoods"])  # type: ignore[arg-type]
        bpp = bits.sum() / (n * h * w)
        x_hat = output["x_hat"]
        mse = torch.mean((x_hat - target) ** 2)  # type: ignore[operator]
        out = {"bpp": bpp, "mse": mse}
        if self.distortion == "mse":
            out["loss"] = self.lmbda * 255.0**2 * mse + bpp
        else:
            ms = ms_ssim_loss_value(x_hat, target, self.ms_ssim_normalize)  # type: ignore[arg-type]
            out["ms_ssim"] = ms
            out["loss"] = self.lmbda * (1 - ms) + bpp
        return out


def psnr_from_mse(mse: float, peak: float = 1.0) -> float:
    """PSNR in dB for a mean squared error on [0, peak] signals."""
    return float("inf") if mse <= 0 else 10 * math.log10(peak**2 / mse)
