"""Colour conversion and chroma resampling against straightforward integer transcriptions of
libjpeg's C code (jccolor.c, jdcolor.c, jcsample.c, jdsample.c), and their custom backwards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jpegnn.jpeg.color import rgb_to_ycbcr_centered, rgb_to_ycbcr_planes, ycbcr_centered_to_rgb, ycbcr_planes_to_rgb
from jpegnn.jpeg.sampling import downsample, fancy_upsample


def _fix(x):
    return int(x * 65536 + 0.5)


def libjpeg_rgb_ycc(r, g, b):
    y = (_fix(0.299) * r + _fix(0.587) * g + _fix(0.114) * b + 32768) >> 16
    cb = (-_fix(0.16874) * r - _fix(0.33126) * g + _fix(0.5) * b + (128 << 16) + 32767) >> 16
    cr = (_fix(0.5) * r - _fix(0.41869) * g - _fix(0.08131) * b + (128 << 16) + 32767) >> 16
    return y, cb, cr


def libjpeg_ycc_rgb(y, cb, cr):
    cb, cr = cb - 128, cr - 128
    r = y + ((_fix(1.40200) * cr + 32768) >> 16)
    g = y + ((-_fix(0.34414) * cb - _fix(0.71414) * cr + 32768) >> 16)
    b = y + ((_fix(1.77200) * cb + 32768) >> 16)
    return [min(max(v, 0), 255) for v in (r, g, b)]


def test_rgb_to_ycc_exact():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, 4000))
    rgb[:, :8] = [[0, 255, 255, 0, 0, 255, 128, 1], [0, 255, 0, 255, 0, 255, 127, 254], [0, 255, 0, 0, 255, 0, 129, 0]]
    x = torch.tensor(rgb, dtype=torch.float32).reshape(1, 3, 40, 100) / 255.0
    ours = rgb_to_ycbcr_centered(x)[0].reshape(3, -1).long().numpy() + 128
    ref = np.array([libjpeg_rgb_ycc(*map(int, rgb[:, i])) for i in range(rgb.shape[1])]).T
    assert np.array_equal(ours, ref)
    y, cb, cr = rgb_to_ycbcr_planes(x)
    assert y.shape == (1, 1, 40, 100) and torch.equal(torch.cat([y, cb, cr], 1), rgb_to_ycbcr_centered(x))


def test_ycc_to_rgb_exact_for_all_chroma_pairs():
    """Every (Cb, Cr) pair with several luma values, against libjpeg's integer formulas."""
    v = torch.arange(-128, 128)
    cb, cr = torch.meshgrid(v, v, indexing="ij")
    for yv in (-128, -100, -1, 0, 1, 50, 127):
        y = torch.full_like(cb, yv)
        planes = [t.float().reshape(1, 1, 256, 256) for t in (y, cb, cr)]
        ours = (ycbcr_planes_to_rgb(*planes)[0] * 255).round().long()
        yi, cbi, cri = y + 128, cb, cr
        ref = torch.stack(
            [
                yi + ((91881 * cri + 32768) >> 16),
                yi + ((-22554 * cbi - 46802 * cri + 32768) >> 16),
                yi + ((116130 * cbi + 32768) >> 16),
            ]
        ).clamp(0, 255)
        assert torch.equal(ours, ref), yv
    t = torch.cat(planes, 1)
    assert torch.equal(ycbcr_centered_to_rgb(t), ycbcr_planes_to_rgb(*planes))
    # the scalar transcription agrees too
    assert libjpeg_ycc_rgb(200, 30, 250) == (ycbcr_planes_to_rgb(*(torch.tensor([[[[v - 128.0]]]]) for v in (200, 30, 250)))[0, :, 0, 0] * 255).round().long().tolist()


def ref_downsample(c, fv):
    h, w = c.shape
    out = np.zeros((h // fv, w // 2), np.int64)
    for i in range(h // fv):
        bias = 1 if fv == 2 else 0
        for j in range(w // 2):
            if fv == 2:
                s = c[2 * i, 2 * j] + c[2 * i, 2 * j + 1] + c[2 * i + 1, 2 * j] + c[2 * i + 1, 2 * j + 1]
                out[i, j] = (s + bias) >> 2
            else:
                out[i, j] = (c[i, 2 * j] + c[i, 2 * j + 1] + bias) >> 1
            bias ^= 3 if fv == 2 else 1
    return out


def ref_fancy(c, fv):
    h, w = c.shape
    pad = np.pad(c, 1, mode="edge")
    if fv == 1:
        out = np.zeros((h, 2 * w), np.int64)
        for i in range(h):
            for j in range(w):
                out[i, 2 * j] = (3 * c[i, j] + pad[i + 1, j] + 1) >> 2
                out[i, 2 * j + 1] = (3 * c[i, j] + pad[i + 1, j + 2] + 2) >> 2
        return out
    out = np.zeros((2 * h, 2 * w), np.int64)
    for i in range(h):
        for v, far in ((0, i), (1, i + 2)):
            col = 3 * pad[i + 1] + pad[far]  # (w + 2,)
            for j in range(w):
                out[2 * i + v, 2 * j] = (3 * col[j + 1] + col[j] + 8) >> 4
                out[2 * i + v, 2 * j + 1] = (3 * col[j + 1] + col[j + 2] + 7) >> 4
    return out


@pytest.mark.parametrize("ss,fv", [("4:2:0", 2), ("4:2:2", 1)])
def test_resampling_matches_libjpeg_integers(ss, fv):
    rng = np.random.default_rng(2)
    c = rng.integers(0, 256, (2, 6, 10))
    t = torch.tensor(c, dtype=torch.float32)[None] - 128
    down = downsample(t, ss)[0].long().numpy() + 128
    assert np.array_equal(down[0], ref_downsample(c[0], fv))
    assert np.array_equal(down[1], ref_downsample(c[1], fv))
    up = fancy_upsample(t, ss)[0].long().numpy() + 128
    assert np.array_equal(up[0], ref_fancy(c[0], fv))
    assert np.array_equal(up[1], ref_fancy(c[1], fv))


@pytest.mark.parametrize("ss,fv", [("4:2:0", 2), ("4:2:2", 1)])
def test_resampling_backward_is_the_adjoint_of_the_linear_filter(ss, fv):
    torch.manual_seed(3)
    x = (torch.rand(2, 2, 5, 7) * 100).requires_grad_(True)
    w = torch.randn(2, 2, 5 * fv, 14)
    (fancy_upsample(x, ss) * w).sum().backward()
    # linear reference through autograd: same filter, no floor
    xr = x.detach().clone().requires_grad_(True)
    p = torch.nn.functional.pad(xr, (1, 1, 1, 1) if fv == 2 else (1, 1, 0, 0), mode="replicate")
    if fv == 2:
        rows = [3 * p[:, :, 1:-1] + p[:, :, :-2], 3 * p[:, :, 1:-1] + p[:, :, 2:]]
        outs = [[(3 * r[..., 1:-1] + r[..., :-2]) / 16, (3 * r[..., 1:-1] + r[..., 2:]) / 16] for r in rows]
        up = torch.stack([torch.stack(o, -1) for o in outs], 3).reshape(2, 2, 10, 14)
    else:
        up = torch.stack([(3 * p[..., 1:-1] + p[..., :-2]) / 4, (3 * p[..., 1:-1] + p[..., 2:]) / 4], -1).reshape(2, 2, 5, 14)
    (up * w).sum().backward()
    assert torch.allclose(x.grad, xr.grad, atol=1e-5)

    y = (torch.rand(2, 2, 4 * fv, 8) * 100).requires_grad_(True)
    g = torch.randn_like(downsample(y, ss))
    (downsample(y, ss) * g).sum().backward()
    yr = y.detach().clone().requires_grad_(True)
    ref = yr.reshape(2, 2, -1, fv, 4, 2).mean((3, 5))
    (ref * g).sum().backward()
    assert torch.allclose(y.grad, yr.grad, atol=1e-6)
