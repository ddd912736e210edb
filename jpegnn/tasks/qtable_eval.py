"""Evaluation helpers for the JPEG-table experiments (quality sweeps, accuracy against real bpp).

Used by ``benchmarks/jpeg_quality_sweep.py`` and ``benchmarks/jpeg_accuracy_vs_bpp.py``; kept in
the package so notebooks can call them too. Everything here scores a network on images **really
encoded and decoded by Pillow** (libjpeg-turbo) with given integer tables, and reports the real
file sizes: the numbers a deployment would see, not the differentiable layer's.

Conventions: images are ``N x 3 x H x W`` float32 on the 8-bit grid in [0, 1]; tables are 2
(luma, chroma) or 3 (Y, Cb, Cr) 8x8 integer tensors in natural row-major order; ``bpp`` is
``8 x file bytes / (H x W)`` summed over images and divided by the summed pixels (whole files,
headers included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from jpegnn.tasks import qtable_codec as codec

__all__ = ["EvalSet", "collect", "encode_set", "accuracy", "interpolate", "origin_tables"]


@dataclass
class EvalSet:
    """A materialised evaluation set: images, labels and (after :func:`encode_set`) real sizes."""

    images: Tensor  # N x 3 x H x W float32 in [0, 1]
    labels: Tensor  # N int64
    nbytes: Optional[Tensor] = None  # N float64 file sizes (None: uncompressed)

    @property
    def bpp(self) -> float:
        """Σ 8·bytes / Σ pixels (24 for an uncompressed set)."""
        pixels = self.images.shape[0] * self.images.shape[-2] * self.images.shape[-1]
        if self.nbytes is None:
            return 24.0
        return float(8.0 * self.nbytes.sum() / pixels)


def collect(loader: DataLoader, limit: Optional[int] = None) -> EvalSet:
    """Concatenate a (deterministic) loader's ``image`` and ``label`` batches."""
    images, labels = [], []
    n = 0
    for batch in loader:
        images.append(batch["image"])
        labels.append(batch["label"])
        n += batch["image"].shape[0]
        if limit is not None and n >= limit:
            break
    x, y = torch.cat(images), torch.cat(labels)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return EvalSet(x, y)


def encode_set(data: EvalSet, tables: Sequence[Tensor], subsampling: str = "4:2:0",
               optimize: bool = False, batch_size: int = 64) -> EvalSet:
    """The set as Pillow decodes it after encoding with ``tables`` (and the real file sizes)."""
    decoded, sizes = [], []
    for i in range(0, data.images.shape[0], batch_size):
        d, b = codec.pillow_roundtrip(data.images[i : i + batch_size], tables, subsampling, optimize)
        decoded.append(d)
        sizes.append(b)
    return EvalSet(torch.cat(decoded), data.labels, torch.cat(sizes))


@torch.no_grad()
def accuracy(net: nn.Module | Callable[[Tensor], Tensor], data: EvalSet, batch_size: int = 64,
             device: Optional[torch.device] = None) -> float:
    """Top-1 accuracy of ``net`` (logits of [0, 1] RGB) on ``data``; ``net`` is put in eval mode."""
    if isinstance(net, nn.Module):
        net.eval()
        device = device or next(net.parameters()).device
    correct = 0
    for i in range(0, data.images.shape[0], batch_size):
        x = data.images[i : i + batch_size]
        if device is not None:
            x = x.to(device)
        pred = net(x).argmax(dim=1).cpu()
        correct += int((pred == data.labels[i : i + batch_size]).sum())
    return correct / max(1, data.images.shape[0])


def interpolate(curve: Sequence[tuple[float, float]], x: float) -> float:
    """Piecewise-linear value of ``curve`` (``(x, y)`` points) at ``x``; NaN outside its range."""
    pts = sorted(curve)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return math.nan


def origin_tables(path: str) -> list[Tensor]:
    """The origin's (2019) learned Y, Cb, Cr tables from one of its printed-tensor dumps, as a
    real encoder must receive them: rounded and clamped to [1, 255].

    Uses :func:`jpegnn.jpeg.export.read_origin_qtables`; takes the tables labelled ``Y``, ``Cb``,
    ``Cr`` when the dump has them (the "trained quantize table" printout), else its first
    ``3 x 8 x 8`` tensor.
    """
    from jpegnn.jpeg.export import read_origin_qtables
    from jpegnn.jpeg.tables import to_baseline

    found = read_origin_qtables(path)
    named = {label: t for label, t in found if label in ("Y", "Cb", "Cr") and t.shape[0] == 1}
    if len(named) == 3:
        raw = torch.cat([named["Y"], named["Cb"], named["Cr"]])
    else:
        raw = next((t for _, t in found if t.shape[0] == 3), None)
        if raw is None:
            raise ValueError(f"{path}: no set of 3 tables (Y, Cb, Cr) found")
    return list(to_baseline(raw).unbind(0))
