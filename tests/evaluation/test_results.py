"""CompressAI-format results: strict JSON even when a mean is NaN or infinite."""

from __future__ import annotations

import json
import math

from jpegnn.evaluation.results import compressai_results, write_results_json


def _row(psnr: float, ms_ssim: float) -> dict:
    return {"image": "a", "width": 8, "height": 8, "bpp": 1.0, "psnr_rgb": psnr, "ms_ssim_rgb": ms_ssim,
            "encoding_time": 0.1, "decoding_time": 0.1}


def test_lossless_and_missing_means_are_null_in_strict_json(tmp_path):
    res = compressai_results("x", "", [[_row(math.inf, math.nan), _row(40.0, math.nan)], [_row(30.0, 0.9)]])
    path = tmp_path / "x.json"
    write_results_json(path, res)
    text = path.read_text()
    assert "Infinity" not in text and "NaN" not in text  # was "Infinity" (invalid JSON) for a lossless image
    data = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert data["results"]["psnr-rgb"] == [None, 30.0]
    assert data["results"]["ms-ssim-rgb"] == [None, 0.9]
