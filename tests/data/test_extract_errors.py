"""extract_archive on zips that are damaged or use features zipfile cannot read: DataError naming the archive."""

from __future__ import annotations

import random
import zipfile

import pytest

from jpegnn.data.download import extract_archive
from jpegnn.errors import DataError


@pytest.fixture
def good_zip(tmp_path):
    path = tmp_path / "a.zip"
    payload = random.Random(0).randbytes(200) * 50  # back-references a damaged stream breaks
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("x.bin", payload)
    return bytearray(path.read_bytes())


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def test_corrupt_deflate_stream(good_zip, tmp_path):
    start = good_zip.find(b"x.bin") + len(b"x.bin")
    for i in range(start + 20, start + 60):  # inside the compressed data (zlib.error escaped)
        good_zip[i] ^= 0xFF
    path = write(tmp_path, "corrupt.zip", good_zip)
    with pytest.raises(DataError, match="corrupt.zip"):
        extract_archive(path, tmp_path / "out")


def test_encrypted_member(good_zip, tmp_path):
    good_zip[6] |= 1  # general-purpose flag bit 0 (encrypted), local and central headers
    good_zip[good_zip.find(b"PK\x01\x02") + 8] |= 1
    path = write(tmp_path, "enc.zip", good_zip)
    with pytest.raises(DataError, match="enc.zip.*encrypted"):  # RuntimeError escaped
        extract_archive(path, tmp_path / "out")


def test_unsupported_compression_method(good_zip, tmp_path):
    good_zip[8] = 9  # Deflate64, which zipfile cannot decode (NotImplementedError escaped)
    good_zip[good_zip.find(b"PK\x01\x02") + 10] = 9
    path = write(tmp_path, "d64.zip", good_zip)
    with pytest.raises(DataError, match="d64.zip.*not supported"):
        extract_archive(path, tmp_path / "out")
