"""JFIF colour conversion with libjpeg's fixed-point arithmetic, in float32.

libjpeg (``jccolor.c`` / ``jdcolor.c``) converts with 16-bit fixed-point constants
(``FIX(x) = round(x * 65536)``) and a right shift. Those constants divided by 65536 are exact in
float32, and for 8-bit samples every partial sum is a multiple of 2**-16 below 2**8 in magnitude,
so ``floor(M @ rgb + offset)`` in float32 reproduces libjpeg's integers **exactly** (checked in
``tests/jpeg``). The floors are straight-through (identity gradient).

Planes here are **centered**: ``Y - 128``, ``Cb - 128``, ``Cr - 128`` (libjpeg's level shift
before the DCT), so every later stage (downsampling, DCT, IDCT, upsampling) works on values in
[-128, 127] and needs no separate level shift. Shifting by an integer commutes with all the
floors, so centering changes nothing in the integers produced.
"""

from __future__ import annotations

import functools

import torch

from jpegnn.jpeg.rounding import clamp_with_mask, masked_grad

_S = 65536.0
# Encoder, jccolor.c rgb_ycc_start: FIX(0.29900) = 19595, FIX(0.58700) = 38470, ...
_RGB_TO_YCC_FIX = (
    (19595.0, 38470.0, 7471.0),
    (-11059.0, -21709.0, 32768.0),
    (32768.0, -27439.0, -5329.0),
)
# Offsets after centering: Y uses ONE_HALF (round half up); Cb/Cr use ONE_HALF - 1 (libjpeg's
# "0.5 - epsilon" fudge so 255 never rounds to 256). Minus 128 for the level shift.
_RGB_TO_YCC_OFFSET = (0.5 - 128.0, (32767.0 / _S), (32767.0 / _S))
# Decoder, jdcolor.c build_ycc_rgb_table: FIX(1.40200)=91881, FIX(0.34414)=22554,
# FIX(0.71414)=46802, FIX(1.77200)=116130; each chroma term gets + ONE_HALF then >> 16.
_CBCR_TO_RGB_FIX = (
    (0.0, 91881.0),
    (-22554.0, -46802.0),
    (116130.0, 0.0),
)


@functools.lru_cache(maxsize=8)
def _weights(device: str, dtype):
    w_enc = (torch.tensor(_RGB_TO_YCC_FIX, dtype=torch.float64) / _S).to(device=device, dtype=dtype)
    b_enc = torch.tensor(_RGB_TO_YCC_OFFSET, dtype=dtype, device=device)[None, :, None]
    w_dec = (torch.tensor(_CBCR_TO_RGB_FIX, dtype=torch.float64) / _S).to(device=device, dtype=dtype)
    return w_enc, b_enc, w_dec


class _RGBToYCC(torch.autograd.Function):
    """[0, 1] RGB -> 8-bit samples (round, clamp) -> ``floor(W @ rgb + b)`` (libjpeg's
    ``rgb_ycc_convert``) in one batched GEMM with the offset as bias; returns the Y plane
    ``(B, 1, H, W)`` and the Cb/Cr pair ``(B, 2, H, W)`` (views of one tensor, so the chroma
    stages run on both components at once). Roundings are straight-through."""

    @staticmethod
    def forward(ctx, x, w, b):
        B, _, H, W = x.shape
        v, keep = clamp_with_mask(torch.mul(x, 255.0).round_(), 0.0, 255.0)
        out = torch.baddbmm(b.expand(B, 3, H * W), w.expand(B, 3, 3), v.reshape(B, 3, H * W)).floor_()
        ctx.save_for_backward(keep, w)
        out = out.reshape(B, 3, H, W)
        return out[:, 0:1], out[:, 1:3]

    @staticmethod
    def backward(ctx, gy, gc):
        keep, w = ctx.saved_tensors
        B, _, H, W = gy.shape
        wt = (w * 255.0).T.contiguous().expand(B, 3, 3)
        # W^T [gy; gc] as two accumulating batched GEMMs (no concatenated copy of the gradient)
        gx = torch.bmm(wt[:, :, 1:], gc.reshape(B, 2, H * W))
        gx = gx.baddbmm_(wt[:, :, :1], gy.reshape(B, 1, H * W)).reshape(B, 3, H, W)
        return masked_grad(gx, keep), None, None


# decoder constants as Python floats: R = Y + a Cr, G = Y + b Cb + c Cr, B = Y + d Cb
_A, _B, _C, _D = (v / _S for v in (91881.0, -22554.0, -46802.0, 116130.0))


class _YCCToRGB(torch.autograd.Function):
    """``clamp(floor(y + 128.5 + a cr), 0, 255) / 255`` etc.: libjpeg's ``ycc_rgb_convert`` with
    ``range_limit``, on the Y plane ``(B, 1, H, W)`` and the Cb/Cr pair ``(B, 2, H, W)``. Folding
    ``+ 0.5`` and ``y + 128`` into one floor is exact in float32 for all 8-bit inputs (every
    product is exact and each sum stays within float32's integer range; checked exhaustively in
    tests/jpeg). Floors straight-through, zero gradient where clamped."""

    @staticmethod
    def forward(ctx, y, c):
        B, _, H, W = y.shape
        cb, cr = c[:, 0:1], c[:, 1:2]
        y128 = y + 128.5
        out = y.new_empty(B, 3, H, W)
        torch.add(y128, cr, alpha=_A, out=out[:, 0:1])
        torch.add(y128, cb, alpha=_B, out=out[:, 1:2]).add_(cr, alpha=_C)
        torch.add(y128, cb, alpha=_D, out=out[:, 2:3])
        t = out.floor_()  # integers; kept (unclamped) for the backward mask
        ctx.save_for_backward(t)
        return torch.clamp(t, 0.0, 255.0).mul_(1.0 / 255.0)

    @staticmethod
    def backward(ctx, g):
        (t,) = ctx.saved_tensors
        # zero where clamped, one fused pass: integer t <= -0.5 <=> t < 0, t >= 255.5 <=> t > 255
        g = torch.ops.aten.hardtanh_backward(g, t, -0.5, 255.5)
        gr, gg, gb = g[:, 0:1], g[:, 1:2], g[:, 2:3]
        k = 1.0 / 255.0
        gy = g.sum(1, keepdim=True).mul_(k)
        gc = g.new_empty(g.shape[0], 2, *g.shape[2:])
        torch.mul(gg, _B * k, out=gc[:, 0:1]).add_(gb, alpha=_D * k)
        torch.mul(gr, _A * k, out=gc[:, 1:2]).add_(gg, alpha=_C * k)
        return gy, gc


def rgb_to_y_cbcr(x: torch.Tensor):
    """RGB ``(B, 3, H, W)`` in [0, 1] to the centered integer Y plane ``(B, 1, H, W)`` and the
    Cb/Cr pair ``(B, 2, H, W)`` exactly as libjpeg: 8-bit samples ``round(255 x)`` (clamped to
    0..255), then ``rgb_ycc_convert``, minus 128."""
    w, b, _ = _weights(str(x.device), x.dtype)
    return _RGBToYCC.apply(x, w, b)


def y_cbcr_to_rgb(y: torch.Tensor, cbcr: torch.Tensor) -> torch.Tensor:
    """Centered integer Y ``(B, 1, H, W)`` and Cb/Cr ``(B, 2, H, W)`` to RGB ``(B, 3, H, W)`` in
    [0, 1] exactly as libjpeg's ``ycc_rgb_convert`` (+ ``range_limit``), divided by 255."""
    return _YCCToRGB.apply(y, cbcr)


def rgb_to_ycbcr_planes(x: torch.Tensor):
    """RGB ``(B, 3, H, W)`` in [0, 1] to centered integer ``(Y-128, Cb-128, Cr-128)`` planes
    ``(B, 1, H, W)`` exactly as libjpeg: 8-bit samples ``round(255 x)`` (clamped to 0..255), then
    ``rgb_ycc_convert``."""
    y, c = rgb_to_y_cbcr(x)
    return y, c[:, 0:1], c[:, 1:2]


def rgb_to_ycbcr_centered(x: torch.Tensor) -> torch.Tensor:
    """Like :func:`rgb_to_ycbcr_planes`, as one ``(B, 3, H, W)`` tensor."""
    return torch.cat(rgb_to_y_cbcr(x), 1)


def ycbcr_planes_to_rgb(y: torch.Tensor, cb: torch.Tensor, cr: torch.Tensor) -> torch.Tensor:
    """Centered integer planes ``(B, 1, H, W)`` to RGB ``(B, 3, H, W)`` in [0, 1] exactly as
    libjpeg's ``ycc_rgb_convert`` (+ ``range_limit``), divided by 255."""
    return _YCCToRGB.apply(y, torch.cat([cb, cr], 1))


def ycbcr_centered_to_rgb(ycc: torch.Tensor) -> torch.Tensor:
    """Like :func:`ycbcr_planes_to_rgb` for one centered ``(B, 3, H, W)`` tensor."""
    return _YCCToRGB.apply(ycc[:, 0:1], ycc[:, 1:3])
