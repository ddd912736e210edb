"""Parameter counts and sizes, total and per named part.

``params_mb_fp32`` is the storage the parameters need as float32: ``params x 4 bytes / 10**6``
(decimal MB), the figure papers quote as "model size". ``param_bytes`` is the storage at the
dtypes actually held (identical for float32 models). Buffers (CompressAI's CDF tables, the
scale table) are reported separately as ``buffer_bytes``; they are not parameters.
"""

from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from jpegnn.profiling.memory import MB, buffer_bytes, parameter_bytes

__all__ = ["FP32_BYTES", "count_parameters", "part_parameters"]

#: bytes per float32 parameter
FP32_BYTES = 4


def count_parameters(module: nn.Module) -> dict[str, Any]:
    """Totals for ``module``: ``params``, ``trainable_params``, ``params_mb_fp32`` (MB = 10**6
    bytes), ``param_bytes`` and ``buffer_bytes`` (at the held dtypes). Shared parameters count once."""
    params = list(module.parameters())
    n = sum(p.numel() for p in params)
    return {
        "params": int(n),
        "trainable_params": int(sum(p.numel() for p in params if p.requires_grad)),
        "params_mb_fp32": n * FP32_BYTES / MB,
        "param_bytes": int(parameter_bytes(module)),
        "buffer_bytes": int(buffer_bytes(module)),
    }


def part_parameters(parts: Mapping[str, nn.Module]) -> dict[str, dict[str, Any]]:
    """``{part: {"params", "params_mb_fp32"}}`` for each named part (MB = 10**6 bytes, float32)."""
    out = {}
    for name, module in parts.items():
        n = sum(p.numel() for p in module.parameters())
        out[name] = {"params": int(n), "params_mb_fp32": n * FP32_BYTES / MB}
    return out
