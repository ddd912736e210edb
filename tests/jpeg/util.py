"""Helpers shared by the tests/jpeg modules (test images, Pillow calls, PSNR)."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image


def synthetic(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth colour gradients + a sharp edge + mild texture, uint8 (H, W, 3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack(
        [
            128 + 90 * np.sin(xx / (5 + seed % 7)) * np.cos(yy / 9),
            60 + 150 * (xx / max(w - 1, 1)),
            200 - 150 * (yy / max(h - 1, 1)),
        ],
        -1,
    )
    img[h // 3 : h // 2, w // 4 : (3 * w) // 4] = (250, 10, 30)  # saturated block with edges
    img += rng.normal(0, 6, img.shape)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x[0].permute(1, 2, 0).detach().cpu().numpy() * 255.0 + 0.5).astype(np.uint8)


def pillow_jpeg(img: np.ndarray, subsampling: int, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", subsampling=subsampling, **kwargs)
    return buf.getvalue()


def pillow_decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
