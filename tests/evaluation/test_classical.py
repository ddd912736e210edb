"""Classical Pillow codecs: registry, real bitstreams, per-image rows, target-bpp bisection."""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from PIL import Image, features

import jpegnn.evaluation.classical as classical
from jpegnn.errors import ConfigError
from jpegnn.evaluation.classical import (
    CODECS,
    RateMonotonicityWarning,
    available_codecs,
    evaluate_codec_on_image,
    evaluate_image,
    find_quality_for_bpp,
    get_codec,
    jpeg_at_bpp,
    row_at_target_bpp,
)
from jpegnn.evaluation.protocol import Codec, CodecResult, as_uint8_hwc
from jpegnn.evaluation.results import PER_IMAGE_FIELDS
from tests.data.imagegen import smooth_rgb


@pytest.fixture(scope="module")
def img() -> np.ndarray:
    rng = np.random.default_rng(7)
    base = smooth_rgb(64, 80, seed=11).astype(int)
    return np.clip(base + rng.integers(-12, 13, base.shape), 0, 255).astype(np.uint8)


def test_unknown_codec_lists_known_ones():
    with pytest.raises(ConfigError) as exc:
        get_codec("jpeg-xl")
    msg = str(exc.value)
    assert "'jpeg-xl'" in msg and all(name in msg for name in CODECS)


def test_unavailable_codec_gives_clear_error(monkeypatch):
    monkeypatch.setattr(classical.features, "check", lambda name: False)
    with pytest.raises(ConfigError, match="built without 'avif' support"):
        get_codec("avif")
    assert available_codecs() == []


@pytest.mark.parametrize("name", list(CODECS))
def test_every_codec_round_trips_a_real_bitstream(name, img):
    if name not in available_codecs():
        pytest.skip(f"Pillow {Image.__version__} lacks {name}: {CODECS[name].feature} unavailable")
    codec = get_codec(name)
    assert isinstance(codec, Codec)
    lo_q, hi_q = 10, 90
    lo, hi = codec.encode_decode(img, lo_q), codec.encode_decode(img, hi_q)
    for res in (lo, hi):
        assert res.decoded.shape == img.shape and res.decoded.dtype == np.uint8
        assert res.num_bytes > 0 and res.encoding_time >= 0 and res.decoding_time >= 0
        assert res.num_bytes == len(codec.encode(img, lo_q if res is lo else hi_q))  # deterministic size
    assert hi.num_bytes > lo.num_bytes  # more quality, more bits
    err = lambda d: np.mean((d.astype(float) - img) ** 2)  # noqa: E731
    assert err(hi.decoded) < err(lo.decoded)


def test_jpeg_bytes_are_pillows_and_variants_behave(img):
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=50)  # Pillow defaults: 4:2:0, no optimize
    base = get_codec("jpeg").encode_decode(img, 50)
    assert base.num_bytes == len(buf.getvalue())
    opt = get_codec("jpeg-opt").encode_decode(img, 50)
    assert opt.num_bytes < base.num_bytes and np.array_equal(opt.decoded, base.decoded)  # same pixels
    j444 = get_codec("jpeg444").encode_decode(img, 50)
    assert j444.num_bytes > base.num_bytes  # full-resolution chroma costs bits
    with Image.open(io.BytesIO(get_codec("jpeg444").encode(img, 50))) as im:
        assert im.layer[0][1:3] == (1, 1)  # no subsampling written (h, v factors of Y)


def test_quality_is_validated(img):
    with pytest.raises(ConfigError, match=r"jpeg: quality must be an integer in \[1, 100\], got 0"):
        get_codec("jpeg").encode_decode(img, 0)
    with pytest.raises(ConfigError, match="webp"):
        get_codec("webp").encode_decode(img, 101)


def test_jpeg2000_quality_mapping_is_monotone(img):
    codec = get_codec("jpeg2000")
    sizes = [codec.encoded_size(img, q) for q in (5, 25, 50, 75, 95)]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)


def test_rows_have_the_per_image_columns(img):
    rows = evaluate_codec_on_image(get_codec("jpeg"), img, [20, 80], image_name="x")
    assert [r["quality"] for r in rows] == [20, 80]
    for r in rows:
        assert set(PER_IMAGE_FIELDS) <= set(r)
        assert r["bpp"] == pytest.approx(r["num_bytes"] * 8 / (64 * 80))
        assert r["width"] == 80 and r["height"] == 64 and r["image"] == "x" and r["codec"] == "jpeg"
        assert math.isnan(r["ms_ssim_rgb"])  # 64 px is below MS-SSIM's 161 px minimum
    assert rows[1]["psnr_rgb"] > rows[0]["psnr_rgb"]


@pytest.mark.parametrize("target", [0.6, 1.0, 1.7, 3.0])
def test_bisection_finds_the_closest_quality(img, target):
    codec = get_codec("jpeg")
    calls = []

    @dataclass(frozen=True)
    class Counting:
        name = "jpeg"
        quality_range = (1, 100)
        default_qualities = (50,)

        def encoded_size(self, im, q):
            calls.append(q)
            return codec.encoded_size(im, q)

        def encode_decode(self, im, q):
            return codec.encode_decode(im, q)

    q, bpp = find_quality_for_bpp(Counting(), img, target)
    px = img.shape[0] * img.shape[1]
    all_bpp = {k: codec.encoded_size(img, k) * 8 / px for k in range(1, 101)}
    best = min(all_bpp, key=lambda k: (abs(all_bpp[k] - target), k))
    assert abs(bpp - target) == pytest.approx(abs(all_bpp[best] - target))
    assert bpp == pytest.approx(all_bpp[q])
    assert len(set(calls)) <= 10  # log2(100) + 2 encodes, not 100


def test_bisection_clamps_out_of_range_targets(img):
    codec = get_codec("jpeg")
    assert find_quality_for_bpp(codec, img, 1e-4)[0] == 1
    assert find_quality_for_bpp(codec, img, 1e3)[0] == 100
    with pytest.raises(ConfigError, match="positive"):
        find_quality_for_bpp(codec, img, 0.0)
    with pytest.raises(ConfigError, match="positive"):
        find_quality_for_bpp(codec, img, float("nan"))


@dataclass(frozen=True)
class _FakeCodec:
    """bpp = table[q] / 8 on any image of 8 pixels' worth (sizes are made up)."""

    table: tuple
    name: str = "fake"
    description: str = "fake"
    default_qualities: tuple = (1, 2, 3, 4, 5)
    quality_range: tuple | None = (1, 5)

    def encode_decode(self, im, q):
        n = self.table[q - 1] * im.shape[0] * im.shape[1] // 8
        return CodecResult(n, im.copy(), 0.0, 0.0)


def test_non_monotone_rate_falls_back_to_a_full_scan(img):
    codec = _FakeCodec(table=(1, 2, 9, 3, 4))  # q3 is out of order
    # bisection visits q1, q5, q3, q2 and would settle on q2 (2 bpp); q3 > q5 reveals the problem
    with pytest.warns(RateMonotonicityWarning, match="scanning all qualities"):
        q, bpp = find_quality_for_bpp(codec, img, 2.9)
    assert (q, bpp) == (4, 3.0)


def test_target_without_quality_range_uses_nearest_rate_point(img):
    codec = _FakeCodec(table=(1, 2, 4, 8, 16), quality_range=None)
    row = row_at_target_bpp(codec, img, 5.0, image_name="a")
    assert row["quality"] == 3 and row["bpp"] == 4.0 and row["target_bpp"] == 5.0


def test_evaluate_image_shares_reference_across_codecs(img):
    rows = evaluate_image("a", img, [get_codec("jpeg"), get_codec("webp")], {"jpeg": [30], "webp": [30, 60]})
    assert [(r["codec"], r["quality"]) for r in rows] == [("jpeg", 30), ("webp", 30), ("webp", 60)]
    trows = evaluate_image("a", img, [get_codec("jpeg")], target_bpps=[1.0, 2.0])
    assert [r["target_bpp"] for r in trows] == [1.0, 2.0]


def test_jpeg_at_bpp_accepts_tensors_and_arrays(img):
    t_float = torch.from_numpy(img).permute(2, 0, 1).float() / 255
    a = jpeg_at_bpp(img, 1.2)
    b = jpeg_at_bpp(t_float, 1.2)
    c = jpeg_at_bpp(torch.from_numpy(img).permute(2, 0, 1)[None], 1.2)
    assert a["quality"] == b["quality"] == c["quality"]
    assert a["bpp"] == b["bpp"] and a["psnr_rgb"] == b["psnr_rgb"]
    assert set(a) >= {"quality", "bpp", "psnr_rgb", "ms_ssim_rgb", "num_bytes", "target_bpp"}
    q444 = jpeg_at_bpp(img, 1.2, subsampling="4:4:4", return_decoded=True)
    assert q444["codec"] == "jpeg444" and q444["decoded"].shape == img.shape
    with pytest.raises(ConfigError, match="subsampling"):
        jpeg_at_bpp(img, 1.0, subsampling="4:1:1")


def test_as_uint8_hwc_conversions():
    x = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert np.array_equal(as_uint8_hwc(x), x)
    assert np.array_equal(as_uint8_hwc(torch.from_numpy(x).permute(2, 0, 1)), x)
    assert np.array_equal(as_uint8_hwc(x.astype(np.float64) / 255), x)
    assert np.array_equal(as_uint8_hwc(Image.fromarray(x)), x)
    with pytest.raises(ValueError):
        as_uint8_hwc(torch.zeros(2, 3, 4, 4))


def test_avif_when_available(img):
    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = get_codec("avif").encode_decode(img, 60)
    assert res.decoded.shape == img.shape and res.num_bytes > 0


def test_target_below_the_lowest_quality_checks_monotonicity_too(img):
    """Quality 1 already overshoots 1.0 bpp, but the rate is not monotone (as on noise-like
    images): the middle quality reveals it and the full scan finds the nearer q4."""
    codec = _FakeCodec(table=(2, 3, 1, 1, 4))  # bpp(q1)=2 >= 1; q3 = 1 < q1
    with pytest.warns(RateMonotonicityWarning, match="scanning all qualities"):
        q, bpp = find_quality_for_bpp(codec, img, 1.0)
    assert (q, bpp) == (3, 1.0)
    monotone = _FakeCodec(table=(2, 3, 4, 5, 6))
    assert find_quality_for_bpp(monotone, img, 1.0) == (1, 2.0)  # no warning, the end as before
