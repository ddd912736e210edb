"""Residual dense network (RDN, Zhang et al. 2018) as a post-decoding enhancement filter.

The third lab notebook's in-loop filter for a video codec's intra frames: a luma CTU of 128x128
pixels plus a 2-pixel context border (132x132 in) goes through two *unpadded* 3x3 convolutions
(132 -> 130 -> 128), residual dense blocks (RDBs), a global residual connection before the last
convolution, and the output is a residual added to the centre 128x128 of the decoded block. The
notebook found the global residual essential (no gain without it), the local residual inside each
RDB needed too, and measured +0.15 dB with 3 blocks x 6 layers (growth 16, 32 features).

Layout (``F`` features, ``B`` blocks, ``D`` layers per block, growth ``g``, ``c`` image channels)::

    x (c) -> head conv 3x3 c->F -> ReLU -> head conv 3x3 F->F = f0        (valid in "ctu" mode)
    f0 -> RDB_1 -> ... -> RDB_B                each RDB: D x [conv 3x3 (F+i g)->g, ReLU, concat]
                                               then 1x1 (F+D g)->F  (+ its input: local residual)
    concat(RDB outputs) -> 1x1 B F->F -> 3x3 F->F   (global feature fusion, as in the RDN paper)
    (+ f0: global residual) -> tail conv 3x3 F->c = r;   output = crop(x, border) + r

Modes:

* ``"ctu"``: one luma channel (BT.601 full-range Y in [0, 1], as JPEG uses); the two head
  convolutions are unpadded so an ``(H+4) x (W+4)`` input gives an ``H x W`` output (132 -> 128).
  Every later convolution is zero-padded ("same") inside the block.
* ``"rgb"``: three channels, every convolution padded: any ``H x W`` in, ``H x W`` out.

Complexity (MACs, 1 MAC = one multiply-add, fvcore's convention): with ``k = 3``, one RDB on an
``H x W`` map costs, per pixel, the notebook's sum ``il*g + (il+g)*g + ... + (il+(D-1)g)*g`` times
``k^2`` plus its 1x1 fusion ``(il + D g) * ol`` (``il = ol = F``)::

    block = k^2 * g * (D*F + g*D*(D-1)/2) + (F + D*g) * F

i.e. ``O(D^2)`` in the layers per block and ``O(g^2)`` in the growth, linear in the blocks. (The
notebook's closed form ``((n-1) il + g (n-1) n / 2) g + ...`` with ``n - 1 = D`` counts one growth
step too many: its sum ends at ``(il + (n-2) g) g``, whose closed form has ``(n-2)(n-1)/2``.)
:func:`rdn_macs` adds the head, fusion and tail and is checked against fvcore in
``tests/enhance/test_rdn.py``.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F_
from torch import Tensor, nn

from jpegnn.errors import ConfigError, check_positive_int

__all__ = ["RDN", "ResidualDenseBlock", "CTU_BORDER", "rdn_macs", "rdn_block_macs_per_pixel", "rdn_macs_table"]

#: context pixels on each side of a CTU consumed by the two unpadded 3x3 head convolutions
CTU_BORDER = 2
_MODES = ("ctu", "rgb")


class ResidualDenseBlock(nn.Module):
    """One RDB: ``layers`` densely connected 3x3 conv + ReLU layers, then a 1x1 local fusion.

    Args:
        features: Channels in and out of the block (``F``).
        growth: Channels each dense layer adds (``g``).
        layers: Dense layers (``D``); layer ``i`` sees ``F + i g`` channels.
        local_residual: Add the block input to the fused output (local residual learning).
    """

    def __init__(self, features: int, growth: int, layers: int, local_residual: bool = True) -> None:
        super().__init__()
        self.local_residual = local_residual
        self.layers = nn.ModuleList(
            nn.Conv2d(features + i * growth, growth, 3, padding=1) for i in range(layers)
        )
        self.fuse = nn.Conv2d(features + layers * growth, features, 1)

    def forward(self, x: Tensor) -> Tensor:
        feats = x
        for conv in self.layers:
            feats = torch.cat([feats, F_.relu(conv(feats))], dim=1)
        out = self.fuse(feats)
        return out + x if self.local_residual else out


class RDN(nn.Module):
    """Residual dense network predicting a residual over the decoded image (see the module docstring).

    Args:
        mode: ``"ctu"`` (1 luma channel, valid head convolutions: ``(H+4)x(W+4) -> HxW``) or
            ``"rgb"`` (3 channels, same size in and out).
        features: Feature channels ``F`` of the head, blocks and fusion.
        blocks: Residual dense blocks ``B``.
        layers: Dense layers per block ``D``.
        growth: Growth rate ``g`` (channels added by each dense layer).
        local_residual: Residual connection inside each RDB.
        global_residual: Add the head features ``f0`` before the last convolution.
        global_fusion: Concatenate all RDB outputs and fuse them (1x1 then 3x3, as in the RDN
            paper); False feeds the last RDB's output straight to the global residual.

    Input/output: ``B x c x H x W`` float in [0, 1] (``c`` = 1 or 3); the output is the enhanced
    image (the decoded centre plus the predicted residual), not clamped.
    """

    def __init__(
        self,
        mode: Literal["ctu", "rgb"] = "ctu",
        features: int = 32,
        blocks: int = 3,
        layers: int = 6,
        growth: int = 16,
        local_residual: bool = True,
        global_residual: bool = True,
        global_fusion: bool = True,
    ) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ConfigError(f"RDN: argument 'mode' must be one of {_MODES}, got {mode!r}")
        for name, value in (("features", features), ("blocks", blocks), ("layers", layers), ("growth", growth)):
            check_positive_int("RDN", name, value)
        self.mode = mode
        self.channels = 1 if mode == "ctu" else 3
        self.border = CTU_BORDER if mode == "ctu" else 0
        self.global_residual = global_residual
        pad = 0 if mode == "ctu" else 1
        self.head = nn.ModuleList([
            nn.Conv2d(self.channels, features, 3, padding=pad),
            nn.Conv2d(features, features, 3, padding=pad),
        ])
        self.blocks = nn.ModuleList(
            ResidualDenseBlock(features, growth, layers, local_residual) for _ in range(blocks)
        )
        self.fusion = (
            nn.Sequential(nn.Conv2d(blocks * features, features, 1), nn.Conv2d(features, features, 3, padding=1))
            if global_fusion else None
        )
        self.tail = nn.Conv2d(features, self.channels, 3, padding=1)
        # the residual starts small: the untrained filter is close to the identity
        nn.init.zeros_(self.tail.bias)
        self.tail.weight.data.mul_(0.1)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Output ``(H, W)`` for an input of ``height x width`` pixels."""
        return height - 2 * self.border, width - 2 * self.border

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ConfigError(
                f"RDN ({self.mode} mode) expects B x {self.channels} x H x W input, got shape {tuple(x.shape)}"
            )
        if self.border and min(x.shape[-2:]) <= 2 * self.border:
            raise ConfigError(f"RDN (ctu mode): input {tuple(x.shape[-2:])} is smaller than its {2 * self.border}-pixel border")
        f0 = self.head[1](F_.relu(self.head[0](x)))
        feats, outs = f0, []
        for block in self.blocks:
            feats = block(feats)
            outs.append(feats)
        body = self.fusion(torch.cat(outs, dim=1)) if self.fusion is not None else feats
        if self.global_residual:
            body = body + f0
        residual = self.tail(body)
        b = self.border
        centre = x[..., b: x.shape[-2] - b, b: x.shape[-1] - b] if b else x
        return centre + residual


# ------------------------------------------------------------------------------------------------
# complexity


def rdn_block_macs_per_pixel(features: int, growth: int, layers: int, kernel_size: int = 3) -> int:
    """MACs per output pixel of one RDB: ``k^2 g (D F + g D (D-1)/2) + (F + D g) F``."""
    F, g, D, k2 = features, growth, layers, kernel_size * kernel_size
    return k2 * g * (D * F + g * D * (D - 1) // 2) + (F + D * g) * F


def rdn_macs(
    height: int,
    width: int,
    features: int = 32,
    blocks: int = 3,
    layers: int = 6,
    growth: int = 16,
    mode: Literal["ctu", "rgb"] = "ctu",
    global_fusion: bool = True,
) -> int:
    """MACs of one :class:`RDN` forward producing an ``height x width`` output (batch 1).

    Convolutions only (fvcore's convention: biases, ReLUs, additions and concatenations are not
    counted). In ``"ctu"`` mode the first head convolution produces ``(H+2) x (W+2)`` pixels and
    the input is ``(H+4) x (W+4)``.

    Returns:
        The MAC count, an integer (e.g. 3 blocks x 6 layers, g=16, F=32 on a 128x128 CTU:
        see ``docs/enhancement.md`` for the table).
    """
    c = 1 if mode == "ctu" else 3
    b = CTU_BORDER if mode == "ctu" else 0
    F, k2 = features, 9
    px = height * width
    head = c * F * k2 * (height + b) * (width + b) + F * F * k2 * px
    body = blocks * rdn_block_macs_per_pixel(F, growth, layers) * px
    fusion = (blocks * F * F + F * F * k2) * px if global_fusion else 0
    tail = F * c * k2 * px
    return head + body + fusion + tail


def rdn_macs_table(
    features: Sequence[int] = (16, 32, 64),
    layers: Sequence[int] = (4, 6, 8),
    growth: Sequence[int] = (8, 16, 24),
    blocks: int = 3,
    height: int = 128,
    width: int = 128,
    mode: Literal["ctu", "rgb"] = "ctu",
) -> list[dict[str, float | int]]:
    """Rows ``{features, layers, growth, blocks, params, macs, kmacs_per_pixel}`` over the grid.

    ``macs`` from :func:`rdn_macs` for an ``height x width`` output; ``params`` counted on the
    built module; ``kmacs_per_pixel`` = macs / (height * width) / 1000.
    """
    rows: list[dict[str, float | int]] = []
    for F in features:
        for D in layers:
            for g in growth:
                net = RDN(mode, features=F, blocks=blocks, layers=D, growth=g)
                macs = rdn_macs(height, width, F, blocks, D, g, mode)
                rows.append({
                    "features": F, "layers": D, "growth": g, "blocks": blocks,
                    "params": sum(p.numel() for p in net.parameters()),
                    "macs": macs, "kmacs_per_pixel": round(macs / (height * width) / 1000, 2),
                })
    return rows

