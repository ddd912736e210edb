"""Patch sampling for training and validation: random crop + flips, centre crop, reflect padding.

Learned codecs train on fixed-size square patches (256x256 in most papers, e.g. Ballé et al. and
CompressAI's examples on Vimeo-90k), with random horizontal/vertical flips as the only
augmentation: colour or scale changes would alter the very statistics the entropy model learns.

Images smaller than the patch on a side are **padded by reflection** (``a b c | b a``), split
evenly before/after, before cropping, so a few small images in a folder do not stop training;
the padded border is real image content mirrored, not a constant the codec could code for free.
Reflection needs at least 2 pixels on a side; a 1-pixel side is replicated instead.

Randomness comes from torch's global generator: in DataLoader workers torch seeds it per worker
from the loader's base seed, so ``seed_everything(s, workers=True)`` makes patch sampling
reproducible.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["RandomCropFlip", "CenterCrop", "pad_to_min_size"]


def _check_size(size: int, what: str) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"{what} must be a positive int (pixels), got {size!r}")
    return size


def pad_to_min_size(image: torch.Tensor, size: int) -> torch.Tensor:
    """Reflect-pad ``... x H x W`` so both sides are at least ``size`` pixels (no-op if already).

    Padding is split evenly (the extra pixel, if odd, goes after). The reflection is repeated
    while a side is under half the target (torch reflects at most ``side - 1`` pixels at once);
    an image with a 1-pixel side is replicate-padded instead.
    """
    _check_size(size, "size")
    squeeze = image.dim() == 3
    x = image.unsqueeze(0) if squeeze else image
    while x.shape[-2] < size or x.shape[-1] < size:
        h, w = x.shape[-2:]
        if min(h, w) == 1:  # nothing to reflect: replicate the whole way in one step
            mode, ph, pw = "replicate", max(size - h, 0), max(size - w, 0)
        else:  # torch reflects at most side - 1 pixels per call
            mode, ph, pw = "reflect", min(max(size - h, 0), h - 1), min(max(size - w, 0), w - 1)
        pads = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
        xf = x if x.dtype.is_floating_point else x.float()  # CPU reflect/replicate need floats
        x = F.pad(xf, pads, mode=mode).to(image.dtype)
    return x.squeeze(0) if squeeze else x


class RandomCropFlip:
    """Random ``size x size`` crop, then random horizontal and vertical flips (each p = 0.5).

    Works on ``C x H x W`` tensors of any dtype; the result is contiguous. Smaller images are
    reflect-padded first (see the module docstring).

    Args:
        size: Patch side in pixels.
        hflip: Flip left-right with probability 0.5.
        vflip: Flip top-bottom with probability 0.5.
    """

    def __init__(self, size: int = 256, hflip: bool = True, vflip: bool = True) -> None:
        self.size = _check_size(size, "patch size")
        self.hflip = hflip
        self.vflip = vflip

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        s = self.size
        x = pad_to_min_size(image, s)
        h, w = x.shape[-2:]
        top = int(torch.randint(0, h - s + 1, ()))
        left = int(torch.randint(0, w - s + 1, ()))
        x = x[..., top : top + s, left : left + s]
        if self.hflip and bool(torch.rand(()) < 0.5):
            x = x.flip(-1)
        if self.vflip and bool(torch.rand(()) < 0.5):
            x = x.flip(-2)
        return x.contiguous()

    def __repr__(self) -> str:
        return f"RandomCropFlip(size={self.size}, hflip={self.hflip}, vflip={self.vflip})"


class CenterCrop:
    """Deterministic centre ``size x size`` crop (reflect-padding smaller images), for validation.

    The crop starts at ``top = (H - size) // 2``, ``left = (W - size) // 2`` (rounded down when
    the excess is odd).

    Args:
        size: Crop side in pixels.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = _check_size(size, "crop size")

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        s = self.size
        x = pad_to_min_size(image, s)
        h, w = x.shape[-2:]
        top, left = (h - s) // 2, (w - s) // 2
        return x[..., top : top + s, left : left + s].contiguous()

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"
