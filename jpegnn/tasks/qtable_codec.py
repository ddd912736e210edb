"""The one place where the QTable tasks touch :mod:`jpegnn.jpeg` (an adapter, so API changes stay local).

Everything the tasks and benchmarks need from the JPEG layer goes through these functions:

* :func:`build_jpeg` — a :class:`jpegnn.jpeg.DiffJPEG`;
* :func:`estimated_bits` — the differentiable per-image bit estimate of the coded file;
* :func:`rate_term` — the training rate term selected by name (:data:`RATE_TERMS`), per pixel;
* :func:`exact_bytes` — whole-file bytes of the baseline JPEG for given integer tables
  (:func:`jpegnn.jpeg.jpeg_size`);
* :func:`pillow_roundtrip` — encode/decode with Pillow (libjpeg-turbo) using the integer tables,
  returning the decoded batch and the real file sizes;
* :func:`table_names`, :func:`table_heatmap`, :func:`cjpeg_text` — presentation of tables.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from jpegnn.errors import ConfigError

__all__ = [
    "RATE_TERMS",
    "build_jpeg",
    "estimated_bits",
    "rate_term",
    "exact_bytes",
    "pillow_roundtrip",
    "table_names",
    "table_heatmap",
    "cjpeg_text",
]

#: table initialisations (see :func:`build_jpeg`)
TABLE_INITS: tuple[str, ...] = ("quality", "random", "flat")
#: rate terms selectable by name (see :func:`rate_term`)
RATE_TERMS: tuple[str, ...] = ("bits", "abs_over_q", "inv_l1", "none")


def build_jpeg(
    quality: int = 50,
    subsampling: str = "4:2:0",
    learnable: bool = False,
    rounding: str = "ste",
    separate_chroma: bool = False,
    init: str = "quality",
) -> nn.Module:
    """A :class:`jpegnn.jpeg.DiffJPEG` whose (initial) tables come from ``quality``.

    ``init``: ``"quality"`` — the Annex K tables scaled like libjpeg at ``quality``; ``"random"`` —
    uniform in [1, 255]; ``"flat"`` — every entry of both tables equal to the mean entry of the
    quality-``quality`` luma table (58 for quality 50): no frequency is favoured, so any shape the
    tables take is learned from the task (the synthetic-set check starts from it).
    """
    from jpegnn.jpeg import DiffJPEG, quality_tables

    if init not in TABLE_INITS:
        raise ConfigError(f"table init must be one of {', '.join(TABLE_INITS)}, got {init!r}")
    tables = None
    if init == "flat":
        luma, _ = quality_tables(quality)
        level = float(luma.float().mean().round())
        tables = [torch.full((8, 8), level), torch.full((8, 8), level)]
        init = "quality"
    return DiffJPEG(quality=quality, subsampling=subsampling, learnable=learnable, rounding=rounding,
                    tables=tables, separate_chroma=separate_chroma, init=init)


def _pixels(coefs) -> int:
    geo = coefs.geometry
    return int(geo.height) * int(geo.width)


def estimated_bits(coefs) -> Tensor:
    """Differentiable estimate of each image's whole-file bits, ``(B,)``.

    :func:`jpegnn.jpeg.rate.estimate_bytes` x 8: the smooth model of the entropy-coded bits with the
    standard Huffman tables plus the (constant) header, so it is directly comparable with the exact
    count of :func:`exact_bytes` (the issue reports Pearson r = 0.9998 on Kodak, a slight
    underestimate).
    """
    from jpegnn.jpeg import rate

    return rate.estimate_bytes(coefs) * 8.0


def rate_term(name: str, coefs, jpeg: nn.Module, bits: Optional[Tensor] = None) -> Optional[Tensor]:
    """The scalar training rate term ``name`` for a batch.

    * ``"bits"``: batch mean of the estimated whole-file bits / pixels (**bits per pixel**;
      :func:`jpegnn.jpeg.rate.estimate_bytes`);
    * ``"abs_over_q"``: the notebook's ``Σ |F| / Q`` over every coefficient, per pixel, batch mean
      (:func:`jpegnn.jpeg.rate.sum_abs_over_q`; quantization steps per pixel);
    * ``"inv_l1"``: the notebook's ``1 / ‖Q‖₁`` of the tables in use times their entry count,
      i.e. ``1 / mean(Q)`` (:func:`jpegnn.jpeg.rate.inverse_l1_table`; 0.017 for quality-50 tables);
      it does not look at the image;
    * ``"none"``: None.
    """
    if name == "none":
        return None
    from jpegnn.jpeg import rate

    pixels = _pixels(coefs)
    if name == "bits":
        b = estimated_bits(coefs) if bits is None else bits
        return b.mean() / pixels
    if name == "abs_over_q":
        return rate.sum_abs_over_q(coefs).mean() / pixels
    if name == "inv_l1":
        tables = jpeg.current_tables()
        return rate.inverse_l1_table(tables) * tables.numel()
    raise ConfigError(f"rate term must be one of {', '.join(RATE_TERMS)}, got {name!r}")


def exact_bytes(x: Tensor, tables: Sequence[Tensor], subsampling: str, optimize: bool = False) -> Tensor:
    """Whole-file bytes (``(B,)`` float64) of the baseline JPEG of ``x`` with integer ``tables``
    (:func:`jpegnn.jpeg.jpeg_size`: equal to Pillow's file size when the coefficients agree)."""
    from jpegnn.jpeg import jpeg_size

    with torch.no_grad():
        return jpeg_size(x.detach(), tables=[t.to(x.device) for t in tables], subsampling=subsampling,
                         optimize=optimize).to(torch.float64)


def pillow_roundtrip(
    x: Tensor, tables: Sequence[Tensor], subsampling: str, optimize: bool = False
) -> tuple[Tensor, Tensor]:
    """Encode each image of ``x`` with Pillow using ``tables`` (never with ``quality=``) and decode it.

    Returns:
        ``(decoded, nbytes)``: ``B x 3 x H x W`` float32 in [0, 1] on ``x``'s device, and ``(B,)``
        float64 file sizes in bytes (:func:`jpegnn.jpeg.export.pillow_roundtrip`).
    """
    from jpegnn.jpeg.export import pillow_roundtrip as _roundtrip

    decoded, blobs = _roundtrip(x.detach().float(), tables=torch.stack([t.cpu() for t in tables]),
                                subsampling=subsampling, optimize=optimize)
    return decoded, torch.tensor([len(b) for b in blobs], dtype=torch.float64)


def table_names(n: int) -> tuple[str, ...]:
    """Names of 2 (``luma``, ``chroma``) or 3 (``luma``, ``cb``, ``cr``) tables."""
    return ("luma", "chroma") if n == 2 else ("luma", "cb", "cr")


def table_heatmap(table: Tensor, cell: int = 16) -> Tensor:
    """An 8x8 table as a ``3 x 8·cell x 8·cell`` viridis image (1 → dark, 255 → bright), for TensorBoard."""
    import matplotlib

    values = (table.detach().float().cpu().clamp(1, 255) - 1) / 254
    rgb = torch.from_numpy(matplotlib.colormaps["viridis"](values.numpy())[..., :3]).float()
    return rgb.permute(2, 0, 1).repeat_interleave(cell, 1).repeat_interleave(cell, 2)


def cjpeg_text(tables: Sequence[Tensor], subsampling: str = "4:2:0", comment: str = "") -> str:
    """``cjpeg -qtables`` text of integer tables (see :mod:`jpegnn.jpeg.qtable_formats`)."""
    from jpegnn.jpeg.qtable_formats import cjpeg_text as _text

    return _text([[int(v) for v in t.flatten().tolist()] for t in tables], subsampling, comment)
