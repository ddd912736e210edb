"""Exporting quantization tables to real encoders, and Pillow round trips.

* :func:`export_pillow_qtables` - integer tables for ``Image.save(f, "JPEG", qtables=...)``.
  Pass them **without** ``quality=``: Pillow would otherwise rescale custom tables with the IJG
  quality scaling (``quality=100`` turns every entry into 1). Entries are rounded and clamped to
  [1, 255] so the file stays baseline (Pillow writes 16-bit DQT and SOF1 for entries > 255).
* :func:`pillow_roundtrip` - encode a batch with Pillow using given tables (or a quality) and
  return the decoded images and the file bytes.
* :func:`write_cjpeg_qtables` / :func:`read_cjpeg_qtables` - libjpeg ``cjpeg -qtables FILE``
  text format (``rdswitch.c`` ``read_quant_tables``): whitespace-separated unsigned decimal
  integers, 64 per table in natural (row-major) order, ``#`` comments to end of line, tables
  numbered 0, 1, ... in file order. cjpeg uses table 0 for Y and 1 for Cb and Cr unless told
  ``-qslots 0,1,2``; like Pillow, it rescales the tables if ``-quality`` is also given.
* :func:`read_origin_qtables` - reader for the origin project's printed PyTorch tensors
  (``/work/shared/reference/jpegnn-qtables``): raw learned values in 8-bit units, row-major,
  tables in Y, Cb, Cr order (possibly negative or > 255; round/clamp before exporting).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import torch

from jpegnn.errors import ConfigError, DataError
from jpegnn.jpeg.sampling import PILLOW_SUBSAMPLING, check_subsampling
from jpegnn.jpeg.tables import _check_quality, to_baseline
from jpegnn.utils.atomic import write_text_atomic


def _tables_of(tables):
    """Accept a DiffJPEG-like object (``integer_tables()``) or tables."""
    if hasattr(tables, "integer_tables"):
        return torch.stack(tables.integer_tables())
    return tables


def export_pillow_qtables(tables) -> list[list[int]]:
    """2 or 3 tables (DiffJPEG, tensor ``(n, 8, 8)`` or sequence) as Python int lists, row-major,
    rounded and clamped to [1, 255], for ``Image.save(..., qtables=...)`` without ``quality=``."""
    t = to_baseline(_tables_of(tables))
    return [row.reshape(64).tolist() for row in t]


def pillow_encode(image: torch.Tensor, tables=None, quality=None, subsampling="4:2:0", optimize=False) -> bytes:
    """One ``(3, H, W)`` image in [0, 1] to JPEG bytes with Pillow (``tables`` xor ``quality``;
    default quality 75)."""
    from PIL import Image

    if tables is not None and quality is not None:
        raise ConfigError("give tables or quality, not both (Pillow would rescale the tables)")
    ss = PILLOW_SUBSAMPLING[check_subsampling(subsampling)]
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ConfigError(f"image: expected a 3xHxW RGB tensor in [0, 1], got {shape}")
    if not bool(torch.isfinite(image).all()):
        raise ConfigError("image: contains NaN or infinite values")
    if quality is not None:
        quality = _check_quality(quality)
    arr = torch.round(image.detach().float().clamp(0, 1) * 255.0).to(torch.uint8)  # as DiffJPEG
    img = Image.fromarray(arr.permute(1, 2, 0).cpu().numpy(), "RGB")
    kwargs = dict(subsampling=ss, optimize=bool(optimize))
    if tables is not None:
        kwargs["qtables"] = export_pillow_qtables(tables)
    else:
        kwargs["quality"] = 75 if quality is None else quality
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def pillow_decode(data: bytes) -> torch.Tensor:
    """JPEG bytes to a ``(3, H, W)`` float tensor in [0, 1] (Pillow / libjpeg-turbo decode)."""
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as exc:  # Pillow raises several types for corrupt data
        raise DataError(f"data: not a decodable JPEG ({exc})") from exc
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    return torch.from_numpy(arr).permute(2, 0, 1).float() / 255.0


def pillow_roundtrip(x: torch.Tensor, tables=None, quality=None, subsampling="4:2:0", optimize=False):
    """Encode and decode a batch ``(B, 3, H, W)`` in [0, 1] with Pillow.

    Returns ``(decoded (B, 3, H, W) float in [0, 1] on x's device, list of B JPEG byte strings)``.
    ``tables``: 2 or 3 tables (or a DiffJPEG: its :meth:`integer_tables`), exported with
    :func:`export_pillow_qtables`; or ``quality``. The input is rounded to 8 bits first.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ConfigError(f"x: expected a Bx3xHxW tensor, got {shape}")
    if not bool(torch.isfinite(x).all()):
        raise ConfigError("x: contains NaN or infinite values")
    blobs = [pillow_encode(img, tables, quality, subsampling, optimize) for img in x]
    out = torch.stack([pillow_decode(b) for b in blobs]).to(device=x.device, dtype=x.dtype)
    return out, blobs


def read_pillow_qtables(data) -> list[list[int]]:
    """Quantization tables of a JPEG file (path or bytes), row-major, in table-id order."""
    from PIL import Image

    fh = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else open(data, "rb")
    with fh:
        q = Image.open(fh).quantization
    return [list(q[k]) for k in sorted(q)]


def write_cjpeg_qtables(path, tables) -> None:
    """Write 2 or 3 tables (rounded, clamped to [1, 255]) in ``cjpeg -qtables`` format."""
    t = to_baseline(_tables_of(tables))
    names = ["Y", "Cb", "Cr"] if t.shape[0] == 3 else ["Y", "Cb and Cr"]
    lines = [
        "# JPEG quantization tables for cjpeg -qtables (natural row-major order, 64 per table).",
        "# Do not combine with -quality (it would rescale them)."
        + (" Use -qslots 0,1,2 for the Cr table." if t.shape[0] == 3 else ""),
    ]
    for name, tab in zip(names, t):
        lines.append(f"# table for {name}")
        lines += [" ".join(f"{int(v):3d}" for v in row) for row in tab]
    write_text_atomic(path, "\n".join(lines) + "\n")


def read_cjpeg_qtables(path) -> torch.Tensor:
    """Read a ``cjpeg -qtables`` file into an int64 ``(n, 8, 8)`` tensor (n = 1..4).

    Follows libjpeg's ``read_quant_tables``: ``#`` starts a comment, values are unsigned decimal
    integers; a table with fewer than 64 values or a non-numeric token is an error."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise DataError(f"{path}: cannot read quantization table file ({exc.strerror})") from exc
    tokens = re.sub(r"#[^\n]*", " ", text).split()
    bad = [tok for tok in tokens if not tok.isdigit()]
    if bad:
        raise DataError(f"{path}: invalid table data {bad[0]!r} (unsigned integers expected)")
    vals = [int(tok) for tok in tokens]
    if not vals or len(vals) % 64:
        raise DataError(f"{path}: {len(vals)} values; expected a multiple of 64 (one per table entry)")
    if len(vals) // 64 > 4:
        raise DataError(f"{path}: {len(vals) // 64} tables; JPEG allows at most 4")
    return torch.tensor(vals, dtype=torch.int64).reshape(-1, 8, 8)


_NUM = r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"


def read_origin_qtables(path) -> list[tuple[str, torch.Tensor]]:
    """Parse the origin project's table dumps: every bracketed (``tensor(...)`` or bare) array
    literal of 64k numbers becomes a float ``(k, 8, 8)`` tensor, labelled with the text before
    it on its line (``"Y"``, ``"Cb"``, ``"last val"`` ...; ``""`` if none)."""
    try:
        text = Path(os.fspath(path)).read_text()
    except OSError as exc:
        raise DataError(f"{path}: cannot read table dump ({exc.strerror})") from exc
    out, i = [], 0
    while i < len(text):
        if text[i] != "[":
            i += 1
            continue
        depth, j = 0, i
        while j < len(text):
            depth += text[j] == "["
            depth -= text[j] == "]"
            if depth == 0:
                break
            j += 1
        nums = [float(v) for v in re.findall(_NUM, text[i : j + 1])]
        if nums and len(nums) % 64 == 0:
            line_start = text.rfind("\n", 0, i) + 1
            label = text[line_start:i].replace("tensor(", "").strip()
            if not label:
                prev = text[:line_start].rstrip("\n").rsplit("\n", 1)[-1].strip()
                label = prev if prev and not re.search(r"[\d\]]", prev) else ""
            out.append((label, torch.tensor(nums).reshape(-1, 8, 8)))
        i = j + 1
    if not out:
        raise DataError(f"{path}: no 8x8 tables found")
    return out


__all__ = [
    "export_pillow_qtables",
    "pillow_decode",
    "pillow_encode",
    "pillow_roundtrip",
    "read_cjpeg_qtables",
    "read_origin_qtables",
    "read_pillow_qtables",
    "write_cjpeg_qtables",
]
