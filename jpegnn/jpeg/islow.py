"""libjpeg's integer forward DCT (``jfdctint.c``, JDCT_ISLOW) and libjpeg-turbo's quantizer, in
int64 torch ops over all blocks at once.

This is the DCT Pillow's encoder uses by default. It is not differentiable; it exists so that
:func:`jpegnn.jpeg.jpeg_size` can produce *libjpeg's own* quantized coefficients and hence the
exact file size, and so that tests can measure how far the float DCT of :class:`DiffJPEG` is from
libjpeg (it flips a few coefficients by one step, mostly at high quality).
"""

from __future__ import annotations

import torch

CONST_BITS = 13
PASS1_BITS = 2
FIX_0_298631336 = 2446
FIX_0_390180644 = 3196
FIX_0_541196100 = 4433
FIX_0_765366865 = 6270
FIX_0_899976223 = 7373
FIX_1_175875602 = 9633
FIX_1_501321110 = 12299
FIX_1_847759065 = 15137
FIX_1_961570560 = 16069
FIX_2_053119869 = 16819
FIX_2_562915447 = 20995
FIX_3_072711026 = 25172


def _descale(x: torch.Tensor, n: int) -> torch.Tensor:
    return (x + (1 << (n - 1))) >> n


def _pass(d: list, out_shift: int, even_shift: int | None) -> list:
    """One 1-D pass of jpeg_fdct_islow on 8 tensors; returns 8 tensors (natural index order)."""
    tmp0, tmp7 = d[0] + d[7], d[0] - d[7]
    tmp1, tmp6 = d[1] + d[6], d[1] - d[6]
    tmp2, tmp5 = d[2] + d[5], d[2] - d[5]
    tmp3, tmp4 = d[3] + d[4], d[3] - d[4]
    tmp10, tmp13 = tmp0 + tmp3, tmp0 - tmp3
    tmp11, tmp12 = tmp1 + tmp2, tmp1 - tmp2
    out = [None] * 8
    if even_shift is None:  # pass 1: left shift
        out[0] = (tmp10 + tmp11) << PASS1_BITS
        out[4] = (tmp10 - tmp11) << PASS1_BITS
    else:  # pass 2: descale by PASS1_BITS
        out[0] = _descale(tmp10 + tmp11, even_shift)
        out[4] = _descale(tmp10 - tmp11, even_shift)
    z1 = (tmp12 + tmp13) * FIX_0_541196100
    out[2] = _descale(z1 + tmp13 * FIX_0_765366865, out_shift)
    out[6] = _descale(z1 - tmp12 * FIX_1_847759065, out_shift)
    z1 = tmp4 + tmp7
    z2 = tmp5 + tmp6
    z3 = tmp4 + tmp6
    z4 = tmp5 + tmp7
    z5 = (z3 + z4) * FIX_1_175875602
    tmp4 = tmp4 * FIX_0_298631336
    tmp5 = tmp5 * FIX_2_053119869
    tmp6 = tmp6 * FIX_3_072711026
    tmp7 = tmp7 * FIX_1_501321110
    z1 = z1 * -FIX_0_899976223
    z2 = z2 * -FIX_2_562915447
    z3 = z3 * -FIX_1_961570560 + z5
    z4 = z4 * -FIX_0_390180644 + z5
    out[7] = _descale(tmp4 + z1 + z3, out_shift)
    out[5] = _descale(tmp5 + z2 + z4, out_shift)
    out[3] = _descale(tmp6 + z2 + z3, out_shift)
    out[1] = _descale(tmp7 + z1 + z4, out_shift)
    return out


def fdct_islow(blocks: torch.Tensor) -> torch.Tensor:
    """``jpeg_fdct_islow`` of centered integer samples ``(..., 8, 8)`` (rows = vertical).

    Returns int64 ``(..., 8, 8)`` coefficients scaled by 8 (like libjpeg's output)."""
    x = blocks.to(torch.int64)
    rows = _pass([x[..., j] for j in range(8)], CONST_BITS - PASS1_BITS, None)  # along columns j
    r = torch.stack(rows, dim=-1)  # (..., 8 rows, 8 freq_h)
    cols = _pass([r[..., i, :] for i in range(8)], CONST_BITS + PASS1_BITS, PASS1_BITS)
    return torch.stack(cols, dim=-2)  # (..., 8 freq_v, 8 freq_h)


def quantize_islow(coef: torch.Tensor, qtable: torch.Tensor) -> torch.Tensor:
    """libjpeg-turbo's ``quantize`` (jcdctmgr.c) with ``compute_reciprocal`` divisors.

    ``coef``: int64 ``(..., 8, 8)`` from :func:`fdct_islow`; ``qtable``: 8x8 (or broadcastable)
    integer steps. Rounds half away from zero, ``(|F| + 4Q) // 8Q`` computed libjpeg-turbo's way.
    """
    divisor = qtable.to(torch.int64) * 8
    b = torch.floor(torch.log2(divisor.to(torch.float64))).to(torch.int64)  # flss(divisor) - 1
    r = 16 + b
    one = torch.ones_like(divisor)
    fq = (one << r) // divisor
    fr = (one << r) % divisor
    c = divisor // 2
    pow2 = fr == 0
    c = torch.where(~pow2 & (fr <= divisor // 2), c + 1, c)
    fq = torch.where(pow2, fq >> 1, torch.where(fr > divisor // 2, fq + 1, fq))
    r = torch.where(pow2, r - 1, r)
    mag = ((coef.abs() + c) * fq) >> r
    return torch.where(coef < 0, -mag, mag)


def _ipass(d: list, shift: int) -> list:
    """One 1-D pass of jpeg_idct_islow on 8 dequantized tensors (natural index order)."""
    z2, z3 = d[2], d[6]
    z1 = (z2 + z3) * FIX_0_541196100
    tmp2 = z1 - z3 * FIX_1_847759065
    tmp3 = z1 + z2 * FIX_0_765366865
    tmp0 = (d[0] + d[4]) << CONST_BITS
    tmp1 = (d[0] - d[4]) << CONST_BITS
    tmp10, tmp13 = tmp0 + tmp3, tmp0 - tmp3
    tmp11, tmp12 = tmp1 + tmp2, tmp1 - tmp2
    tmp0, tmp1, tmp2, tmp3 = d[7], d[5], d[3], d[1]
    z1 = tmp0 + tmp3
    z2 = tmp1 + tmp2
    z3 = tmp0 + tmp2
    z4 = tmp1 + tmp3
    z5 = (z3 + z4) * FIX_1_175875602
    tmp0 = tmp0 * FIX_0_298631336
    tmp1 = tmp1 * FIX_2_053119869
    tmp2 = tmp2 * FIX_3_072711026
    tmp3 = tmp3 * FIX_1_501321110
    z1 = z1 * -FIX_0_899976223
    z2 = z2 * -FIX_2_562915447
    z3 = z3 * -FIX_1_961570560 + z5
    z4 = z4 * -FIX_0_390180644 + z5
    tmp0 = tmp0 + z1 + z3
    tmp1 = tmp1 + z2 + z4
    tmp2 = tmp2 + z2 + z3
    tmp3 = tmp3 + z1 + z4
    return [
        _descale(tmp10 + tmp3, shift),
        _descale(tmp11 + tmp2, shift),
        _descale(tmp12 + tmp1, shift),
        _descale(tmp13 + tmp0, shift),
        _descale(tmp13 - tmp0, shift),
        _descale(tmp12 - tmp1, shift),
        _descale(tmp11 - tmp2, shift),
        _descale(tmp10 - tmp3, shift),
    ]


def idct_islow(dequantized: torch.Tensor) -> torch.Tensor:
    """``jpeg_idct_islow`` (jidctint.c) of dequantized coefficients ``q * Q`` ``(..., 8, 8)``.

    Returns centered int64 samples clamped to [-128, 127] (libjpeg's ``range_limit``; its
    wrap-around for outputs beyond +-512, which valid 8-bit data never reach, is not modelled).
    The all-zero-AC shortcuts of libjpeg give the same values as the full computation."""
    x = dequantized.to(torch.int64)
    cols = _ipass([x[..., u, :] for u in range(8)], CONST_BITS - PASS1_BITS)  # over v columns
    w = torch.stack(cols, dim=-2)  # (..., 8 rows, 8 freq_h)
    rows = _ipass([w[..., v] for v in range(8)], CONST_BITS + PASS1_BITS + 3)
    return torch.stack(rows, dim=-1).clamp(-128, 127)
