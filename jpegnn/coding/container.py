"""The ``.jnn`` file: a small versioned container around a learned codec's rANS strings.

Layout (all integers big-endian)::

    magic        4 bytes   b"JNN\\x89"
    version      u8        FORMAT_VERSION
    arch_len     u8        length of the architecture name
    arch         bytes     UTF-8 architecture name (e.g. "bmshj2018-hyperprior")
    model_hash   8 bytes   first 8 bytes of the SHA-256 of the model's state dict
    height       u32       original image height (pixels)
    width        u32       original image width (pixels)
    pad_multiple u16       the image was padded to multiples of this
    placement    u8        where the padding went: 0 bottom/right, 1 centred (version 2 on;
                           version 1 files, which lack the byte, were padded bottom/right)
    shape_len    u16       length of the latent-shape JSON
    shape        bytes     compact JSON of compress()'s "shape" (nested lists/dicts of ints)
    strings      tree      the nested list of byte strings (see below)
    crc32        u32       CRC-32 of everything before it

``strings`` is written as a tree: a tag byte 0 for a leaf (u32 length + bytes) or 1 for a list
(u16 count + children), at most :data:`MAX_DEPTH` deep. Every length is checked against the bytes
left in the file before anything is allocated, so truncated, corrupted or random input raises
:class:`~jpegnn.errors.BitstreamError` and never allocates more than the file's size.
The header costs ``31 + len(arch) + len(shape JSON) + 3 per list + 5 per string`` bytes
(magic 4, version 1, arch_len 1, hash 8, sizes 12, placement 1 and CRC 4 make the fixed 31).
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import torch

from jpegnn.errors import BitstreamError

MAGIC = b"JNN\x89"
FORMAT_VERSION = 2
#: versions this reader accepts (1: no placement byte, padding bottom/right)
READABLE_VERSIONS = (1, 2)
#: placement byte <-> :mod:`jpegnn.coding.protocol` placement names
PLACEMENTS = ("bottom-right", "centre")
MAX_DEPTH = 4
MAX_SIDE = 1 << 16  # pixels; bigger images are refused before decoding allocates anything
MAX_SHAPE_JSON = 4096


@dataclass
class Container:
    """Decoded header and payload of a ``.jnn`` file."""

    architecture: str
    model_hash: bytes
    height: int
    width: int
    pad_multiple: int
    shape: Any
    strings: list[Any]
    placement: str = "centre"


def model_hash(model: torch.nn.Module) -> bytes:
    """8-byte identity of a model: SHA-256 over its state dict (names, dtypes, shapes, values)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.digest()[:8]


def _shape_to_json(shape: Any) -> Any:
    if isinstance(shape, dict):
        return {str(k): _shape_to_json(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple, torch.Size)):
        return [_shape_to_json(v) for v in shape]
    return int(shape)


def _shape_from_json(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _shape_from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        if all(isinstance(v, int) for v in obj):
            if any(v < 0 or v > MAX_SIDE for v in obj):
                raise BitstreamError("latent shape out of range")
            return torch.Size(obj)
        return [_shape_from_json(v) for v in obj]
    if isinstance(obj, int) and not isinstance(obj, bool):
        return obj
    raise BitstreamError("latent shape is not a nested list of integers")


def _write_tree(node: Any, out: bytearray, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("string tree too deep")
    if isinstance(node, (bytes, bytearray)):
        out += b"\x00" + struct.pack(">I", len(node)) + bytes(node)
    else:
        out += b"\x01" + struct.pack(">H", len(node))
        for child in node:
            _write_tree(child, out, depth + 1)


def pack(c: Container) -> bytes:
    """Serialize a :class:`Container` to bytes."""
    arch = c.architecture.encode("utf-8")
    shape = json.dumps(_shape_to_json(c.shape), separators=(",", ":")).encode()
    if len(arch) > 255 or len(shape) > MAX_SHAPE_JSON or len(c.model_hash) != 8:
        raise ValueError("architecture name, shape or hash does not fit the header")
    if not (0 < c.height <= MAX_SIDE and 0 < c.width <= MAX_SIDE) or not 0 < c.pad_multiple < 1 << 16:
        raise ValueError(f"image size {c.width}x{c.height} or padding {c.pad_multiple} does not fit the header")
    out = bytearray(MAGIC)
    out += struct.pack(">BB", FORMAT_VERSION, len(arch)) + arch + c.model_hash
    if c.placement not in PLACEMENTS:
        raise ValueError(f"padding placement {c.placement!r} is not one of {PLACEMENTS}")
    out += struct.pack(">IIHBH", c.height, c.width, c.pad_multiple, PLACEMENTS.index(c.placement), len(shape)) + shape
    _write_tree(c.strings, out)
    out += struct.pack(">I", zlib.crc32(out) & 0xFFFFFFFF)
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise BitstreamError(f"file is truncated (needs {n} more bytes at offset {self.pos})")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))


def _read_tree(r: _Reader, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise BitstreamError("string tree nested too deep")
    (tag,) = r.unpack(">B")
    if tag == 0:
        (n,) = r.unpack(">I")
        return r.take(n)
    if tag == 1:
        (count,) = r.unpack(">H")
        if count > len(r.data) - r.pos:  # each child needs at least one byte
            raise BitstreamError("string list longer than the file")
        return [_read_tree(r, depth + 1) for _ in range(count)]
    raise BitstreamError(f"unknown string-tree tag {tag}")


def unpack(data: bytes) -> Container:
    """Parse and validate a ``.jnn`` file; any defect raises :class:`BitstreamError`."""
    if len(data) < len(MAGIC) + 4 or data[: len(MAGIC)] != MAGIC:
        raise BitstreamError("not a jpegnn .jnn file (bad magic bytes)")
    body, (crc,) = data[:-4], struct.unpack(">I", data[-4:])
    if zlib.crc32(body) & 0xFFFFFFFF != crc:
        raise BitstreamError("file is corrupted or truncated (CRC-32 mismatch)")
    r = _Reader(body)
    r.take(len(MAGIC))
    version, arch_len = r.unpack(">BB")
    if version not in READABLE_VERSIONS:
        raise BitstreamError(
            f"unsupported format version {version} (this jpegnn reads {', '.join(map(str, READABLE_VERSIONS))})"
        )
    try:
        arch = r.take(arch_len).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BitstreamError("architecture name is not UTF-8") from exc
    mhash = r.take(8)
    if version == 1:
        height, width, pad_multiple, shape_len = r.unpack(">IIHH")
        placement_code = 0
    else:
        height, width, pad_multiple, placement_code, shape_len = r.unpack(">IIHBH")
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE) or pad_multiple == 0:
        raise BitstreamError(f"implausible image size {width}x{height} or padding {pad_multiple}")
    if placement_code >= len(PLACEMENTS):
        raise BitstreamError(f"unknown padding placement code {placement_code}")
    if shape_len > MAX_SHAPE_JSON:
        raise BitstreamError("latent shape header too long")
    try:
        shape = _shape_from_json(json.loads(r.take(shape_len)))
    except (ValueError, RecursionError) as exc:
        raise BitstreamError("latent shape header is not valid JSON") from exc
    strings = _read_tree(r)
    if r.pos != len(body):
        raise BitstreamError(f"{len(body) - r.pos} unexpected bytes after the payload")
    if not isinstance(strings, list):
        raise BitstreamError("payload is not a list of strings")
    return Container(arch, mhash, height, width, pad_multiple, shape, strings, PLACEMENTS[placement_code])
