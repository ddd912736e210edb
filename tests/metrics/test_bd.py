"""Bjøntegaard deltas: agreement with the ``bjontegaard`` package, exact cases, warnings, errors."""

from __future__ import annotations

import math
import warnings

import bjontegaard
import numpy as np
import pytest

from jpegnn.errors import ConfigError
from jpegnn.metrics.bd import (
    BD_TABLE_FIELDS,
    BjontegaardWarning,
    bd_psnr,
    bd_rate,
    bd_table,
    bd_table_markdown,
)
from jpegnn.metrics.image_quality import ms_ssim_db

# CompressAI's published Kodak results (InterDigitalInc/CompressAI results/image/kodak, commit 869a9f5),
# copied as literals so that the tests never read ../shared.
JPEG_BPP = [0.22115325927734372, 0.32661437988281244, 0.42312622070312506, 0.5083855523003472, 0.5878660413953993, 0.6601265801323783, 0.728946261935764, 0.786026848687066, 0.8497187296549479, 0.9060007731119791, 0.9643800523546006, 1.0372119479709203, 1.1273964775933163, 1.23984612358941, 1.3688269721137154, 1.5718070136176217, 1.8588163587782118, 2.350199381510416, 3.4013400607638893]  # noqa: E501
JPEG_PSNR = [23.779894921045457, 26.57723034342358, 28.042246379237767, 29.04180914810682, 29.78473021842612, 30.378313496658652, 30.903164761925012, 31.307827225129476, 31.70484530103775, 32.05865273799422, 32.39929573599792, 32.789915599755076, 33.234742421489976, 33.792594320368266, 34.39429509119509, 35.239001425077355, 36.32886455167303, 37.9121247026983, 40.556657112988766]  # noqa: E501
JPEG_MSSSIM = [0.8030709524949392, 0.8898622319102287, 0.9235836813847224, 0.9427085692683855, 0.9533494859933853, 0.9606156249841055, 0.9661434814333916, 0.9696919098496437, 0.9726496761043867, 0.9752530703941981, 0.9772666270534197, 0.9792757481336594, 0.9813638602693876, 0.9837072988351186, 0.9857503150900205, 0.9881909117102623, 0.9905517573157946, 0.9929814984401067, 0.9956368828813235]  # noqa: E501
WEBP_BPP = [0.23441908094618058, 0.2963358561197917, 0.3528645833333333, 0.4070485432942709, 0.4608018663194445, 0.5127054850260416, 0.5674065483940972, 0.6207394070095487, 0.6746758355034722, 0.7218170166015625, 0.7708774142795137, 0.8236745198567709, 0.874026828342014, 0.9342905680338544, 0.9983876546223959, 1.2163136800130208, 1.52008056640625, 2.0103539360894094, 2.928478664822048]  # noqa: E501
WEBP_PSNR = [28.328423711178047, 29.15120466864292, 29.82085123995705, 30.406978660790273, 30.939177449342804, 31.44262071523305, 31.935957285610844, 32.42482398631663, 32.883460109461126, 33.23755297085759, 33.60666386484625, 33.97166322888808, 34.3281792852023, 34.69344958764347, 35.104168463128424, 36.36904624994511, 37.77825929813315, 39.55695217506825, 41.75924866052373]  # noqa: E501
WEBP_MSSSIM = [0.9257391567031542, 0.9396422306696574, 0.9485039884845415, 0.9549540728330612, 0.9602156182130178, 0.9641667927304903, 0.9676028564572334, 0.9705141683419546, 0.9729976480205854, 0.9750594049692154, 0.9771071672439575, 0.978692372639974, 0.9803250730037689, 0.9816511248548826, 0.9832107946276665, 0.9868994504213333, 0.9901696890592575, 0.9932736456394196, 0.9959782809019089]  # noqa: E501
BPG_BPP = [0.06776767306857638, 0.1610234578450521, 0.35155402289496523, 0.6846966213650174, 1.1996654934353295, 1.9297120836046002, 3.0578757392035594, 4.703142801920573]  # noqa: E501
BPG_PSNR = [26.19512806390954, 28.68154930675666, 31.5946565907943, 34.857473813062924, 38.259886899666974, 41.47887283561703, 44.70311031066196, 47.63251604714922]  # noqa: E501
HYPER_BPP = [0.13129340277777776, 0.20889282226562503, 0.3198581271701389, 0.47835625542534727, 0.6686842176649304, 0.9388258192274304, 1.2591722276475694, 1.6602240668402775]  # noqa: E501
HYPER_PSNR = [27.58153679333392, 29.19669412138477, 30.972168705499175, 32.838191117040694, 34.5262427611008, 36.74336461762285, 38.58385584443213, 40.55687370015212]  # noqa: E501

REAL_PAIRS = {
    "webp_vs_jpeg": (JPEG_BPP, JPEG_PSNR, WEBP_BPP, WEBP_PSNR),
    "hyperprior_vs_jpeg": (JPEG_BPP, JPEG_PSNR, HYPER_BPP, HYPER_PSNR),
    "bpg_vs_webp": (WEBP_BPP, WEBP_PSNR, BPG_BPP, BPG_PSNR),
    "webp_vs_jpeg_msssim_db": (JPEG_BPP, [ms_ssim_db(v) for v in JPEG_MSSSIM], WEBP_BPP, [ms_ssim_db(v) for v in WEBP_MSSSIM]),
}


def _reference(fn_name: str, a_r, a_q, t_r, t_q, method: str) -> float:
    fn = getattr(bjontegaard, fn_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(a_r, a_q, t_r, t_q, method=method, require_matching_points=False)


def _ours(fn, *args, method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BjontegaardWarning)
        return fn(*args, method=method)


@pytest.mark.parametrize("method", ["cubic", "pchip"])
@pytest.mark.parametrize("pair", sorted(REAL_PAIRS))
def test_matches_bjontegaard_package_on_compressai_curves(pair, method):
    a_r, a_q, t_r, t_q = REAL_PAIRS[pair]
    for ours, ref in ((bd_rate, "bd_rate"), (bd_psnr, "bd_psnr")):
        got = _ours(ours, a_r, a_q, t_r, t_q, method=method)
        want = _reference(ref, a_r, a_q, t_r, t_q, method)
        assert got == pytest.approx(want, abs=1e-3), (pair, method, ref)


def _random_curve(rng: np.random.Generator, n: int):
    """A concave, monotone RD curve: PSNR = a + b*log2(bpp) + noise-free, random shape."""
    bpp = np.sort(rng.uniform(0.08, 3.0, n))
    while np.any(np.diff(bpp) < 0.02):  # keep points distinct
        bpp = np.sort(rng.uniform(0.08, 3.0, n))
    a, b, c = rng.uniform(28, 36), rng.uniform(3.5, 7.0), rng.uniform(0.0, 0.4)
    lb = np.log2(bpp)
    psnr = a + b * lb - c * lb**2 * np.sign(lb)  # still increasing on this range
    assert np.all(np.diff(psnr) > 0)
    return bpp.tolist(), psnr.tolist()


@pytest.mark.parametrize("method", ["cubic", "pchip"])
@pytest.mark.parametrize("seed", range(6))
def test_matches_bjontegaard_package_on_random_monotone_curves(seed, method):
    rng = np.random.default_rng(seed)
    a_r, a_q = _random_curve(rng, int(rng.integers(4, 9)))
    t_r, t_q = _random_curve(rng, int(rng.integers(4, 9)))
    for ours, ref in ((bd_rate, "bd_rate"), (bd_psnr, "bd_psnr")):
        got = _ours(ours, a_r, a_q, t_r, t_q, method=method)
        want = _reference(ref, a_r, a_q, t_r, t_q, method)
        if math.isnan(want):
            assert math.isnan(got)
        else:
            assert got == pytest.approx(want, abs=1e-3)


@pytest.mark.parametrize("method", ["cubic", "pchip"])
def test_exact_cases(method):
    # Same curve: zero. Rates scaled by 0.9 at equal quality: exactly -10 %. PSNR +1 dB: exactly +1 dB.
    r, q = JPEG_BPP, JPEG_PSNR
    assert bd_rate(r, q, r, q, method=method) == pytest.approx(0.0, abs=1e-9)
    assert bd_psnr(r, q, r, q, method=method) == pytest.approx(0.0, abs=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BjontegaardWarning)  # large overlap: no warning
        assert bd_rate(r, q, [0.9 * x for x in r], q, method=method) == pytest.approx(-10.0, abs=1e-6)
        assert bd_psnr(r, q, r, [x + 1 for x in q], method=method) == pytest.approx(1.0, abs=1e-9)
    # point order does not matter
    assert bd_rate(r[::-1], q[::-1], [0.9 * x for x in r], q, method=method) == pytest.approx(-10.0, abs=1e-6)


def test_pchip_accepts_two_points_and_cubic_needs_four():
    assert bd_psnr([0.5, 1.0], [30, 33], [0.5, 1.0], [31, 34], method="pchip") == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="at least 4"):
        bd_rate([0.5, 1.0, 2.0], [30, 33, 36], [0.5, 1.0, 2.0, 3.0], [31, 34, 37, 38])
    with pytest.raises(ConfigError, match="at least 2"):
        bd_rate([0.5], [30], [0.5, 1.0], [31, 34], method="pchip")


@pytest.mark.parametrize(
    "args, match",
    [
        (([0.1, 0.2, 0.3, 0.4], [30, 31, 32], [0.1, 0.2, 0.3, 0.4], [30, 31, 32, 33]), "3 quality values"),
        (([0.0, 0.2, 0.3, 0.4], [30, 31, 32, 33], [0.1, 0.2, 0.3, 0.4], [30, 31, 32, 33]), "positive"),
        (([0.1, -0.2, 0.3, 0.4], [30, 31, 32, 33], [0.1, 0.2, 0.3, 0.4], [30, 31, 32, 33]), "positive"),
        (([0.1, 0.2, 0.3, 0.4], [30, 31, float("nan"), 33], [0.1, 0.2, 0.3, 0.4], [30, 31, 32, 33]), "finite"),
        (([0.1, 0.2, 0.3, 0.4], [30, 31, 32, 33], [0.1, 0.2, 0.3], [30, 31, 32, 33]), "test"),
    ],
)
def test_invalid_input_raises_config_error(args, match):
    for fn in (bd_rate, bd_psnr):
        with pytest.raises(ConfigError, match=match):
            fn(*args)


def test_unknown_method():
    with pytest.raises(ConfigError, match="cubic, pchip"):
        bd_rate(JPEG_BPP, JPEG_PSNR, WEBP_BPP, WEBP_PSNR, method="akima")


def test_warns_on_poor_overlap_and_nan_without_overlap():
    r = [0.25, 0.5, 1.0, 2.0]
    q = [28.0, 31.0, 34.0, 37.0]
    # test curve shifted so the quality ranges share only 1 dB of 12 dB
    with pytest.warns(BjontegaardWarning, match="overlap over only"):
        v = bd_rate(r, q, r, [x + 8 for x in q])
    assert math.isfinite(v)
    with pytest.warns(BjontegaardWarning, match="do not overlap"):
        assert math.isnan(bd_rate(r, q, r, [x + 20 for x in q]))
    with pytest.warns(BjontegaardWarning, match="do not overlap"):
        assert math.isnan(bd_psnr(r, q, [x * 100 for x in r], q))


def test_warns_on_non_monotonic_curve():
    r = [0.25, 0.5, 1.0, 2.0, 3.0]
    bad = [28.0, 31.0, 30.5, 34.0, 37.0]  # quality drops while rate rises
    good = [28.5, 31.5, 33.0, 35.0, 37.5]
    with pytest.warns(BjontegaardWarning, match="not monotonic"):
        bd_rate(r, good, r, bad)
    with pytest.warns(BjontegaardWarning, match="anchor RD curve is not monotonic"):
        bd_psnr(r, bad, r, good, method="pchip")
    # bjontegaard's pchip cannot take it at all; ours still returns a (flagged) number
    with pytest.warns(BjontegaardWarning):
        assert math.isfinite(bd_rate(r, good, r, bad, method="pchip"))


def test_bd_table_rows_and_markdown():
    curves = {
        "jpeg": (JPEG_BPP, JPEG_PSNR, JPEG_MSSSIM),
        "webp": {"name": "WebP", "results": {"bpp": WEBP_BPP, "psnr-rgb": WEBP_PSNR, "ms-ssim-rgb": WEBP_MSSSIM}},
        "bpg-psnr-only": (BPG_BPP, BPG_PSNR),
        "paper": {"bpp": HYPER_BPP, "psnr-rgb": HYPER_PSNR, "ms-ssim-db-rgb": [ms_ssim_db(v) for v in JPEG_MSSSIM[:8]]},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BjontegaardWarning)
        rows = bd_table(curves, anchor="jpeg")
    assert [r["name"] for r in rows] == list(curves)
    assert all(set(r) == set(BD_TABLE_FIELDS) for r in rows)
    anchor = rows[0]
    assert anchor["bd_rate_psnr_pct"] == 0 and anchor["bd_psnr_db"] == 0 and anchor["bd_msssim_db"] == 0
    webp = rows[1]
    assert webp["points"] == 19
    assert webp["bd_rate_psnr_pct"] == pytest.approx(_reference("bd_rate", JPEG_BPP, JPEG_PSNR, WEBP_BPP, WEBP_PSNR, "cubic"), abs=1e-3)
    ms_a = [ms_ssim_db(v) for v in JPEG_MSSSIM]
    ms_t = [ms_ssim_db(v) for v in WEBP_MSSSIM]
    assert webp["bd_msssim_db"] == pytest.approx(_reference("bd_psnr", JPEG_BPP, ms_a, WEBP_BPP, ms_t, "cubic"), abs=1e-3)
    assert webp["bd_rate_psnr_pct"] < 0 < webp["bd_psnr_db"]  # WebP beats JPEG
    assert math.isnan(rows[2]["bd_rate_msssim_pct"]) and math.isfinite(rows[2]["bd_rate_psnr_pct"])
    assert math.isfinite(rows[3]["bd_msssim_db"])
    md = bd_table_markdown(rows)
    assert md.count("\n| ") == 1 + len(rows)  # header + one line per row
    assert "| bpg-psnr-only | 8 |" in md and "n/a" in md


def test_bd_table_unknown_anchor_and_missing_values():
    with pytest.raises(ConfigError, match="not one of the curves: a, b"):
        bd_table({"a": (JPEG_BPP, JPEG_PSNR), "b": (WEBP_BPP, WEBP_PSNR)}, anchor="c")
    # null MS-SSIM entries (tiny images) are dropped point-wise; too few left -> NaN with a warning
    curves = {
        "a": {"bpp": JPEG_BPP[:4], "psnr-rgb": JPEG_PSNR[:4], "ms-ssim-rgb": [None, None, 0.9, 0.95]},
        "b": {"bpp": WEBP_BPP[:4], "psnr-rgb": WEBP_PSNR[:4], "ms-ssim-rgb": [None] * 4},
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = bd_table(curves, anchor="a", method="pchip")
    messages = [str(w.message) for w in caught if issubclass(w.category, BjontegaardWarning)]
    assert any(m.startswith("b vs a BD-rate (MS-SSIM): test curve has 0 point(s)") for m in messages)
    assert math.isfinite(rows[1]["bd_rate_psnr_pct"])
    assert math.isnan(rows[1]["bd_rate_msssim_pct"])


@pytest.mark.parametrize("method, need", [("cubic", 4), ("pchip", 2)])
def test_too_few_distinct_values_is_an_error_not_a_rank_deficient_fit(method, need):
    r, q = [0.25, 0.5, 1.0, 2.0], [28.0, 31.0, 34.0, 37.0]
    # 4 points but only `need - 1` distinct qualities / rates: a cubic fit was underdetermined
    # (numpy RankWarning and an arbitrary number), PCHIP said "do not overlap"
    dup_q = [30.0] * 2 + [33.0] * 2 if need == 4 else [30.0] * 4
    dup_r = [0.3] * 2 + [0.6] * 2 if need == 4 else [0.3] * 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RankWarning
        warnings.simplefilter("ignore", BjontegaardWarning)  # the non-monotonic warning is expected
        with pytest.raises(ConfigError, match=rf"test curve has only {need - 2 if need == 4 else 1} distinct quality"):
            bd_rate(r, q, [0.3, 0.4, 0.5, 0.6], dup_q, method=method)
        with pytest.raises(ConfigError, match=r"anchor curve has only \d distinct log-rate"):
            bd_psnr(dup_r, [29.0, 30.0, 33.0, 34.0], r, q, method=method)


def test_anchor_row_is_nan_where_the_anchor_has_too_few_points():
    curves = {
        "a": {"bpp": JPEG_BPP[:4], "psnr-rgb": JPEG_PSNR[:4], "ms-ssim-rgb": [None] * 4},  # tiny images
        "b": {"bpp": WEBP_BPP[:4], "psnr-rgb": WEBP_PSNR[:4], "ms-ssim-rgb": [None] * 4},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BjontegaardWarning)
        rows = bd_table(curves, anchor="a")
        two = bd_table({"a": (JPEG_BPP[:2], JPEG_PSNR[:2]), "b": (WEBP_BPP[:4], WEBP_PSNR[:4])}, anchor="a")
    assert rows[0]["bd_rate_psnr_pct"] == 0.0 and rows[0]["bd_psnr_db"] == 0.0
    assert math.isnan(rows[0]["bd_rate_msssim_pct"]) and math.isnan(rows[0]["bd_msssim_db"])  # were +0.00
    assert all(math.isnan(two[0][k]) for k in ("bd_rate_psnr_pct", "bd_psnr_db"))  # 2 points: no cubic BD


def test_bd_table_non_numbers_are_a_config_error():
    curves = {"a": (JPEG_BPP[:4], JPEG_PSNR[:4]), "b": (["x", 0.2, 0.3, 0.4], WEBP_PSNR[:4])}
    with pytest.raises(ConfigError, match="must be numbers, got 'x'"):  # was a bare ValueError from float()
        bd_table(curves, anchor="a")
