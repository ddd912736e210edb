"""Simulated low-precision training/evaluation of any ``nn.Module`` through hooks.

:func:`quantize_model` attaches, to every sub-module whose class (or a base class) is named in
``layer_types`` (default ``Conv2d`` and ``Linear``):

* **weights** — a forward pre-hook replaces the module's own parameters (``weight``, ``bias``, any
  direct parameter; not those of children) by quantized *copies* for the duration of that forward
  call, and a forward hook puts the full-precision ``nn.Parameter`` back. The optimizer therefore
  keeps updating full-precision *master weights* (as QPyTorch's recipe does): small updates
  accumulate instead of being rounded away, which is what makes low-bit training converge; state
  dicts and checkpoints hold the full-precision values, and quantizing them again at load time
  reproduces the same forward. The copies are built with a straight-through estimator, so the
  master weights receive the gradient computed with the quantized weights.
* **activations** — the forward hook quantizes the module's output tensor(s).
* **gradients** — a tensor hook on each output quantizes the gradient flowing back into the module
  (the error signal, QPyTorch's "backward quantizer"); only while autograd records.

Each of ``weight``, ``activation`` and ``gradient`` is a format spec (:mod:`jpegnn.quant.spec`) or
``None``. The returned :class:`QuantizationHandle` removes every hook (and restores any parameter
left swapped by a forward that raised) with :meth:`~QuantizationHandle.remove`, or on leaving a
``with`` block. Not supported: modules that read their weights outside ``forward`` and
``torch.compile`` of the hooked module (hooks that swap parameters defeat graph capture).
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Optional, Union

import torch
from torch import Tensor, nn

from jpegnn.errors import ConfigError
from jpegnn.quant.spec import QuantFormat, parse_format

log = logging.getLogger(__name__)

__all__ = ["QuantizationHandle", "quantize_model", "DEFAULT_LAYER_TYPES"]

#: layer types quantized when none are given
DEFAULT_LAYER_TYPES = ("Conv2d", "Linear")

_MASTER = "_jpegnn_quant_master"


def _map_tensors(value: Any, fn) -> Any:
    if isinstance(value, Tensor):
        return fn(value) if value.is_floating_point() else value
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_map_tensors(v, fn) for v in value)
    if isinstance(value, list):
        return [_map_tensors(v, fn) for v in value]
    return value  # dicts, namedtuples, None: left as they are


def _restore(module: nn.Module) -> None:
    master = module.__dict__.pop(_MASTER, None)
    if master:
        module._parameters.update(master)


class QuantizationHandle:
    """The hooks installed by :func:`quantize_model`; ``remove()`` (or ``with``) takes them off."""

    def __init__(self, modules: dict[str, nn.Module], formats: dict[str, Optional[QuantFormat]]) -> None:
        self.modules = modules
        self.formats = formats
        self._hooks: list[Any] = []

    def describe(self) -> str:
        """One line: formats and the number/types of quantized modules."""
        kinds = sorted({type(m).__name__ for m in self.modules.values()})
        fmts = ", ".join(f"{k}={v if v is not None else 'none'}" for k, v in self.formats.items())
        return f"{fmts} on {len(self.modules)} modules ({', '.join(kinds)})"

    def remove(self) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        for module in self.modules.values():
            _restore(module)

    def __enter__(self) -> "QuantizationHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _wants(module: nn.Module, names: set[str], classes: tuple[type, ...]) -> bool:
    return isinstance(module, classes) or any(c.__name__ in names for c in type(module).__mro__)


def quantize_model(
    model: nn.Module,
    weight: Union[str, QuantFormat, None] = None,
    activation: Union[str, QuantFormat, None] = None,
    gradient: Union[str, QuantFormat, None] = None,
    layer_types: Optional[Iterable[Union[str, type]]] = None,
    generator: Optional[torch.Generator] = None,
) -> QuantizationHandle:
    """Quantize ``model``'s weights/activations/gradients in the selected layers (see module doc).

    Args:
        model: any module; its sub-modules (itself included) are matched against ``layer_types``.
        weight, activation, gradient: format specs such as ``"float:e5m2:nearest"``,
            ``"fixed:8.4:stochastic"`` or ``None``/``"none"``.
        layer_types: class names (matched against each module's class and base classes, e.g.
            ``"Conv2d"``, ``"_ConvNd"``, ``"GDN"``) or classes; default ``("Conv2d", "Linear")``.
        generator: optional :class:`torch.Generator` for stochastic rounding (on the model's
            device); default the global RNG (seeded by ``seed_everything``).

    Raises:
        ConfigError: a malformed format, an empty ``layer_types``, or no module of those types.
    """
    formats = {
        "weight": parse_format(weight, "weight"),
        "activation": parse_format(activation, "activation"),
        "gradient": parse_format(gradient, "gradient"),
    }
    types = list(DEFAULT_LAYER_TYPES if layer_types is None else layer_types)
    if isinstance(layer_types, str):
        types = [layer_types]
    if not types:
        raise ConfigError("layer_types: give at least one layer type, e.g. ['Conv2d', 'Linear']")
    names = {t for t in types if isinstance(t, str)}
    classes = tuple(t for t in types if isinstance(t, type))
    if len(names) + len(classes) != len(types):
        raise ConfigError(f"layer_types: expected class names or classes, got {types!r}")
    modules = {name: m for name, m in model.named_modules() if _wants(m, names, classes)}
    if not modules:
        present = sorted({type(m).__name__ for m in model.modules()})
        raise ConfigError(f"layer_types: {types!r} match no module of the model; its module types are {present}")

    handle = QuantizationHandle(modules, formats)
    w_fmt, a_fmt, g_fmt = formats["weight"], formats["activation"], formats["gradient"]
    if w_fmt is None and a_fmt is None and g_fmt is None:
        return handle

    def pre_hook(module: nn.Module, args: Any) -> None:
        _restore(module)  # a previous forward that raised left copies in place
        master = {n: p for n, p in module._parameters.items() if p is not None and p.is_floating_point()}
        for n, p in master.items():
            module._parameters[n] = w_fmt(p, generator)  # type: ignore[assignment]
        module.__dict__[_MASTER] = master

    def quantize_grad(grad: Tensor) -> Tensor:
        return g_fmt(grad, generator)

    def with_grad_hook(t: Tensor) -> Tensor:
        if t.requires_grad:
            t.register_hook(quantize_grad)
        return t

    def post_hook(module: nn.Module, args: Any, output: Any) -> Any:
        if w_fmt is not None:
            _restore(module)
        if a_fmt is not None:
            output = _map_tensors(output, lambda t: a_fmt(t, generator))
        if g_fmt is not None and torch.is_grad_enabled():
            output = _map_tensors(output, with_grad_hook)
        return output

    for module in modules.values():
        if w_fmt is not None:
            handle._hooks.append(module.register_forward_pre_hook(pre_hook))
        handle._hooks.append(module.register_forward_hook(post_hook))
    return handle
