"""Format specs: the small strings that name a number format in configs and the CLI.

Grammar (case-insensitive, no spaces)::

    none                                  no quantization (also None or "")
    float:e<E>m<M>[:<rounding>][:saturate]  IEEE-like float, e.g. float:e5m2:nearest
    fixed:<WL>.<FL>[:<rounding>]          two's-complement fixed point, e.g. fixed:8.4:stochastic
    fp16 | bf16 [:<rounding>]             aliases of float:e5m10 and float:e8m7

``<rounding>`` is ``nearest`` (default) or ``stochastic``; ``saturate`` clamps overflow to ±max
instead of ±inf (see :func:`jpegnn.quant.formats.quantize_float`). A :class:`QuantFormat` is
callable: ``fmt(x, generator=None)`` quantizes a tensor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Union

import torch
from torch import Tensor

from jpegnn.errors import ConfigError
from jpegnn.quant.formats import ROUNDING_MODES, quantize_fixed, quantize_float

__all__ = ["QuantFormat", "parse_format"]

_FLOAT = re.compile(r"^e(\d+)m(\d+)$")
_FIXED = re.compile(r"^(\d+)\.(-?\d+)$")
_ALIASES = {"fp16": "float:e5m10", "bf16": "float:e8m7"}


@dataclass(frozen=True)
class QuantFormat:
    """One number format: ``kind`` ``"float"`` (``bits`` = (exponent, mantissa)) or ``"fixed"``
    (``bits`` = (word length, fractional length)), with its rounding mode."""

    kind: str
    bits: tuple[int, int]
    rounding: str = "nearest"
    saturate: bool = False

    def __call__(self, x: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        if self.kind == "float":
            return quantize_float(x, *self.bits, rounding=self.rounding, generator=generator, saturate=self.saturate)
        return quantize_fixed(x, *self.bits, rounding=self.rounding, generator=generator)

    def __str__(self) -> str:
        if self.kind == "float":
            text = f"float:e{self.bits[0]}m{self.bits[1]}:{self.rounding}"
            return text + (":saturate" if self.saturate else "")
        return f"fixed:{self.bits[0]}.{self.bits[1]}:{self.rounding}"


def parse_format(spec: Union[str, QuantFormat, None], argument: str = "format") -> Optional[QuantFormat]:
    """Parse a format spec (see the module doc); ``None``/``"none"``/``""`` give ``None``.

    Args:
        spec: the spec string (or an already parsed :class:`QuantFormat`, returned as is).
        argument: the argument's name, used in error messages (e.g. ``"weight"``).

    Raises:
        ConfigError: naming ``argument`` and the accepted grammar when ``spec`` is malformed or its
            bit widths are out of range.
    """
    if spec is None or isinstance(spec, QuantFormat):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"{argument}: expected a format string such as 'float:e5m2:nearest', got {spec!r}")
    text = spec.strip().lower()
    if text in ("", "none"):
        return None
    parts = text.split(":")
    if parts[0] in _ALIASES:
        parts = _ALIASES[parts[0]].split(":") + parts[1:]
    usage = (
        f"{argument}: bad format {spec!r}; expected 'none', 'float:e<E>m<M>[:nearest|stochastic][:saturate]', "
        "'fixed:<word_length>.<fractional_length>[:nearest|stochastic]', 'fp16' or 'bf16'"
    )
    kind, rest = parts[0], parts[1:]
    if kind not in ("float", "fixed") or not rest:
        raise ConfigError(usage)
    match = (_FLOAT if kind == "float" else _FIXED).match(rest[0])
    if match is None:
        raise ConfigError(usage)
    bits = (int(match.group(1)), int(match.group(2)))
    options = rest[1:]
    rounding, saturate = "nearest", False
    for option in options:
        if option in ROUNDING_MODES:
            rounding = option
        elif option == "saturate" and kind == "float":
            saturate = True
        else:
            raise ConfigError(f"{usage} (unknown option {option!r})")
    fmt = QuantFormat(kind, bits, rounding, saturate)
    try:  # validate the bit widths now, not at the first forward
        fmt(torch.zeros(1))
    except ConfigError as err:
        raise ConfigError(f"{argument}: bad format {spec!r}: {err}") from None
    return fmt
