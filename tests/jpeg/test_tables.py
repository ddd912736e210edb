"""Quantization tables: Annex K + libjpeg quality scaling equal Pillow's for every quality."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from jpegnn.errors import ConfigError
from jpegnn.jpeg import ZIGZAG, quality_tables
from jpegnn.jpeg.tables import STD_LUMA_QTABLE, quality_scale, to_baseline
from tests.jpeg import ref_jpeg


def test_quality_tables_equal_pillow_for_all_qualities():
    img = Image.fromarray(np.full((8, 8, 3), 90, np.uint8))
    for q in range(1, 101):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=q)
        qt = Image.open(io.BytesIO(buf.getvalue())).quantization
        luma, chroma = quality_tables(q)
        assert luma.shape == (8, 8) and luma.dtype == torch.int64
        assert qt[0] == luma.flatten().tolist(), q
        assert qt[1] == chroma.flatten().tolist(), q


def test_quality_50_is_annex_k_and_scaling_rule():
    assert quality_tables(50)[0].flatten().tolist() == list(STD_LUMA_QTABLE)
    assert quality_scale(10) == 500 and quality_scale(75) == 50 and quality_scale(100) == 0
    assert quality_tables(100)[0].eq(1).all()  # clamped at 1
    assert quality_tables(1)[0].max() == 255  # force_baseline clamp


def test_zigzag_is_the_standard_order():
    assert sorted(ZIGZAG) == list(range(64))
    assert list(ZIGZAG) == ref_jpeg._ZZ  # typed independently in the reference decoder
    assert ZIGZAG[:3] == (0, 1, 8)  # (0,0), then horizontal frequency 1, then vertical 1


@pytest.mark.parametrize("bad", [0, 101, 50.5, "75", None, True])
def test_bad_quality_raises_config_error(bad):
    with pytest.raises(ConfigError, match="quality"):
        quality_tables(bad)


def test_to_baseline_rounds_and_clamps():
    t = torch.tensor([[-3.0] * 64, [300.2] * 32 + [1.49] * 32])
    out = to_baseline(t)
    assert out.shape == (2, 8, 8) and out.dtype == torch.int64
    assert out[0].eq(1).all() and out[1].flatten()[:32].eq(255).all() and out[1].flatten()[32:].eq(1).all()
    with pytest.raises(ConfigError, match="tables"):
        to_baseline(torch.ones(4, 64))
