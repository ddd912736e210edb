"""The .jnn container: round trip, and clean errors on any damaged input (property-based)."""

from __future__ import annotations

import dataclasses
import struct
import zlib

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jpegnn.coding.container import Container, pack, unpack
from jpegnn.errors import BitstreamError

SAMPLE = Container(
    architecture="checkerboard",
    model_hash=bytes(range(8)),
    height=37,
    width=53,
    pad_multiple=64,
    shape={"y": torch.Size([12, 4, 4]), "hyper": torch.Size([1, 1])},
    strings=[[b"\x01\x02\xff"], [b""], [b"abc" * 10]],
)


def test_round_trip():
    c = unpack(pack(SAMPLE))
    assert c == SAMPLE
    assert isinstance(c.shape["y"], torch.Size)


@pytest.mark.parametrize("placement", ["centre", "bottom-right"])
def test_padding_placement_round_trips(placement):
    c = dataclasses.replace(SAMPLE, placement=placement)
    assert unpack(pack(c)).placement == placement


def test_version_1_files_read_as_bottom_right_padding():
    """Files written before the placement byte (version 1) were padded bottom/right."""
    v2 = pack(SAMPLE)
    body = bytearray(v2[:-4])
    body[4] = 1  # version
    at = 4 + 2 + len(SAMPLE.architecture) + 8 + 10  # magic, version+arch_len, arch, hash, >IIH
    del body[at]  # the placement byte
    v1 = bytes(body) + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    c = unpack(v1)
    assert c.placement == "bottom-right"
    assert dataclasses.replace(c, placement=SAMPLE.placement) == SAMPLE


def test_unknown_placement_code_is_a_clean_error():
    body = bytearray(pack(SAMPLE)[:-4])
    body[4 + 2 + len(SAMPLE.architecture) + 8 + 10] = 7
    with pytest.raises(BitstreamError, match="placement"):
        unpack(bytes(body) + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_give_one_clean_error(data):
    with pytest.raises(BitstreamError):
        unpack(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_truncated_or_flipped_files_are_rejected(data):
    blob = bytearray(pack(SAMPLE))
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(blob) - 1))
        damaged = bytes(blob[:cut])
    else:
        pos = data.draw(st.integers(0, len(blob) - 1))
        bit = data.draw(st.integers(0, 7))
        blob[pos] ^= 1 << bit
        damaged = bytes(blob)
    with pytest.raises(BitstreamError):
        unpack(damaged)


def test_huge_declared_lengths_do_not_allocate():
    # a valid CRC around an absurd string length must fail on the length check, not allocate
    import struct
    import zlib

    good = pack(SAMPLE)
    body = bytearray(good[:-4])
    tree_start = body.index(b"\x01\x00\x03")  # top-level list of 3
    # list(3) -> list(1) -> leaf: tag at +6, u32 length at +7..+11
    assert body[tree_start + 6] == 0
    body[tree_start + 7 : tree_start + 11] = struct.pack(">I", 2**31)
    bad = bytes(body) + struct.pack(">I", zlib.crc32(bytes(body)) & 0xFFFFFFFF)
    with pytest.raises(BitstreamError, match="truncated"):
        unpack(bad)


def test_header_size_is_as_documented():
    import json

    import jpegnn.coding.container as container

    def count(node):  # (lists, strings, payload bytes)
        if isinstance(node, bytes):
            return 0, 1, len(node)
        parts = [count(n) for n in node]
        return 1 + sum(p[0] for p in parts), sum(p[1] for p in parts), sum(p[2] for p in parts)

    lists, strings, payload = count(SAMPLE.strings)
    shape_json = json.dumps(container._shape_to_json(SAMPLE.shape), separators=(",", ":"))
    header = 31 + len(SAMPLE.architecture) + len(shape_json) + 3 * lists + 5 * strings
    assert len(pack(SAMPLE)) - payload == header
    assert "``31 + len(arch) + len(shape JSON) + 3 per list + 5 per string``" in container.__doc__  # said 27


def test_pack_refuses_what_unpack_would_reject():
    import dataclasses

    with pytest.raises(ValueError, match="image size"):  # was written, then refused by unpack
        pack(dataclasses.replace(SAMPLE, width=(1 << 16) + 1))
