"""Exact size in bytes of the baseline JPEG file libjpeg (Pillow) writes for given coefficients.

``bytes = header + entropy-coded segment + EOI``, where the entropy-coded segment is counted the
way libjpeg's ``jchuff.c`` emits it, vectorized with torch (no per-block Python loop):

* interleaved MCUs in raster order; inside an MCU the Y blocks in raster order, then Cb, then Cr.
  The last MCU row/column is completed with libjpeg's *dummy blocks* (``jccoefct.c``): all AC zero,
  DC copied from the previous block of that component in the MCU;
* zigzag order, DC DPCM with one predictor per component (reset only at the scan start);
* AC (run, size) symbols, ZRL (0xF0) per 16 zeros, EOB (0x00) unless coefficient 63 is nonzero;
  magnitude bits in ones' complement for negatives;
* Huffman codes from the Annex K tables, or with ``optimize=True`` from libjpeg's optimal tables
  (:func:`jpegnn.jpeg.huffman.optimal_table`) built from the image's own symbol counts;
* every 0xFF byte of the bit stream is followed by a stuffed 0x00 (counted on the actual bit
  stream), and the last byte is padded with 1-bits (which may itself make a 0xFF).

Header (Pillow / libjpeg defaults, no EXIF/ICC): SOI 2 + APP0/JFIF 18 + one DQT segment per table
(69 bytes with 8-bit entries, 133 with 16-bit) + SOF 19 + one DHT segment per Huffman table
(21 + number of symbols: 33/183/33/183 for the standard tables) + SOS 14, and EOI 2:
625 bytes with two 8-bit tables and standard Huffman tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from jpegnn.errors import ConfigError, DataError
from jpegnn.jpeg.codec import JPEGCoefficients, encode
from jpegnn.jpeg.huffman import (
    STD_AC_CHROMA,
    STD_AC_LUMA,
    STD_DC_CHROMA,
    STD_DC_LUMA,
    code_table,
    optimal_table,
)
from jpegnn.jpeg.rounding import round_half_away
from jpegnn.jpeg.sampling import SUBSAMPLING, check_subsampling
from jpegnn.jpeg.tables import ZIGZAG, as_table_stack, quality_tables

SOI, APP0_JFIF, SOF, SOS, EOI = 2, 18, 19, 14, 2
ZRL, EOB = 0xF0, 0x00


@dataclass
class SizeBreakdown:
    """Byte counts of one file."""

    total: int
    header: int  # everything before the entropy-coded data, plus EOI
    scan: int  # entropy-coded bytes including stuffing and padding
    scan_bits: int  # Huffman + magnitude bits before padding
    stuffed: int  # number of stuffed 0x00 bytes (= 0xFF bytes in the data)
    huffman_tables: tuple  # (dc_luma, ac_luma, dc_chroma, ac_chroma) HuffmanTable used


def dqt_bytes(tables) -> int:
    """Bytes of the DQT segments for ``tables`` (one segment per table, like libjpeg)."""
    t = as_table_stack(tables)
    return sum(5 + (128 if int(tb.max()) > 255 else 64) for tb in t)


def header_bytes(tables, huffman_tables) -> int:
    """Header + EOI bytes for the given quantization tables and the 4 Huffman tables."""
    return SOI + APP0_JFIF + dqt_bytes(tables) + SOF + sum(h.dht_bytes for h in huffman_tables) + SOS + EOI


def _bit_length(v: torch.Tensor) -> torch.Tensor:
    """JPEG magnitude category (bits of |v|; 0 for 0), exact for int64 ``v``."""
    return torch.frexp(v.abs().to(torch.float64))[1].to(torch.int64)


def _magnitude_bits(v: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """The ``size`` extra bits libjpeg emits for ``v``: v if v > 0 else ones' complement."""
    return torch.where(v < 0, v + (1 << size) - 1, v)


def _to_zigzag_blocks(c: torch.Tensor) -> torch.Tensor:
    """(nby, nbx, 8, 8) or (nby, nbx, 64) natural order -> (nby, nbx, 64) zigzag, int64."""
    if c.shape[-2:] == (8, 8):
        c = c.reshape(*c.shape[:-2], 64)
    if c.dim() != 3 or c.shape[-1] != 64:
        raise ConfigError(f"coefficients: expected (rows, cols, 8, 8) blocks, got {tuple(c.shape)}")
    c = c.detach()
    if c.is_floating_point():
        c = torch.round(c)
    c = c.to(torch.int64)
    idx = torch.tensor(ZIGZAG, device=c.device)
    return c[..., idx]


def _add_dummy_blocks(y: torch.Tensor, mcuy: int, mcux: int, fh: int, fv: int) -> torch.Tensor:
    """Complete the Y block grid to whole MCUs with libjpeg's dummy blocks (jccoefct.c)."""
    nby, nbx, _ = y.shape
    rows, cols = mcuy * fv, mcux * fh
    if (nby, nbx) == (rows, cols):
        return y
    out = torch.zeros(rows, cols, 64, dtype=y.dtype, device=y.device)
    out[:nby, :nbx] = y
    # right edge: DC of the previous block in the same MCU row (blkp[bi-1]); left to right
    for cx in range(nbx, cols):
        out[:nby, cx, 0] = out[:nby, cx - 1, 0]
    # bottom edge: every dummy block in the MCU gets the DC of the MCU's previous block, i.e. the
    # last block (rightmost column of this MCU) of the row above
    for ry in range(nby, rows):
        last = out[ry - 1, fh - 1 :: fh, 0]  # (mcux,)
        out[ry, :, 0] = last.repeat_interleave(fh)
    return out


def _scan_order(comps, subsampling: str):
    """Stack the blocks in scan order: returns (blocks (N, 64) zigzag int64, component id (N,))."""
    fh, fv = SUBSAMPLING[subsampling]
    y, cb, cr = comps
    if cb.shape != cr.shape:
        raise ConfigError(f"coefficients: Cb {tuple(cb.shape)} and Cr {tuple(cr.shape)} differ")
    mcuy, mcux = cb.shape[:2]
    if not (fv * (mcuy - 1) < y.shape[0] <= fv * mcuy and fh * (mcux - 1) < y.shape[1] <= fh * mcux):
        raise ConfigError(
            f"coefficients: Y grid {tuple(y.shape[:2])} does not fit chroma grid "
            f"{tuple(cb.shape[:2])} for subsampling {subsampling}"
        )
    y = _add_dummy_blocks(y, mcuy, mcux, fh, fv)
    ny = fh * fv
    yb = y.reshape(mcuy, fv, mcux, fh, 64).permute(0, 2, 1, 3, 4).reshape(mcuy * mcux, ny, 64)
    blocks = torch.cat([yb, cb.reshape(-1, 1, 64), cr.reshape(-1, 1, 64)], dim=1).reshape(-1, 64)
    comp = torch.tensor([0] * ny + [1, 2], device=y.device).repeat(mcuy * mcux)
    return blocks, comp


def _symbols(blocks: torch.Tensor, comp: torch.Tensor):
    """DC/AC symbols and magnitude bits of the scan (all vectorized)."""
    dc = blocks[:, 0]
    diff = torch.empty_like(dc)
    for c in range(3):
        sel = (comp == c).nonzero().squeeze(1)
        d = dc[sel]
        diff[sel] = d - torch.cat([d.new_zeros(1), d[:-1]])
    dc_size = _bit_length(diff)
    ac = blocks[:, 1:]
    nz = ac != 0
    pos = torch.arange(1, 64, device=blocks.device).expand_as(ac)
    last = torch.where(nz, pos, torch.zeros_like(pos)).cummax(dim=1).values
    prev = torch.cat([last.new_zeros(last.shape[0], 1), last[:, :-1]], dim=1)
    run = pos - prev - 1
    ac_size = _bit_length(ac)
    sym = ((run % 16) << 4) | ac_size
    nzrl = torch.where(nz, run // 16, torch.zeros_like(run))
    eob = last[:, -1] < 63
    return diff, dc_size, ac, ac_size, nz, sym, nzrl, eob


def _tables_for(table_of_comp, dc_size, sym, nz, nzrl, eob, optimize: bool):
    """The 4 Huffman tables (dc0, ac0, dc1, ac1), standard or optimized from the counts."""
    if not optimize:
        return (STD_DC_LUMA, STD_AC_LUMA, STD_DC_CHROMA, STD_AC_CHROMA)
    out = []
    for t in (0, 1):
        sel = table_of_comp == t
        dcf = torch.bincount(dc_size[sel], minlength=256)
        acf = torch.bincount(sym[sel][nz[sel]], minlength=256)
        acf[ZRL] += int(nzrl[sel].sum())
        acf[EOB] += int(eob[sel].sum())
        out += [optimal_table(dcf.cpu()), optimal_table(acf.cpu())]
    return (out[0], out[1], out[2], out[3])


def _count_ff(values: torch.Tensor, lengths: torch.Tensor) -> tuple[int, int]:
    """(number of bytes after padding, number of 0xFF bytes) of the concatenated bit strings."""
    total = int(lengths.sum())
    nbytes = (total + 7) // 8
    if total == 0:
        return 0, 0
    ends = torch.cumsum(lengths, 0)
    tok = torch.repeat_interleave(torch.arange(lengths.numel(), device=lengths.device), lengths)
    shift = ends[tok] - 1 - torch.arange(total, device=lengths.device)
    bits = ((values[tok] >> shift) & 1).to(torch.uint8)
    pad = nbytes * 8 - total
    if pad:
        bits = torch.cat([bits, bits.new_ones(pad)])
    nff = int((bits.reshape(nbytes, 8).sum(1) == 8).sum())
    return nbytes, nff


def _count_one(comps, subsampling: str, qtables, optimize: bool) -> SizeBreakdown:
    blocks, comp = _scan_order(comps, subsampling)
    diff, dc_size, ac, ac_size, nz, sym, nzrl, eob = _symbols(blocks, comp)
    if int(dc_size.max()) > 11 or int(ac_size.max()) > 10:
        raise DataError(
            "coefficients: magnitude out of range for 8-bit baseline JPEG "
            f"(DC difference category {int(dc_size.max())} > 11 or AC category {int(ac_size.max())} > 10)"
        )
    tab = (comp > 0).to(torch.int64)  # Huffman table 0 for Y, 1 for Cb and Cr
    huff = _tables_for(tab, dc_size, sym, nz, nzrl, eob, optimize)
    dev = blocks.device
    dcl, dcc = zip(*(code_table(h, dev) for h in (huff[0], huff[2])))
    acl, acc = zip(*(code_table(h, dev) for h in (huff[1], huff[3])))
    dcl, dcc, acl, acc = (torch.stack(t) for t in (dcl, dcc, acl, acc))  # (2, 256)
    n = blocks.shape[0]
    vals = torch.zeros(n, 128, dtype=torch.int64, device=dev)
    lens = torch.zeros(n, 128, dtype=torch.int64, device=dev)
    # DC token
    l_dc = dcl[tab, dc_size]
    vals[:, 0] = (dcc[tab, dc_size] << dc_size) | _magnitude_bits(diff, dc_size)
    lens[:, 0] = l_dc + dc_size
    # AC tokens: ZRL run (slots 1, 3, ...) then (run, size) symbol with magnitude (slots 2, 4, ...)
    tab2 = tab[:, None].expand_as(sym)
    l_sym = acl[tab2, sym]
    l_zrl = acl[tab, ZRL][:, None].expand_as(sym)
    c_zrl = acc[tab, ZRL][:, None].expand_as(sym)
    missing = nz & (l_sym == 0) | (nzrl > 0) & (l_zrl == 0) | (l_dc == 0)[:, None]
    if bool(missing.any()):
        raise DataError("coefficients: a symbol has no code in the Huffman table")
    zl = nzrl * l_zrl
    rep = ((1 << zl) - 1) // ((1 << l_zrl).clamp_min(2) - 1)
    vals[:, 1:127:2] = torch.where(nz, c_zrl * rep, 0)
    lens[:, 1:127:2] = torch.where(nz, zl, 0)
    vals[:, 2:128:2] = torch.where(nz, (acc[tab2, sym] << ac_size) | _magnitude_bits(ac, ac_size), 0)
    lens[:, 2:128:2] = torch.where(nz, l_sym + ac_size, 0)
    # EOB
    lens[:, 127] = torch.where(eob, acl[tab, EOB], 0)
    vals[:, 127] = torch.where(eob, acc[tab, EOB], 0)
    lens = lens.reshape(-1)
    keep = lens > 0
    lens_k = lens[keep]
    vals_k = vals.reshape(-1)[keep]
    nbytes, nff = _count_ff(vals_k, lens_k)
    header = header_bytes(qtables, huff)
    scan = nbytes + nff
    return SizeBreakdown(header + scan, header, scan, int(lens_k.sum()), nff, huff)


def _normalise_coefficients(coefficients, subsampling):
    """-> (list of B triples of (nby, nbx, 64) zigzag tensors, subsampling, default tables)."""
    if isinstance(coefficients, JPEGCoefficients):
        comps = coefficients.components
        subsampling = coefficients.geometry.subsampling
        tables = coefficients.file_tables()
    else:
        comps = list(coefficients)
        if len(comps) != 3:
            raise ConfigError(f"coefficients: expected 3 components (Y, Cb, Cr), got {len(comps)}")
        comps = [torch.as_tensor(c) for c in comps]
        tables = None
    subsampling = check_subsampling(subsampling)
    batched = comps[0].dim() == 5 or (comps[0].dim() == 4 and comps[0].shape[-1] == 64)
    if not batched:
        comps = [c[None] for c in comps]
    per_image = [[_to_zigzag_blocks(c[b]) for c in comps] for b in range(comps[0].shape[0])]
    return per_image, subsampling, tables


def jpeg_size_breakdown(coefficients, tables=None, subsampling="4:2:0", optimize=False) -> list:
    """Like :func:`jpeg_size_from_coefficients`, returning a :class:`SizeBreakdown` per image."""
    per_image, subsampling, default_tables = _normalise_coefficients(coefficients, subsampling)
    if tables is None:
        if default_tables is None:
            raise ConfigError("tables: required when coefficients are given as plain tensors")
        tables = default_tables
    tables = as_table_stack(tables)
    return [_count_one(c, subsampling, tables, optimize) for c in per_image]


def jpeg_size_from_coefficients(coefficients, tables=None, subsampling="4:2:0", optimize=False) -> torch.Tensor:
    """Exact byte size of the baseline JPEG files holding quantized ``coefficients``.

    Args:
        coefficients: a :class:`~jpegnn.jpeg.codec.JPEGCoefficients` (``DiffJPEG.encode``), or
            3 tensors (Y, Cb, Cr) of integer coefficients, each ``(B, rows, cols, 8, 8)`` or
            ``(rows, cols, 8, 8)`` (``[..., u, v]`` = [vertical, horizontal] frequency) holding
            the component's blocks. Y may already include the MCU padding blocks (as a decoder
            returns them); if not, libjpeg's dummy blocks are added.
        tables: the 2 or 3 quantization tables written to the file (only their count and whether
            an entry exceeds 255 matter for the size); default: those in ``coefficients``.
        subsampling: ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"`` (ignored for JPEGCoefficients).
        optimize: Huffman tables optimized like Pillow's ``optimize=True``; else Annex K tables.

    Returns:
        int64 tensor ``(B,)`` of whole-file sizes in bytes.
    """
    sizes = [b.total for b in jpeg_size_breakdown(coefficients, tables, subsampling, optimize)]
    return torch.tensor(sizes, dtype=torch.int64)


def jpeg_size(
    x: torch.Tensor, quality=None, tables=None, subsampling="4:2:0", optimize=False, dct="islow"
) -> torch.Tensor:
    """Byte size of the baseline JPEG file of each image of ``x`` (B, 3, H, W) in [0, 1].

    Encodes with :func:`jpegnn.jpeg.codec.encode` (hard rounding, libjpeg-faithful colour
    conversion/subsampling, ``dct``: libjpeg's integer ``"islow"`` DCT by default) and counts exactly with
    :func:`jpeg_size_from_coefficients`. Give ``quality`` (IJG 1..100, Annex K tables scaled like
    Pillow's ``quality=``) or ``tables`` (2 or 3 row-major tables as Pillow's ``qtables=`` without
    ``quality=``; rounded, clamped to [1, 32767]), not both; default quality 75 (Pillow's default).
    With ``dct="islow"`` this equals Pillow's file size byte for byte (tested); ``dct="float"`` is
    within about 0.1 % on Kodak (the float DCT flips a few coefficients).
    """
    if quality is not None and tables is not None:
        raise ConfigError("give quality or tables, not both (Pillow would rescale the tables)")
    if tables is None:
        tables = torch.stack(quality_tables(75 if quality is None else quality))
    t = round_half_away(as_table_stack(tables)).clamp(1, 32767)
    steps = t.reshape(-1, 64)
    steps = steps if steps.shape[0] == 3 else steps[[0, 1, 1]]
    with torch.no_grad():
        coefs = encode(x, steps.to(device=x.device, dtype=x.dtype), subsampling, "ste", False, dct=dct)
    return jpeg_size_from_coefficients(coefs, t, optimize=optimize)
