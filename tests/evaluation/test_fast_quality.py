"""The fast cached metrics equal the project's reference implementations (image_quality)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from jpegnn.evaluation.fast_quality import ReferenceQuality, psnr_uint8, single_thread
from jpegnn.metrics.image_quality import ms_ssim_rgb, psnr_rgb
from tests.data.imagegen import smooth_rgb


def _jpeg(img: np.ndarray, q: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=q)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.copy()).permute(2, 0, 1).float() / 255


@pytest.mark.parametrize("shape", [(161, 171), (256, 384), (257, 181), (175, 162)])
def test_matches_image_quality_reference(shape):
    """Odd and even sides (the odd ones zero-pad the 2x2 pooling), the 161 px minimum included."""
    rng = np.random.default_rng(0)
    img = smooth_rgb(*shape, seed=3)
    noisy = np.clip(img.astype(int) + rng.integers(-3, 4, img.shape), 0, 255).astype(np.uint8)
    img = np.ascontiguousarray(noisy)
    ref = ReferenceQuality(img, band=48)  # several bands, last one partial
    for q in (5, 40, 90):
        dec = _jpeg(img, q)
        assert ref.psnr(dec) == pytest.approx(psnr_rgb(_t(dec), _t(img)), abs=1e-9)
        with single_thread():  # pytorch_msssim on 2 OpenMP threads crawls when the cores are shared
            want = ms_ssim_rgb(_t(dec), _t(img))
        assert math.isfinite(want)
        assert ref.ms_ssim(dec) == pytest.approx(want, abs=1e-5)


def test_identical_and_tiny_images():
    img = smooth_rgb(161, 180, seed=1)
    ref = ReferenceQuality(img)
    assert ref.psnr(img) == math.inf
    assert ref.ms_ssim(img) == pytest.approx(1.0, abs=1e-6)
    for shape in ((160, 200), (200, 160), (48, 40)):  # 160 px and less: no MS-SSIM, as ms_ssim_rgb
        small = ReferenceQuality(smooth_rgb(*shape, seed=2))
        assert not small.ms_ssim_defined
        assert math.isnan(small.ms_ssim(smooth_rgb(*shape, seed=5)))
        assert math.isfinite(small.psnr(smooth_rgb(*shape, seed=5)))


def test_psnr_uint8_exact_and_shape_checked():
    a = np.zeros((4, 5, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255  # one sample off by 255: MSE = 255^2 / 60
    assert psnr_uint8(b, a) == pytest.approx(10 * math.log10(60))
    with pytest.raises(ValueError, match="shape"):
        psnr_uint8(a[:3], a)
    with pytest.raises(ValueError, match="uint8"):
        ReferenceQuality(a.astype(np.float32))


def test_single_thread_restores_setting():
    before = torch.get_num_threads()
    with single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
