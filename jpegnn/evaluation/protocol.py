"""The small protocol every benchmarked codec implements (classical now, learned checkpoints later).

A codec turns an 8-bit RGB image into a real bitstream and back. The benchmark runner
(:mod:`jpegnn.evaluation.bench`) only needs :meth:`Codec.encode_decode`; bpp is always computed
from the *actual* number of bytes, ``num_bytes * 8 / (W * H)``.

Implementations:

* :mod:`jpegnn.evaluation.classical`: JPEG, WebP, JPEG 2000, AVIF through Pillow.
* ``jpegnn.evaluation.learned.load_learned_codec(path)`` (trained checkpoints with real entropy
  coding) returns an object with the same interface.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = ["Codec", "CodecResult", "as_uint8_hwc"]


class CodecResult(NamedTuple):
    """What one encode + decode of one image at one quality produced.

    Attributes:
        num_bytes: Size of the complete bitstream (headers included), in bytes.
        decoded: The decoded image, H x W x 3 uint8 (a float tensor in [0, 1] is accepted too,
            see :func:`as_uint8_hwc`).
        encoding_time: Wall-clock encode time in seconds (bitstream production only).
        decoding_time: Wall-clock decode time in seconds (bitstream to pixels).
        extra: Additional per-image fields for the CSV, e.g. ``{"bpp_estimated": 0.41}`` for a
            learned codec's likelihood-based estimate.
    """

    num_bytes: int
    decoded: Any
    encoding_time: float
    decoding_time: float
    extra: Mapping[str, Any] = {}


@runtime_checkable
class Codec(Protocol):
    """A benchmarkable codec.

    Required attributes:
        name: Short identifier used for file names and legends (``"jpeg"``, ``"webp"``...).
        description: Free text recorded in the results JSON (library versions, settings).
        default_qualities: The rate points swept when the user gives none.

    Optional attributes the runner uses when present:
        quality_range: ``(lo, hi)`` inclusive integer range over which bpp rises with quality;
            enables ``--target-bpp`` bisection. Without it, target-bpp picks the nearest of
            ``default_qualities``.
        parallel_safe: ``False`` to run this codec in the main process only (e.g. a model that
            is expensive to pickle or uses its own threads). Default ``True``.
        encoded_size(img, quality) -> int: bitstream bytes without decoding (faster bisection).
    """

    name: str
    description: str
    default_qualities: Sequence[int]

    def encode_decode(self, img: np.ndarray, quality: int) -> CodecResult | tuple:
        """Encode ``img`` (H x W x 3 uint8) at ``quality`` into a real bitstream and decode it."""
        ...


def as_uint8_hwc(x: Any) -> np.ndarray:
    """Convert an image to an H x W x 3 uint8 numpy array.

    Accepts a PIL image, a numpy array (H x W x 3 or 3 x H x W; uint8, or float in [0, 1]), or a
    torch tensor (3 x H x W or 1 x 3 x H x W; uint8, or float in [0, 1]). Floats are clamped to
    [0, 1], scaled by 255 and rounded (the 8-bit convention of ``jpegnn.metrics.image_quality``).
    """
    try:
        import PIL.Image

        if isinstance(x, PIL.Image.Image):
            return np.asarray(x.convert("RGB"))
    except ImportError:  # pragma: no cover - Pillow is a dependency
        pass
    try:
        import torch

        if isinstance(x, torch.Tensor):
            t = x.detach().cpu()
            if t.dim() == 4:
                if t.shape[0] != 1:
                    raise ValueError(f"expected one image, got a batch of {t.shape[0]}")
                t = t[0]
            if t.dim() != 3 or t.shape[0] != 3:
                raise ValueError(f"expected a 3 x H x W tensor, got shape {tuple(x.shape)}")
            if t.dtype != torch.uint8:
                t = (t.float().clamp(0, 1) * 255).round().to(torch.uint8)
            return np.ascontiguousarray(t.permute(1, 2, 0).numpy())
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    arr = np.asarray(x)
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[2] != 3:
        arr = arr.transpose(1, 2, 0)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 image, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = np.rint(np.clip(arr.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.ascontiguousarray(arr)
