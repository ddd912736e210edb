"""load_rgb on further formats researchers meet: 16-bit PGM/PPM (netpbm)."""

from __future__ import annotations

import numpy as np

from jpegnn.data.io import load_rgb


def test_16bit_pgm_is_scaled_like_16bit_png(tmp_path):
    # Pillow opens 16-bit PGM as mode "I"; it was refused as a "32-bit integer image" although
    # .pgm is a listed extension and 16-bit PPM loads.
    path = tmp_path / "g.pgm"
    path.write_bytes(b"P5\n3 1\n65535\n" + np.array([[129, 40000, 65535]], ">u2").tobytes())
    out = load_rgb(path)
    assert out.shape == (3, 1, 3)
    assert out[0, 0].tolist() == [1, 156, 255]  # round(v * 255 / 65535)
    assert (out[0] == out[1]).all() and (out[1] == out[2]).all()


def test_pgm_with_12bit_maxval_uses_its_white_level(tmp_path):
    path = tmp_path / "g12.pgm"
    path.write_bytes(b"P5\n2 1\n4095\n" + np.array([[4095, 0]], ">u2").tobytes())
    assert load_rgb(path)[:, 0].tolist() == [[255, 0]] * 3
