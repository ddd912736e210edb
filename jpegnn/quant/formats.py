"""Simulated low-precision number formats: fixed point and small IEEE-like floating point.

Both quantizers map a floating-point tensor to the nearest (or a stochastically chosen
neighbouring) value of the target format and return it **in the input's dtype** ("fake
quantization", as QPyTorch does): the arithmetic that follows still runs in float32/float64, only
the values are restricted to the format's grid. Gradients are straight-through (identity), so the
quantizers can sit anywhere in a training graph.

Formats
-------
* **Fixed point** ``(word_length, fractional_length)``: two's-complement integers of
  ``word_length`` bits scaled by ``2**-fractional_length``. Grid step ``2**-fl``; range
  ``[-2**(wl-1) / 2**fl, (2**(wl-1) - 1) / 2**fl]``; values outside **saturate** at the limits
  (±inf too); NaN stays NaN.
* **Floating point** ``(exponent_bits, mantissa_bits)``: IEEE 754-like with bias
  ``2**(e-1) - 1``, the all-ones exponent reserved for inf/NaN, gradual underflow (subnormals
  below ``2**(1 - bias)``) and signed zeros. ``(5, 10)`` is float16 and ``(8, 7)`` is bfloat16,
  bit for bit (see ``tests/quant``). A value that rounds above the largest finite value
  ``(2 - 2**-m) * 2**bias`` becomes ±inf, as IEEE round-to-nearest does (float16: 65519.99 →
  65504, 65520 → inf), unless ``saturate=True`` clamps it to ±max (what QPyTorch does; useful for
  tiny formats such as e2m1 whose max is 3). inf and NaN pass through.

Rounding
--------
* ``"nearest"``: round half to even (IEEE's default; QPyTorch's fixed-point kernel rounds half away
  from zero, which differs only on exact ties).
* ``"stochastic"``: ``floor(x / ulp + u) * ulp`` with ``u ~ U[0, 1)``: rounds up with probability
  equal to the distance from the lower neighbour in ulps, so ``E[q] = x`` (unbiased) and the result
  is always one of the two neighbouring representable values (``x`` itself when representable).
  ``generator`` (a :class:`torch.Generator` on ``x``'s device) makes the draws reproducible.

Computation is vectorized and runs in float64 (float32 on devices without float64, e.g. MPS),
which represents every float16/bfloat16/float32 input and every scaled value exactly, so the
result involves a single rounding.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from jpegnn.errors import ConfigError

__all__ = ["quantize_fixed", "quantize_float", "float_format_max", "fixed_format_limits", "ROUNDING_MODES"]

#: accepted values of every ``rounding`` argument
ROUNDING_MODES = ("nearest", "stochastic")


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def _check_rounding(rounding: object) -> str:
    if rounding not in ROUNDING_MODES:
        raise ConfigError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}")
    return rounding  # type: ignore[return-value]


def _check_tensor(x: object) -> Tensor:
    if not isinstance(x, Tensor):
        raise ConfigError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ConfigError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    return x


def _compute_dtype(x: Tensor) -> torch.dtype:
    return torch.float32 if x.device.type == "mps" else torch.float64


def _round(scaled: Tensor, rounding: str, generator: Optional[torch.Generator]) -> Tensor:
    """Round ``scaled`` (in units of the grid step) to an integer: half-to-even or stochastic."""
    if rounding == "nearest":
        return torch.round(scaled)  # round half to even
    noise = torch.rand(scaled.shape, generator=generator, device=scaled.device, dtype=scaled.dtype)
    return torch.floor(scaled + noise)


class _StraightThrough(torch.autograd.Function):
    """Forward: a precomputed quantizer; backward: identity (straight-through estimator)."""

    @staticmethod
    def forward(ctx, x: Tensor, fn, *args):  # type: ignore[override]
        ctx.n_extra = 1 + len(args)
        with torch.no_grad():
            return fn(x, *args)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        return (grad,) + (None,) * ctx.n_extra


def _apply(x: Tensor, fn, *args) -> Tensor:
    if x.requires_grad and torch.is_grad_enabled():
        return _StraightThrough.apply(x, fn, *args)
    return fn(x, *args)


def fixed_format_limits(word_length: int, fractional_length: int) -> tuple[float, float]:
    """(min, max) of the fixed-point format: ``-2**(wl-1) / 2**fl`` and ``(2**(wl-1)-1) / 2**fl``."""
    wl = _check_int("word_length", word_length, 1, 53)
    fl = _check_int("fractional_length", fractional_length, -1000, 1000)
    return (-(2.0 ** (wl - 1)) * 2.0**-fl, (2.0 ** (wl - 1) - 1) * 2.0**-fl)


def float_format_max(exponent_bits: int, mantissa_bits: int) -> float:
    """Largest finite value of the IEEE-like format: ``(2 - 2**-m) * 2**bias``, bias ``2**(e-1)-1``."""
    e = _check_int("exponent_bits", exponent_bits, 2, 10)
    m = _check_int("mantissa_bits", mantissa_bits, 0, 40)
    bias = 2 ** (e - 1) - 1
    return (2.0 - 2.0**-m) * 2.0**bias


def _fixed_kernel(x: Tensor, wl: int, fl: int, rounding: str, generator: Optional[torch.Generator]) -> Tensor:
    work = x.to(_compute_dtype(x))
    step_inv = 2.0**fl
    q = _round(work * step_inv, rounding, generator)
    q = torch.clamp(q, -(2.0 ** (wl - 1)), 2.0 ** (wl - 1) - 1) / step_inv
    return q.to(x.dtype)


def _float_kernel(
    x: Tensor, e: int, m: int, rounding: str, saturate: bool, generator: Optional[torch.Generator]
) -> Tensor:
    work = x.to(_compute_dtype(x))
    bias = 2 ** (e - 1) - 1
    e_min = 1 - bias  # exponent of the smallest normal value; subnormals share its grid step
    max_finite = (2.0 - 2.0**-m) * 2.0**bias
    finite = torch.isfinite(work)
    safe = torch.where(finite, work, torch.zeros_like(work))
    # |x| = f * 2**k with f in [0.5, 1) -> unbiased exponent k - 1 (frexp is exact)
    _, k = torch.frexp(safe)
    exponent = torch.clamp(k.to(work.dtype) - 1, min=float(e_min))
    ulp = torch.exp2(exponent - m)  # grid step at x's binade (exact powers of two)
    q = _round(safe / ulp, rounding, generator) * ulp
    # keep the sign of zero (round(-0.3) is -0., floor(-0.3 + u) may give +0.)
    q = torch.where(q == 0, torch.copysign(torch.zeros_like(q), safe), q)
    over = q.abs() > max_finite
    if saturate:
        q = torch.where(over, torch.copysign(torch.full_like(q, max_finite), q), q)
    else:
        q = torch.where(over, torch.copysign(torch.full_like(q, float("inf")), q), q)
    if saturate:
        passthrough = torch.where(torch.isnan(work), work, torch.copysign(torch.full_like(q, max_finite), work))
    else:
        passthrough = work
    q = torch.where(finite, q, passthrough)
    return q.to(x.dtype)


def quantize_fixed(
    x: Tensor,
    word_length: int,
    fractional_length: int,
    rounding: str = "nearest",
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    """Round ``x`` to two's-complement fixed point with saturation (straight-through gradient).

    Args:
        x: floating-point tensor, any device/dtype; the result has the same dtype and shape.
        word_length: total bits including the sign bit, 1..53.
        fractional_length: bits after the binary point (may be negative or exceed
            ``word_length``); the grid step is ``2**-fractional_length``.
        rounding: ``"nearest"`` (half to even) or ``"stochastic"`` (unbiased, see module doc).
        generator: optional :class:`torch.Generator` on ``x``'s device for stochastic rounding.

    Values beyond ``[-2**(wl-1), 2**(wl-1) - 1] * 2**-fl`` (±inf included) saturate at those limits;
    NaN stays NaN.
    """
    _check_tensor(x)
    wl = _check_int("word_length", word_length, 1, 53)
    fl = _check_int("fractional_length", fractional_length, -1000, 1000)
    rounding = _check_rounding(rounding)
    return _apply(x, _fixed_kernel, wl, fl, rounding, generator)


def quantize_float(
    x: Tensor,
    exponent_bits: int,
    mantissa_bits: int,
    rounding: str = "nearest",
    generator: Optional[torch.Generator] = None,
    saturate: bool = False,
) -> Tensor:
    """Round ``x`` to an IEEE-like float with ``exponent_bits``/``mantissa_bits`` (straight-through).

    Args:
        x: floating-point tensor, any device/dtype; the result has the same dtype and shape (the
            format should fit in that dtype, e.g. e ≤ 8 and m ≤ 23 for float32).
        exponent_bits: exponent field width, 2..10 (bias ``2**(e-1) - 1``; the all-ones exponent is
            reserved for inf/NaN as in IEEE 754).
        mantissa_bits: stored fraction bits (without the implicit leading 1), 0..40.
        rounding: ``"nearest"`` (ties to even) or ``"stochastic"`` (unbiased, see module doc).
        generator: optional :class:`torch.Generator` on ``x``'s device for stochastic rounding.
        saturate: clamp results (and ±inf inputs) beyond the largest finite value to ±max instead
            of producing ±inf.

    ``(5, 10)`` reproduces ``x.half()`` and ``(8, 7)`` reproduces ``x.bfloat16()`` bit for bit,
    including subnormals, ties and overflow to inf.
    """
    _check_tensor(x)
    e = _check_int("exponent_bits", exponent_bits, 2, 10)
    m = _check_int("mantissa_bits", mantissa_bits, 0, 40)
    rounding = _check_rounding(rounding)
    if not isinstance(saturate, bool):
        raise ConfigError(f"saturate must be a bool, got {saturate!r}")
    return _apply(x, _float_kernel, e, m, rounding, saturate, generator)
