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

from jpegnn.jpeg.rounding import clamp_with_mask_

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
    b_enc = torch.tensor(_RGB_TO_YCC_OFFSET, dtype=dtype, device=device)[:, None]
    w_dec = (torch.tensor(_CBCR_TO_RGB_FIX, dtype=torch.float64) / _S).to(device=device, dtype=dtype)
    return w_enc, b_enc, w_dec


class _RGBToYCC(torch.autograd.Function):
    """[0, 1] RGB -> 8-bit samples (round half up, clamp) -> ``floor(W @ rgb + b)`` (libjpeg's
    ``rgb_ycc_convert``), in one node; floors straight-through. With ``split`` returns
    ``(Y (B, 1, H, W), CbCr (B, 2, H, W))`` as separate tensors (no slicing in the graph)."""

    @staticmethod
    def forward(ctx, x, w, b, split):
        B, _, H, W = x.shape
        v = x * 255.0
        v.add_(0.5).floor_()
        clamped = clamp_with_mask_(v, 0.0, 255.0)
        ctx.save_for_backward(clamped)
        ctx.w, ctx.split = w, split
        v = v.reshape(B, 3, H * W)
        if split:
            y = torch.matmul(w[:1], v).add_(b[:1]).floor_()
            c = torch.matmul(w[1:], v).add_(b[1:]).floor_()
            return y.reshape(B, 1, H, W), c.reshape(B, 2, H, W)
        return torch.matmul(w, v).add_(b).floor_().reshape(B, 3, H, W)

    @staticmethod
    def backward(ctx, *grads):
        (clamped,) = ctx.saved_tensors
        w = ctx.w
        if ctx.split:
            gy, gc = grads
            B, _, H, W = gc.shape
            gx = torch.matmul(w[1:].T, gc.reshape(B, 2, H * W))
            gx.baddbmm_(w[:1].T.expand(B, 3, 1), gy.reshape(B, 1, H * W))
        else:
            (g,) = grads
            B, _, H, W = g.shape
            gx = torch.matmul(w.T, g.reshape(B, 3, H * W))
        gx = gx.reshape(B, 3, H, W).mul_(255.0)
        if clamped.numel():
            gx.masked_fill_(clamped, 0.0)
        return gx, None, None, None


class _YCCToRGB(torch.autograd.Function):
    """``clamp(y + 128 + floor(W @ cbcr + 0.5), 0, 255) / 255``: libjpeg's ``ycc_rgb_convert``
    with ``range_limit``; floors straight-through, zero gradient where clamped. Takes
    ``(y, cbcr)`` or one ``(B, 3, H, W)`` tensor (``cbcr=None``)."""

    @staticmethod
    def forward(ctx, y, cbcr, w):
        ctx.joint = cbcr is None
        if ctx.joint:
            y, cbcr = y[:, :1], y[:, 1:]
        B, _, H, W = cbcr.shape
        t = torch.matmul(w, cbcr.reshape(B, 2, H * W)).reshape(B, 3, H, W)
        t.add_(0.5).floor_().add_(y).add_(128.0)
        clamped = clamp_with_mask_(t, 0.0, 255.0)
        ctx.save_for_backward(clamped)
        ctx.w = w
        return t.mul_(1.0 / 255.0)

    @staticmethod
    def backward(ctx, g):
        (clamped,) = ctx.saved_tensors
        gt = g * (1.0 / 255.0)
        if clamped.numel():
            gt.masked_fill_(clamped, 0.0)
        B, _, H, W = gt.shape
        gc = torch.matmul(ctx.w.T, gt.reshape(B, 3, H * W)).reshape(B, 2, H, W)
        gy = gt.sum(1, keepdim=True)
        if ctx.joint:
            return torch.cat([gy, gc], 1), None, None
        return gy, gc, None


def rgb_to_ycbcr_centered(x: torch.Tensor, split: bool = False):
    """RGB ``(B, 3, H, W)`` in [0, 1] to centered integer YCbCr (``Y-128, Cb-128, Cr-128``)
    exactly as libjpeg: 8-bit samples ``round(255 x)`` (clamped), then ``rgb_ycc_convert``.
    Returns one ``(B, 3, H, W)`` tensor, or ``(Y, CbCr)`` with ``split=True``."""
    w, b, _ = _weights(str(x.device), x.dtype)
    return _RGBToYCC.apply(x, w, b, split)


def ycbcr_centered_to_rgb(y: torch.Tensor, cbcr: torch.Tensor | None = None) -> torch.Tensor:
    """Centered integer planes ``y (B, 1, H, W)`` and ``cbcr (B, 2, H, W)`` (or one
    ``(B, 3, H, W)`` tensor as ``y``) to RGB in [0, 1] exactly as libjpeg's ``ycc_rgb_convert``
    (+ ``range_limit``), divided by 255."""
    _, _, w = _weights(str(y.device), y.dtype)
    return _YCCToRGB.apply(y, cbcr, w)
