"""Differentiable rate terms: the smooth bit estimate tracks the exact count."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jpegnn.errors import ConfigError
from jpegnn.jpeg import DiffJPEG, jpeg_size_breakdown, jpeg_size_from_coefficients
from jpegnn.jpeg.rate import (
    estimate_bits,
    estimate_bpp,
    estimate_bytes,
    inverse_l1_table,
    sum_abs_over_q,
)
from tests.jpeg.util import synthetic, to_tensor


@pytest.fixture(scope="module")
def batch(images):
    from skimage import data

    imgs = [data.astronaut()[100:164, 150:246], data.coffee()[50:114, 200:296], synthetic(64, 96, 7)]
    return torch.cat([to_tensor(i) for i in imgs])


def test_estimate_tracks_exact_bits(batch):
    exact, est = [], []
    for ss in ("4:2:0", "4:4:4"):
        for q in (10, 30, 50, 75, 90, 95):
            with torch.no_grad():
                coefs = DiffJPEG(q, ss).eval().encode(batch)
            exact += [b.scan_bits for b in jpeg_size_breakdown(coefs)]
            est += estimate_bits(coefs).tolist()
    exact, est = np.array(exact, float), np.array(est)
    assert np.corrcoef(exact, est)[0, 1] > 0.995
    assert np.abs(est / exact - 1).mean() < 0.12


def test_estimate_is_differentiable_and_consistent(batch):
    m = DiffJPEG(50, learnable=True).train()
    x = batch.clone().requires_grad_(True)
    coefs = m.encode(x)
    bits = estimate_bits(coefs)
    assert bits.shape == (3,)
    bits.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert torch.isfinite(m.raw_tables.grad).all() and m.raw_tables.grad.abs().sum() > 0
    # coarser tables -> fewer estimated bits
    with torch.no_grad():
        b50 = estimate_bytes(DiffJPEG(50).eval().encode(batch))
        b20 = estimate_bytes(DiffJPEG(20).eval().encode(batch))
        exact = jpeg_size_from_coefficients(DiffJPEG(50).eval().encode(batch)).float()
    assert (b20 < b50).all()
    assert ((b50 - exact).abs() / exact).max() < 0.2
    bpp = estimate_bpp(DiffJPEG(50).eval().encode(batch))
    assert torch.allclose(bpp, b50 * 8 / (64 * 96))


def test_notebook_terms(batch):
    m = DiffJPEG(50, learnable=True).train()
    coefs = m.encode(batch)
    s = sum_abs_over_q(coefs)
    assert s.shape == (3,) and (s > 0).all()
    reg = inverse_l1_table(m.current_tables())
    reg.backward()
    assert m.raw_tables.grad is not None and (m.raw_tables.grad < 0).all()  # pushes tables up
    assert torch.isclose(inverse_l1_table([torch.ones(8, 8), torch.ones(8, 8)]), torch.tensor(1 / 128))
    with pytest.raises(ConfigError, match="coefs"):
        estimate_bits(batch)
