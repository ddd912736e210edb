"""8x8 DCT-II / DCT-III as one 64x64 matrix product over reshaped blocks.

Blocks are cut with ``reshape``/``permute`` (no ``unfold``) into ``(..., nby, nbx, 64)`` with the
64 samples in row-major order, then transformed with a single GEMM against a 64x64 Kronecker
matrix. The basis is the orthonormal one scaled by sqrt(8) (``A = sqrt(8) C``), whose first row is
exactly 1: the DC term is then the exact integer block sum, like libjpeg's integer DCT, so
``sum / (8 Q)`` hits the exact ties that libjpeg rounds away from zero. Forward coefficients are
``F = A X A^T = 8 * (orthonormal DCT)``; the quantizer divides by ``8 Q``.
Coefficient index ``8u + v``: ``u`` vertical, ``v`` horizontal frequency (row-major).
"""

from __future__ import annotations

import functools
import math

import torch

from jpegnn.jpeg.rounding import clamp_with_mask_


@functools.lru_cache(maxsize=8)
def _basis(device: str, dtype) -> torch.Tensor:
    n = torch.arange(8, dtype=torch.float64)
    a = torch.cos((2 * n[None, :] + 1) * n[:, None] * math.pi / 16) * math.sqrt(2.0)
    a[0] = 1.0  # sqrt(8) * sqrt(1/8)
    k = torch.kron(a, a)  # k[8u+v, 8i+j] = a[u,i] a[v,j]
    return k.to(device=device, dtype=dtype)


def dct_matrix(device=None, dtype=torch.float32) -> torch.Tensor:
    """``K`` (64x64): ``F_vec = K @ x_vec`` for a row-major 8x8 block ``x`` (scaled by 8)."""
    return _basis(str(torch.device(device or "cpu")), dtype)


def blockify(plane: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` with H, W multiples of 8 to ``(B, C, H/8, W/8, 64)`` row-major blocks."""
    B, C, H, W = plane.shape
    return (
        plane.reshape(B, C, H // 8, 8, W // 8, 8)
        .permute(0, 1, 2, 4, 3, 5)
        .reshape(B, C, H // 8, W // 8, 64)
    )


def unblockify(blocks: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`blockify`."""
    B, C, nby, nbx, _ = blocks.shape
    return (
        blocks.reshape(B, C, nby, nbx, 8, 8)
        .permute(0, 1, 2, 4, 3, 5)
        .reshape(B, C, nby * 8, nbx * 8)
    )


def forward_dct(blocks: torch.Tensor) -> torch.Tensor:
    """``(..., 64)`` sample blocks to ``(..., 64)`` coefficients ``F = 8 * orthonormal DCT``."""
    k = dct_matrix(blocks.device, blocks.dtype)
    return blocks @ k.T


class _IDCTRound(torch.autograd.Function):
    """``floor(q @ M + 0.5)`` clamped to [-128, 127] (libjpeg's IDCT descale + range limit) in
    one node, in place on the GEMM output; gradients for ``q`` and ``M`` (hence the steps)."""

    @staticmethod
    def forward(ctx, q, m):
        B, C = q.shape[:2]
        out = torch.matmul(q.reshape(B, C, -1, 64), m)
        out.add_(0.5).floor_()
        clamped = clamp_with_mask_(out, -128.0, 127.0)
        ctx.save_for_backward(q, m, clamped)
        return out.reshape(q.shape)

    @staticmethod
    def backward(ctx, g):
        q, m, clamped = ctx.saved_tensors
        B, C = q.shape[:2]
        g = g.reshape(B, C, -1, 64)
        if clamped.numel():
            g = g.masked_fill(clamped, 0.0)
        gq = gm = None
        if ctx.needs_input_grad[0]:
            gq = torch.matmul(g, m.transpose(-1, -2)).reshape(q.shape)
        if ctx.needs_input_grad[1]:
            gm = torch.matmul(q.reshape(B, C, -1, 64).transpose(-1, -2), g).sum(0)
        return gq, gm


def inverse_dct_dequant(qcoef: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """Dequantize, inverse-transform, round and clamp in one GEMM node:
    samples ``= clamp(floor((q * Q) @ (K / 8) + 0.5), -128, 127)`` (centered 8-bit samples).

    ``qcoef``: ``(B, C, nby, nbx, 64)`` quantized coefficients; ``steps``: ``(C, 64)`` quantizer
    steps (orthonormal units), folded into the 64x64 matrix per component."""
    k = dct_matrix(qcoef.device, qcoef.dtype)
    m = steps[:, :, None] * (k * 0.125)[None]  # (C, 64, 64)
    return _IDCTRound.apply(qcoef, m)
