"""Fast PSNR-RGB and MS-SSIM-RGB of many decodes of one reference image (codec sweeps).

A codec benchmark measures the same reference image against 19+ decodes (one per quality). The
metric convention is the project's (:mod:`jpegnn.metrics.image_quality`: 8-bit images, PSNR over
all RGB samples with peak 255, torchmetrics' 5-scale MS-SSIM with an 11-tap Gaussian of sigma 1.5,
data range 255, ``normalize="relu"``), but computing it with torchmetrics costs ~370 ms per
768x512 pair on one core (measured), mostly its dense 11x11 depthwise convolution; this module
takes ~35-40 ms.

:class:`ReferenceQuality` computes **the same numbers** (tested against
:func:`~jpegnn.metrics.image_quality.psnr_rgb` / :func:`~jpegnn.metrics.image_quality.ms_ssim_rgb`
to 1e-5) much faster:

* The reference's own statistics (its per-scale downsampled planes, local means and second
  moments) are computed once per image and reused for every decode.
* The Gaussian window is applied as two 1-D passes (11+11 taps instead of 121) with
  channels-last depthwise ``conv2d`` in float32 (the uint8 HWC decode maps to channels-last
  without a transpose), in row bands that stay in cache, on one intra-op thread.
* Scales 1-4 only need the contrast-structure term on the *valid* region (torchmetrics pads by
  reflection and crops it away again), so only the last scale pads; per decode only three maps
  are filtered (x, x^2, x*y) instead of five.
* PSNR is an exact integer sum of squared errors on uint8 data.
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from jpegnn.metrics.image_quality import MS_SSIM_MIN_SIDE

__all__ = ["ReferenceQuality", "psnr_uint8", "single_thread"]

#: torchmetrics' default MS-SSIM scale weights (Wang et al. 2003)
_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_K1, _K2, _DATA_RANGE = 0.01, 0.03, 255.0
_C1 = (_K1 * _DATA_RANGE) ** 2
_C2 = (_K2 * _DATA_RANGE) ** 2
_WIN, _SIGMA = 11, 1.5
_PAD = (_WIN - 1) // 2


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch ops on one intra-op thread, then restore the previous setting.

    The filters here work on small planes (a 64-row band) where OpenMP fork/join overhead
    dominates; on a loaded machine (other processes on the cores) two spinning OpenMP threads made
    a 192x256 MS-SSIM 80x slower (0.8 s instead of 10 ms, measured). Parallelism comes from worker
    processes instead. Note that ``torch.set_num_threads`` is process-wide.
    """
    prev = torch.get_num_threads()
    if prev == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def _gauss_1d() -> torch.Tensor:
    """The 1-D Gaussian of torchmetrics' SSIM (11 taps, sigma 1.5, float32, sums to 1)."""
    dist = torch.arange((1 - _WIN) / 2, (1 + _WIN) / 2, 1.0, dtype=torch.float32)
    g = torch.exp(-((dist / _SIGMA) ** 2) / 2)
    return g / g.sum()


_G = _gauss_1d()


def _filter(x: torch.Tensor) -> torch.Tensor:
    """Valid-mode 11x11 Gaussian filtering of every plane of ``x`` (N, C, H, W), float32."""
    c = x.shape[1]
    x = x.contiguous(memory_format=torch.channels_last)
    kh = _G.view(1, 1, _WIN, 1).expand(c, 1, _WIN, 1).contiguous()
    kw = _G.view(1, 1, 1, _WIN).expand(c, 1, 1, _WIN).contiguous()
    y = F.conv2d(x, kh, groups=c)
    return F.conv2d(y, kw, groups=c)


def psnr_uint8(decoded: np.ndarray, reference: np.ndarray) -> float:
    """PSNR in dB (peak 255, one MSE over all samples) between two uint8 arrays of equal shape.

    Exact: the squared errors are summed as integers (in float64, exact below 2**53). Equals
    :func:`jpegnn.metrics.image_quality.psnr_rgb` on the same 8-bit images; ``inf`` if identical.
    """
    if decoded.shape != reference.shape:
        raise ValueError(f"shape mismatch: decoded {decoded.shape} vs reference {reference.shape}")
    d = np.subtract(decoded, reference, dtype=np.int16).ravel().astype(np.float64)
    sse = float(np.dot(d, d))
    if sse == 0:
        return float("inf")
    return 10.0 * math.log10(_DATA_RANGE**2 * d.size / sse)


class ReferenceQuality:
    """PSNR-RGB and MS-SSIM-RGB of decodes against one reference, with the reference cached.

    Args:
        reference: H x W x 3 uint8 RGB image (the original).
        band: Output rows filtered per step. The image is processed in horizontal bands so that
            the nine filtered planes of a band stay in the CPU cache (measured 1.4x faster than
            filtering a whole 768x512 image at once, which is memory-bound: 40 vs 57 ms per decode
            on one core).

    MS-SSIM is NaN when the shorter side is below
    :data:`~jpegnn.metrics.image_quality.MS_SSIM_MIN_SIDE` (176 px), as in ``ms_ssim_rgb``.
    """

    def __init__(self, reference: np.ndarray, band: int = 64) -> None:
        if reference.dtype != np.uint8 or reference.ndim != 3 or reference.shape[2] != 3:
            raise ValueError(f"reference must be an HxWx3 uint8 array, got {reference.dtype} {reference.shape}")
        self.reference = reference
        self.height, self.width = reference.shape[:2]
        self.band = max(1, int(band))
        self.ms_ssim_defined = min(self.height, self.width) >= MS_SSIM_MIN_SIDE
        self._scales: list[dict[str, torch.Tensor]] = []
        if self.ms_ssim_defined:
            with torch.inference_mode(), single_thread():
                self._prepare()

    @staticmethod
    def _to_planes(img: np.ndarray) -> torch.Tensor:
        """HxWx3 uint8 -> 1x3xHxW float32 in [0, 255], channels-last (no transpose copy)."""
        return torch.from_numpy(img.astype(np.float32)).unsqueeze(0).permute(0, 3, 1, 2)

    def _prepare(self) -> None:
        """Per scale: the reference planes and their local mean and variance.

        Scales 1-4 use the valid region only; the last scale is reflection-padded first, because
        torchmetrics averages its full SSIM map (luminance term included) over the padded image.
        """
        t = self._to_planes(self.reference)
        n = len(_BETAS)
        for s in range(n):
            last = s == n - 1
            tt = F.pad(t, (_PAD, _PAD, _PAD, _PAD), mode="reflect") if last else t
            st = _filter(torch.cat([tt, tt * tt], dim=1))
            mu = st[:, :3]
            var = torch.clamp(st[:, 3:] - mu * mu, min=0.0)
            self._scales.append({"t_in": tt, "mu": mu, "mu_sq": mu * mu, "var": var})
            if not last:
                t = F.avg_pool2d(t, (2, 2))

    def psnr(self, decoded: np.ndarray) -> float:
        """PSNR-RGB in dB of one HxWx3 uint8 decode (see :func:`psnr_uint8`)."""
        return psnr_uint8(decoded, self.reference)

    def ms_ssim(self, decoded: np.ndarray) -> float:
        """MS-SSIM-RGB (linear, in [0, 1]) of one HxWx3 uint8 decode; NaN if the image is too small."""
        if decoded.shape != self.reference.shape:
            raise ValueError(f"shape mismatch: decoded {decoded.shape} vs reference {self.reference.shape}")
        if not self.ms_ssim_defined:
            return float("nan")
        with torch.inference_mode(), single_thread():
            p = self._to_planes(decoded)
            value = 1.0
            n = len(_BETAS)
            for s, ref in enumerate(self._scales):
                last = s == n - 1
                pp = F.pad(p, (_PAD, _PAD, _PAD, _PAD), mode="reflect") if last else p
                mean = self._band_mean(pp, ref, with_luminance=last)
                value *= max(mean, 0.0) ** _BETAS[s]  # normalize="relu"
                if not last:
                    p = F.avg_pool2d(p, (2, 2))
            return float(value)

    def _band_mean(self, pp: torch.Tensor, ref: dict[str, torch.Tensor], with_luminance: bool) -> float:
        """Mean over channels and valid positions of the contrast-structure map (or full SSIM map)."""
        h_out = pp.shape[2] - 2 * _PAD
        total = 0.0
        for r0 in range(0, h_out, self.band):
            r1 = min(h_out, r0 + self.band)
            xb = pp[:, :, r0 : r1 + 2 * _PAD]
            tb = ref["t_in"][:, :, r0 : r1 + 2 * _PAD]
            f = _filter(torch.cat([xb, xb * xb, xb * tb], dim=1))
            mu_p = f[:, :3]
            mu_p_sq = mu_p * mu_p
            mu_t = ref["mu"][:, :, r0:r1]
            mu_pt = mu_p * mu_t
            var_p = torch.clamp(f[:, 3:6] - mu_p_sq, min=0.0)
            upper = 2 * (f[:, 6:9] - mu_pt) + _C2
            lower = var_p + ref["var"][:, :, r0:r1] + _C2
            if with_luminance:
                m = ((2 * mu_pt + _C1) * upper) / ((mu_p_sq + ref["mu_sq"][:, :, r0:r1] + _C1) * lower)
            else:
                m = upper / lower
            total += float(m.sum(dtype=torch.float64))
        return total / (3 * h_out * (pp.shape[3] - 2 * _PAD))
