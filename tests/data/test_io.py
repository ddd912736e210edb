"""load_rgb / to_float: every awkward input becomes 8-bit RGB; bad files raise DataError naming them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from jpegnn.data.io import load_rgb, scale_16_to_8, to_float
from jpegnn.errors import DataError

GOOD = [
    "rgb.png", "grey.png", "bilevel.png", "rgba.png", "la.png", "palette.png", "palette_trns.png",
    "grey16_pil.png", "grey16.png", "rgb16.png", "rgba16.png", "ga16.png", "rgb16.tif", "grey16.tif",
]


@pytest.mark.parametrize("filename", GOOD)
def test_formats_become_8bit_rgb(odd_images, filename):
    out = load_rgb(odd_images["dir"] / filename)
    assert out.dtype == torch.uint8 and out.shape == (3, 9, 11) and out.is_contiguous()
    expected = odd_images["expected"][filename]
    np.testing.assert_array_equal(out.permute(1, 2, 0).numpy(), expected, err_msg=filename)


def test_16bit_rgb_is_rounded_not_truncated(odd_images):
    """Pillow alone keeps the high byte (129 -> 0); load_rgb rounds (129 / 257 -> 1)."""
    path = odd_images["dir"] / "rgb16.png"
    assert np.asarray(Image.open(path).convert("RGB"))[0, 1, 1] == 0
    assert load_rgb(path)[1, 0, 1] == 1
    assert load_rgb(path)[:, 0, 0].tolist() == [0, 255, 1]


def test_rgb_matches_pillow_and_jpeg_loads(odd_images):
    path = odd_images["dir"] / "photo.jpg"
    ref = np.asarray(Image.open(path).convert("RGB"))
    np.testing.assert_array_equal(load_rgb(path).permute(1, 2, 0).numpy(), ref)


def test_transparent_pixel_is_white_and_opaque_pixel_kept(odd_images):
    out = load_rgb(odd_images["dir"] / "rgba.png")
    rgba = np.asarray(Image.open(odd_images["dir"] / "rgba.png"))
    assert out[:, 0, 0].tolist() == [255, 255, 255]
    assert out[:, 0, 1].tolist() == rgba[0, 1, :3].tolist()


BAD = ["float.tif", "text.png", "empty.png", "truncated.png", "corrupt.png", "truncated16.png"]


@pytest.mark.parametrize("filename", BAD)
def test_bad_files_raise_dataerror_naming_the_file(odd_images, filename):
    path = odd_images["dir"] / filename
    with pytest.raises(DataError) as info:
        load_rgb(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="not found.*nope.png"):
        load_rgb(tmp_path / "nope.png")
    with pytest.raises(DataError, match="directory"):
        load_rgb(tmp_path)


def test_to_float_range_and_dtype():
    x = torch.tensor([0, 1, 128, 255], dtype=torch.uint8)
    y = to_float(x)
    assert y.dtype == torch.float32
    assert y[0] == 0.0 and y[-1] == 1.0 and torch.allclose(y, x.double().div(255).float())
    with pytest.raises(TypeError):
        to_float(y)


@given(st.lists(st.integers(0, 65535), min_size=1, max_size=64))
def test_scale_16_to_8_is_round_of_v_over_257(values):
    v = np.array(values, dtype=np.uint16)
    out = scale_16_to_8(v)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.floor(v / 257.0 + 0.5).astype(np.uint8))


def test_scale_16_to_8_endpoints_and_monotone():
    v = np.arange(65536, dtype=np.uint16)
    out = scale_16_to_8(v).astype(int)
    assert out[0] == 0 and out[-1] == 255
    assert np.all(np.diff(out) >= 0)
    assert np.all(out[np.arange(256) * 257] == np.arange(256))  # 8-bit values x 257 map back exactly
