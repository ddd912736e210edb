"""BT.601 full-range luma (what JPEG/JFIF codes as Y) and CTU tiling for the luma filter.

Images are ``B x 3 x H x W`` RGB floats in [0, 1]; luma planes ``B x 1 x H x W`` in [0, 1].
``Y = 0.299 R + 0.587 G + 0.114 B`` (JFIF, no offset or headroom). Changing only Y by ``dY``
changes each of R, G, B by exactly ``dY`` (the inverse transform has unit luma coefficients),
which is how :func:`replace_luma` puts a filtered Y back into an RGB image.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from jpegnn.errors import ConfigError

__all__ = ["BT601_LUMA", "rgb_to_y", "replace_luma", "to_8bit_levels", "apply_by_ctu", "random_ctu_crops"]

#: JFIF / BT.601 full-range luma weights of R, G, B
BT601_LUMA = (0.299, 0.587, 0.114)


def rgb_to_y(rgb: Tensor) -> Tensor:
    """``B x 3 x H x W`` RGB in [0, 1] -> ``B x 1 x H x W`` BT.601 full-range Y in [0, 1]."""
    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ConfigError(f"rgb_to_y expects B x 3 x H x W, got shape {tuple(rgb.shape)}")
    w = torch.tensor(BT601_LUMA, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * w).sum(dim=1, keepdim=True)


def replace_luma(rgb: Tensor, y_new: Tensor) -> Tensor:
    """``rgb`` with its BT.601 luma replaced by ``y_new`` (chroma kept): ``rgb + (y_new - Y(rgb))``."""
    return rgb + (y_new - rgb_to_y(rgb))


def to_8bit_levels(x: Tensor) -> Tensor:
    """Clamp to [0, 1] and round to the 256 levels of an 8-bit image (still floats in [0, 1])."""
    return (x.clamp(0, 1) * 255).round() / 255


def apply_by_ctu(
    fn: Callable[[Tensor], Tensor], y: Tensor, ctu: int = 128, border: int = 2, max_batch: int = 64
) -> Tensor:
    """Run a CTU filter over a whole luma plane, one ``ctu x ctu`` block at a time.

    The plane is padded by edge replication on the bottom/right to a multiple of ``ctu`` and by
    ``border`` pixels on every side; each ``(ctu + 2 border)``-square tile (its neighbours' pixels
    as context, as a codec's in-loop filter sees them) goes through ``fn`` (``N x 1 x
    (ctu+2b) x (ctu+2b)`` -> ``N x 1 x ctu x ctu``), and the outputs are stitched and cropped back.

    Args:
        fn: The filter, e.g. an :class:`~jpegnn.models.enhance.RDN` in ``"ctu"`` mode.
        y: ``B x 1 x H x W`` luma.
        ctu: CTU side in pixels.
        border: Context pixels on each side (2 for the RDN's two unpadded 3x3 convolutions).
        max_batch: Tiles per call of ``fn`` (bounds memory on large images).
    """
    b, c, h, w = y.shape
    ph, pw = (-h) % ctu, (-w) % ctu
    padded = F.pad(y, (border, pw + border, border, ph + border), mode="replicate")
    size = ctu + 2 * border
    tiles = padded.unfold(2, size, ctu).unfold(3, size, ctu)  # B, C, nh, nw, size, size
    nh, nw = tiles.shape[2], tiles.shape[3]
    tiles = tiles.permute(0, 2, 3, 1, 4, 5).reshape(b * nh * nw, c, size, size)
    outs = torch.cat([fn(tiles[i : i + max_batch]) for i in range(0, tiles.shape[0], max_batch)])
    if outs.shape[-2:] != (ctu, ctu):
        raise ConfigError(f"CTU filter returned {tuple(outs.shape[-2:])} for {size}x{size} tiles, expected {ctu}x{ctu}")
    out = outs.reshape(b, nh, nw, c, ctu, ctu).permute(0, 3, 1, 4, 2, 5).reshape(b, c, nh * ctu, nw * ctu)
    return out[..., :h, :w]


def random_ctu_crops(
    tensors: tuple[Tensor, ...], size: int, generator: torch.Generator | None = None
) -> tuple[Tensor, ...]:
    """The same random ``size x size`` crop (a different one per batch item) of every tensor.

    Args:
        tensors: ``B x C x H x W`` tensors of one spatial size (e.g. original and decoded luma).
        size: Crop side, pixels (``ctu + 2 border`` = 132 for the notebook's CTUs).

    Raises:
        ConfigError: The images are smaller than ``size``.
    """
    b, _, h, w = tensors[0].shape
    if h < size or w < size:
        raise ConfigError(
            f"CTU mode needs training patches of at least {size}x{size} pixels (got {h}x{w}); "
            f"set data.init_args.patch_size >= {size}"
        )
    tops = torch.randint(0, h - size + 1, (b,), generator=generator).tolist()
    lefts = torch.randint(0, w - size + 1, (b,), generator=generator).tolist()
    return tuple(
        torch.stack([t[i, :, y0 : y0 + size, x0 : x0 + size] for i, (y0, x0) in enumerate(zip(tops, lefts))])
        for t in tensors
    )
