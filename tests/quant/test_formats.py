"""quantize_float / quantize_fixed: bit-exact against torch's float16/bfloat16, stochastic rounding
statistics, fixed-point saturation, straight-through gradients, argument errors."""

from __future__ import annotations

import math

import pytest
import torch

from jpegnn.errors import ConfigError
from jpegnn.quant import fixed_format_limits, float_format_max, quantize_fixed, quantize_float


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality of float32 tensors, NaNs compared as NaN (payloads may differ)."""
    assert a.dtype == b.dtype == torch.float32
    nan_a, nan_b = torch.isnan(a), torch.isnan(b)
    if not torch.equal(nan_a, nan_b):
        return False
    return torch.equal(a[~nan_a].view(torch.int32), b[~nan_b].view(torch.int32))


def _random_bits(n: int, seed: int) -> torch.Tensor:
    """float32 values from uniformly random bit patterns: every exponent, subnormals, inf, NaN."""
    g = torch.Generator().manual_seed(seed)
    bits = torch.randint(-(2**31), 2**31, (n,), generator=g, dtype=torch.int64).to(torch.int32)
    return bits.view(torch.float32)


def _log_uniform(n: int, lo_exp: float, hi_exp: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mag = torch.exp2(torch.empty(n, dtype=torch.float64).uniform_(lo_exp, hi_exp, generator=g))
    sign = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).double()
    return (mag * sign).float()


def _fp16_ties(n: int, seed: int) -> torch.Tensor:
    """Exact midpoints between neighbouring finite float16 values (including subnormals and the
    65504/65536 boundary 65520), as float32 (exact)."""
    g = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 0x7BFF, (n,), generator=g, dtype=torch.int32).to(torch.int16)
    lo = bits.view(torch.float16).float()
    hi = (bits + 1).view(torch.float16).float()
    mid = (lo + hi) / 2
    return torch.cat([mid, -mid, torch.tensor([65520.0, -65520.0, 2.0**-25, 3 * 2.0**-25])])


def test_float_e5m10_matches_float16_bit_for_bit():
    x = torch.cat(
        [
            _log_uniform(20000, -30, 17, seed=0),  # below the subnormals .. beyond the max
            _log_uniform(20000, -25, -13, seed=1),  # the subnormal range 2^-24 .. 2^-14
            _fp16_ties(20000, seed=2),
            torch.tensor([0.0, -0.0, 65504.0, 65519.0, 65519.99, 65520.0, 65535.0, 65536.0, 1e10, -1e10]),
            torch.tensor([math.inf, -math.inf, math.nan, 2.0**-24, 2.0**-24 * 0.5000001, -(2.0**-26)]),
            _random_bits(20000, seed=3),
        ]
    )
    assert _same_bits(quantize_float(x, 5, 10), x.half().float())


def test_float_e8m7_matches_bfloat16_bit_for_bit():
    g = torch.Generator().manual_seed(4)
    tie_bits = (torch.randint(-(2**15), 2**15, (20000,), generator=g, dtype=torch.int32) << 16) | 0x8000
    x = torch.cat(
        [
            _random_bits(50000, seed=5),  # all exponents, float32 subnormals, inf, NaN
            _log_uniform(20000, -149, -120, seed=6),  # bfloat16 subnormals and below
            tie_bits.view(torch.float32),  # exact ties
            torch.tensor([3.3895313892515355e38, 3.3961776893e38, 3.4e38, 3.4028234663852886e38, 1e-40, 1e-45]),
        ]
    )
    assert _same_bits(quantize_float(x, 8, 7), x.bfloat16().float())


def test_float_overflow_boundary_and_saturate():
    x = torch.tensor([65504.0, 65519.99, 65520.0, 1e6, math.inf, -1e6, math.nan])
    assert quantize_float(x, 5, 10).tolist()[:6] == [65504.0, 65504.0, math.inf, math.inf, math.inf, -math.inf]
    sat = quantize_float(x, 5, 10, saturate=True)
    assert sat.tolist()[:6] == [65504.0, 65504.0, 65504.0, 65504.0, 65504.0, -65504.0]
    assert math.isnan(sat[6])
    assert float_format_max(5, 10) == 65504.0
    assert float_format_max(2, 1) == 3.0
    # e2m1: grid {0, 0.5 (subnormal), 1, 1.5, 2, 3}
    y = torch.tensor([0.2, 0.25, 0.3, 0.75, 1.2, 1.25, 2.4, 2.5, 3.4, 3.5, 10.0])
    assert quantize_float(y, 2, 1).tolist() == [0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0, math.inf, math.inf]


def test_input_dtypes_and_devices_preserved():
    x = torch.randn(100)
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        q = quantize_float(x.to(dtype), 5, 2)
        assert q.dtype == dtype and q.shape == x.shape
    assert torch.equal(quantize_float(x.half(), 5, 10), x.half())
    assert torch.equal(quantize_float(x.bfloat16(), 8, 7), x.bfloat16())
    assert torch.equal(quantize_float(x.double(), 5, 2).float(), quantize_float(x, 5, 2))


def _neighbours_e5m2(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower/upper e5m2 neighbours of positive normal x by enumerating the grid."""
    grid = torch.tensor(sorted({(1 + k / 4) * 2.0**p for p in range(-14, 16) for k in range(4)}), dtype=torch.float64)
    idx = torch.searchsorted(grid, x.double(), right=True)
    return grid[idx - 1], grid[idx]


@pytest.mark.parametrize(
    "quantize, args",
    [(quantize_float, (5, 2)), (quantize_float, (2, 1)), (quantize_fixed, (8, 4)), (quantize_fixed, (4, 1))],
)
def test_stochastic_rounding_is_unbiased_and_picks_neighbours(quantize, args):
    g = torch.Generator().manual_seed(7)
    if quantize is quantize_float and args == (5, 2):
        x = torch.tensor([0.3, 1.1, 1.3, 2.6, -5.5, 7.2e-5, 1000.0])
    elif quantize is quantize_float:
        x = torch.tensor([0.1, 0.7, 1.2, 1.9, 2.3, -2.9])
    else:
        x = torch.tensor([0.03, 0.37, -1.21, 2.6, 3.3, -3.9])  # inside both formats' ranges
    draws = 20000
    q = quantize(x.expand(draws, -1).contiguous(), *args, rounding="stochastic", generator=g).double()
    near = quantize(x, *args).double()
    # the two neighbours: the nearest value and the one on the other side of x
    lo = torch.minimum(q.min(0).values, near)
    hi = torch.maximum(q.max(0).values, near)
    values_per_column = [torch.unique(q[:, i]).numel() for i in range(x.numel())]
    assert max(values_per_column) <= 2
    assert bool((lo <= x.double()).all()) and bool((x.double() <= hi).all())
    if quantize is quantize_float and args == (5, 2):
        exp_lo, exp_hi = _neighbours_e5m2(x.abs()[:-1])
        assert bool(((q[:, :-1].abs() == exp_lo) | (q[:, :-1].abs() == exp_hi)).all())
    # unbiased: |mean - x| within 5 standard errors of a two-point distribution of spread hi - lo
    stderr = (hi - lo) / 2 / math.sqrt(draws)
    assert bool(((q.mean(0) - x.double()).abs() <= 5 * stderr + 1e-12).all())


def test_stochastic_rounding_keeps_representable_values_and_is_reproducible():
    x = torch.tensor([0.5, 1.0, 1.5, -3.0, 0.0, 65504.0])
    g = torch.Generator().manual_seed(0)
    assert torch.equal(quantize_float(x.repeat(100), 5, 10, "stochastic", generator=g), x.repeat(100))
    y = torch.randn(1000)
    a = quantize_float(y, 4, 3, "stochastic", generator=torch.Generator().manual_seed(3))
    b = quantize_float(y, 4, 3, "stochastic", generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_fixed_saturates_and_is_exact_on_representable_values():
    lo, hi = fixed_format_limits(8, 4)
    assert (lo, hi) == (-8.0, 127 / 16)
    x = torch.tensor([100.0, 7.96, 127 / 16, -8.0, -8.01, -1e9, math.inf, -math.inf])
    assert quantize_fixed(x, 8, 4).tolist() == [hi, hi, hi, lo, lo, lo, hi, lo]
    assert math.isnan(quantize_fixed(torch.tensor([math.nan]), 8, 4)[0])
    grid = torch.arange(-128, 128, dtype=torch.float32) / 16
    assert torch.equal(quantize_fixed(grid, 8, 4), grid)
    assert torch.equal(quantize_fixed(grid, 8, 4, "stochastic"), grid)
    # nearest with ties to even, in grid units of 1/16
    assert quantize_fixed(torch.tensor([1 / 32, 3 / 32, 0.04, -1 / 32]), 8, 4).tolist() == [0.0, 0.125, 0.0625, -0.0]
    # stochastic saturates too
    assert quantize_fixed(torch.full((100,), 9.0), 8, 4, "stochastic").eq(hi).all()


def test_gradients_pass_straight_through():
    x = torch.randn(50, dtype=torch.float64, requires_grad=True)
    w = torch.randn(50, dtype=torch.float64)
    for q in (
        quantize_float(x, 2, 1),
        quantize_float(x, 5, 2, "stochastic"),
        quantize_fixed(x, 4, 1),
        quantize_fixed(x, 8, 4, "stochastic"),
        quantize_float(x * 1e6, 5, 10),  # overflow to inf: gradient is still identity
    ):
        (g,) = torch.autograd.grad((q * w).sum(), x)
        assert torch.equal(g, w) or torch.allclose(g, w * 1e6)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: quantize_float(torch.ones(2), 1, 3), "exponent_bits"),
        (lambda: quantize_float(torch.ones(2), 5, -1), "mantissa_bits"),
        (lambda: quantize_float(torch.ones(2), 5, 2, rounding="up"), "rounding"),
        (lambda: quantize_fixed(torch.ones(2), 0, 3), "word_length"),
        (lambda: quantize_fixed(torch.ones(2), 8, 2.5), "fractional_length"),
        (lambda: quantize_fixed(torch.ones(2, dtype=torch.int64), 8, 2), "floating-point"),
    ],
)
def test_bad_arguments_raise_config_error(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_torch_casts_and_cpu():
    x = torch.cat([_random_bits(100000, seed=8), _log_uniform(100000, -30, 17, seed=9), _fp16_ties(10000, seed=10)])
    xc = x.cuda()
    assert _same_bits(quantize_float(xc, 5, 10).cpu(), xc.half().float().cpu())
    assert _same_bits(quantize_float(xc, 8, 7).cpu(), xc.bfloat16().float().cpu())
    assert _same_bits(quantize_float(xc, 4, 3).cpu(), quantize_float(x, 4, 3))
    assert _same_bits(quantize_fixed(xc, 8, 4).cpu(), quantize_fixed(x, 8, 4))
    assert _same_bits(quantize_float(xc.half(), 5, 2).float().cpu(), quantize_float(x.half(), 5, 2).float())
    g = torch.Generator(device="cuda").manual_seed(0)
    y = torch.full((200000,), 1.1, device="cuda")
    q = quantize_float(y, 5, 2, "stochastic", generator=g)
    assert set(q.unique().tolist()) == {1.0, 1.25}
    assert abs(q.double().mean().item() - 1.1) < 5 * 0.125 / math.sqrt(y.numel())


@pytest.mark.skipif(not hasattr(torch, "float8_e5m2"), reason="torch without float8 dtypes")
def test_float8_formats_match_torch_float8_casts():
    """e5m2 is OCP FP8 E5M2 bit for bit (IEEE-like: subnormals, ties to even, overflow to inf);
    e4m3 here is IEEE-like (max 240), so it agrees with torch's float8_e4m3fn (max 448, no inf)
    on every value up to 240 (the subnormals 2**-9.. included) and saturates at 240 beyond."""
    g = torch.Generator().manual_seed(7)
    x = torch.cat([
        _log_uniform(50000, -20, 17, seed=8),
        torch.tensor([57344.0, 61439.0, 61440.0, 65536.0, 1e9, math.inf, -math.inf, 2.0**-16, 2.0**-17,
                      3 * 2.0**-18, -0.0]),
        torch.randn(10000, generator=g),
    ])
    assert _same_bits(quantize_float(x, 5, 2), x.to(torch.float8_e5m2).float())
    e4m3 = quantize_float(x, 4, 3, saturate=True)
    small = x.abs() <= 240
    assert _same_bits(e4m3[small], x[small].to(torch.float8_e4m3fn).float())
    assert torch.all(e4m3[~small].abs() == 240)
