"""Context managers that put a module in measurement mode and restore it exactly afterwards."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

__all__ = ["eval_mode", "frozen_parameters"]


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """``module.eval()`` and ``torch.no_grad()`` for the block; every submodule's ``training``
    flag is restored afterwards (so a callback can measure in the middle of training)."""
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            yield module
    finally:
        for m, training in flags:
            m.training = training


@contextlib.contextmanager
def frozen_parameters(module: nn.Module) -> Iterator[nn.Module]:
    """Set ``requires_grad=False`` on every parameter for the block, then restore the flags.

    The JIT tracer behind fvcore refuses to embed tensors that require grad as constants; with
    the flags off, a traced function may use any module's weights.
    """
    params = list(module.parameters())
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
