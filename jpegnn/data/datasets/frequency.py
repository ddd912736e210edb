"""The lab notebook's synthetic frequency set: a probe of whether a learned JPEG table keeps what matters.

Origin (notebook entry of April 24): to know whether a network can learn *which* JPEG
frequencies are important, build images whose class is carried by a known set of DCT
coefficients and nothing else. Each 8x8 block is made as the notebook's working recipe says:

1. draw 8x8 random pixels (uniform integers in ``[128 - amplitude, 128 + amplitude]``);
2. take the orthonormal 2-D DCT-II of the level-shifted block (JPEG's transform, ``F = C X Cᵀ``
   with ``F[u, v]``: ``u`` the vertical, ``v`` the horizontal frequency, as in a JPEG table);
3. sort the **central 4x4 coefficients** ``F[2:6, 2:6]``: along ``u`` (each column increasing
   from top to bottom: label 0, ``"vertical"``) or along ``v`` (each row increasing from left to
   right: label 1, ``"horizontal"``);
4. inverse DCT, round to integers and clip to ``[0, 255]``;
5. recompute the DCT of the integer block and keep the block only if the central 4x4 is still
   strictly sorted along its label's axis **and not** along the other axis (the notebook checked
   that rounding keeps the order; we enforce it, so every label is correct). Rejected blocks are
   redrawn.

All other 48 coefficients stay random, so they carry no information about the label. A
classifier can only be right by reading the central 4x4 of the **luma** table's frequency
grid: the block is grey (R = G = B), so JPEG's luma equals the pixel values exactly and the
chroma planes are flat (only their DC is nonzero). A correct learned table must therefore keep
those 16 luma frequencies fine (small Q) while a rate penalty is free to coarsen the other 48;
:func:`informative_mask` gives the 8x8 boolean mask of the informative positions.

``amplitude`` defaults to 64 grey levels so that step 4 rarely clips (clipping changes the
coefficients; such blocks are usually rejected in step 5).

An image holds ``grid x grid`` such blocks (all with the image's label), so its side is
``8 * grid`` pixels, aligned with JPEG's 8x8 block grid (and, for ``grid`` even, with the 16x16
MCU of 4:2:0, so no padding is involved).

Items are ``{"image": float32 3 x 8g x 8g in [0, 1] (multiples of 1/255), "label": int, "name": str}``.
The set is generated on first use from ``seed`` alone (torch generator, float64 arithmetic), so
it is identical on every machine and needs no files.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.utils.data import Dataset

from jpegnn.errors import ConfigError

__all__ = ["FrequencyBlocks", "dct_matrix", "informative_mask", "FREQUENCY_CLASSES", "block_dct"]

#: class names by label
FREQUENCY_CLASSES: tuple[str, ...] = ("vertical", "horizontal")
#: rows/columns of the informative (sorted) central coefficients
CENTER = slice(2, 6)


def dct_matrix(n: int = 8, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The orthonormal DCT-II matrix ``C`` (``n x n``): ``F = C X Cᵀ`` is JPEG's 2-D block DCT."""
    k = torch.arange(n, dtype=dtype).unsqueeze(1)
    i = torch.arange(n, dtype=dtype).unsqueeze(0)
    c = torch.cos((2 * i + 1) * k * math.pi / (2 * n)) * math.sqrt(2.0 / n)
    c[0] /= math.sqrt(2.0)
    return c


def block_dct(blocks: torch.Tensor) -> torch.Tensor:
    """2-D DCT of ``... x 8 x 8`` blocks of level-shifted pixel values (no quantization)."""
    c = dct_matrix(8, blocks.dtype).to(blocks.device)
    return c @ blocks @ c.T


def informative_mask() -> torch.Tensor:
    """8x8 bool mask, row-major like a JPEG table: True at the 16 coefficients that carry the label."""
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[CENTER, CENTER] = True
    return mask


def _sorted_strictly(center: torch.Tensor, dim: int) -> torch.Tensor:
    """Per block: True when ``center`` (``N x 4 x 4``) increases strictly along ``dim``."""
    return (center.diff(dim=dim) > 0).flatten(1).all(dim=1)


def _make_blocks(n: int, labels: torch.Tensor, amplitude: int, gen: torch.Generator) -> torch.Tensor:
    """``n`` verified integer blocks (``n x 8 x 8`` float64 in 0..255) with the given labels."""
    c = dct_matrix(8)
    out = torch.empty(n, 8, 8, dtype=torch.float64)
    todo = torch.arange(n)
    for _ in range(1000):  # acceptance is ~97% for amplitude 64; this loop ends in a few rounds
        if todo.numel() == 0:
            return out
        m = todo.numel()
        x = torch.randint(128 - amplitude, 128 + amplitude + 1, (m, 8, 8), generator=gen).double()
        f = c @ (x - 128.0) @ c.T
        lab = labels[todo]
        center = f[:, CENTER, CENTER]
        vertical = center.sort(dim=1).values  # each column increasing top -> bottom
        horizontal = center.sort(dim=2).values  # each row increasing left -> right
        f[:, CENTER, CENTER] = torch.where((lab == 0).view(-1, 1, 1), vertical, horizontal)
        pix = (c.T @ f @ c + 128.0).round().clamp(0, 255)
        check = (c @ (pix - 128.0) @ c.T)[:, CENTER, CENTER]
        is_v, is_h = _sorted_strictly(check, 1), _sorted_strictly(check, 2)
        ok = torch.where(lab == 0, is_v & ~is_h, is_h & ~is_v)
        out[todo[ok]] = pix[ok]
        todo = todo[~ok]
    raise RuntimeError("FrequencyBlocks: could not draw valid blocks; lower 'amplitude'")  # pragma: no cover


class FrequencyBlocks(Dataset):
    """Synthetic images whose label lives only in the central 4x4 DCT coefficients of their blocks.

    See the module docstring for the construction. Labels are balanced (``index % 2`` before a
    seeded shuffle), so chance accuracy is 50 %.

    Args:
        num_samples: Number of images.
        grid: Blocks per image side; images are ``8 * grid`` pixels square.
        amplitude: Half-range of the random pixels around 128, grey levels (1..127).
        seed: Seed of the generator; use different seeds for train, val and test sets.
    """

    classes: tuple[str, ...] = FREQUENCY_CLASSES

    def __init__(self, num_samples: int = 4096, grid: int = 2, amplitude: int = 64, seed: int = 0) -> None:
        for arg, value, lo in (("num_samples", num_samples, 1), ("grid", grid, 1), ("amplitude", amplitude, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ConfigError(f"FrequencyBlocks: argument '{arg}' must be an integer >= {lo}, got {value!r}")
        if amplitude > 127:
            raise ConfigError(f"FrequencyBlocks: argument 'amplitude' must be at most 127, got {amplitude}")
        self.num_samples = num_samples
        self.grid = grid
        self.amplitude = amplitude
        self.seed = seed
        self._images: torch.Tensor | None = None
        self._labels: torch.Tensor | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _generate(self) -> None:
        gen = torch.Generator().manual_seed(int(self.seed))
        n, g = self.num_samples, self.grid
        labels = (torch.arange(n) % 2)[torch.randperm(n, generator=gen)]
        block_labels = labels.repeat_interleave(g * g)
        blocks = _make_blocks(n * g * g, block_labels, self.amplitude, gen)
        # n x g x g x 8 x 8 -> n x (g*8) x (g*8)
        images = blocks.view(n, g, g, 8, 8).permute(0, 1, 3, 2, 4).reshape(n, 8 * g, 8 * g)
        self._images = (images / 255.0).float().unsqueeze(1).expand(n, 3, 8 * g, 8 * g).contiguous()
        self._labels = labels

    @property
    def images(self) -> torch.Tensor:
        """All images, ``N x 3 x 8g x 8g`` float32 in [0, 1] (generated on first access)."""
        if self._images is None:
            self._generate()
        return self._images  # type: ignore[return-value]

    @property
    def labels(self) -> torch.Tensor:
        """All labels, ``N`` int64 (0 vertical, 1 horizontal)."""
        if self._labels is None:
            self._generate()
        return self._labels  # type: ignore[return-value]

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -self.num_samples <= index < self.num_samples:
            raise IndexError(f"FrequencyBlocks index {index} out of range for {self.num_samples} items")
        index = index % self.num_samples
        label = int(self.labels[index])
        return {"image": self.images[index], "label": label, "name": f"{self.classes[label]}/{index:06d}"}

    def __repr__(self) -> str:
        return (
            f"FrequencyBlocks(num_samples={self.num_samples}, grid={self.grid}, "
            f"amplitude={self.amplitude}, seed={self.seed})"
        )
