"""Bottom/right edge padding to the codec's size multiple, and the crop back (no image is resized).

Learned codecs downsample by 2**6 = 64 (four stride-2 layers in ``g_a`` and two in ``h_a``), so
inputs must be multiples of 64 (CompressAI issues 18, 36, 252). This bottom/right edge replication
serves the *forward passes* that are not entropy coded: validation on full images, KD students'
and the enhancement degradations' reconstructions, profiling inputs. Real coding pads as the
evaluation protocol says (:mod:`jpegnn.coding.protocol`: CompressAI's centred zero padding by
default, this padding under ``jpegnn``); bpp always divides by the *original* pixel count.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def pad_to_multiple(x: Tensor, multiple: int = 64, mode: str = "replicate") -> tuple[Tensor, tuple[int, int]]:
    """Pad a Bx3xHxW tensor on the bottom/right to multiples of ``multiple``.

    Returns:
        The padded tensor and the original ``(H, W)``.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def crop_to(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Crop a padded Bx3xH'xW' tensor back to ``size = (H, W)`` (top-left anchored)."""
    h, w = size
    return x[..., :h, :w]
