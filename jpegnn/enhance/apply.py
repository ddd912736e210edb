"""Apply a trained enhancement network to whole decoded RGB images.

Shared by :class:`jpegnn.tasks.EnhancementModule` (validation/test) and ``jpegnn bench
--enhance`` so both measure exactly the same filtered image.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from jpegnn.enhance.luma import apply_by_ctu, replace_luma, rgb_to_y, to_8bit_levels

__all__ = ["enhance_rgb"]


@torch.no_grad()
def enhance_rgb(net: nn.Module, decoded: Tensor, ctu_size: int = 128, max_batch: int = 16) -> Tensor:
    """Filter decoded images: ``B x 3 x H x W`` in [0, 1] -> same shape, clamped, 8-bit levels.

    * ``"ctu"`` networks (``net.mode``): BT.601 luma, filtered CTU by CTU with a
      ``net.border``-pixel context (:func:`~jpegnn.enhance.luma.apply_by_ctu`), put back into RGB
      with the decoded chroma (:func:`~jpegnn.enhance.luma.replace_luma`).
    * ``"rgb"`` networks: the whole image at once (padded convolutions, any size).

    The result is what a decoder would store: clamped to [0, 1] and rounded to 8-bit levels.
    """
    if getattr(net, "mode", "rgb") == "ctu":
        y = rgb_to_y(decoded)
        y_f = apply_by_ctu(net, y, ctu=ctu_size, border=net.border, max_batch=max_batch)
        out = replace_luma(decoded, y_f)
    else:
        out = net(decoded)
    return to_8bit_levels(out)
