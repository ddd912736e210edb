"""Exporting learned tables: Pillow round trip, cjpeg text format, origin table dumps."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from PIL import Image

from jpegnn.errors import DataError
from jpegnn.jpeg import DiffJPEG, jpeg_size
from jpegnn.jpeg.export import (
    export_pillow_qtables,
    pillow_roundtrip,
    read_cjpeg_qtables,
    read_origin_qtables,
    read_pillow_qtables,
    write_cjpeg_qtables,
)
from tests.jpeg.util import to_tensor

ORIGIN_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference" / "jpegnn-qtables"


def _learned(n_tables: int) -> DiffJPEG:
    m = DiffJPEG(60, learnable=True, separate_chroma=n_tables == 3)
    with torch.no_grad():
        m.raw_tables.add_(torch.randn(m.raw_tables.shape, generator=torch.Generator().manual_seed(0)) * 2)
        m.raw_tables[0, 7, 7] = 400.0  # would exceed baseline: must be clamped to 255
    return m


@pytest.mark.parametrize("n_tables", [2, 3])
def test_learned_tables_round_trip_through_pillow(images, n_tables):
    m = _learned(n_tables).eval()
    tables = export_pillow_qtables(m)
    assert len(tables) == n_tables and all(len(t) == 64 for t in tables)
    assert max(max(t) for t in tables) == 255 and min(min(t) for t in tables) >= 1
    x = to_tensor(images["astronaut"])
    decoded, blobs = pillow_roundtrip(x, tables=m, subsampling="4:2:0")
    q = Image.open(io.BytesIO(blobs[0])).quantization
    assert [q[k] for k in sorted(q)] == tables
    assert read_pillow_qtables(blobs[0]) == tables
    assert blobs[0][:2] == b"\xff\xd8" and b"\xff\xc0" in blobs[0]  # baseline SOF0
    # our codec with the same integer tables reproduces Pillow exactly (islow path)
    m_exact = DiffJPEG(tables=torch.tensor(tables, dtype=torch.float32), dct="islow").eval()
    with torch.no_grad():
        assert torch.equal((m_exact(x) * 255).round(), (decoded * 255).round())
    assert int(jpeg_size(x, tables=tables)) == len(blobs[0])


def test_roundtrip_with_quality_and_batch():
    x = torch.rand(2, 3, 16, 24)
    out, blobs = pillow_roundtrip(x, quality=80, subsampling="4:4:4", optimize=True)
    assert out.shape == x.shape and len(blobs) == 2
    assert read_pillow_qtables(blobs[1])[0][0] == 6  # 16 * 40 // 100


def test_cjpeg_qtables_write_read(tmp_path):
    m = _learned(3)
    path = tmp_path / "tables.txt"
    write_cjpeg_qtables(path, m)
    text = path.read_text()
    assert text.startswith("#") and "-qslots 0,1,2" in text
    back = read_cjpeg_qtables(path)
    assert back.shape == (3, 8, 8) and torch.equal(back, torch.stack(m.integer_tables()))
    (tmp_path / "bad.txt").write_text("1 2 3 # too short\n")
    with pytest.raises(DataError, match="multiple of 64"):
        read_cjpeg_qtables(tmp_path / "bad.txt")
    (tmp_path / "neg.txt").write_text(" ".join(["-1"] * 64))
    with pytest.raises(DataError, match="invalid table data"):
        read_cjpeg_qtables(tmp_path / "neg.txt")
    with pytest.raises(DataError, match="cannot read"):
        read_cjpeg_qtables(tmp_path / "missing.txt")


def test_origin_dump_reader(tmp_path):
    vals = ", ".join(f"{v:.4f}" for v in range(64))
    rows = "[" + vals + "]"
    (tmp_path / "dump.txt").write_text(
        f"last val\ntensor([[{rows}],\n [{rows}]], device='cuda:0')\nval Loss: 2.37 Acc: 0.66\n"
        f"Y tensor([{rows}], device='cuda:0')\n"
    )
    got = read_origin_qtables(tmp_path / "dump.txt")
    assert [label for label, _ in got] == ["last val", "Y"]
    assert got[0][1].shape == (2, 8, 8) and got[1][1].shape == (1, 8, 8)
    assert got[1][1][0, 7, 7] == 63.0


@pytest.mark.skipif(not ORIGIN_DIR.is_dir(), reason="origin reference tables not present")
def test_origin_reference_files_parse():
    got = read_origin_qtables(ORIGIN_DIR / "qtable_my1.txt")
    assert got[0][1].shape == (3, 8, 8)
    assert len(export_pillow_qtables(got[0][1])) == 3
