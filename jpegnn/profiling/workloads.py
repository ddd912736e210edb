"""What to measure on any LightningModule: its parts, its per-side networks, its real codec.

A LightningModule may define three optional methods; profiling asks for them in this order and
falls back sensibly when they are absent:

``complexity_parts(self) -> dict[str, nn.Module]``
    Named submodules for parameter and MAC breakdowns (``{"g_a": ..., "g_s": ...}``).
    Fallback: the CompressAI adapter (:func:`jpegnn.profiling.lic.lic_parts`) when the module is
    or holds (``.model``) a CompressAI network, else no parts (totals only).

``complexity_functions(self, x) -> dict[str, Callable[[], Any]]``
    Zero-argument callables running the network work on input ``x`` (a ``1 x C x H x W``
    batch), keyed by side: ``"encoder"`` and ``"decoder"`` where the module has them. MACs,
    network latency and "decoder network" energy are measured on these.
    Fallback: the CompressAI adapter, else ``{"forward": lambda: module(x)}``.

``coding_functions(self, x) -> dict[str, Callable[[], Any]]``
    ``{"encode": ..., "decode": ...}`` running the real codec (bitstream included).
    Fallback: real entropy coding for CompressAI networks
    (:func:`jpegnn.profiling.lic.lic_coding_functions`), else the complexity functions renamed
    ``encoder -> encode`` and ``decoder -> decode`` (or ``forward``).

Callers run these under :func:`jpegnn.profiling.modes.eval_mode`.
"""

from __future__ import annotations

from typing import Any, Callable

from torch import Tensor, nn

from jpegnn.profiling.lic import compression_model_of, lic_coding_functions, lic_functions, lic_parts

__all__ = ["resolve_parts", "resolve_functions", "resolve_coding", "Workloads"]

Workloads = dict[str, Callable[[], Any]]


def resolve_parts(module: nn.Module) -> dict[str, nn.Module]:
    """Named parts of ``module`` (see the module docstring); may be empty."""
    hook = getattr(module, "complexity_parts", None)
    if callable(hook):
        return dict(hook())
    model = compression_model_of(module)
    if model is not None:
        return lic_parts(model)
    return {}


def resolve_functions(module: nn.Module, x: Tensor) -> Workloads:
    """Network workloads of ``module`` on ``x``: ``encoder``/``decoder`` or ``forward``."""
    hook = getattr(module, "complexity_functions", None)
    if callable(hook):
        functions = hook(x)
        if functions:
            return dict(functions)
    model = compression_model_of(module)
    if model is not None:
        functions = lic_functions(model, x)
        if functions:
            return functions

    def forward() -> Any:
        return module(x)

    forward.__doc__ = "the module's whole forward pass"
    return {"forward": forward}


def resolve_coding(module: nn.Module, x: Tensor) -> tuple[Workloads, str]:
    """Codec workloads of ``module`` on ``x`` and a description of what they run.

    Returns:
        ``({"encode": fn, "decode": fn}, description)``; for modules without a codec, the
        network workloads (``encode``/``decode`` from ``encoder``/``decoder``, or ``forward``).
    """
    hook = getattr(module, "coding_functions", None)
    if callable(hook):
        return dict(hook(x)), "the module's coding_functions (real codec)"
    model = compression_model_of(module)
    if model is not None:
        return lic_coding_functions(model, x), "real entropy coding: jpegnn.coding.lic.encode / decode (rANS)"
    functions = resolve_functions(module, x)
    renamed = {{"encoder": "encode", "decoder": "decode"}.get(k, k): v for k, v in functions.items()}
    return renamed, "network only (no codec defined): " + ", ".join(sorted(functions))
