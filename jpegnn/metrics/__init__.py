"""Metrics: image quality (PSNR, MS-SSIM), bits per pixel, and Bjøntegaard deltas.

The public names of :mod:`jpegnn.metrics.bd` are importable from here
(``from jpegnn.metrics import bd_rate, bd_psnr``). They are loaded on first use (PEP 562
``__getattr__``): ``bd`` imports NumPy, SciPy and, through ``image_quality``, torch, which would
otherwise cost every ``import jpegnn.metrics`` seconds of start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs only; nothing is imported at run time
    from jpegnn.metrics.bd import (
        BD_TABLE_FIELDS,
        METHODS,
        BjontegaardWarning,
        bd_psnr,
        bd_rate,
        bd_table,
        bd_table_markdown,
    )

#: exported name -> submodule that defines it (keep equal to ``jpegnn.metrics.bd.__all__``)
_LAZY: dict[str, str] = {
    name: "jpegnn.metrics.bd"
    for name in ("BjontegaardWarning", "METHODS", "bd_rate", "bd_psnr", "bd_table", "bd_table_markdown", "BD_TABLE_FIELDS")
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
