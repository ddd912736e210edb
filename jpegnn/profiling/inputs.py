"""Profiling inputs: the ``WIDTHxHEIGHT`` size syntax and a deterministic synthetic test image.

Sizes are written width first, as image viewers and the Kodak set do: ``768x512`` is a landscape
Kodak frame, i.e. a ``1 x 3 x 512 x 768`` (N, C, H, W) tensor.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import Tensor

from jpegnn.errors import ConfigError

__all__ = ["parse_size", "format_size", "synthetic_image"]

_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_size(text: str | tuple[int, int] | list[int]) -> tuple[int, int]:
    """Parse ``"768x512"`` (``WIDTHxHEIGHT``, pixels) into ``(width, height)``.

    A ``(width, height)`` pair is accepted as is. Raises :class:`~jpegnn.errors.ConfigError` with
    a one-line message for anything else (``"abc"``, ``"0x512"``, ``"768"``).
    """
    if isinstance(text, (tuple, list)):
        if len(text) == 2 and all(isinstance(v, int) and v > 0 for v in text):
            return int(text[0]), int(text[1])
        raise ConfigError(f"size must be (width, height) with positive integers, got {text!r}")
    match = _SIZE.match(str(text))
    if match is None:
        raise ConfigError(f"size must be WIDTHxHEIGHT in pixels, e.g. 768x512; got {text!r}")
    width, height = int(match.group(1)), int(match.group(2))
    if width < 1 or height < 1:
        raise ConfigError(f"size must be positive, got {text!r}")
    return width, height


def format_size(size: tuple[int, int]) -> str:
    """``(768, 512)`` -> ``"768x512"``."""
    return f"{size[0]}x{size[1]}"


def synthetic_image(
    width: int,
    height: int,
    channels: int = 3,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> Tensor:
    """A deterministic, photo-like random image of shape ``1 x channels x height x width`` in [0, 1].

    Uniform noise at 1/8 resolution, bilinearly upsampled (smooth regions and soft edges), plus
    Gaussian grain of standard deviation 0.02. Entropy-coding time depends on the bit rate, so a
    smooth image gives timings closer to natural photographs than white noise would; pass a real
    image where exact figures matter.
    """
    g = torch.Generator().manual_seed(int(seed))
    base = torch.rand(1, channels, height // 8 + 2, width // 8 + 2, generator=g)
    img = F.interpolate(base, size=(height, width), mode="bilinear", align_corners=False)
    img = img + 0.02 * torch.randn(img.shape, generator=g)
    return img.clamp_(0.0, 1.0).to(device)
