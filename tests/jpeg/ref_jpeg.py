"""A small pure-Python reader of baseline JPEG files, used as an independent reference in tests.

It parses the markers and Huffman-decodes the (single, interleaved) baseline scan back into the
quantized DCT coefficients libjpeg wrote, so the bit counter can be checked against libjpeg's
*own* coefficients without any extra dependency. Deliberately written without reusing
``jpegnn.jpeg`` code (its zigzag order and Annex K tables are typed again here).
Slow (pure Python bit reading); meant for small images.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

# natural index of zigzag position k (T.81 Figure A.6)
_ZZ = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]  # fmt: skip


@dataclass
class RefJPEG:
    qtables: dict = field(default_factory=dict)  # id -> list of 64 in natural order
    qprecision: dict = field(default_factory=dict)
    huff: dict = field(default_factory=dict)  # (class, id) -> (bits[16], vals)
    components: list = field(default_factory=list)  # (id, h, v, tq)
    height: int = 0
    width: int = 0
    sof: int = 0
    scan_tables: dict = field(default_factory=dict)  # comp id -> (td, ta)
    header_bytes: int = 0  # bytes before the entropy-coded data
    scan_bytes: int = 0  # entropy-coded bytes (incl. stuffing), excluding EOI
    total_bytes: int = 0
    segments: list = field(default_factory=list)  # (marker, length incl. marker)
    coefficients: list = field(default_factory=list)  # per component (rows, cols, 64) natural


def _parse(buf: bytes) -> tuple[RefJPEG, int]:
    info = RefJPEG(total_bytes=len(buf))
    assert buf[:2] == b"\xff\xd8"
    info.segments.append((0xD8, 2))
    pos = 2
    while True:
        assert buf[pos] == 0xFF, f"marker expected at {pos}"
        marker = buf[pos + 1]
        (length,) = struct.unpack(">H", buf[pos + 2 : pos + 4])
        seg = buf[pos + 4 : pos + 2 + length]
        info.segments.append((marker, length + 2))
        if marker == 0xDB:
            p = 0
            while p < len(seg):
                pq, tq = seg[p] >> 4, seg[p] & 15
                n = 2 if pq else 1
                vals = [int.from_bytes(seg[p + 1 + n * i : p + 1 + n * i + n], "big") for i in range(64)]
                nat = [0] * 64
                for k, v in enumerate(vals):
                    nat[_ZZ[k]] = v
                info.qtables[tq] = nat
                info.qprecision[tq] = pq
                p += 1 + 64 * n
        elif marker in (0xC0, 0xC1):
            info.sof = marker
            info.height, info.width = struct.unpack(">HH", seg[1:5])
            for i in range(seg[5]):
                cid, hv, tq = seg[6 + 3 * i : 9 + 3 * i]
                info.components.append((cid, hv >> 4, hv & 15, tq))
        elif marker == 0xC4:
            p = 0
            while p < len(seg):
                tc, th = seg[p] >> 4, seg[p] & 15
                bits = list(seg[p + 1 : p + 17])
                nv = sum(bits)
                info.huff[(tc, th)] = (bits, list(seg[p + 17 : p + 17 + nv]))
                p += 17 + nv
        elif marker == 0xDA:
            ns = seg[0]
            for i in range(ns):
                cid, t = seg[1 + 2 * i : 3 + 2 * i]
                info.scan_tables[cid] = (t >> 4, t & 15)
            start = pos + 2 + length
            info.header_bytes = start
            return info, start
        elif marker in (0xC2, 0xC3):
            raise ValueError("only baseline/extended sequential Huffman JPEG is supported")
        pos += 2 + length


def _codes(bits, vals):
    """Canonical Huffman codes (T.81 Annex C): {(length, code): symbol}."""
    table, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            table[(length, code)] = vals[k]
            k += 1
            code += 1
        code <<= 1
    return table


def code_lengths(bits, vals) -> dict:
    """{symbol: code length} of a DHT table."""
    return {s: n for (n, _), s in _codes(bits, vals).items()}


def read_jpeg(buf: bytes, decode_scan: bool = True) -> RefJPEG:
    """Parse ``buf``; with ``decode_scan`` also Huffman-decode all coefficients."""
    info, start = _parse(buf)
    end = len(buf) - 2
    assert buf[end:] == b"\xff\xd9", "file must end with EOI right after the scan"
    info.scan_bytes = end - start
    if not decode_scan:
        return info
    data = buf[start:end].replace(b"\xff\x00", b"\xff")
    bitstr = bin(int.from_bytes(b"\x01" + data, "big"))[3:]
    hmax = max(c[1] for c in info.components)
    vmax = max(c[2] for c in info.components)
    mcux = -(-info.width // (8 * hmax))
    mcuy = -(-info.height // (8 * vmax))
    comps = info.components
    if len(comps) == 1:  # non-interleaved: one block per MCU
        mcux, mcuy = -(-info.width // 8), -(-info.height // 8)
    coefs = [np.zeros((mcuy * (v if len(comps) > 1 else 1), mcux * (h if len(comps) > 1 else 1), 64), np.int64) for _, h, v, _ in comps]
    dc_tabs, ac_tabs = {}, {}
    for cid, _, _, _ in comps:
        td, ta = info.scan_tables[cid]
        dc_tabs[cid] = _codes(*info.huff[(0, td)])
        ac_tabs[cid] = _codes(*info.huff[(1, ta)])
    pos = 0

    def symbol(table):
        nonlocal pos
        code = 0
        for length in range(1, 17):
            code = (code << 1) | (bitstr[pos] == "1")
            pos += 1
            s = table.get((length, code))
            if s is not None:
                return s
        raise ValueError("bad Huffman code")

    def receive(size):
        nonlocal pos
        if size == 0:
            return 0
        v = int(bitstr[pos : pos + size], 2)
        pos += size
        return v if v >= (1 << (size - 1)) else v - (1 << size) + 1

    pred = [0] * len(comps)
    for my in range(mcuy):
        for mx in range(mcux):
            for ci, (cid, h, v, _) in enumerate(comps):
                hh, vv = (h, v) if len(comps) > 1 else (1, 1)
                for by in range(vv):
                    for bx in range(hh):
                        blk = coefs[ci][my * vv + by, mx * hh + bx]
                        s = symbol(dc_tabs[cid])
                        pred[ci] += receive(s)
                        blk[0] = pred[ci]
                        k = 1
                        while k < 64:
                            rs = symbol(ac_tabs[cid])
                            r, s = rs >> 4, rs & 15
                            if s == 0:
                                if r == 15:
                                    k += 16
                                    continue
                                break
                            k += r
                            blk[_ZZ[k]] = receive(s)
                            k += 1
    info.coefficients = coefs
    padding = bitstr[pos:]
    assert len(padding) < 8 and set(padding) <= {"1"}, "scan must end with < 8 one-bits of padding"
    return info
