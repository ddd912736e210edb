"""Result files in the formats the field already reads.

* ``results.json`` follows CompressAI's results format (``compressai.utils.eval_model`` and the
  JSONs under CompressAI's ``results/image/kodak``)::

      {"name": ..., "description": ...,
       "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim-rgb": [...],
                   "encoding_time": [...], "decoding_time": [...]}}

  one list entry per rate point (a checkpoint, or a codec quality), each the mean over images.
  PSNR is averaged in dB over images (not computed from the pooled MSE), like CompressAI.
  A mean that is NaN (no MS-SSIM on tiny images) or infinite (an image decoded losslessly, PSNR
  = inf) is written as ``null``, so the file is strict JSON; the per-image CSV keeps ``inf``.
* ``per_image.csv`` has one row per image and rate point with :data:`PER_IMAGE_FIELDS`.

``bpp`` is always the *actual* rate: bitstream bytes x 8 / original pixels. The likelihood-based
estimate is kept apart as ``bpp_estimated``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from jpegnn.utils.atomic import write_csv_atomic, write_json_atomic

PER_IMAGE_FIELDS: tuple[str, ...] = (
    "image",
    "width",
    "height",
    "bpp",
    "bpp_estimated",
    "psnr_rgb",
    "ms_ssim_rgb",
    "encoding_time",
    "decoding_time",
)

#: per-image CSV column -> key in CompressAI's ``results`` dict
_JSON_KEYS: dict[str, str] = {
    "bpp": "bpp",
    "psnr_rgb": "psnr-rgb",
    "ms_ssim_rgb": "ms-ssim-rgb",
    "encoding_time": "encoding_time",
    "decoding_time": "decoding_time",
}


def _nanmean(values: Iterable[float]) -> float:
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return sum(vals) / len(vals) if vals else float("nan")


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Mean over images of each per-image metric (NaN entries, e.g. MS-SSIM on tiny images, skipped)."""
    out = {col: _nanmean(r.get(col) for r in rows) for col in _JSON_KEYS}
    est = [r.get("bpp_estimated") for r in rows if r.get("bpp_estimated") is not None]
    if est:
        out["bpp_estimated"] = _nanmean(est)
    return out


def compressai_results(
    name: str, description: str, points: Sequence[Sequence[Mapping[str, Any]]]
) -> dict[str, Any]:
    """Build a CompressAI-format results dict.

    Args:
        name: Model or codec name (``"bmshj2018-hyperprior"``, ``"JPEG"``...).
        description: Free text (what was run, on what, with which library versions).
        points: One sequence of per-image rows (see :data:`PER_IMAGE_FIELDS`) per rate point.
    """
    results: dict[str, list[float]] = {key: [] for key in _JSON_KEYS.values()}
    for rows in points:
        mean = summarize(rows)
        for col, key in _JSON_KEYS.items():
            results[key].append(_json_float(mean[col]))
    return {"name": name, "description": description, "results": results}


def _json_float(v: float) -> float | None:
    """JSON has no NaN or Infinity: unavailable or unbounded values are written as null.

    (A mean PSNR is infinite when one image at that rate point is decoded losslessly; Python's
    ``json`` would write the invalid token ``Infinity``, which strict JSON readers reject.)
    """
    return None if v is None or not math.isfinite(v) else float(v)


def write_results_json(path: str | Path, results: Mapping[str, Any]) -> None:
    """Write a results dict atomically."""
    write_json_atomic(path, dict(results))


def write_per_image_csv(
    path: str | Path, rows: Sequence[Mapping[str, Any]], extra_fields: Sequence[str] = ()
) -> None:
    """Write per-image rows atomically with the standard columns (plus ``extra_fields``)."""
    write_csv_atomic(path, rows, list(PER_IMAGE_FIELDS) + [f for f in extra_fields if f not in PER_IMAGE_FIELDS])
