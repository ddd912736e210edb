"""Images narrower than libjpeg's fancy-upsampling threshold, and other tiny sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jpegnn.jpeg import DiffJPEG
from tests.jpeg.util import pillow_decode, pillow_jpeg, synthetic, to_tensor, to_uint8

SIZES = [(1, 1), (1, 9), (9, 1), (2, 3), (17, 3), (5, 4), (9, 5), (17, 9)]


@pytest.mark.parametrize("ss,code", [("4:2:0", 2), ("4:2:2", 1), ("4:4:4", 0)])
def test_islow_bit_exact_for_tiny_and_narrow_images(ss, code):
    """libjpeg upsamples chroma 1-2 samples wide (width <= 4) by replication, not fancy."""
    for h, w in SIZES:
        img = synthetic(h, w, 3)
        ref = pillow_decode(pillow_jpeg(img, code, quality=60))
        with torch.no_grad():
            out = DiffJPEG(60, ss, dct="islow").eval()(to_tensor(img))
        assert np.array_equal(to_uint8(out), ref), (ss, h, w)


@pytest.mark.parametrize("ss", ["4:2:0", "4:2:2"])
def test_narrow_images_have_finite_gradients(ss):
    for h, w in SIZES:
        x = torch.rand(1, 3, h, w, requires_grad=True)
        m = DiffJPEG(50, ss, learnable=True).train()
        out = m(x)
        assert out.shape == x.shape
        (out * torch.rand_like(out)).sum().backward()
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
        assert torch.isfinite(m.raw_tables.grad).all()
