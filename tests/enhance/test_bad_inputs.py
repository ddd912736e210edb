"""Bad inputs to the enhancement codecs/module: one jpegnn error naming the argument, not a Pillow/torch traceback."""

from __future__ import annotations

import pytest
import torch

from jpegnn.enhance import CheckpointDegradation, JPEGDegradation
from jpegnn.errors import ConfigError, DataError
from jpegnn.tasks import EnhancementModule


@pytest.mark.parametrize("images", [
    torch.rand(1, 1, 16, 16),   # grayscale batch (Pillow: "Cannot handle this data type")
    torch.rand(1, 4, 16, 16),   # RGBA
    torch.rand(3, 16, 16),      # a single image without the batch dimension
    torch.rand(1, 3, 0, 16),    # empty
    torch.randint(0, 255, (1, 3, 16, 16), dtype=torch.uint8),  # uint8 instead of [0, 1] floats
])
def test_jpeg_degradation_refuses_non_rgb_batches(images):
    with pytest.raises(DataError, match="argument 'images' must be"):
        JPEGDegradation(20)(images)


def test_checkpoint_degradation_checks_the_batch_before_loading(tmp_path):
    path = tmp_path / "never-loaded.ckpt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="CheckpointDegradation: argument 'images'"):
        CheckpointDegradation(str(path))(torch.rand(2, 1, 16, 16))


@pytest.mark.parametrize("value", ["a", -1, 1.5, True])
def test_num_log_images_must_be_a_count(value):
    with pytest.raises(ConfigError, match="'num_log_images'"):
        EnhancementModule(mode="rgb", features=4, blocks=1, layers=1, growth=2, num_log_images=value)
