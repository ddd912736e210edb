"""Tiny deterministic test images, written as real files (8-bit via Pillow, 16-bit PNG by hand).

Shared by ``tests/conftest.py`` fixtures and the data tests. Nothing here reads ``../shared`` or
the network.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def smooth_rgb(height: int, width: int, seed: int) -> np.ndarray:
    """``height x width x 3`` uint8 with smooth (bilinearly upsampled) random content.

    Smooth rather than white noise so a codec trained on it has structure to learn.
    """
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8 + 2, width // 8 + 2, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.BILINEAR), dtype=np.uint8)


def write_rgb_png(path: Path, height: int, width: int, seed: int) -> np.ndarray:
    """Write a smooth RGB PNG; returns its pixels (``H x W x 3`` uint8)."""
    arr = smooth_rgb(height, width, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return arr


def write_png16(path: Path, samples: np.ndarray) -> None:
    """Write a real 16-bit PNG (no Pillow: it cannot write 16-bit RGB).

    Args:
        samples: ``H x W`` (grey), or ``H x W x C`` with C = 2 (grey+alpha), 3 (RGB), 4 (RGBA);
            values 0..65535.
    """
    arr = np.asarray(samples)
    if arr.ndim == 2:
        arr = arr[..., None]
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[arr.shape[2]]
    height, width = arr.shape[:2]
    raw = arr.astype(">u2")
    rows = b"".join(b"\x00" + raw[i].tobytes() for i in range(height))  # filter type 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )


def write_class_folder(
    root: Path, classes: tuple[str, ...], per_split: dict[str, int], height: int, width: int, seed_step: int
) -> Path:
    """An image-folder classification set: ``root/<split>/<class>/<i>.png``, ``per_split[split]``
    smooth RGB images per class, image ``i`` of class number ``c`` seeded ``seed_step * c + i``."""
    for split, n in per_split.items():
        for c, cls in enumerate(classes):
            for i in range(n):
                write_rgb_png(root / split / cls / f"{i}.png", height, width, seed=seed_step * c + i)
    return root
