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


def _scaled_dct(blocks: torch.Tensor, steps: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``(N, 64)`` sample blocks to ``y = (blocks @ K^T) / (8 Q)`` in one GEMM: ``1 / (8 Q)`` is
    folded into the matrix except for the DC column, which stays the exact integer block sum and
    is divided afterwards (a true division, so libjpeg's exact DC ties survive)."""
    kq = k.T * (1.0 / (8.0 * steps))
    kq[:, 0] = k[0]  # exact DC sum (row 0 of K is all ones)
    y = torch.mm(blocks, kq)
    y[:, 0].div_(8.0 * steps[0])
    return y


def _idct_clamp_to_plane(q: torch.Tensor, m: torch.Tensor, blocks_shape) -> tuple[torch.Tensor, torch.Tensor]:
    """``clamp(floor(q @ m + 0.5), -128, 127)`` for ``(N, 64)`` coefficient rows, the clamp writing
    straight into the plane layout ``(B, C, 8 nby, 8 nbx)`` of ``blocks_shape = (B, C, nby, nbx)``.
    Returns the plane and the unclamped integer GEMM output ``t`` (``(N, 64)``, for the backward)."""
    B, C, nby, nbx = blocks_shape
    half = torch.full((64,), 0.5, dtype=q.dtype, device=q.device)
    t = torch.addmm(half, q, m).floor_()
    out = q.new_empty(B, C, nby, 8, nbx, 8)
    torch.clamp(t.view(B, C, nby, nbx, 8, 8).permute(0, 1, 2, 4, 3, 5), -128.0, 127.0, out=out)
    return out.view(B, C, nby * 8, nbx * 8), t


def _unclamped_grad_blocks(g: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Gradient of a plane from :func:`_idct_clamp_to_plane` back to ``(N, 64)`` block rows, zero
    where the clamp was active, in one fused pass (``hardtanh_backward`` on the saved integers
    ``t``: ``t <= -128.5`` <=> clamped below, ``t >= 127.5`` <=> clamped above)."""
    B, C, H, W = g.shape
    nby, nbx = H // 8, W // 8
    gi = t.new_empty(B, C, nby, nbx, 8, 8)
    torch.ops.aten.hardtanh_backward.grad_input(
        g.reshape(B, C, nby, 8, nbx, 8).permute(0, 1, 2, 4, 3, 5),
        t.view(B, C, nby, nbx, 8, 8), -128.5, 127.5, grad_input=gi,
    )
    return gi.view(-1, 64)


class _DCTScaled(torch.autograd.Function):
    """``y = (blocks @ K^T) / (8 Q)`` (:func:`_scaled_dct`) with gradients for blocks and steps."""

    @staticmethod
    def forward(ctx, blocks, steps):
        k = dct_matrix(blocks.device, blocks.dtype)
        shape = blocks.shape
        y = _scaled_dct(blocks.reshape(-1, 64), steps, k)
        ctx.save_for_backward(y, steps)
        ctx.k = k
        return y.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        y, steps = ctx.saved_tensors
        shape = g.shape
        g2 = g.reshape(-1, 64)
        gb = gs = None
        if ctx.needs_input_grad[0]:
            kq = ctx.k.T * (1.0 / (8.0 * steps))
            gb = torch.mm(g2, kq.T).reshape(shape)
        if ctx.needs_input_grad[1]:  # dy/dQ = -y / Q
            gs = -(g2 * y).sum(0) / steps
        return gb, gs


def dct_quant_scale(blocks: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """``(..., 64)`` centered sample blocks to ``y = F / Q`` (orthonormal coefficient over the
    step, ``steps`` a 64-vector), ready for rounding; differentiable in blocks and steps."""
    return _DCTScaled.apply(blocks, steps)


class _IDCTRoundPlane(torch.autograd.Function):
    """``clamp(floor(q @ M + 0.5), -128, 127)`` (libjpeg's IDCT descale + range limit) as one
    2-D GEMM with the 0.5 as bias, rounded in place; the clamp writes straight into the plane
    layout (unblockify fused into it: one pass, no separate copy). Backward: the clamp mask and
    the plane -> block permutation in one fused pass (``hardtanh_backward`` on the saved integer
    GEMM output: zero where it was clamped), then the GEMM adjoints for ``q`` and ``M``."""

    @staticmethod
    def forward(ctx, q, m):
        out, t = _idct_clamp_to_plane(q.reshape(-1, 64), m, q.shape[:4])
        ctx.save_for_backward(q, m, t)
        return out

    @staticmethod
    def backward(ctx, g):
        q, m, t = ctx.saved_tensors
        gi = _unclamped_grad_blocks(g, t)
        gq = torch.mm(gi, m.T).reshape(q.shape) if ctx.needs_input_grad[0] else None
        gm = torch.mm(q.reshape(-1, 64).T, gi) if ctx.needs_input_grad[1] else None
        return gq, gm


def inverse_dct_dequant(qcoef: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """Dequantize, inverse-transform, round and clamp in one GEMM node, returned as a plane:
    samples ``= clamp(floor((q * Q) @ (K / 8) + 0.5), -128, 127)`` (centered 8-bit samples).

    ``qcoef``: ``(B, C, nby, nbx, 64)`` quantized coefficients of one component; ``steps``: its
    64 quantizer steps (orthonormal units), folded into the 64x64 matrix. Returns the sample
    plane ``(B, C, 8 nby, 8 nbx)`` (the :func:`unblockify` of the blocks)."""
    k = dct_matrix(qcoef.device, qcoef.dtype)
    m = steps.reshape(64, 1) * (k * 0.125)
    return _IDCTRoundPlane.apply(qcoef, m)


class _PlaneRoundTrip(torch.autograd.Function):
    """One component through DCT -> quantize -> dequantize -> IDCT, plane in, plane out, with a
    backward that uses the orthonormality of the transform (the training forward of
    :class:`~jpegnn.jpeg.DiffJPEG`).

    Forward values are exactly those of :func:`dct_quant_scale`, the quantizer and
    :func:`inverse_dct_dequant` chained (same ops, same order). The backward holds for a
    quantizer whose gradient is the identity (straight-through rounding, or additive noise):
    with ``y = F / (8 Q)``, ``q = y + (q - y)`` and samples ``q Q K / 8``, the sample-to-sample
    Jacobian is ``K^T K / 64 = I`` (times the clamp mask), so the input gradient needs no GEMM,
    and the step gradient is ``dL/dQ_k = sum_n (q - y)_nk (g K^T)_nk / 8``: one GEMM instead of
    the four (two per transform) of the unfused chain.

    ``mode``: ``"round"`` (libjpeg rounding, ties away from zero on DC) or ``"noise"`` (additive
    U(-0.5, 0.5)). Input plane ``(B, C, 8 nby, 8 nbx)``; ``steps`` the 64 quantizer steps.
    """

    @staticmethod
    def forward(ctx, plane, steps, mode):
        from jpegnn.jpeg.rounding import round_half_away

        blocks = blockify(plane)
        k = dct_matrix(plane.device, plane.dtype)
        y = _scaled_dct(blocks.reshape(-1, 64), steps, k)
        if mode == "round":
            q = torch.round(y)
            q[:, 0] = round_half_away(y[:, 0])
        else:
            q = y + (torch.rand_like(y) - 0.5)
        m = steps.reshape(64, 1) * (k * 0.125)
        out, t = _idct_clamp_to_plane(q, m, blocks.shape[:4])
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(q.sub_(y), t)  # q - y (q is not needed any more)
        else:
            ctx.save_for_backward(None, t)
        ctx.k = k
        return out

    @staticmethod
    def backward(ctx, g):
        r, t = ctx.saved_tensors
        B, C, H, W = g.shape
        gi = _unclamped_grad_blocks(g, t)
        gs = None
        if ctx.needs_input_grad[1]:
            h = torch.mm(gi, ctx.k.T)
            gs = h.mul_(r).sum(0).mul_(0.125)
        # input gradient = masked g back in plane layout (one permuting copy)
        gp = unblockify(gi.view(B, C, H // 8, W // 8, 64)) if ctx.needs_input_grad[0] else None
        return gp, gs, None


def plane_roundtrip(plane: torch.Tensor, steps: torch.Tensor, mode: str = "round") -> torch.Tensor:
    """Centered sample plane ``(B, C, 8 nby, 8 nbx)`` -> DCT -> quantize (``mode`` ``"round"``:
    libjpeg's rounding, straight-through; ``"noise"``: additive uniform noise) -> IDCT -> rounded,
    clamped samples, same shape. Equal in value and gradient to the unfused chain, faster
    backward (see :class:`_PlaneRoundTrip`)."""
    return _PlaneRoundTrip.apply(plane, steps, mode)
