"""Fast PSNR-RGB and MS-SSIM-RGB of many decodes of one reference image (codec sweeps).

A codec benchmark measures the same reference image against 19+ decodes (one per quality). The
metric convention is the project's (:mod:`jpegnn.metrics.image_quality`, i.e. CompressAI's
``eval_model``: 8-bit images, PSNR over all RGB samples with peak 255, and
``pytorch_msssim.ms_ssim(data_range=255)``: 5 scales, 11-tap Gaussian of sigma 1.5 in valid mode at
every scale, per-channel product over scales of the relu'd means, then the mean over channels;
2x2 average pooling with padding ``side % 2`` between scales). Calling pytorch_msssim costs
~90 ms per 768x512 pair on one core (depthwise convolutions of whole float32 planes, five
filtered maps per scale); this module takes ~25 ms per decode (measured on kodim01 with its JPEG
q=30 decode, one thread).

:class:`ReferenceQuality` computes **the same numbers** (tested against
:func:`~jpegnn.metrics.image_quality.psnr_rgb` / :func:`~jpegnn.metrics.image_quality.ms_ssim_rgb`
to 1e-5) faster:

* The reference's own statistics (its per-scale downsampled planes, local means and variances)
  are computed once per image and reused for every decode; per decode only three maps are
  filtered (x, x^2, x*y) instead of five.
* The Gaussian window is applied as two 1-D passes (11+11 taps) with channels-last depthwise
  ``conv2d`` in float32 (the uint8 HWC decode maps to channels-last without a transpose), in row
  bands that stay in cache, on one intra-op thread.
* Scales 1-4 only compute the contrast-structure term (scale 5 only the full SSIM term), summed
  per channel in float64.
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

#: pytorch_msssim's default MS-SSIM scale weights (Wang et al. 2003)
_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_K1, _K2, _DATA_RANGE = 0.01, 0.03, 255.0
_C1 = (_K1 * _DATA_RANGE) ** 2
_C2 = (_K2 * _DATA_RANGE) ** 2
_WIN, _SIGMA = 11, 1.5
_PAD = (_WIN - 1) // 2  # rows/columns the valid-mode filter loses on each side


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
    """The 1-D Gaussian of pytorch_msssim (``_fspecial_gauss_1d(11, 1.5)``: float32, sums to 1)."""
    coords = torch.arange(_WIN, dtype=torch.float32) - _WIN // 2
    g = torch.exp(-(coords**2) / (2 * _SIGMA**2))
    return g / g.sum()


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """pytorch_msssim's step between scales: 2x2 average pooling, odd sides padded by one zero (counted)."""
    return F.avg_pool2d(x, kernel_size=2, padding=[s % 2 for s in x.shape[2:]])


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
            the nine filtered planes of a band stay in the CPU cache (measured 1.25x faster than
            filtering a whole 768x512 image at once, which is memory-bound: 27 vs 33 ms per decode
            on one core).

    MS-SSIM is NaN when the shorter side is below
    :data:`~jpegnn.metrics.image_quality.MS_SSIM_MIN_SIDE` (161 px, i.e. 160 px and less), as in
    ``ms_ssim_rgb``.
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
        """Per scale: the reference planes and their local mean and variance (valid region).

        As in pytorch_msssim the variance is ``E[t^2] - mu^2`` without a clamp.
        """
        t = self._to_planes(self.reference)
        for s in range(len(_BETAS)):
            if s:
                t = _downsample(t)
            st = _filter(torch.cat([t, t * t], dim=1))
            mu = st[:, :3]
            mu_sq = mu * mu
            self._scales.append({"t": t, "mu": mu, "mu_sq": mu_sq, "var": st[:, 3:] - mu_sq})

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
            n = len(_BETAS)
            per_channel = [1.0, 1.0, 1.0]
            for s, ref in enumerate(self._scales):
                if s:
                    p = _downsample(p)
                means = self._band_means(p, ref, with_luminance=s == n - 1)
                for c in range(3):
                    per_channel[c] *= max(means[c], 0.0) ** _BETAS[s]  # relu, then the scale's weight
            return float(sum(per_channel) / 3)

    def _band_means(self, p: torch.Tensor, ref: dict[str, torch.Tensor], with_luminance: bool) -> list[float]:
        """Per-channel mean over the valid positions of the contrast-structure map (or full SSIM map)."""
        h_out = p.shape[2] - 2 * _PAD
        w_out = p.shape[3] - 2 * _PAD
        total = torch.zeros(3, dtype=torch.float64)
        t = ref["t"]
        for r0 in range(0, h_out, self.band):
            r1 = min(h_out, r0 + self.band)
            xb = p[:, :, r0 : r1 + 2 * _PAD]
            tb = t[:, :, r0 : r1 + 2 * _PAD]
            f = _filter(torch.cat([xb, xb * xb, xb * tb], dim=1))
            mu_p = f[:, :3]
            mu_p_sq = mu_p * mu_p
            mu_t = ref["mu"][:, :, r0:r1]
            mu_pt = mu_p * mu_t
            upper = 2 * (f[:, 6:9] - mu_pt) + _C2
            lower = (f[:, 3:6] - mu_p_sq) + ref["var"][:, :, r0:r1] + _C2
            m = upper / lower
            if with_luminance:
                m = (2 * mu_pt + _C1) / (mu_p_sq + ref["mu_sq"][:, :, r0:r1] + _C1) * m
            total += m.sum(dim=(0, 2, 3), dtype=torch.float64)
        return (total / (h_out * w_out)).tolist()
