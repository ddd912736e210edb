"""Bad input to the jpeg codec and the Pillow helpers: one ConfigError naming the argument."""

from __future__ import annotations

import pytest
import torch

from jpegnn.errors import ConfigError
from jpegnn.jpeg import DiffJPEG, encode, jpeg_size
from jpegnn.jpeg.codec import roundtrip
from jpegnn.jpeg.export import pillow_encode, pillow_roundtrip


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_images_raise(bad):
    x = torch.rand(1, 3, 8, 8)
    x[0, 1, 2, 3] = bad
    for fn in (DiffJPEG(50).eval(), DiffJPEG(50, learnable=True).train(), jpeg_size):
        with pytest.raises(ConfigError, match="x: contains NaN"):
            fn(x)
    with pytest.raises(ConfigError, match="x: contains NaN"):
        pillow_roundtrip(x, quality=50)
    with pytest.raises(ConfigError, match="image: contains NaN"):
        pillow_encode(x[0], quality=50)


def test_empty_batch_raises():
    with pytest.raises(ConfigError, match="x: empty"):
        DiffJPEG(50).eval()(torch.rand(0, 3, 8, 8))


def test_unhashable_subsampling_raises_config_error():
    with pytest.raises(ConfigError, match="subsampling"):
        DiffJPEG(50, ["4:2:0"])


@pytest.mark.parametrize("q", [0, 101, 500, 50.5])
def test_pillow_encode_checks_quality(q):
    with pytest.raises(ConfigError, match="quality"):
        pillow_encode(torch.rand(3, 8, 8), quality=q)


def test_pillow_encode_checks_image_shape():
    with pytest.raises(ConfigError, match="image: expected a 3xHxW"):
        pillow_encode(torch.rand(1, 8, 8), quality=50)


def test_wrong_number_of_step_tables_raises():
    x = torch.rand(1, 3, 8, 8)
    for fn in (encode, roundtrip):
        with pytest.raises(ConfigError, match=r"steps: expected \(3, 64\)"):
            fn(x, torch.ones(2, 64))
    # (3, 8, 8) tables are the same 192 steps
    assert torch.equal(encode(x, torch.ones(3, 8, 8)).groups[0], encode(x, torch.ones(3, 64)).groups[0])
