"""DiffJPEG against Pillow / libjpeg-turbo: exact colour conversion and resampling, fidelity of
the float path, bit-exactness of the islow path, gradients and table handling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jpegnn.errors import ConfigError
from jpegnn.jpeg import DiffJPEG, quality_tables
from tests.jpeg import ref_jpeg
from tests.jpeg.util import pillow_decode, pillow_jpeg, psnr, to_tensor, to_uint8

SUBSAMPLINGS = [("4:2:0", 2), ("4:2:2", 1), ("4:4:4", 0)]


@pytest.mark.parametrize("ss,code", SUBSAMPLINGS)
def test_dc_coefficients_equal_libjpeg_at_q100(images, ss, code):
    """With all steps 1, DC = exact block sum / 8: any off-by-one in colour conversion,
    downsampling bias or edge padding would change some DC. Checked against libjpeg's own file."""
    for name, img in images.items():
        ref = ref_jpeg.read_jpeg(pillow_jpeg(img, code, quality=100))
        with torch.no_grad():
            coefs = DiffJPEG(100, ss).eval().encode(to_tensor(img))
        for comp, lib in zip(coefs.components, ref.coefficients):
            ours = comp[0].reshape(*comp.shape[1:3], 64).round().long().numpy()
            lib = lib[: ours.shape[0], : ours.shape[1]]
            assert np.array_equal(ours[..., 0], lib[..., 0]), (name, ss)


@pytest.mark.parametrize("ss,code", SUBSAMPLINGS)
def test_islow_path_is_bit_exact_with_pillow(images, ss, code):
    for q in (10, 50, 95):
        for name, img in images.items():
            ref = pillow_decode(pillow_jpeg(img, code, quality=q))
            with torch.no_grad():
                out = DiffJPEG(q, ss, dct="islow").eval()(to_tensor(img))
            assert np.array_equal(to_uint8(out), ref), (name, ss, q)


@pytest.mark.parametrize("ss,code", SUBSAMPLINGS)
def test_float_path_fidelity(images, ss, code):
    """Float DCT: >= 48 dB to Pillow's decode on average, distortion unbiased (0.05 dB)."""
    pairs, gaps = [], []
    for q in (10, 50, 90):
        for name, img in images.items():
            ref = pillow_decode(pillow_jpeg(img, code, quality=q))
            with torch.no_grad():
                out = to_uint8(DiffJPEG(q, ss).eval()(to_tensor(img)))
            pairs.append(psnr(out, ref))
            gaps.append(psnr(out, img) - psnr(ref, img))
    assert np.mean(pairs) >= 48.0, pairs
    assert min(pairs) >= 35.0, pairs  # tiny images: one flipped coefficient is a lot
    assert abs(np.mean(gaps)) < 0.05, gaps


def test_shapes_batch_and_odd_sizes():
    torch.manual_seed(0)
    x = torch.rand(3, 3, 19, 27)
    m = DiffJPEG(60).eval()
    with torch.no_grad():
        out = m(x)
        single = torch.cat([m(x[i : i + 1]) for i in range(3)])
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, single)
    assert ((out * 255) - (out * 255).round()).abs().max() < 1e-3  # integer levels / 255
    coefs = m.encode(x)
    y, cb, cr = coefs.components
    assert y.shape == (3, 3, 4, 8, 8) and cb.shape == (3, 2, 2, 8, 8) and cr.shape == cb.shape


def test_float64_input_works():
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        out = DiffJPEG(75).eval()(x)
    assert out.dtype == torch.float64


@pytest.mark.parametrize("rounding", ["ste", "noise", "cubic"])
@pytest.mark.parametrize("ss", ["4:2:0", "4:4:4"])
def test_gradients_reach_input_and_tables(rounding, ss):
    torch.manual_seed(0)
    m = DiffJPEG(50, ss, learnable=True, rounding=rounding).train()
    x = torch.rand(2, 3, 24, 40, requires_grad=True)
    m(x).square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    g = m.raw_tables.grad
    assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0


def test_eval_mode_uses_hard_rounding_for_every_surrogate():
    torch.manual_seed(1)
    x = torch.rand(1, 3, 16, 24)
    outs = [DiffJPEG(40, rounding=r).eval()(x) for r in ("ste", "noise", "cubic")]
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])
    train = [DiffJPEG(40, rounding=r).train()(x) for r in ("ste", "noise", "cubic")]
    assert torch.equal(train[0], outs[0])  # ste is the real codec in training too
    assert not torch.equal(train[1], outs[0]) and not torch.equal(train[2], outs[0])


def test_ste_gradient_equals_linear_pipeline_gradient():
    """Straight-through: with all roundings replaced by identity the pipeline is linear; our
    custom backward passes must give its gradient (where nothing is clamped)."""
    torch.manual_seed(2)
    x = (0.3 + 0.4 * torch.rand(1, 3, 16, 16)).requires_grad_(True)  # no clamping anywhere
    w = torch.randn(1, 3, 16, 16)
    m = DiffJPEG(90, "4:2:0").eval()
    (m(x) * w).sum().backward()
    g_ours = x.grad.clone()

    # reference: the same maths in plain differentiable torch, no rounding at all
    from jpegnn.jpeg.color import _CBCR_TO_RGB_FIX, _RGB_TO_YCC_FIX
    from jpegnn.jpeg.dct import dct_matrix

    xr = x.detach().clone().requires_grad_(True)
    a = torch.tensor(_RGB_TO_YCC_FIX) / 65536
    ycc = torch.einsum("oc,bchw->bohw", a, xr * 255)
    c = ycc[:, 1:].reshape(1, 2, 8, 2, 8, 2).mean((3, 5))
    k = dct_matrix()
    steps = torch.stack(quality_tables(90)).float().reshape(2, 64)

    def codec(p, st):
        B, C, H, W = p.shape
        blk = p.reshape(B, C, H // 8, 8, W // 8, 8).permute(0, 1, 2, 4, 3, 5).reshape(B, C, -1, 64)
        y = (blk @ k.T) / (8 * st)
        rec = (y * st) @ (k / 8)
        return rec.reshape(B, C, H // 8, W // 8, 8, 8).permute(0, 1, 2, 4, 3, 5).reshape(B, C, H, W)

    yrec = codec(ycc[:, :1], steps[0])
    crec = codec(c, steps[1])
    cp = torch.nn.functional.pad(crec, (1, 1, 1, 1), mode="replicate")
    kv = torch.tensor([[1.0, 3.0, 0.0], [0.0, 3.0, 1.0]])
    ker = torch.stack([torch.outer(kv[i], kv[j]) for i in range(2) for j in range(2)])[:, None] / 16
    up = torch.nn.functional.pixel_shuffle(torch.nn.functional.conv2d(cp.reshape(2, 1, 10, 10), ker).reshape(1, 8, 8, 8), 2)
    d = torch.tensor(_CBCR_TO_RGB_FIX) / 65536
    rgb = yrec + torch.einsum("oc,bchw->bohw", d, up)
    ((rgb / 255) * w).sum().backward()
    assert torch.allclose(g_ours, xr.grad, rtol=1e-4, atol=1e-6)


def test_table_modes_and_integer_tables():
    m = DiffJPEG(75, learnable=True, separate_chroma=True)
    assert m.num_tables == 3
    y, cb, cr = m.integer_tables()
    ref_y, ref_c = quality_tables(75)
    assert torch.equal(y, ref_y) and torch.equal(cb, ref_c) and torch.equal(cr, ref_c)
    with torch.no_grad():
        m.raw_tables.add_(torch.randn_like(m.raw_tables))
    m.train()
    t_train = m.current_tables()
    assert not torch.equal(t_train, t_train.round())  # continuous while training
    m.eval()
    t_eval = m.current_tables()
    assert torch.equal(t_eval, t_eval.round()) and t_eval.min() >= 1 and t_eval.max() <= 255
    assert torch.equal(t_eval.long(), torch.stack(m.integer_tables()))
    m.round_tables_in_training = True
    m.train()
    assert torch.equal(m.current_tables(), t_eval)


def test_random_init_is_seeded_and_in_range():
    a = DiffJPEG(init="random", seed=3, learnable=True).integer_tables()
    b = DiffJPEG(init="random", seed=3, learnable=True).integer_tables()
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert all(t.min() >= 1 and t.max() <= 255 for t in a)


def test_explicit_tables_and_errors():
    t = torch.full((2, 8, 8), 7.0)
    m = DiffJPEG(tables=t).eval()
    assert all(v.eq(7).all() for v in m.integer_tables())
    with pytest.raises(ConfigError, match="subsampling"):
        DiffJPEG(subsampling="4:1:1")
    with pytest.raises(ConfigError, match="rounding"):
        DiffJPEG(rounding="floor")
    with pytest.raises(ConfigError, match="dct"):
        DiffJPEG(dct="fast")
    with pytest.raises(ConfigError, match="tables"):
        DiffJPEG(tables=torch.zeros(2, 8, 8))
    with pytest.raises(ConfigError, match="x"):
        DiffJPEG()(torch.rand(1, 1, 8, 8))


@pytest.mark.parametrize("ss", ["4:2:0", "4:2:2", "4:4:4"])
@pytest.mark.parametrize(
    "rounding,round_tables,separate", [("ste", False, False), ("ste", True, False), ("ste", False, True), ("noise", False, True)]
)
def test_fused_forward_equals_encode_decode(ss, rounding, round_tables, separate):
    """forward() runs the fused per-component round trip (one GEMM in the backward, Cb and Cr
    batched when they share a table); it must give the same values as decode(encode(x)) and the
    same gradients for x and the tables, including clamped samples (random input) and edge
    padding (odd size). Noise is checked with separate chroma tables, where both paths draw
    the noise in the same order (Y, Cb, Cr)."""
    x = torch.rand(2, 3, 21, 35)
    w = torch.randn(2, 3, 21, 35)
    results = []
    for fused in (True, False):
        torch.manual_seed(7)
        m = DiffJPEG(
            30, ss, learnable=True, rounding=rounding, round_tables_in_training=round_tables, separate_chroma=separate
        ).train()
        xi = x.clone().requires_grad_(True)
        torch.manual_seed(11)  # same noise draws on both paths
        out = m(xi) if fused else m.decode(m.encode(xi))
        (out * w).sum().backward()
        results.append((out.detach(), xi.grad, m.raw_tables.grad))
    (o1, gx1, gq1), (o2, gx2, gq2) = results
    assert torch.equal(o1, o2)
    assert torch.allclose(gx1, gx2, rtol=1e-5, atol=1e-6 * gx2.abs().max().item())
    assert torch.allclose(gq1, gq2, rtol=1e-4, atol=1e-6 * gq2.abs().max().item())
