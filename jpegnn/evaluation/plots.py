"""Rate-distortion figures from CompressAI-format result dicts.

:func:`plot_rd` draws one figure with two panels, PSNR-RGB (dB) and MS-SSIM-RGB in dB
(``-10 log10(1 - MS-SSIM)``, as CompressAI's ``utils.plot`` does) against bpp, overlaying any
number of results (our runs and reference JSONs such as CompressAI's published Kodak curves).

It uses matplotlib's object API with the Agg canvas (no pyplot, no global backend switch, safe in
worker processes and headless CI) and writes PNG and SVG atomically (temporary file, then rename).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from jpegnn.metrics.image_quality import ms_ssim_db
from jpegnn.utils.atomic import atomic_open

__all__ = ["plot_rd", "rd_series"]


def _finite(v: Any) -> bool:
    return v is not None and math.isfinite(float(v))


def rd_series(result: Mapping[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """``{"psnr": [(bpp, dB), ...], "msssim_db": [(bpp, dB), ...]}`` sorted by bpp, missing values dropped.

    ``result`` is a CompressAI results dict (with or without the outer ``"results"`` level).
    MS-SSIM comes from ``ms-ssim-rgb`` (linear, converted) or ``ms-ssim-db-rgb`` (already dB).
    """
    res = result.get("results", result)
    bpp = list(res.get("bpp", []))
    out: dict[str, list[tuple[float, float]]] = {"psnr": [], "msssim_db": []}
    if "psnr-rgb" in res:
        out["psnr"] = sorted((float(b), float(p)) for b, p in zip(bpp, res["psnr-rgb"]) if _finite(b) and _finite(p))
    if "ms-ssim-db-rgb" in res:
        out["msssim_db"] = sorted(
            (float(b), float(m)) for b, m in zip(bpp, res["ms-ssim-db-rgb"]) if _finite(b) and _finite(m)
        )
    elif "ms-ssim-rgb" in res:
        out["msssim_db"] = sorted(
            (float(b), ms_ssim_db(float(m))) for b, m in zip(bpp, res["ms-ssim-rgb"]) if _finite(b) and _finite(m)
        )
    return out


def plot_rd(
    results: Sequence[Mapping[str, Any]],
    out_stem: str | Path,
    title: str | None = None,
    formats: Sequence[str] = ("png", "svg"),
    reference_style: Sequence[bool] | None = None,
) -> list[Path]:
    """Write the two-panel RD figure of ``results`` to ``<out_stem>.png`` and ``<out_stem>.svg``.

    Args:
        results: CompressAI-format dicts; each one's ``"name"`` is its legend label.
        out_stem: Output path without extension (parent folders are created).
        title: Figure title (e.g. the dataset name).
        formats: File formats to write.
        reference_style: Per result, ``True`` to draw it dashed (reference curves). Default:
            solid for all.

    Returns:
        The written paths.
    """
    out_stem = Path(out_stem)
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax_psnr, ax_ms = fig.subplots(1, 2)
    dashed = list(reference_style) if reference_style is not None else [False] * len(results)
    for i, result in enumerate(results):
        series = rd_series(result)
        label = str(result.get("name", f"curve {i + 1}"))
        style = "--" if i < len(dashed) and dashed[i] else "-"
        marker = "x" if style == "--" else "o"
        for ax, key in ((ax_psnr, "psnr"), (ax_ms, "msssim_db")):
            pts = series[key]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker=marker, markersize=3.5,
                        linewidth=1.3, label=label)
    ax_psnr.set_ylabel("PSNR-RGB [dB]")
    ax_ms.set_ylabel("MS-SSIM-RGB [dB]  (-10 log10(1 - MS-SSIM))")
    for ax in (ax_psnr, ax_ms):
        ax.set_xlabel("Bit-rate [bpp]")
        ax.grid(True, alpha=0.4)
        if ax.lines:
            ax.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    written = []
    for fmt in formats:
        path = out_stem.with_name(f"{out_stem.name}.{fmt}")
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format=fmt, dpi=150)
        written.append(path)
    return written
