"""Bits per pixel as a DDP-correct metric: summed bits over summed pixels.

A mean of per-rank (or per-image) bpp values is wrong when images differ in size; this metric
keeps the two sums as states, which torchmetrics all-reduces before ``compute``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


class BitsPerPixel(Metric):
    """Σ bits / Σ pixels over everything seen since the last reset."""

    full_state_update = False
    higher_is_better = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("bits", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("pixels", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, bits: Tensor | float, pixels: Tensor | float) -> None:
        """Add ``bits`` (total for the batch) coded over ``pixels`` original pixels."""
        self.bits += torch.as_tensor(bits, dtype=torch.float64, device=self.bits.device).sum()
        self.pixels += torch.as_tensor(pixels, dtype=torch.float64, device=self.pixels.device).sum()

    def compute(self) -> Tensor:
        return (self.bits / self.pixels.clamp_min(1)).float()
