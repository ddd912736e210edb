"""Rounding operators with straight-through gradients, and the quantization surrogates.

libjpeg works on integers: colour planes, downsampled chroma, quantized coefficients, IDCT output
and upsampled chroma are all rounded. To stay faithful in the forward pass and still pass
gradients, every such rounding here is a *straight-through estimator* (STE): the forward pass is
the exact integer operation and the backward pass is the identity (a custom autograd function, so
the backward costs nothing).

The quantizer itself has selectable surrogates (:data:`SURROGATES`), used only in training mode:

``"ste"``
    hard round forward, identity gradient. The forward distortion and the coefficients (hence the
    bit counts) are exactly those of the real codec: **unbiased**.
``"noise"``
    ``y + u``, ``u ~ U(-0.5, 0.5)`` (Ballé et al.). Smooth, but the forward output is not a JPEG
    decode: **biased** (noise of variance 1/12 instead of true rounding error; no dead zone).
``"cubic"``
    ``round(y) + (y - round(y))**3`` (Reich et al., WACV 2024 / kornia). Its gradient
    ``3 (y - round(y))**2`` vanishes at integers. The forward error is shrunk by the cube:
    **biased** (PSNR to the original about 0.3-0.7 dB optimistic against real JPEG).

In eval mode every surrogate is replaced by the hard round, so evaluation is the real codec.
"""

from __future__ import annotations

import torch

from jpegnn.errors import ConfigError

SURROGATES = ("ste", "noise", "cubic")


def round_half_away(x: torch.Tensor) -> torch.Tensor:
    """Round to nearest, ties away from zero (libjpeg's quantizer: ``(|F| + Q/2) // Q``)."""
    return torch.trunc(x + torch.copysign(torch.full_like(x, 0.5), x))


class _RoundHalfAwaySTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        # floor(|x| + 0.5) with the sign of x: one allocation, in-place passes
        return x.abs().add_(0.5).floor_().copysign_(x)

    @staticmethod
    def backward(ctx, g):
        return g


class _QuantRoundSTE(torch.autograd.Function):
    """Quantizer rounding of ``(..., 64)`` coefficients: ties away from zero like libjpeg.

    Only the DC term (index 0, an exact integer sum over ``8 Q``) can hit exact ties; the AC
    terms are irrational combinations of the samples, so one fast ``round`` serves them and the
    DC column is rounded half away from zero separately (1/64 of the work)."""

    @staticmethod
    def forward(ctx, y):
        q = torch.round(y)
        q[..., 0] = round_half_away(y[..., 0])
        return q

    @staticmethod
    def backward(ctx, g):
        return g


class _FloorSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.floor(x)

    @staticmethod
    def backward(ctx, g):
        return g


class _ClampSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, g):
        return g, None, None


class _RoundClampSTE(torch.autograd.Function):
    """floor(x * scale + 0.5) clamped to [lo, hi] in one node (libjpeg's ``DESCALE`` + ``range_limit``);
    gradient ``scale`` where the value was in range, 0 where clamped."""

    @staticmethod
    def forward(ctx, x, lo, hi, scale):
        y = x * scale if scale != 1.0 else x.clone()
        y, keep = clamp_with_mask(y.add_(0.5).floor_(), lo, hi)
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return y

    @staticmethod
    def backward(ctx, g):
        (keep,) = ctx.saved_tensors
        g = masked_grad(g, keep)
        return (g * ctx.scale if ctx.scale != 1.0 else g), None, None, None


def clamp_with_mask(y: torch.Tensor, lo: float, hi: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Clamp ``y`` to [lo, hi]; return ``(clamped values, keep)`` where ``keep`` is a float 0/1
    mask of the entries that were in range (the gradient mask), or an empty tensor when nothing
    was out of range (the common case on real images, checked with one read-only pass).

    The mask is float, not bool: ``g * keep`` is several times faster on CPU than
    ``torch.where``/``masked_fill`` with a boolean mask."""
    if y.device.type == "cpu":  # on accelerators avoid the host sync; always build the mask
        mn, mx = torch.aminmax(y)
        if mn.item() >= lo and mx.item() <= hi:
            return y, y.new_empty(0)
    c = y.clamp(lo, hi)
    keep = torch.eq(c, y, out=torch.empty_like(y))
    return c, keep


def masked_grad(g: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``g * keep`` (an empty ``keep`` means nothing was clamped: ``g`` unchanged)."""
    return g if keep.numel() == 0 else g * keep


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """Round half away from zero; identity gradient."""
    return _RoundHalfAwaySTE.apply(x)


def ste_floor(x: torch.Tensor) -> torch.Tensor:
    """Floor (libjpeg's ``>>`` of a non-negative-offset fixed-point value); identity gradient."""
    return _FloorSTE.apply(x)


def ste_clamp(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Clamp in the forward pass, identity gradient everywhere (lets a value come back into range)."""
    return _ClampSTE.apply(x, lo, hi)


def ste_round_clamp(x: torch.Tensor, lo: float, hi: float, scale: float = 1.0) -> torch.Tensor:
    """``floor(x * scale + 0.5)`` (round half up, like libjpeg's ``DESCALE``) clamped to
    [lo, hi] (libjpeg's ``range_limit``); straight-through inside the range, zero gradient where
    clamped."""
    return _RoundClampSTE.apply(x, lo, hi, float(scale))


def check_surrogate(name: str) -> str:
    if name not in SURROGATES:
        raise ConfigError(f"rounding must be one of {', '.join(SURROGATES)}; got {name!r}")
    return name


def quantize(y: torch.Tensor, surrogate: str = "ste", training: bool = False) -> torch.Tensor:
    """Quantize ``y = F / Q`` (coefficient in units of the step size) to integers.

    In eval mode (``training=False``) or with ``"ste"`` this is the exact libjpeg rounding; in
    training mode ``"noise"`` and ``"cubic"`` return their (biased) surrogates, see module doc.
    """
    if not training or surrogate == "ste":
        return _QuantRoundSTE.apply(y) if y.shape[-1] == 64 else ste_round(y)
    if surrogate == "noise":
        return y + (torch.rand_like(y) - 0.5)
    if surrogate == "cubic":
        r = torch.round(y).detach()
        return r + (y - r) ** 3
    raise ConfigError(f"rounding must be one of {', '.join(SURROGATES)}; got {surrogate!r}")
