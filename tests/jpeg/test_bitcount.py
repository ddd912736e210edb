"""Exact JPEG file sizes: recount libjpeg's own coefficients (decoded from Pillow's file by the
reference decoder) and compare with the file length, byte for byte."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jpegnn.errors import ConfigError, DataError
from jpegnn.jpeg import DiffJPEG, jpeg_size, jpeg_size_breakdown, jpeg_size_from_coefficients, quality_tables
from jpegnn.jpeg.huffman import STD_AC_CHROMA, STD_AC_LUMA, STD_DC_CHROMA, STD_DC_LUMA, optimal_table
from tests.jpeg import ref_jpeg
from tests.jpeg.util import pillow_jpeg, to_tensor

SUBSAMPLINGS = [("4:2:0", 2), ("4:2:2", 1), ("4:4:4", 0)]


def _lib_components(ref):
    return [torch.from_numpy(c).reshape(c.shape[0], c.shape[1], 8, 8) for c in ref.coefficients]


def test_standard_huffman_tables_equal_pillows():
    ref = ref_jpeg.read_jpeg(pillow_jpeg(np.zeros((8, 8, 3), np.uint8), 2), decode_scan=False)
    for key, tab in [((0, 0), STD_DC_LUMA), ((0, 1), STD_DC_CHROMA), ((1, 0), STD_AC_LUMA), ((1, 1), STD_AC_CHROMA)]:
        assert (list(tab.bits), list(tab.vals)) == tuple(ref.huff[key])
    assert ref.header_bytes + 2 == 625
    assert [length for _, length in ref.segments] == [2, 18, 69, 69, 19, 33, 183, 33, 183, 14]


@pytest.mark.parametrize("optimize", [False, True])
@pytest.mark.parametrize("ss,code", SUBSAMPLINGS)
def test_recount_of_libjpeg_coefficients_is_exact(images, ss, code, optimize):
    for q in (10, 75, 100):
        for name, img in images.items():
            data = pillow_jpeg(img, code, quality=q, optimize=optimize)
            ref = ref_jpeg.read_jpeg(data)
            comps = _lib_components(ref)
            br = jpeg_size_breakdown(comps, [ref.qtables[0], ref.qtables[1]], ss, optimize)[0]
            assert br.total == len(data), (name, ss, q, optimize)
            assert br.header == ref.header_bytes + 2
            if optimize:  # libjpeg's jpeg_gen_optimal_table, rebuilt from our symbol counts
                for (tc, th), tab in zip([(0, 0), (1, 0), (0, 1), (1, 1)], br.huffman_tables):
                    assert (list(tab.bits), list(tab.vals)) == tuple(ref.huff[(tc, th)]), (name, tc, th)


def test_dummy_blocks_are_generated_like_libjpeg(images):
    """Cropping the decoder's MCU-padded Y grid to the real blocks must give the same count:
    the counter regenerates libjpeg's dummy blocks (AC 0, DC copied)."""
    img = images["chelsea"]  # 37 x 53: 5 x 7 Y blocks inside a 6 x 8 MCU grid for 4:2:0
    data = pillow_jpeg(img, 2, quality=30)
    ref = ref_jpeg.read_jpeg(data)
    y, cb, cr = _lib_components(ref)
    assert y.shape[:2] == (6, 8)
    size = jpeg_size_from_coefficients([y[:5, :7], cb, cr], [ref.qtables[0], ref.qtables[1]], "4:2:0")
    assert int(size) == len(data)
    assert y[5, :, 0, 1:].abs().sum() == 0 and y[:, 7].reshape(6, 64)[:, 1:].abs().sum() == 0


def test_orientation_matters(images):
    """Reading the blocks transposed changes the count: the zigzag orientation is tested."""
    data = pillow_jpeg(images["astronaut"], 0, quality=50)
    ref = ref_jpeg.read_jpeg(data)
    comps = [c.transpose(-1, -2) for c in _lib_components(ref)]
    assert int(jpeg_size_from_coefficients(comps, [ref.qtables[0], ref.qtables[1]], "4:4:4")) != len(data)


@pytest.mark.parametrize("optimize", [False, True])
@pytest.mark.parametrize("ss,code", SUBSAMPLINGS)
def test_jpeg_size_end_to_end_equals_pillow(images, ss, code, optimize):
    for q in (15, 60, 95):
        for name, img in images.items():
            data = pillow_jpeg(img, code, quality=q, optimize=optimize)
            assert int(jpeg_size(to_tensor(img), q, subsampling=ss, optimize=optimize)) == len(data), (name, q)


def test_float_dct_sizes_are_close(images):
    x = torch.cat([to_tensor(images["astronaut"]), to_tensor(images["astronaut"].copy())])
    exact = jpeg_size(x, 50)
    approx = jpeg_size(x, 50, dct="float")
    assert exact.shape == (2,) and exact.dtype == torch.int64
    assert ((approx - exact).abs().float() / exact).max() < 0.02


def test_custom_tables_two_and_three_and_16_bit(images):
    img = images["synthetic"]
    y, c = quality_tables(40)
    cr = (c * 2).clamp(max=255)
    data3 = pillow_jpeg(img, 2, qtables=[y.flatten().tolist(), c.flatten().tolist(), cr.flatten().tolist()])
    assert int(jpeg_size(to_tensor(img), tables=[y, c, cr])) == len(data3)
    big = torch.full((8, 8), 300)
    data16 = pillow_jpeg(img, 0, qtables=[big.flatten().tolist(), c.flatten().tolist()])
    assert int(jpeg_size(to_tensor(img), tables=[big, c], subsampling="4:4:4")) == len(data16)


def test_from_diffjpeg_encode_batch(images):
    x = torch.cat([to_tensor(images["astronaut"]), torch.rand(1, 3, 48, 64)])
    m = DiffJPEG(70, "4:4:4", dct="islow").eval()
    with torch.no_grad():
        sizes = jpeg_size_from_coefficients(m.encode(x), optimize=True)
    assert sizes.tolist() == jpeg_size(x, 70, subsampling="4:4:4", optimize=True).tolist()


def test_stuffing_is_counted():
    """Random noise at q=100 produces many 0xFF bytes; the count must match Pillow."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    data = pillow_jpeg(img, 0, quality=100)
    br = jpeg_size_breakdown(_lib_components(ref_jpeg.read_jpeg(data)), quality_tables(100), "4:4:4")[0]
    assert br.stuffed > 0 and br.total == len(data)


def test_optimal_table_limits_code_lengths():
    freq = [2**i if i < 30 else 0 for i in range(256)]  # Fibonacci-like skew -> long codes
    tab = optimal_table(freq)
    assert sum(tab.bits) == 30 and len(tab.vals) == 30
    kraft = sum(n * 2.0 ** -(i + 1) for i, n in enumerate(tab.bits))
    assert kraft < 1.0  # the all-ones code point stays reserved


def test_errors():
    with pytest.raises(ConfigError, match="quality or tables"):
        jpeg_size(torch.rand(1, 3, 8, 8), quality=50, tables=quality_tables(50))
    with pytest.raises(ConfigError, match="tables"):
        jpeg_size_from_coefficients([torch.zeros(1, 1, 8, 8)] * 3, subsampling="4:4:4")
    with pytest.raises(ConfigError, match="3 components"):
        jpeg_size_from_coefficients([torch.zeros(1, 1, 8, 8)] * 2, quality_tables(50))
    with pytest.raises(DataError, match="out of range"):
        jpeg_size_from_coefficients(
            [torch.full((1, 1, 8, 8), 5000.0), torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)],
            quality_tables(50),
            "4:4:4",
        )
