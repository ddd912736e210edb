"""Learned JPEG quantization tables as files for real encoders: Pillow JSON and cjpeg text.

The non-command half of ``jpegnn export-qtables`` (:mod:`jpegnn.commands.export_qtables`), here so
that the tasks (:mod:`jpegnn.tasks.qtable_codec` writes the cjpeg text to TensorBoard) and the
benchmarks use it without importing the command layer.

* :func:`read_checkpoint_tables` reads the integer quantization tables of a
  :class:`~jpegnn.tasks.QTableClassifier` / :class:`~jpegnn.tasks.QTableSegmenter` checkpoint: the
  rounded tables clamped to [1, 255] that the JPEG layer uses in eval mode, stored by the module
  under ``checkpoint["jpeg_qtables"]``.
* :func:`pillow_payload` (format ``pillow``, JSON): ``{"qtables": [[64 ints], [64 ints]] (or 3
  tables), "subsampling": "4:2:0", "pillow_subsampling": 2, ...}`` with every table in natural
  row-major order, the order Pillow's ``Image.save(f, "JPEG", qtables=...)`` takes and
  ``Image.open(f).quantization`` returns. Use it **without** ``quality=`` (Pillow would rescale
  the tables)::

      d = json.load(open(OUT))
      img.save(f, "JPEG", qtables=d["qtables"], subsampling=d["pillow_subsampling"])

* :func:`cjpeg_text` (format ``cjpeg``, text): libjpeg's ``-qtables`` file — 64
  whitespace-separated integers per table in natural (row-major) order, ``#`` comments — with the
  matching command line in its header::

      cjpeg -quality 50 -qtables OUT -qslots 0,1,1 -sample 2x2 in.ppm > out.jpg

  (``-quality 50`` is a scale factor of 100 %, so the values are used exactly as written; any
  other ``-quality`` would rescale them, like Pillow's ``quality=``.) :func:`parse_cjpeg_text`
  reads it back.

:mod:`jpegnn.jpeg.export` has the tensor-level counterparts (``export_pillow_qtables``,
``write_cjpeg_qtables``/``read_cjpeg_qtables`` on files, Pillow round trips).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from jpegnn.errors import CheckpointError, ConfigError
from jpegnn.utils.checkpoints import read_torch_file

__all__ = ["read_checkpoint_tables", "pillow_payload", "cjpeg_text", "parse_cjpeg_text", "FORMATS"]

#: the two file formats, by their ``--format`` names
FORMATS = ("pillow", "cjpeg")
_PILLOW_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}
_CJPEG_SAMPLE = {"4:4:4": "1x1", "4:2:2": "2x1", "4:2:0": "2x2"}


def _check_tables(tables: Any, where: str) -> list[list[int]]:
    if not isinstance(tables, (list, tuple)) or len(tables) not in (2, 3):
        raise CheckpointError(f"{where}: expected 2 or 3 quantization tables, got {type(tables).__name__}")
    out = []
    for t in tables:
        values = [int(v) for v in (t.flatten().tolist() if hasattr(t, "flatten") else t)]
        if len(values) != 64 or not all(1 <= v <= 255 for v in values):
            raise CheckpointError(f"{where}: a table is not 64 integers in [1, 255]")
        out.append(values)
    return out


def read_checkpoint_tables(ckpt: str | Path) -> dict[str, Any]:
    """The integer tables and subsampling stored in a QTable checkpoint.

    Returns:
        ``{"tables": [[64 ints] x 2 or 3], "names": [...], "subsampling": "4:2:0", ...}``.

    Raises:
        CheckpointError: The file is missing, not a torch checkpoint, or holds no JPEG tables
            (for example a checkpoint of an ``uncompressed`` run or of another task).
    """
    path = Path(ckpt)
    obj = read_torch_file(path)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} is not a Lightning checkpoint (a dict)")
    info = obj.get("jpeg_qtables")
    if not isinstance(info, dict):
        hp = obj.get("hyper_parameters") or {}
        why = " (mode 'uncompressed' has no JPEG layer)" if isinstance(hp, dict) and hp.get("mode") == "uncompressed" else ""
        raise CheckpointError(
            f"checkpoint {path} holds no JPEG quantization tables{why}; "
            "expected a checkpoint written by QTableClassifier or QTableSegmenter"
        )
    tables = _check_tables(info.get("tables"), f"checkpoint {path}")
    subsampling = info.get("subsampling", "4:2:0")
    if subsampling not in _PILLOW_SUBSAMPLING:
        raise CheckpointError(f"checkpoint {path}: unknown chroma subsampling {subsampling!r}")
    names = info.get("names") or (["luma", "chroma"] if len(tables) == 2 else ["Y", "Cb", "Cr"])
    return {**info, "tables": tables, "names": list(names), "subsampling": subsampling}


def pillow_payload(tables: Sequence[Sequence[int]], subsampling: str, source: str = "") -> dict[str, Any]:
    """The JSON object of the ``pillow`` format (see the module docstring)."""
    tables = _check_tables(list(tables), "tables")
    return {
        "format": "jpegnn-pillow-qtables/1",
        "qtables": tables,
        "order": "natural row-major (as Pillow's qtables= and Image.quantization)",
        "subsampling": subsampling,
        "pillow_subsampling": _PILLOW_SUBSAMPLING[subsampling],
        "usage": "Image.save(f, 'JPEG', qtables=qtables, subsampling=pillow_subsampling)  # no quality=",
        "source": source,
    }


def cjpeg_text(tables: Sequence[Sequence[int]], subsampling: str = "4:2:0", comment: str = "") -> str:
    """libjpeg ``cjpeg -qtables`` file text for 2 (luma, chroma) or 3 (Y, Cb, Cr) tables."""
    tables = _check_tables(list(tables), "tables")
    slots = "0,1,1" if len(tables) == 2 else "0,1,2"
    names = ["luminance (Y)", "chrominance (Cb, Cr)"] if len(tables) == 2 else ["Y", "Cb", "Cr"]
    lines = [
        "# JPEG quantization tables learned by jpegnn" + (f" ({comment})" if comment else ""),
        "# 64 values per table in natural row-major order (row = vertical frequency).",
        f"# Use: cjpeg -quality 50 -qtables THIS_FILE -qslots {slots} -sample {_CJPEG_SAMPLE[subsampling]} in.ppm > out.jpg",
        "# (-quality 50, or no -quality, keeps the values as written; any other -quality rescales them.)",
    ]
    for i, (name, t) in enumerate(zip(names, tables)):
        lines.append(f"# table {i}: {name}")
        for r in range(8):
            lines.append(" ".join(f"{v:3d}" for v in t[8 * r : 8 * r + 8]))
    return "\n".join(lines) + "\n"


def parse_cjpeg_text(text: str) -> list[list[int]]:
    """Tables from ``cjpeg -qtables`` text (as libjpeg's ``read_quant_tables``: ``#`` comments, 64 values each).

    Raises:
        ConfigError: The value count is not a multiple of 64 or a value is not an integer.
    """
    values: list[int] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        for token in re.split(r"[\s,]+", line.strip()):
            if not token:
                continue
            try:
                values.append(int(token))
            except ValueError as e:
                raise ConfigError(f"cjpeg qtables text: {token!r} is not an integer") from e
    if not values or len(values) % 64:
        raise ConfigError(f"cjpeg qtables text: {len(values)} values, expected a multiple of 64")
    return [values[i : i + 64] for i in range(0, len(values), 64)]
