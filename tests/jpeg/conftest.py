"""Small test images for tests/jpeg: scikit-image's bundled photos cropped small (odd sizes
included, so MCU padding and dummy blocks are exercised) and synthetic smooth + texture images.
All uint8 ``(H, W, 3)`` numpy arrays; nothing is read from ../shared."""

from __future__ import annotations

import numpy as np
import pytest

from tests.jpeg.util import synthetic


@pytest.fixture(scope="session")
def images() -> dict:
    from skimage import data

    return {
        "astronaut": np.ascontiguousarray(data.astronaut()[60:108, 180:244]),  # 48 x 64
        "chelsea": np.ascontiguousarray(data.chelsea()[100:137, 200:253]),  # 37 x 53, odd
        "synthetic": synthetic(40, 56, 3),
        "tiny": synthetic(7, 13, 5),  # smaller than one MCU
    }


@pytest.fixture(autouse=True)
def _one_thread():
    """These tests run many small tensor ops; on a shared 2-core machine a second intra-op
    thread only adds synchronisation cost (up to 20x slower under load). Restored afterwards."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
