"""Quantization tables: the JPEG Annex K base tables and libjpeg's quality scaling.

All 8x8 tables in :mod:`jpegnn.jpeg` are in **natural row-major order**: entry ``[u, v]`` is the
quantizer step of the DCT coefficient with vertical frequency ``u`` and horizontal frequency ``v``.
That is the order Pillow's ``Image.open(f).quantization`` returns and ``Image.save(..., qtables=...)``
expects; the DQT marker stores the same numbers in zigzag order (see :data:`ZIGZAG`).

:func:`quality_tables` reproduces libjpeg's ``jpeg_set_quality(cinfo, q, force_baseline=TRUE)``
(``jcparam.c``): ``scale = 5000 // q`` for ``q < 50`` else ``200 - 2q`` (percent), then
``clip((base * scale + 50) // 100, 1, 255)``. With these tables Pillow writes files that are
byte-identical to ``quality=q``.
"""

from __future__ import annotations

import operator

import torch

from jpegnn.errors import ConfigError
from jpegnn.jpeg.rounding import round_half_away

# ITU-T T.81 Annex K.1, Table K.1 (luminance) and K.2 (chrominance), natural row-major order.
STD_LUMA_QTABLE = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
STD_CHROMA_QTABLE = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
)  # fmt: skip

# ZIGZAG[k] = natural (row-major) index of the k-th coefficient in zigzag order
# (libjpeg's jpeg_natural_order). ZIGZAG[1] = 1 is (row 0, col 1): horizontal frequency 1.
ZIGZAG = (
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
)  # fmt: skip


def _check_quality(quality) -> int:
    """Return ``quality`` as an int in 1..100 or raise :class:`ConfigError` naming it."""
    if isinstance(quality, bool):
        raise ConfigError(f"quality must be an integer in 1..100, got {quality!r}")
    try:
        q = operator.index(quality)
    except TypeError:
        raise ConfigError(f"quality must be an integer in 1..100, got {quality!r}") from None
    if not 1 <= q <= 100:
        raise ConfigError(f"quality must be an integer in 1..100, got {quality!r}")
    return q


def quality_scale(quality: int) -> int:
    """libjpeg's ``jpeg_quality_scaling``: the table scale factor in percent for ``quality``."""
    q = _check_quality(quality)
    return 5000 // q if q < 50 else 200 - 2 * q


def scale_table(base, scale_percent: int, force_baseline: bool = True) -> torch.Tensor:
    """libjpeg's ``jpeg_add_quant_table`` arithmetic: ``(base*scale + 50) // 100`` clipped to
    [1, 255] (``force_baseline``) or [1, 32767]. Returns an 8x8 int64 tensor."""
    base_t = torch.as_tensor(base, dtype=torch.int64).reshape(8, 8)
    t = (base_t * int(scale_percent) + 50) // 100
    return t.clamp(1, 255 if force_baseline else 32767)


def quality_tables(quality: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(luma, chroma) 8x8 int64 quantization tables, row-major, that libjpeg (and Pillow's
    ``quality=q``) uses for JPEG quality ``quality`` in 1..100."""
    s = quality_scale(quality)
    return scale_table(STD_LUMA_QTABLE, s), scale_table(STD_CHROMA_QTABLE, s)


def as_table_stack(tables) -> torch.Tensor:
    """Normalise 2 or 3 tables (tensor ``(n, 8, 8)``/``(n, 64)``, or a sequence of 8x8/64 items)
    into a float tensor of shape ``(n, 8, 8)``; raises :class:`ConfigError` otherwise."""
    if isinstance(tables, torch.Tensor):
        t = tables.detach().to(torch.float64)
    else:
        try:
            t = torch.stack([torch.as_tensor(x, dtype=torch.float64).reshape(64) for x in tables])
        except (TypeError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"tables: expected 2 or 3 tables of 64 entries ({exc})") from exc
    if t.numel() % 64 or t.numel() // 64 not in (2, 3):
        raise ConfigError(
            f"tables: expected 2 (luma, chroma) or 3 (Y, Cb, Cr) tables of 64 entries, "
            f"got shape {tuple(t.shape)}"
        )
    return t.reshape(-1, 8, 8)


def to_baseline(tables) -> torch.Tensor:
    """Round (half away from zero, like :class:`~jpegnn.jpeg.DiffJPEG`'s eval-mode tables) and
    clamp tables to the integers in [1, 255] a baseline JPEG encoder stores (``(n, 8, 8)`` int64)."""
    t = as_table_stack(tables)
    if not torch.isfinite(t).all():
        raise ConfigError("tables: contain NaN or infinite entries")
    return round_half_away(t).clamp(1, 255).to(torch.int64)
