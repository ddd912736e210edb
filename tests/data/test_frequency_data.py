"""The synthetic frequency set: labels live in the sort axis of the central 4x4 DCT coefficients only."""

from __future__ import annotations

import pytest
import torch

from jpegnn.data import FrequencyBlocks, FrequencyDataModule
from jpegnn.data.datasets.frequency import block_dct, dct_matrix, informative_mask
from jpegnn.errors import ConfigError


def _blocks(ds: FrequencyBlocks) -> tuple[torch.Tensor, torch.Tensor]:
    g = ds.grid
    pix = ds.images[:, 0].double() * 255
    blocks = pix.view(-1, g, 8, g, 8).permute(0, 1, 3, 2, 4).reshape(-1, 8, 8)
    return blocks, ds.labels.repeat_interleave(g * g)


def test_dct_matrix_is_orthonormal():
    c = dct_matrix()
    assert torch.allclose(c @ c.T, torch.eye(8, dtype=c.dtype), atol=1e-12)


def test_images_are_grey_integer_and_balanced():
    ds = FrequencyBlocks(256, grid=2, seed=3)
    assert len(ds) == 256 and ds.images.shape == (256, 3, 16, 16)
    x = ds.images * 255
    assert torch.equal(x, x.round())
    assert torch.equal(ds.images[:, 0], ds.images[:, 1]) and torch.equal(ds.images[:, 0], ds.images[:, 2])
    assert int(ds.labels.sum()) == 128
    item = ds[5]
    assert item["label"] == int(ds.labels[5]) and item["name"].startswith(ds.classes[item["label"]])


def test_central_coefficients_are_sorted_along_the_label_axis():
    ds = FrequencyBlocks(300, grid=2, seed=1)
    blocks, labels = _blocks(ds)
    center = block_dct(blocks - 128)[:, 2:6, 2:6]
    vertical = (center.diff(dim=1) > 0).flatten(1).all(1)
    horizontal = (center.diff(dim=2) > 0).flatten(1).all(1)
    assert torch.equal(vertical, labels == 0) and torch.equal(horizontal, labels == 1)


def test_other_coefficients_carry_no_label():
    """Outside the mask, per-coefficient statistics do not depend on the label (within noise)."""
    ds = FrequencyBlocks(2000, grid=1, seed=2)
    blocks, labels = _blocks(ds)
    f = block_dct(blocks - 128)
    outside = ~informative_mask()
    for stat in (lambda t: t.mean(0), lambda t: t.std(0)):
        a, b = stat(f[labels == 0])[outside], stat(f[labels == 1])[outside]
        assert float((a - b).abs().max()) < 6.0  # std of a coefficient is ~37; sampling noise ~1.2
    # ... while inside, the label shows: the mean difference along the sort axis is large
    d0 = f[labels == 0][:, 2:6, 2:6].diff(dim=1).mean()
    d1 = f[labels == 1][:, 2:6, 2:6].diff(dim=1).mean()
    assert float(d0 - d1) > 10


def test_deterministic_per_seed():
    assert torch.equal(FrequencyBlocks(32, seed=7).images, FrequencyBlocks(32, seed=7).images)
    assert not torch.equal(FrequencyBlocks(32, seed=7).images, FrequencyBlocks(32, seed=8).images)


def test_datamodule_and_argument_errors():
    dm = FrequencyDataModule(num_train=64, num_val=32, num_test=16, batch_size=16)
    assert dm.num_classes == 2
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (16, 3, 16, 16) and batch["label"].shape == (16,)
    assert len(dm.val_dataloader().dataset) == 32 and len(dm.test_dataloader().dataset) == 16
    assert not torch.equal(dm.train_dataset.images[:16], dm.val_dataset.images[:16])
    with pytest.raises(ConfigError, match="grid"):
        FrequencyBlocks(8, grid=0)
    with pytest.raises(ConfigError, match="amplitude"):
        FrequencyBlocks(8, amplitude=200)
