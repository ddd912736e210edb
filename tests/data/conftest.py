"""Fixtures of the data tests only: triplet and CLIC layouts, and awkward image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.data.imagegen import smooth_rgb, write_png16, write_rgb_png


@pytest.fixture(scope="session")
def tiny_vimeo_triplet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``vimeo_triplet`` with 2 train clips and 1 test clip of 3 frames (24 x 32); list ends with blank lines."""
    root = tmp_path_factory.mktemp("vimeo_tri") / "vimeo_triplet"
    for c, clip in enumerate(("00001/0001", "00001/0002", "00003/0007")):
        for k in (1, 2, 3):
            write_rgb_png(root / "sequences" / clip / f"im{k}.png", 24, 32, seed=50 + 10 * c + k)
    (root / "tri_trainlist.txt").write_text("00001/0001\r\n00001/0002\r\n\r\n")
    (root / "tri_testlist.txt").write_text("00003/0007\n")
    return root


@pytest.fixture(scope="session")
def tiny_clic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``root/professional/valid`` (2 PNGs) and ``root/mobile/valid`` (3 PNGs), plus macOS junk."""
    root = tmp_path_factory.mktemp("clic")
    for i in range(2):
        write_rgb_png(root / "professional" / "valid" / f"pro{i}.png", 20 + i, 30, seed=200 + i)
    for i in range(3):
        write_rgb_png(root / "mobile" / "valid" / f"mob{i}.png", 30, 20 + i, seed=300 + i)
    (root / "mobile" / "valid" / "._mob0.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    return root


@pytest.fixture(scope="session")
def odd_images(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Files in every awkward format (9 x 11 pixels) plus broken files.

    Returns ``{"dir": Path, "expected": {filename: H x W x 3 uint8 ndarray}}``; the broken files
    (``float.tif``, ``text.png``, ``empty.png``, ``truncated.png``, ``corrupt.png``,
    ``truncated16.png``) have no entry in ``expected``.
    """
    root = tmp_path_factory.mktemp("odd_images")
    rng = np.random.default_rng(7)
    expected: dict[str, np.ndarray] = {}

    def white_over(rgb: np.ndarray, alpha: np.ndarray, peak: int) -> np.ndarray:
        a = alpha.astype(np.float64)[..., None] / peak
        return rgb.astype(np.float64) * a + peak * (1 - a)

    rgb = smooth_rgb(9, 11, seed=1)
    Image.fromarray(rgb).save(root / "rgb.png")
    expected["rgb.png"] = rgb

    grey = rng.integers(0, 256, (9, 11), dtype=np.uint8)
    Image.fromarray(grey, "L").save(root / "grey.png")
    expected["grey.png"] = np.repeat(grey[..., None], 3, axis=2)

    bits = rng.integers(0, 2, (9, 11)).astype(bool)
    Image.fromarray(bits).save(root / "bilevel.png")
    expected["bilevel.png"] = np.repeat((bits * 255).astype(np.uint8)[..., None], 3, axis=2)

    rgba = np.concatenate([smooth_rgb(9, 11, seed=2), rng.integers(0, 256, (9, 11, 1), dtype=np.uint8)], axis=2)
    rgba[0, 0, 3], rgba[0, 1, 3] = 0, 255  # fully transparent and fully opaque pixels
    Image.fromarray(rgba, "RGBA").save(root / "rgba.png")
    expected["rgba.png"] = np.rint(white_over(rgba[..., :3], rgba[..., 3], 255)).astype(np.uint8)

    la = np.stack([grey, rng.integers(0, 256, (9, 11), dtype=np.uint8)], axis=2)
    Image.fromarray(la, "LA").save(root / "la.png")
    expected["la.png"] = np.rint(white_over(np.repeat(la[..., :1], 3, axis=2), la[..., 1], 255)).astype(np.uint8)

    palette = rng.integers(0, 256, (4, 3), dtype=np.uint8)
    index = rng.integers(0, 4, (9, 11), dtype=np.uint8)
    p = Image.fromarray(index, "P")
    p.putpalette(palette.ravel().tolist())
    p.save(root / "palette.png")
    expected["palette.png"] = palette[index]
    p.save(root / "palette_trns.png", transparency=2)  # index 2 fully transparent -> white
    exp = palette[index].copy()
    exp[index == 2] = 255
    expected["palette_trns.png"] = exp

    g16 = rng.integers(0, 65536, (9, 11)).astype(np.uint16)
    g16[0, :3] = (0, 65535, 128)  # endpoints and a value that rounds down (128/257 = 0.498)
    Image.fromarray(g16).save(root / "grey16_pil.png")  # Pillow writes I;16 greyscale
    expected["grey16_pil.png"] = np.repeat(np.rint(g16 / 257.0).astype(np.uint8)[..., None], 3, axis=2)

    rgb16 = rng.integers(0, 65536, (9, 11, 3)).astype(np.uint16)
    rgb16[0, 0] = (0, 65535, 385)  # 385/257 = 1.498 -> 1, while the high byte alone gives 1 too
    rgb16[0, 1] = (65279, 129, 32896)  # high byte: 254, 0, 128; correct: 254, 1, 128
    write_png16(root / "rgb16.png", rgb16)
    expected["rgb16.png"] = np.rint(rgb16 / 257.0).astype(np.uint8)

    write_png16(root / "grey16.png", g16)
    expected["grey16.png"] = expected["grey16_pil.png"]

    rgba16 = rng.integers(0, 65536, (9, 11, 4)).astype(np.uint16)
    write_png16(root / "rgba16.png", rgba16)
    expected["rgba16.png"] = np.rint(white_over(rgba16[..., :3], rgba16[..., 3], 65535) / 257.0).astype(np.uint8)

    ga16 = rng.integers(0, 65536, (9, 11, 2)).astype(np.uint16)
    write_png16(root / "ga16.png", ga16)
    grey_rgb = np.repeat(ga16[..., :1], 3, axis=2)
    expected["ga16.png"] = np.rint(white_over(grey_rgb, ga16[..., 1], 65535) / 257.0).astype(np.uint8)

    import tifffile

    tifffile.imwrite(root / "rgb16.tif", rgb16, photometric="rgb")
    expected["rgb16.tif"] = expected["rgb16.png"]
    tifffile.imwrite(root / "grey16.tif", g16)
    expected["grey16.tif"] = expected["grey16_pil.png"]

    # bad files
    tifffile.imwrite(root / "float.tif", rng.random((9, 11)).astype(np.float32))
    (root / "text.png").write_text("this is not an image\n")
    (root / "empty.png").write_bytes(b"")
    good = (root / "rgb.png").read_bytes()
    (root / "truncated.png").write_bytes(good[: len(good) // 2])
    broken = bytearray(good)
    idat = broken.index(b"IDAT")
    broken[idat + 8 : idat + 40] = bytes(32)  # zero part of the compressed stream
    (root / "corrupt.png").write_bytes(bytes(broken))
    (root / "truncated16.png").write_bytes((root / "rgb16.png").read_bytes()[:70])
    Image.fromarray(rgb).save(root / "photo.jpg", quality=90)
    return {"dir": root, "expected": expected}
