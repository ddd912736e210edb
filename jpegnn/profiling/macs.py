"""Multiply-accumulate (MAC) counts with fvcore.

:func:`count_macs` traces a zero-argument callable with ``fvcore.nn.FlopCountAnalysis`` (a
TorchScript trace) and returns its total and per-part counts.

**Unit.** fvcore counts one fused multiply-add as one "flop" (its documentation: "We count one
fused multiply-add as one flop"), so its "flops" are MACs. A 3x3 convolution from 3 to 8
channels producing 15x15 outputs is counted as 15*15*8*3*9 = 48,600 MACs; PyTorch's own
``torch.utils.flop_counter.FlopCounterMode`` reports twice that (97,200 FLOPs: a multiply and an
add). Both facts are checked by ``tests/profiling/test_macs.py``. Multiply by 2 to compare with
papers quoting FLOPs.

**What is counted.** fvcore's default handlers: convolutions (transposed convolutions as
``C_in*C_out*k*k*H_in*W_in``), linear/matmul/einsum/bmm, normalisation layers, upsampling and
adaptive average pooling (one per input value).
Bias additions and elementwise operations (activations, GDN's square and reciprocal square
root, rounding, concatenation) are not counted; GDN's channel mixing is a 1x1 convolution and is
counted. Unsupported operators are listed in ``unsupported_ops`` with their call counts.

**Fallback.** fvcore's TorchScript trace sees a ``torch.autograd.Function`` only as an opaque
``prim::PythonOp`` (whose matrix products it cannot count), and the tracer can fail on one
outright (the differentiable JPEG's DCT). When the trace fails, or when it contains a
``prim::PythonOp`` other than the known elementwise ones (:data:`ELEMENTWISE_PYTHON_OPS`), the
count is taken instead with ``torch.utils.flop_counter.FlopCounterMode`` (which sees through
autograd Functions): its FLOPs / 2, per part by module name. ``counter`` names the counter used
and ``note`` why; that counter counts convolutions and matrix products only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import torch
from torch import Tensor, nn

from jpegnn.errors import one_line_error
from jpegnn.profiling.modes import eval_mode, frozen_parameters

__all__ = ["MacCount", "count_macs", "ELEMENTWISE_PYTHON_OPS"]

#: autograd Functions known to do elementwise work only (CompressAI's lower bound in GDN)
ELEMENTWISE_PYTHON_OPS = frozenset({"prim::PythonOp.LowerBoundFunction"})


@dataclass
class MacCount:
    """MACs of one traced callable: ``total``, per named part, and fvcore's skipped operators."""

    total: int
    by_part: dict[str, int] = field(default_factory=dict)
    unsupported_ops: dict[str, int] = field(default_factory=dict)
    counter: str = "fvcore"
    note: Optional[str] = None


def _tensors(obj: Any) -> list[Tensor]:
    """All tensors in a (nested) result, so the tracer has tensor outputs."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, Mapping):
        return [t for v in obj.values() for t in _tensors(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _tensors(v)]
    return []


class _Traced(nn.Module):
    """Wraps a callable so fvcore can trace it; ``root`` and ``parts`` are registered submodules,
    which gives their calls a scope name (fvcore attributes MACs by module name)."""

    def __init__(self, fn: Callable[[], Any], root: Optional[nn.Module], parts: Mapping[str, nn.Module]):
        super().__init__()
        self._fn = fn
        inside: set[int] = set()
        if root is not None:
            self.root = root
            inside = {id(m) for m in root.modules()}
        # register only parts that root does not already contain; a part inside root keeps its
        # root path as scope name, and an ad-hoc container of root modules is resolved through its
        # children by _part_macs
        extra = [m for m in parts.values() if not any(id(x) in inside for x in m.modules())]
        self.parts = nn.ModuleDict({f"p{i}": m for i, m in enumerate(extra)})

    def forward(self) -> tuple[Tensor, ...]:
        out = _tensors(self._fn())
        return tuple(out) if out else (torch.zeros(()),)


def _part_macs(part: nn.Module, path_of: dict[int, str], by_module: Mapping[str, int]) -> int:
    """MACs inside ``part``: its own scope if it was traced under a name, else the sum over its
    children (a ``ModuleList`` grouping, say, the context models of several channel groups)."""
    path = path_of.get(id(part))
    if path is not None:
        return int(by_module.get(path, 0))
    return sum(_part_macs(child, path_of, by_module) for child in part.children())


def count_macs(
    fn: Callable[[], Any],
    root: Optional[nn.Module] = None,
    parts: Optional[Mapping[str, nn.Module]] = None,
) -> MacCount:
    """Count the MACs of ``fn()`` with fvcore (one fused multiply-add = one MAC).

    Args:
        fn: Zero-argument callable running the computation (e.g. a model's decoder on a fixed
            latent). It is run once, traced, in ``eval`` mode under ``torch.no_grad``.
        root: The module whose weights ``fn`` uses (put into eval mode and registered so its
            submodules get scope names). Optional.
        parts: Named submodules to attribute MACs to (``{"g_a": model.g_a, ...}``); a part may be
            an ad-hoc container (``nn.ModuleList``) of modules called separately.

    Returns:
        :class:`MacCount` with the total, ``by_part`` (0 for parts ``fn`` does not call) and the
        operators fvcore skipped.
    """
    from fvcore.nn import FlopCountAnalysis

    parts = dict(parts or {})
    wrapper = _Traced(fn, root, parts)
    path_of = {}
    for name, module in wrapper.named_modules():
        path_of.setdefault(id(module), name)
    try:
        with eval_mode(wrapper), frozen_parameters(wrapper), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings about python values in the trace
            analysis = FlopCountAnalysis(wrapper, ())
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            analysis.tracer_warnings("none")
            total = int(analysis.total())
            by_module = analysis.by_module()
            unsupported = {str(k): int(v) for k, v in analysis.unsupported_ops().items()}
    except Exception as exc:  # noqa: BLE001 - the JIT tracer fails on some autograd Functions
        return _flop_counter_macs(wrapper, parts, path_of, f"fvcore trace failed ({one_line_error(exc)})")
    opaque = sorted(k for k in unsupported if k.startswith("prim::PythonOp") and k not in ELEMENTWISE_PYTHON_OPS)
    if opaque:
        return _flop_counter_macs(wrapper, parts, path_of, "fvcore cannot see inside " + ", ".join(opaque), unsupported)
    by_part = {name: _part_macs(module, path_of, by_module) for name, module in parts.items()}
    return MacCount(total=total, by_part=by_part, unsupported_ops=unsupported)


def _flop_counter_macs(
    wrapper: _Traced,
    parts: Mapping[str, nn.Module],
    path_of: dict[int, str],
    note: str,
    unsupported: Optional[dict[str, int]] = None,
) -> MacCount:
    """MACs = FLOPs / 2 of ``torch.utils.flop_counter.FlopCounterMode`` (see the module docstring)."""
    from torch.utils.flop_counter import FlopCounterMode

    with eval_mode(wrapper), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with FlopCounterMode(display=False) as counter:
            wrapper()
    counts = counter.get_flop_counts()
    top = type(wrapper).__name__
    by_module = {
        path: sum(counts.get(f"{top}.{path}" if path else top, {}).values()) // 2 for path in set(path_of.values())
    }
    by_part = {name: _part_macs(module, path_of, by_module) for name, module in parts.items()}
    return MacCount(
        total=int(counter.get_total_flops()) // 2,
        by_part=by_part,
        unsupported_ops=dict(unsupported or {}),
        counter="torch.utils.flop_counter (FLOPs / 2)",
        note=note,
    )
