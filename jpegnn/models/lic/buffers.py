"""Entropy-model buffers whose shapes follow the fitted model.

CompressAI's ``EntropyBottleneck`` and ``GaussianConditional`` keep their rANS tables
(``_quantized_cdf``, ``_offset``, ``_cdf_length``, and the ``scale_table``) in buffers sized by
``update()``: a freshly built network has other (often empty) shapes than a trained one, so its
buffers must take the saved shapes before ``load_state_dict`` can copy into them.
"""

from __future__ import annotations

from typing import Mapping, Optional

import torch
from torch import Tensor, nn

__all__ = ["CDF_BUFFERS", "first_mismatch", "match_cdf_buffers"]

#: name endings of the buffers whose shape depends on the fitted entropy model
CDF_BUFFERS = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")


def match_cdf_buffers(module: nn.Module, state: Mapping[str, Tensor]) -> None:
    """Give ``module``'s CDF buffers the shapes they have in ``state`` (keys as in
    ``module.state_dict()``), before ``module.load_state_dict(state)``.

    Fresh tensors, not ``resize_()``: a buffer made under inference mode (an ``update()`` in a test
    or predict loop) cannot be resized or copied into outside it, so such buffers are replaced too.
    """
    own = dict(module.named_buffers())
    for key, value in state.items():
        if not (key.endswith(CDF_BUFFERS) and key in own):
            continue
        buf = own[key]
        if buf.shape != value.shape or buf.is_inference():
            prefix, _, name = key.rpartition(".")
            owner = module.get_submodule(prefix) if prefix else module
            owner._buffers[name] = torch.empty(value.shape, dtype=buf.dtype, device=buf.device)


def first_mismatch(model: nn.Module, state: Mapping[str, Tensor]) -> Optional[str]:
    """The first difference between ``state`` and ``model``'s state dict (CDF buffers, whose
    shape follows the fitted entropy model, may differ), as one phrase, or None when it fits."""
    own = model.state_dict()
    for key, value in own.items():
        if key not in state:
            return f"no {key!r} in the file"
        if not key.endswith(CDF_BUFFERS) and tuple(state[key].shape) != tuple(value.shape):
            return f"{key!r} is {list(state[key].shape)} in the file but {list(value.shape)} in the model"
    extra = [k for k in state if k not in own]
    if extra:
        return f"the file has {len(extra)} key(s) the model has not, first {extra[0]!r}"
    return None
