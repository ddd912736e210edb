"""Differentiable rate terms for training JPEG quantization tables.

All take the output of :meth:`jpegnn.jpeg.DiffJPEG.encode` (a
:class:`~jpegnn.jpeg.codec.JPEGCoefficients`) and return one value per image, differentiable with
respect to the image and the tables through the *unrounded* coefficients ``y = F / Q``.

* :func:`sum_abs_over_q` - the origin notebook's proxy ``sum |F| / Q`` (dimensionless).
* :func:`inverse_l1_table` - the notebook's ``1 / ||Q||_1`` regulariser (per table set).
* :func:`estimate_bits` / :func:`estimate_bytes` / :func:`estimate_bpp` - a smooth model of the
  baseline JPEG bit count with the standard (Annex K) Huffman tables. It has no learned
  parameters: for each AC coefficient (zigzag order) a soft "nonzero" weight
  ``p = sigmoid(temperature * (|y| - 0.5))``, a soft magnitude category ``s = log2(1 + |y|)`` and a
  soft zero-run length ``r_k = (1 - p_{k-1}) (1 + r_{k-1})`` pick the Huffman code length
  ``L(r, s)`` by bilinear interpolation in the Annex K (run, size) table; a coefficient costs
  ``p * (L(r, s) + s)`` bits, each block an EOB ``(1 - p_63) * L_EOB``, and each DC difference
  (raster order) ``L_DC(s) + s``. On Kodak (12 images, 4:2:0 and 4:4:4, q 10-95) it tracks the
  exact count of :func:`jpegnn.jpeg.jpeg_size` with Pearson r = 0.9998 and a mean absolute error of
  3 % (it slightly underestimates: ``log2(1 + |q|)`` is below the true category); see
  ``benchmarks/jpeg_fidelity_kodak.py``. It does not model ``optimize=True`` tables.
"""

from __future__ import annotations

import functools

import torch

from jpegnn.errors import ConfigError
from jpegnn.jpeg.bitcount import dqt_bytes
from jpegnn.jpeg.codec import JPEGCoefficients
from jpegnn.jpeg.huffman import STD_AC_CHROMA, STD_AC_LUMA, STD_DC_CHROMA, STD_DC_LUMA, code_table
from jpegnn.jpeg.tables import ZIGZAG

STD_HEADER_WITHOUT_DQT = 625 - 2 * 69  # SOI, APP0, SOF, 4 standard DHT, SOS, EOI


def _check(coefs) -> JPEGCoefficients:
    if not isinstance(coefs, JPEGCoefficients):
        raise ConfigError(
            f"coefs: expected the JPEGCoefficients returned by DiffJPEG.encode, got {type(coefs).__name__}"
        )
    return coefs


def sum_abs_over_q(coefs: JPEGCoefficients) -> torch.Tensor:
    """``sum |F| / Q`` over all coefficients of each image (the notebook's rate proxy), ``(B,)``."""
    coefs = _check(coefs)
    return sum(u.abs().flatten(1).sum(1) for u in coefs.unrounded)


def inverse_l1_table(tables) -> torch.Tensor:
    """The notebook's ``1 / ||Q||_1`` regulariser: 1 over the sum of all table entries
    (``tables``: ``(n, 8, 8)`` tensor, e.g. ``DiffJPEG.current_tables()``; keeps gradients)."""
    if isinstance(tables, torch.Tensor):
        return 1.0 / tables.abs().sum()
    return 1.0 / torch.stack([torch.as_tensor(t, dtype=torch.float32).abs().sum() for t in tables]).sum()


@functools.lru_cache(maxsize=8)
def _huffman_lengths(device: str, dtype):
    """Code lengths: AC (2, 16 runs, 10 sizes), EOB (2,), DC (2, 12) for luma/chroma."""
    ac, eob, dc = [], [], []
    for act, dct in ((STD_AC_LUMA, STD_DC_LUMA), (STD_AC_CHROMA, STD_DC_CHROMA)):
        la, _ = code_table(act)
        ac.append(torch.stack([la[r * 16 + 1 : r * 16 + 11] for r in range(16)]))
        eob.append(la[0])
        dc.append(code_table(dct)[0][:12])
    cast = dict(device=device, dtype=dtype)
    return torch.stack(ac).to(**cast), torch.stack(eob).to(**cast), torch.stack(dc).to(**cast)


def _interp1(table: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    n = table.numel()
    s = s.clamp(0, n - 1)
    i0 = s.detach().floor().long().clamp(max=n - 2)
    f = s - i0
    return table[i0] * (1 - f) + table[i0 + 1] * f


def _interp2(table: torch.Tensor, r: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup in a (16 runs, 10 sizes) table at continuous run r in [0, 15] and
    size s in [1, 10]."""
    r = r.clamp(0, 15)
    s = (s - 1).clamp(0, 9)
    r0 = r.detach().floor().long().clamp(max=14)
    s0 = s.detach().floor().long().clamp(max=8)
    fr, fs = r - r0, s - s0
    flat = table.reshape(-1)
    i = r0 * 10 + s0
    return (
        flat[i] * (1 - fr) * (1 - fs)
        + flat[i + 10] * fr * (1 - fs)
        + flat[i + 1] * (1 - fr) * fs
        + flat[i + 11] * fr * fs
    )


def _component_bits(y: torch.Tensor, table_id: int, temperature: float) -> torch.Tensor:
    """Estimated bits of one component's blocks ``y (B, N, 64)`` (zigzag order) -> ``(B,)``."""
    ac_len, eob_len, dc_len = _huffman_lengths(str(y.device), y.dtype)
    a = y[..., 1:].abs()
    p = torch.sigmoid(temperature * (a - 0.5))
    s = torch.log2(1 + a)
    runs = []
    r = torch.zeros_like(a[..., 0])
    for k in range(63):
        runs.append(r)
        r = (1 - p[..., k]) * (1 + r)
    run = torch.stack(runs, -1)
    ac = (p * (_interp2(ac_len[table_id], run, s.clamp(min=1.0)) + s)).sum(-1)
    ac = ac + (1 - p[..., -1]) * eob_len[table_id]
    dc = y[..., 0]
    d = dc - torch.cat([torch.zeros_like(dc[..., :1]), dc[..., :-1]], -1)
    sd = torch.log2(1 + d.abs())
    dcb = _interp1(dc_len[table_id], sd) + sd
    return (ac + dcb).sum(-1)


def estimate_bits(coefs: JPEGCoefficients, temperature: float = 16.0) -> torch.Tensor:
    """Smooth estimate of the entropy-coded bits of each image (standard Huffman tables), ``(B,)``.

    ``temperature``: sharpness of the soft nonzero weight (16 tracks the exact count best; larger
    is closer to a hard count with a narrower gradient)."""
    coefs = _check(coefs)
    zz = torch.tensor(ZIGZAG, device=coefs.unrounded[0].device)
    total = 0
    comp = 0
    for u in coefs.unrounded:
        B, C = u.shape[:2]
        for c in range(C):
            y = u[:, c].reshape(B, -1, 64)[..., zz]
            total = total + _component_bits(y, 0 if comp == 0 else 1, temperature)
            comp += 1
    return total


def estimate_bytes(coefs: JPEGCoefficients, temperature: float = 16.0) -> torch.Tensor:
    """:func:`estimate_bits` / 8 plus the file header (625 bytes with two 8-bit tables, 69 more
    per further table: ``coefs.num_tables``), ``(B,)``."""
    coefs = _check(coefs)
    header = STD_HEADER_WITHOUT_DQT + dqt_bytes(coefs.file_tables())
    return estimate_bits(coefs, temperature) / 8.0 + header


def estimate_bpp(coefs: JPEGCoefficients, temperature: float = 16.0) -> torch.Tensor:
    """Estimated bits per pixel of the whole file, ``8 * bytes / (H * W)``, ``(B,)``."""
    geo = _check(coefs).geometry
    return estimate_bytes(coefs, temperature) * 8.0 / (geo.height * geo.width)
