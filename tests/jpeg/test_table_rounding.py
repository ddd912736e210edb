"""Half-integer table entries round the same way in the forward pass, the exported tables and the
size counter (half away from zero), so Pillow with the exported tables reproduces the layer."""

from __future__ import annotations

import torch

from jpegnn.jpeg import DiffJPEG, jpeg_size
from jpegnn.jpeg.export import export_pillow_qtables, pillow_roundtrip
from jpegnn.jpeg.tables import to_baseline


def _half_tables() -> torch.Tensor:
    t = torch.arange(128, dtype=torch.float32).reshape(2, 8, 8) % 40 + 2.5  # every entry k + 0.5
    return t


def test_integer_tables_equal_the_eval_forward_steps():
    for learnable in (False, True):
        m = DiffJPEG(tables=_half_tables(), learnable=learnable).eval()
        steps = m.steps().detach()
        ints = torch.stack(m.integer_tables()).reshape(2, 64).float()
        assert torch.equal(steps[[0, 1]], ints), learnable
    assert torch.equal(to_baseline(_half_tables()), (_half_tables() + 0.5).long())


def test_exported_half_tables_reproduce_the_layer_in_pillow():
    torch.manual_seed(0)
    x = (torch.rand(1, 3, 11, 13) * 255).round() / 255
    m = DiffJPEG(tables=_half_tables(), dct="islow").eval()
    decoded, blobs = pillow_roundtrip(x, tables=m, subsampling="4:2:0")
    with torch.no_grad():
        assert torch.equal((m(x) * 255).round(), (decoded * 255).round())
    assert export_pillow_qtables(_half_tables()) == export_pillow_qtables(m)
    assert int(jpeg_size(x, tables=_half_tables())) == len(blobs[0])


def test_separate_chroma_header_counts_three_tables_even_when_cb_equals_cr():
    """A separate_chroma layer exports 3 tables (3 DQT segments) even while Cb == Cr."""
    from jpegnn.jpeg import jpeg_size_from_coefficients
    from jpegnn.jpeg.rate import estimate_bytes

    x = torch.rand(1, 3, 16, 16)
    m3 = DiffJPEG(50, learnable=True, separate_chroma=True).eval()
    m2 = DiffJPEG(50, learnable=True).eval()
    with torch.no_grad():
        c3, c2 = m3.encode(x), m2.encode(x)
        size = int(jpeg_size(x, tables=m3.integer_tables()))
        assert size == len(pillow_roundtrip(x, tables=m3)[1][0])
        assert int(jpeg_size_from_coefficients(c3, optimize=False)) == size
        assert float(estimate_bytes(c3) - estimate_bytes(c2)) == 69.0
