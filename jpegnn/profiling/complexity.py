"""Complexity report of any LightningModule: parameters and MACs, total, per side and per part.

:func:`complexity_report` returns a JSON-ready dict (the content of ``complexity.json``):

* ``params``, ``trainable_params``, ``params_mb_fp32`` (params x 4 bytes / 10**6: decimal MB of
  float32 storage), ``param_bytes``, ``buffer_bytes``;
* for each workload of :func:`jpegnn.profiling.workloads.resolve_functions` (``encoder`` and
  ``decoder``, or ``forward``): ``macs`` (integer MACs, fvcore: 1 fused multiply-add = 1 MAC),
  ``gmacs`` (10**9 MACs) and ``kmacs_per_pixel`` (10**3 MACs per pixel of the requested
  ``width x height``), also flattened as ``gmacs_encoder``, ``kmacs_per_pixel_decoder``, ...;
* ``parts``: per part, ``params``, ``params_mb_fp32`` and ``macs`` per workload;
* ``definitions``: what each workload includes (for CompressAI models see
  :mod:`jpegnn.profiling.lic`); ``counter``: how MACs were counted (naming any workload counted
  with the ``FlopCounterMode`` fallback of :mod:`jpegnn.profiling.macs`, also listed in
  ``counter_fallbacks``: ``{workload: "counter: reason"}``); ``unsupported_ops``.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from jpegnn.profiling.inputs import format_size, synthetic_image
from jpegnn.profiling.lic import PART_LABELS
from jpegnn.profiling.macs import count_macs
from jpegnn.profiling.modes import eval_mode
from jpegnn.profiling.params import count_parameters, part_parameters
from jpegnn.profiling.tables import markdown_table, text_table
from jpegnn.profiling.workloads import resolve_functions, resolve_parts

__all__ = ["COUNTER_DESCRIPTION", "complexity_report", "complexity_rows", "complexity_text", "complexity_markdown"]

COUNTER_DESCRIPTION = (
    "fvcore.nn.FlopCountAnalysis; one fused multiply-add = 1 MAC (fvcore's 'flop'; FLOPs = 2 x MACs); "
    "convolutions, linear/matmul, normalisation and upsampling counted; bias additions and elementwise ops "
    "(activations, GDN's square/rsqrt, rounding) not counted"
)


def _device_of(module: nn.Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def complexity_report(
    module: nn.Module,
    size: tuple[int, int] = (768, 512),
    channels: int = 3,
    device: Optional[torch.device | str] = None,
) -> dict[str, Any]:
    """Parameters and MACs of ``module`` for a ``1 x channels x height x width`` input.

    Args:
        module: Any ``nn.Module`` / LightningModule (see :mod:`jpegnn.profiling.workloads` for
            the optional ``complexity_parts`` / ``complexity_functions`` hooks).
        size: ``(width, height)`` in pixels.
        channels: Input channels.
        device: Where to trace (default: the module's device). The module is not moved.

    Returns:
        The report dict described in the module docstring.
    """
    width, height = size
    pixels = width * height
    device = torch.device(device) if device is not None else _device_of(module)
    parts = resolve_parts(module)
    report: dict[str, Any] = {
        "input": {"width": width, "height": height, "channels": channels, "size": format_size(size)},
        **count_parameters(module),
    }
    part_params = part_parameters(parts)
    report["other_params"] = report["params"] - sum(p["params"] for p in part_params.values())
    x = synthetic_image(width, height, channels, seed=0, device=device)
    with eval_mode(module):
        functions = resolve_functions(module, x)
        counts = {name: count_macs(fn, root=module, parts=parts) for name, fn in functions.items()}
    report["macs"] = {name: c.total for name, c in counts.items()}
    report["gmacs"] = {name: c.total / 1e9 for name, c in counts.items()}
    report["kmacs_per_pixel"] = {name: c.total / pixels / 1e3 for name, c in counts.items()}
    for name in counts:
        report[f"gmacs_{name}"] = report["gmacs"][name]
        report[f"kmacs_per_pixel_{name}"] = report["kmacs_per_pixel"][name]
    report["parts"] = {
        part: {
            "label": PART_LABELS.get(part, part),
            **part_params[part],
            "macs": {name: c.by_part.get(part, 0) for name, c in counts.items()},
        }
        for part in parts
    }
    report["definitions"] = {name: (fn.__doc__ or "").strip() for name, fn in functions.items()}
    report["counter"] = COUNTER_DESCRIPTION
    fallbacks = {name: f"{c.counter}: {c.note}" for name, c in counts.items() if c.counter != "fvcore"}
    report["counter_fallbacks"] = fallbacks  # workloads fvcore could not count (see jpegnn.profiling.macs)
    if fallbacks:
        report["counter"] += "; " + "; ".join(f"{name} counted with {text}" for name, text in fallbacks.items())
    report["unsupported_ops"] = {name: c.unsupported_ops for name, c in counts.items()}
    return report


def complexity_rows(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows of the per-part table (params, MB, GMACs per workload, plus the total)."""
    workloads = list(report["macs"])
    headers = ["part", "params", "MB (fp32)"] + [f"GMACs {w}" for w in workloads]
    rows: list[list[Any]] = []
    for part, info in report["parts"].items():
        rows.append([part, info["params"], info["params_mb_fp32"]] + [info["macs"][w] / 1e9 for w in workloads])
    if report["parts"] and report.get("other_params"):
        rows.append(["(other)", report["other_params"], report["other_params"] * 4 / 1e6] + [None] * len(workloads))
    rows.append(["total", report["params"], report["params_mb_fp32"]] + [report["gmacs"][w] for w in workloads])
    return headers, rows


def _footer(report: dict[str, Any]) -> list[str]:
    size = report["input"]["size"]
    lines = [
        f"input {size}: " + ", ".join(
            f"{w} {report['gmacs'][w]:.3f} GMACs = {report['kmacs_per_pixel'][w]:.2f} kMAC/pixel" for w in report["macs"]
        ),
    ]
    lines += [f"{w}: {d}" for w, d in report["definitions"].items() if d]
    lines.append("MB = 10^6 bytes of float32 parameters; MACs: " + report["counter"])
    return lines


def complexity_text(report: dict[str, Any]) -> str:
    """The report as a fixed-width text table with a short footer."""
    headers, rows = complexity_rows(report)
    return "\n".join([text_table(headers, rows), *_footer(report)])


def complexity_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown (for TensorBoard's text tab)."""
    headers, rows = complexity_rows(report)
    return "\n\n".join([markdown_table(headers, rows), *_footer(report)])
