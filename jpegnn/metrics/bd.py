"""Bjøntegaard deltas (BD-rate, BD-PSNR) between two rate-distortion curves.

Two interpolation methods are offered, the two that the video-coding community uses:

* ``"cubic"``: the original VCEG-M33 method (G. Bjøntegaard, 2001). A least-squares cubic
  polynomial is fitted to the points (in log10 rate for BD-rate, as the dependent variable for
  BD-PSNR) and integrated analytically. It needs at least 4 points per curve.
* ``"pchip"``: piecewise cubic Hermite interpolation (VCEG-AL22 / JCTVC-style "piecewise cubic"),
  which passes through every point, never overshoots and needs at least 2 points.

Both integrate only over the *overlap* of the two curves (the distortion range for BD-rate, the
log-rate range for BD-PSNR), like the reference implementation in the ``bjontegaard`` package
(FAU, Herglotz et al.), which the tests use as an oracle (agreement to 1e-3).

Conventions (same as the ``bjontegaard`` package and the literature):

* BD-rate is in **percent**: the average rate change of *test* against *anchor* at equal quality.
  Negative is better (the test needs fewer bits).
* BD-PSNR (or BD-MS-SSIM in dB) is in **dB**: the average quality change at equal rate. Positive is
  better.

Problems in the input that make the number meaningless raise :class:`~jpegnn.errors.ConfigError`
(mismatched lengths, too few points, too few *distinct* values on the interpolated axis: qualities
for BD-rate, rates for BD-PSNR; non-positive or non-finite rates). Problems that make it
*fragile* emit a :class:`BjontegaardWarning` and still return a value: curves overlapping over less
than ``min_overlap`` of their joint range, or points that are not monotonic (rate and quality should
rise together). Curves that do not overlap at all give NaN with a warning.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator

from jpegnn.errors import ConfigError
from jpegnn.metrics.image_quality import ms_ssim_db

__all__ = [
    "BjontegaardWarning",
    "METHODS",
    "bd_rate",
    "bd_psnr",
    "bd_table",
    "bd_table_markdown",
    "BD_TABLE_FIELDS",
]

#: interpolation method -> minimum number of points per curve
METHODS: dict[str, int] = {"cubic": 4, "pchip": 2}

#: columns of the rows returned by :func:`bd_table`
BD_TABLE_FIELDS: tuple[str, ...] = (
    "name",
    "anchor",
    "method",
    "points",
    "bd_rate_psnr_pct",
    "bd_psnr_db",
    "bd_rate_msssim_pct",
    "bd_msssim_db",
)


class BjontegaardWarning(UserWarning):
    """A BD value was computed but is fragile: poor curve overlap or non-monotonic points."""


def _curve(rate: Any, quality: Any, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate one RD curve and return it as float64 arrays (rate in bpp, quality in dB)."""
    try:
        r = np.asarray(rate, dtype=np.float64).ravel()
        q = np.asarray(quality, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{label}: rates and qualities must be numbers ({exc})") from None
    if r.size != q.size:
        raise ConfigError(
            f"{label}: {r.size} rates but {q.size} quality values; each rate point needs exactly one quality value"
        )
    if not np.all(np.isfinite(r)) or not np.all(np.isfinite(q)):
        raise ConfigError(f"{label}: rates and qualities must be finite (got NaN or inf)")
    if np.any(r <= 0):
        raise ConfigError(f"{label}: rates must be positive (log-rate is used), got min {r.min():g}")
    return r, q


def _check_method(method: str, n_anchor: int, n_test: int) -> None:
    if method not in METHODS:
        raise ConfigError(f"unknown BD interpolation method {method!r}; known: {', '.join(METHODS)}")
    need = METHODS[method]
    for label, n in (("anchor", n_anchor), ("test", n_test)):
        if n < need:
            raise ConfigError(
                f"{label} curve has {n} point(s); the {method!r} BD method needs at least {need}"
            )


def _monotone_check(r: np.ndarray, q: np.ndarray, label: str) -> None:
    """Warn unless quality strictly increases with rate (after sorting by rate)."""
    order = np.argsort(r, kind="stable")
    rs, qs = r[order], q[order]
    if np.any(np.diff(rs) == 0) or np.any(np.diff(qs) <= 0):
        warnings.warn(
            f"{label} RD curve is not monotonic (quality should rise strictly with rate); "
            "the BD value may be unreliable",
            BjontegaardWarning,
            stacklevel=4,
        )


def _sorted_unique(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort by ``x`` and average ``y`` over duplicate ``x`` (PCHIP needs strictly increasing x)."""
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ux, inv = np.unique(x, return_inverse=True)
    if ux.size == x.size:
        return x, y
    uy = np.bincount(inv, weights=y) / np.bincount(inv)
    return ux, uy


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str) -> float:
    """Integral over [lo, hi] of the curve y(x) interpolated with ``method``."""
    if method == "cubic":
        coeffs = np.polyfit(x, y, 3)
        prim = np.polyint(coeffs)
        return float(np.polyval(prim, hi) - np.polyval(prim, lo))
    xs, ys = _sorted_unique(x, y)
    if xs.size < 2:
        raise ConfigError("a curve has fewer than 2 distinct points on the integration axis; PCHIP needs 2")
    return float(PchipInterpolator(xs, ys).integrate(lo, hi))


def _bd_delta(
    x_anchor: np.ndarray,
    y_anchor: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    method: str,
    min_overlap: float,
    axis: str,
) -> float:
    """Mean of ``y_test(x) - y_anchor(x)`` over the overlap of the two ``x`` ranges."""
    need = METHODS[method]
    for label, x in (("anchor", x_anchor), ("test", x_test)):
        distinct = np.unique(x).size
        if distinct < need:  # a cubic through fewer distinct x is underdetermined (numpy's RankWarning)
            raise ConfigError(
                f"{label} curve has only {distinct} distinct {axis} value(s); the {method!r} BD method "
                f"needs at least {need}"
            )
    lo = max(x_anchor.min(), x_test.min())
    hi = min(x_anchor.max(), x_test.max())
    total = max(x_anchor.max(), x_test.max()) - min(x_anchor.min(), x_test.min())
    overlap = max(hi - lo, 0.0) / total if total > 0 else 0.0
    if overlap <= 0:
        warnings.warn(
            f"the curves do not overlap in {axis}; the BD value is undefined (NaN)",
            BjontegaardWarning,
            stacklevel=3,
        )
        return float("nan")
    if overlap < min_overlap:
        warnings.warn(
            f"the curves overlap over only {overlap:.0%} of their joint {axis} range "
            f"(minimum {min_overlap:.0%}); the BD value averages over that shared range only",
            BjontegaardWarning,
            stacklevel=3,
        )
    ia = _integral(x_anchor, y_anchor, lo, hi, method)
    it = _integral(x_test, y_test, lo, hi, method)
    return (it - ia) / (hi - lo)


def bd_rate(
    anchor_bpp: Sequence[float],
    anchor_psnr: Sequence[float],
    test_bpp: Sequence[float],
    test_psnr: Sequence[float],
    method: str = "cubic",
    min_overlap: float = 0.75,
) -> float:
    """Bjøntegaard delta rate of *test* against *anchor*, in percent.

    The log10 rate is interpolated as a function of quality; the mean log-rate difference over
    the overlapping quality range is turned into a percentage, ``(10**d - 1) * 100``.

    Args:
        anchor_bpp, anchor_psnr: Anchor curve: rates (bpp, > 0) and qualities (dB; PSNR or
            MS-SSIM in dB), one per rate point, in any order.
        test_bpp, test_psnr: Test curve, same units. It may have a different number of points.
        method: ``"cubic"`` (VCEG-M33, >= 4 points) or ``"pchip"`` (>= 2 points).
        min_overlap: Fraction of the joint quality range that must be shared before no
            :class:`BjontegaardWarning` is given.

    Returns:
        BD-rate in percent (negative: the test saves bits). NaN when the curves do not overlap.

    Raises:
        ConfigError: Mismatched lengths, too few points, non-positive or non-finite values,
            unknown method.
    """
    ra, qa = _curve(anchor_bpp, anchor_psnr, "anchor")
    rt, qt = _curve(test_bpp, test_psnr, "test")
    _check_method(method, ra.size, rt.size)
    _monotone_check(ra, qa, "anchor")
    _monotone_check(rt, qt, "test")
    d = _bd_delta(qa, np.log10(ra), qt, np.log10(rt), method, min_overlap, "quality")
    return float("nan") if math.isnan(d) else (10.0**d - 1.0) * 100.0


def bd_psnr(
    anchor_bpp: Sequence[float],
    anchor_psnr: Sequence[float],
    test_bpp: Sequence[float],
    test_psnr: Sequence[float],
    method: str = "cubic",
    min_overlap: float = 0.75,
) -> float:
    """Bjøntegaard delta quality (BD-PSNR) of *test* against *anchor*, in dB.

    Quality is interpolated as a function of log10 rate, and the mean difference over the
    overlapping log-rate range is returned. Pass MS-SSIM in dB (``-10 log10(1 - x)``) instead
    of PSNR to get BD-MS-SSIM in dB. Arguments and errors as in :func:`bd_rate`.

    Returns:
        BD-PSNR in dB (positive: the test has higher quality at equal rate). NaN when the curves
        do not overlap.
    """
    ra, qa = _curve(anchor_bpp, anchor_psnr, "anchor")
    rt, qt = _curve(test_bpp, test_psnr, "test")
    _check_method(method, ra.size, rt.size)
    _monotone_check(ra, qa, "anchor")
    _monotone_check(rt, qt, "test")
    return _bd_delta(np.log10(ra), qa, np.log10(rt), qt, method, min_overlap, "log-rate")


# --------------------------------------------------------------------------------------------
# BD tables


def _as_curves(curve: Any, name: str) -> tuple[list[float], list[float], list[float] | None]:
    """Normalize one entry of :func:`bd_table`'s ``curves`` to (bpp, psnr dB, ms-ssim dB or None).

    Accepted: ``(bpp, psnr)``, ``(bpp, psnr, ms_ssim_linear)``, a CompressAI results dict (full,
    with a ``"results"`` key, or just the inner dict) holding ``bpp`` and ``psnr-rgb`` and
    optionally ``ms-ssim-rgb`` (linear) or ``ms-ssim-db-rgb`` (already in dB).
    """
    msssim_db: list[float] | None = None
    if isinstance(curve, Mapping):
        res = curve.get("results", curve)
        if "bpp" not in res:
            raise ConfigError(f"curve {name!r}: results dict has no 'bpp' list")
        bpp = list(res["bpp"])
        psnr = list(res["psnr-rgb"]) if "psnr-rgb" in res else None
        if "ms-ssim-db-rgb" in res:
            msssim_db = [None if v is None else float(v) for v in res["ms-ssim-db-rgb"]]
        elif "ms-ssim-rgb" in res:
            msssim_db = [None if v is None else ms_ssim_db(float(v)) for v in res["ms-ssim-rgb"]]
    elif isinstance(curve, (tuple, list)) and len(curve) in (2, 3):
        bpp, psnr = list(curve[0]), list(curve[1])
        if len(curve) == 3 and curve[2] is not None:
            msssim_db = [None if v is None else ms_ssim_db(float(v)) for v in curve[2]]
    else:
        raise ConfigError(
            f"curve {name!r}: expected (bpp, psnr[, ms_ssim]) or a CompressAI results dict, got {type(curve).__name__}"
        )
    return bpp, psnr, msssim_db


def _valid_pairs(rates: Iterable[Any], quals: Iterable[Any], label: str = "curve") -> tuple[list[float], list[float]]:
    """Drop points where either value is missing (JSON null) or not finite (ConfigError on non-numbers)."""
    r_out, q_out = [], []
    for r, q in zip(rates, quals):
        if r is None or q is None:
            continue
        try:
            r, q = float(r), float(q)
        except (TypeError, ValueError):
            raise ConfigError(f"{label}: rates and qualities must be numbers, got {r!r} and {q!r}") from None
        if math.isfinite(r) and math.isfinite(q):
            r_out.append(r)
            q_out.append(q)
    return r_out, q_out


def _cell(fn, anchor: tuple, test: tuple, method: str, label: str) -> float:
    """One BD value, NaN (with a warning) when the data cannot give one."""
    if test[1] is None or anchor[1] is None:
        return float("nan")
    ra, qa = _valid_pairs(anchor[0], anchor[1], f"{label} (anchor)")
    rt, qt = _valid_pairs(test[0], test[1], f"{label} (test)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BjontegaardWarning)
        try:
            value = fn(ra, qa, rt, qt, method=method)
        except ConfigError as exc:
            warnings.warn(f"{exc}; written as NaN", BjontegaardWarning, stacklevel=2)
            value = float("nan")
    for w in caught:  # re-issue, naming the table cell
        if issubclass(w.category, BjontegaardWarning):
            warnings.warn(f"{label}: {w.message}", BjontegaardWarning, stacklevel=3)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return value


def _self_cell(fn, curve: tuple, method: str) -> float:
    """The anchor's own cell: 0.0 if ``fn`` can compare the curve with itself, NaN otherwise.

    (Too few valid points, or no MS-SSIM at all, gives NaN rather than a misleading ``+0.00``;
    the reason is already warned about in every other row.)
    """
    if curve[1] is None:
        return float("nan")
    r, q = _valid_pairs(curve[0], curve[1], "BD anchor")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BjontegaardWarning)
        try:
            value = fn(r, q, r, q, method=method)
        except ConfigError:
            return float("nan")
    return 0.0 if math.isfinite(value) else float("nan")


def bd_table(
    curves: Mapping[str, Any], anchor: str, method: str = "cubic"
) -> list[dict[str, Any]]:
    """BD rows of every curve against ``anchor``.

    Args:
        curves: name -> curve, where a curve is ``(bpp, psnr_db)``, ``(bpp, psnr_db,
            ms_ssim_linear)`` or a CompressAI-format results dict (see ``jpegnn.evaluation.results``).
            Missing values (``None``) are dropped point by point.
        anchor: Key of ``curves`` to compare against (its own row is zeros, or NaN where the
            anchor itself has too few valid points, e.g. no MS-SSIM on tiny images).
        method: ``"cubic"`` or ``"pchip"``.

    Returns:
        One dict per curve, in ``curves`` order, with the keys of :data:`BD_TABLE_FIELDS`:
        ``bd_rate_psnr_pct`` (%) and ``bd_psnr_db`` (dB) from PSNR-RGB, ``bd_rate_msssim_pct``
        (%) and ``bd_msssim_db`` (dB) from MS-SSIM-RGB in dB. A value that cannot be computed
        (no MS-SSIM, too few points, no overlap) is NaN, with a :class:`BjontegaardWarning`.

    Raises:
        ConfigError: ``anchor`` is not a key of ``curves``, or a curve has an unknown shape or
            holds something other than numbers and ``None``.
    """
    if anchor not in curves:
        raise ConfigError(f"BD anchor {anchor!r} is not one of the curves: {', '.join(curves) or '(none)'}")
    if method not in METHODS:
        raise ConfigError(f"unknown BD interpolation method {method!r}; known: {', '.join(METHODS)}")
    norm = {name: _as_curves(c, name) for name, c in curves.items()}
    a_bpp, a_psnr, a_ms = norm[anchor]
    rows = []
    for name, (bpp, psnr, ms) in norm.items():
        row: dict[str, Any] = {"name": name, "anchor": anchor, "method": method, "points": len(bpp)}
        if name == anchor:  # 0 where the anchor curve itself supports a BD value, else NaN
            row.update(bd_rate_psnr_pct=_self_cell(bd_rate, (a_bpp, a_psnr), method),
                       bd_psnr_db=_self_cell(bd_psnr, (a_bpp, a_psnr), method),
                       bd_rate_msssim_pct=_self_cell(bd_rate, (a_bpp, a_ms), method),
                       bd_msssim_db=_self_cell(bd_psnr, (a_bpp, a_ms), method))
        else:
            pa, pt = (a_bpp, a_psnr), (bpp, psnr)
            ma, mt = (a_bpp, a_ms), (bpp, ms)
            row["bd_rate_psnr_pct"] = _cell(bd_rate, pa, pt, method, f"{name} vs {anchor} BD-rate (PSNR)")
            row["bd_psnr_db"] = _cell(bd_psnr, pa, pt, method, f"{name} vs {anchor} BD-PSNR")
            row["bd_rate_msssim_pct"] = _cell(bd_rate, ma, mt, method, f"{name} vs {anchor} BD-rate (MS-SSIM)")
            row["bd_msssim_db"] = _cell(bd_psnr, ma, mt, method, f"{name} vs {anchor} BD-MS-SSIM")
        rows.append(row)
    return rows


def _fmt(v: Any, digits: int) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:+.{digits}f}"
    return str(v)


def bd_table_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """Render :func:`bd_table` rows as a GitHub-flavoured Markdown table (rates in %, deltas in dB)."""
    if not rows:
        return ""
    anchor, method = rows[0]["anchor"], rows[0]["method"]
    lines = [
        f"BD against **{anchor}** ({method} interpolation; BD-rate in %, negative = fewer bits; "
        "BD-PSNR / BD-MS-SSIM in dB, positive = better)",
        "",
        "| codec | points | BD-rate PSNR (%) | BD-PSNR (dB) | BD-rate MS-SSIM (%) | BD-MS-SSIM (dB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['points']} | {_fmt(r['bd_rate_psnr_pct'], 2)} | {_fmt(r['bd_psnr_db'], 3)} "
            f"| {_fmt(r['bd_rate_msssim_pct'], 2)} | {_fmt(r['bd_msssim_db'], 3)} |"
        )
    return "\n".join(lines) + "\n"
