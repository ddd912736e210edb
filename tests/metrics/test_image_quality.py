"""MS-SSIM-RGB and PSNR-RGB are CompressAI's ``eval_model`` figures (pytorch_msssim on 8-bit images)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import pytorch_msssim
import torch
from PIL import Image

from jpegnn.metrics.image_quality import MS_SSIM_MIN_SIDE, ms_ssim_rgb, psnr_rgb, to_8bit
from tests.data.imagegen import smooth_rgb


@pytest.fixture(autouse=True)
def _one_thread():
    """pytorch_msssim on small planes: a second OpenMP thread on a shared 2-core machine makes a
    200x333 MS-SSIM take seconds instead of milliseconds. Restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _structured(h: int, w: int, seed: int) -> torch.Tensor:
    """3xHxW float32 in [0, 1]: smooth random content plus mild texture (not pure noise)."""
    rng = np.random.default_rng(seed)
    img = smooth_rgb(h, w, seed).astype(np.float32)
    img += rng.normal(0.0, 6.0, img.shape).astype(np.float32)
    return torch.from_numpy(np.clip(img, 0, 255) / 255).permute(2, 0, 1).contiguous()


def _degrade(x: torch.Tensor, seed: int) -> torch.Tensor:
    """A float 'reconstruction': blurred and noisy, a little outside [0, 1] (exercises clamp + rounding)."""
    g = torch.Generator().manual_seed(seed)
    blurred = torch.nn.functional.avg_pool2d(x[None], 3, stride=1, padding=1, count_include_pad=False)[0]
    return blurred + 0.02 * torch.randn(x.shape, generator=g) + 0.01


def _jpeg(x: torch.Tensor, q: int) -> torch.Tensor:
    arr = (x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=q)
    dec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return torch.from_numpy(dec.copy()).permute(2, 0, 1).float() / 255


@pytest.mark.parametrize("shape", [(161, 170), (200, 333), (176, 161)])
def test_ms_ssim_rgb_is_pytorch_msssim_on_8bit_images(shape):
    ref = _structured(*shape, seed=shape[0])
    x = _degrade(ref, seed=shape[1])
    want = pytorch_msssim.ms_ssim(to_8bit(ref)[None], to_8bit(x)[None], data_range=255).item()
    assert 0.5 < want < 1.0
    assert ms_ssim_rgb(x, ref) == want  # exactly the same float32 computation
    assert ms_ssim_rgb(x[None], ref[None]) == want


def test_ms_ssim_rgb_defined_from_161_px():
    assert MS_SSIM_MIN_SIDE == 161
    base = _structured(175, 190, seed=7)
    rec = _degrade(base, seed=8)
    for side in range(161, 176):  # torchmetrics (the old metric) gave no value below 176
        v = ms_ssim_rgb(rec[:, :side, :], base[:, :side, :])
        assert math.isfinite(v) and 0.0 < v < 1.0, side
        v = ms_ssim_rgb(rec[:, :, :side], base[:, :, :side])
        assert math.isfinite(v) and 0.0 < v < 1.0, side
    wide = _structured(160, 190, seed=9)
    assert math.isnan(ms_ssim_rgb(_degrade(wide, 1), wide))
    assert math.isnan(ms_ssim_rgb(_degrade(wide, 1).transpose(1, 2), wide.transpose(1, 2)))
    with pytest.raises(AssertionError):  # the bound is pytorch_msssim's: side > (11 - 1) * 2**4
        pytorch_msssim.ms_ssim(wide[None], wide[None], data_range=1)


def test_equals_compressai_eval_model_compute_metrics():
    threads = torch.get_num_threads()
    try:
        # importing eval_model's __main__ calls torch.set_num_threads(1) process-wide
        from compressai.utils.eval_model.__main__ import compute_metrics
    finally:
        torch.set_num_threads(threads)
    org = _structured(168, 203, seed=11)
    for rec in (_jpeg(org, 25), _jpeg(org, 80), _degrade(org, seed=12)):
        m = compute_metrics(org[None], rec[None], 255)
        assert ms_ssim_rgb(rec, org) == pytest.approx(m["ms-ssim-rgb"], abs=1e-6)
        assert psnr_rgb(rec, org) == pytest.approx(m["psnr-rgb"], abs=1e-4)
