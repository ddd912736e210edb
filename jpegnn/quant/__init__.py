"""Simulated low-precision arithmetic: fixed-point and small floating-point formats (issue 8).

* :func:`quantize_fixed` / :func:`quantize_float` (:mod:`jpegnn.quant.formats`): vectorized
  fake quantization with nearest (ties-to-even) or stochastic rounding and straight-through
  gradients.
* :class:`QuantFormat` / :func:`parse_format` (:mod:`jpegnn.quant.spec`): the small string specs
  used in configs, e.g. ``"float:e5m2:nearest"``, ``"fixed:8.4:stochastic"``, ``"none"``.
* :func:`quantize_model` (:mod:`jpegnn.quant.wrap`): hooks that quantize a model's weights,
  activations and gradients per layer type; the Lightning front end is
  :class:`jpegnn.callbacks.quantization.QuantizationCallback`.
"""

from jpegnn.quant.formats import ROUNDING_MODES, fixed_format_limits, float_format_max, quantize_fixed, quantize_float
from jpegnn.quant.spec import QuantFormat, parse_format
from jpegnn.quant.wrap import DEFAULT_LAYER_TYPES, QuantizationHandle, quantize_model

__all__ = [
    "DEFAULT_LAYER_TYPES",
    "ROUNDING_MODES",
    "QuantFormat",
    "QuantizationHandle",
    "fixed_format_limits",
    "float_format_max",
    "parse_format",
    "quantize_fixed",
    "quantize_float",
    "quantize_model",
]
