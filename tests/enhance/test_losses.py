"""Transform-domain losses: SATD against a direct per-block Hadamard computation, DCT Parseval, mixing."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from jpegnn.errors import ConfigError
from jpegnn.losses.transform_domain import LOSSES, DistortionMix, dct_mse, jpeg_dct_weights, mse, satd


def _direct_satd(x: np.ndarray, ref: np.ndarray, n: int) -> float:
    """Loop over every block: sum |H d H^T| / sqrt(n)^2 (orthonormal Hadamard), mean per coefficient."""
    h = scipy.linalg.hadamard(n) / np.sqrt(n)
    d = x - ref
    b, c, hh, ww = d.shape
    total, count = 0.0, 0
    for i in range(b):
        for ch in range(c):
            for r in range(0, hh - hh % n, n):
                for q in range(0, ww - ww % n, n):
                    total += np.abs(h @ d[i, ch, r : r + n, q : q + n] @ h.T).sum()
                    count += n * n
    return total / count


@pytest.mark.parametrize("n", [4, 8])
def test_satd_equals_direct_hadamard(n):
    g = torch.Generator().manual_seed(n)
    x, ref = torch.rand(2, 3, 21, 35, generator=g, dtype=torch.float64), torch.rand(2, 3, 21, 35, generator=g, dtype=torch.float64)
    assert float(satd(x, ref, n)) == pytest.approx(_direct_satd(x.numpy(), ref.numpy(), n), rel=1e-12)
    assert float(LOSSES[f"satd{n}"](x, ref)) == pytest.approx(float(satd(x, ref, n)))


def test_satd_of_a_flat_error_is_one_dc_coefficient():
    x, ref = torch.full((1, 1, 8, 8), 0.5), torch.zeros(1, 1, 8, 8)
    # orthonormal DC = 0.5 * 8; one of 64 coefficients; pixel L1 would be 0.5
    assert float(satd(x, ref, 8)) == pytest.approx(0.5 * 8 / 64)


def test_uniform_dct_mse_is_pixel_mse_parseval():
    g = torch.Generator().manual_seed(1)
    x, ref = torch.rand(2, 1, 32, 24, generator=g, dtype=torch.float64), torch.rand(2, 1, 32, 24, generator=g, dtype=torch.float64)
    assert float(dct_mse(x, ref)) == pytest.approx(float(mse(x, ref)), rel=1e-12)
    w = jpeg_dct_weights(torch.float64)
    assert float(w.mean()) == pytest.approx(1.0) and w[0, 0] > w[7, 7]
    assert float(dct_mse(x, ref, weights=w)) != pytest.approx(float(mse(x, ref)))


def test_mix_weights_terms():
    g = torch.Generator().manual_seed(2)
    x, ref = torch.rand(1, 3, 16, 16, generator=g), torch.rand(1, 3, 16, 16, generator=g)
    out = DistortionMix({"mse": 1.0, "satd8": 0.5, "l1": 0.0})(x, ref)
    assert set(out) == {"loss", "mse", "satd8", "l1"}
    assert float(out["loss"]) == pytest.approx(float(out["mse"] + 0.5 * out["satd8"]))


@pytest.mark.parametrize("weights,match", [({"psnr": 1.0}, "unknown term"), ({"mse": -1.0}, "weights"),
                                           ({"mse": 0.0}, "weights"), ({}, "mapping")])
def test_bad_mix_is_clear(weights, match):
    with pytest.raises(ConfigError, match=match):
        DistortionMix(weights)
