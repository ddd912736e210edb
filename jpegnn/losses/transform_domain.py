"""Pixel and transform-domain distortion losses for enhancement filters, mixable by weights.

The third lab notebook argued that a codec's intra prediction is judged by the SATD (sum of
absolute transformed differences, via a Hadamard transform) rather than pixel MSE: an error that
is flat over a block lands in one DC coefficient, which quantisation treats the same whatever its
size, while pixel MSE punishes it heavily; and that a DCT would be the more faithful transform.

Every function takes ``x`` (estimate) and ``ref`` of shape ``B x C x H x W`` (any value range; our
images are in [0, 1]) and returns a scalar tensor. Block transforms tile the image from the top
left into ``n x n`` blocks; rows/columns beyond the last whole block are ignored.

* ``mse``: mean squared error per pixel.
* ``l1``: mean absolute error per pixel.
* ``satd4`` / ``satd8``: mean over blocks and coefficients of ``|H_n (x - ref) H_n^T|`` with the
  **orthonormal** Hadamard matrix ``H_n = hadamard(n) / sqrt(n)`` (so the value is on the scale of
  the per-pixel L1; HEVC's integer SATD is ``n`` times this sum over a block).
* ``dct_mse``: mean squared orthonormal 8x8 DCT-II coefficient error. With uniform weights this
  *equals* ``mse`` on the whole blocks (Parseval), which the tests check.
* ``dct_mse_jpeg``: the same with coefficient ``(u, v)`` weighted by ``1 / Q_uv^2`` of the
  standard JPEG luminance table (Annex K), normalised to mean 1: errors in the frequencies JPEG
  keeps finely count more.

:class:`DistortionMix` combines terms from a ``{name: weight}`` mapping (what a YAML config gives,
e.g. ``{mse: 1.0, satd8: 0.05}``).
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Mapping

import numpy as np
import scipy.fft
import scipy.linalg
import torch
from torch import Tensor, nn

from jpegnn.errors import ConfigError

__all__ = [
    "hadamard_matrix", "dct_matrix", "block_transform", "mse", "l1", "satd", "dct_mse", "jpeg_dct_weights",
    "LOSSES", "DistortionMix",
]


@functools.lru_cache(maxsize=16)
def _hadamard_np(n: int) -> np.ndarray:
    return scipy.linalg.hadamard(n).astype(np.float64) / math.sqrt(n)


@functools.lru_cache(maxsize=16)
def _dct_np(n: int) -> np.ndarray:
    # rows are the basis vectors: D @ v is the orthonormal DCT-II of v
    return scipy.fft.dct(np.eye(n), norm="ortho", axis=0)


def hadamard_matrix(n: int, dtype: torch.dtype = torch.float32, device=None) -> Tensor:
    """Orthonormal Sylvester Hadamard matrix ``scipy.linalg.hadamard(n) / sqrt(n)`` (n a power of 2)."""
    if n < 1 or n & (n - 1):
        raise ConfigError(f"Hadamard block size must be a power of 2, got {n}")
    return torch.as_tensor(_hadamard_np(n), dtype=dtype, device=device)


def dct_matrix(n: int = 8, dtype: torch.dtype = torch.float32, device=None) -> Tensor:
    """Orthonormal DCT-II matrix ``D`` (``D @ v`` transforms a column vector; ``D D^T = I``)."""
    return torch.as_tensor(_dct_np(n), dtype=dtype, device=device)


def block_transform(x: Tensor, t: Tensor) -> Tensor:
    """``t @ block @ t^T`` for every ``n x n`` block of ``x`` (``B x C x H x W``).

    Returns:
        ``B x C x H//n x W//n x n x n`` coefficients (trailing partial blocks dropped).
    """
    n = t.shape[0]
    b, c, h, w = x.shape
    hb, wb = h // n, w // n
    if hb == 0 or wb == 0:
        raise ConfigError(f"image {h}x{w} is smaller than one {n}x{n} transform block")
    blocks = x[..., : hb * n, : wb * n].reshape(b, c, hb, n, wb, n).transpose(3, 4)
    return t @ blocks @ t.T


def mse(x: Tensor, ref: Tensor) -> Tensor:
    """Mean squared error per pixel."""
    return torch.mean((x - ref) ** 2)


def l1(x: Tensor, ref: Tensor) -> Tensor:
    """Mean absolute error per pixel."""
    return torch.mean(torch.abs(x - ref))


def satd(x: Tensor, ref: Tensor, block: int = 8) -> Tensor:
    """Mean absolute orthonormal Hadamard coefficient of ``x - ref`` over ``block x block`` tiles."""
    t = hadamard_matrix(block, dtype=x.dtype, device=x.device)
    return torch.mean(torch.abs(block_transform(x - ref, t)))


@functools.lru_cache(maxsize=1)
def _jpeg_weights_np() -> np.ndarray:
    from jpegnn.jpeg.tables import STD_LUMA_QTABLE

    q = np.asarray(STD_LUMA_QTABLE, dtype=np.float64).reshape(8, 8)
    w = 1.0 / q**2
    return w / w.mean()


def jpeg_dct_weights(dtype: torch.dtype = torch.float32, device=None) -> Tensor:
    """8x8 weights ``1 / Q^2`` of the JPEG Annex K luminance table (row = vertical frequency), mean 1."""
    return torch.as_tensor(_jpeg_weights_np(), dtype=dtype, device=device)


def dct_mse(x: Tensor, ref: Tensor, block: int = 8, weights: Tensor | None = None) -> Tensor:
    """Mean (optionally weighted) squared orthonormal DCT coefficient error over ``block`` tiles."""
    t = dct_matrix(block, dtype=x.dtype, device=x.device)
    sq = block_transform(x - ref, t) ** 2
    if weights is not None:
        sq = sq * weights.to(dtype=x.dtype, device=x.device)
    return torch.mean(sq)


#: loss name -> function(x, ref) -> scalar
LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": mse,
    "l1": l1,
    "satd4": functools.partial(satd, block=4),
    "satd8": functools.partial(satd, block=8),
    "dct_mse": dct_mse,
    "dct_mse_jpeg": lambda x, ref: dct_mse(x, ref, 8, jpeg_dct_weights(x.dtype, x.device)),
}


class DistortionMix(nn.Module):
    """Weighted sum of the losses in :data:`LOSSES`.

    Args:
        weights: ``{name: weight}``, e.g. ``{"mse": 1.0}`` or ``{"mse": 1.0, "satd8": 0.05}``;
            names from :data:`LOSSES`, weights finite and >= 0, at least one > 0.

    ``forward(x, ref)`` returns ``{"loss": weighted sum, <name>: each term}`` (terms unweighted).
    """

    def __init__(self, weights: Mapping[str, float]) -> None:
        super().__init__()
        if not isinstance(weights, Mapping) or not weights:
            raise ConfigError(f"loss: expected a mapping {{name: weight}} with names from {sorted(LOSSES)}, got {weights!r}")
        unknown = [k for k in weights if k not in LOSSES]
        if unknown:
            raise ConfigError(f"loss: unknown term(s) {unknown}; known: {', '.join(LOSSES)}")
        bad = {k: v for k, v in weights.items()
               if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0}
        if bad or not any(float(v) > 0 for v in weights.values()):
            raise ConfigError(f"loss: weights must be finite numbers >= 0 with at least one > 0, got {dict(weights)!r}")
        self.weights = {k: float(v) for k, v in weights.items()}

    def forward(self, x: Tensor, ref: Tensor) -> dict[str, Tensor]:
        terms = {name: LOSSES[name](x, ref) for name in self.weights}
        total = sum(self.weights[name] * value for name, value in terms.items())
        return {"loss": total, **terms}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v:g}" for k, v in self.weights.items())
