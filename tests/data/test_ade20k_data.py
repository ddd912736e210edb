"""ADE20K dataset and DataModule on a tiny generated ``ADEChallengeData2016`` tree (and the shared sample, if present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from jpegnn.data import ADE20K, ADE20KDataModule
from jpegnn.data.datasets.ade20k import IGNORE_INDEX, load_ade20k_mask
from jpegnn.errors import ConfigError, DataError
from tests.data.imagegen import smooth_rgb

SHARED_SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "ade20k-sample"
SIZES = {"training": [(40, 56), (48, 32), (64, 64)], "validation": [(36, 50), (44, 44)]}


def _mask(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = rng.integers(0, 151, (h, w), dtype=np.uint8)
    m[0, 0], m[0, 1], m[0, 2] = 0, 1, 150  # always hold the unlabelled value and both ends
    return m


def write_ade(root: Path) -> Path:
    for split, sizes in SIZES.items():
        prefix = "ADE_train_" if split == "training" else "ADE_val_"
        for i, (h, w) in enumerate(sizes, start=1):
            stem = f"{prefix}{i:08d}"
            img_dir, ann_dir = root / "images" / split, root / "annotations" / split
            img_dir.mkdir(parents=True, exist_ok=True)
            ann_dir.mkdir(parents=True, exist_ok=True)
            Image.fromarray(smooth_rgb(h, w, seed=i)).save(img_dir / f"{stem}.jpg", quality=90)
            Image.fromarray(_mask(h, w, seed=i), mode="L").save(ann_dir / f"{stem}.png")
    return root


@pytest.fixture(scope="module")
def tiny_ade(tmp_path_factory) -> Path:
    return write_ade(tmp_path_factory.mktemp("ade") / "ADEChallengeData2016")


def test_items_and_label_mapping(tiny_ade):
    ds = ADE20K(str(tiny_ade), "training")
    assert len(ds) == 3 and ds.names == ["ADE_train_00000001", "ADE_train_00000002", "ADE_train_00000003"]
    item = ds[0]
    assert item["image"].shape == (3, 40, 56) and item["mask"].shape == (40, 56)
    raw = torch.from_numpy(_mask(40, 56, seed=1).astype(np.int64))
    assert item["mask"].dtype == torch.int64
    assert torch.equal(item["mask"][raw == 0], torch.full_like(item["mask"][raw == 0], IGNORE_INDEX))
    assert torch.equal(item["mask"][raw > 0], raw[raw > 0] - 1)
    assert item["mask"][0, :3].tolist() == [255, 0, 149]
    assert len(ADE20K(str(tiny_ade), "validation")) == 2


def test_errors_name_the_file(tiny_ade, tmp_path):
    with pytest.raises(ConfigError, match="split"):
        ADE20K(str(tiny_ade), "train")
    with pytest.raises(DataError, match="nope"):
        len(ADE20K(str(tmp_path / "nope")))
    broken = write_ade(tmp_path / "broken")
    (broken / "annotations" / "validation" / "ADE_val_00000002.png").unlink()
    with pytest.raises(DataError, match="ADE_val_00000002.png"):
        len(ADE20K(str(broken), "validation"))
    bad = broken / "annotations" / "training" / "ADE_train_00000001.png"
    Image.fromarray(np.full((40, 56), 200, np.uint8), mode="L").save(bad)
    with pytest.raises(DataError, match="200"):
        load_ade20k_mask(bad)


def test_datamodule_crops_and_full_size_eval(tiny_ade):
    dm = ADE20KDataModule(str(tiny_ade), crop_size=32, base_size=40, eval_size=24, batch_size=3, num_workers=0)
    assert dm.num_classes == 150 and dm.ignore_index == 255
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (3, 3, 32, 32) and batch["mask"].shape == (3, 32, 32)
    x = batch["image"] * 255
    assert torch.equal(x, x.round())
    assert set(batch["mask"].unique().tolist()) <= set(range(150)) | {255}
    val = list(dm.val_dataloader())
    assert [tuple(b["image"].shape) for b in val] == [(1, 3, 24, 33), (1, 3, 24, 24)]  # short side 24
    assert [tuple(b["mask"].shape) for b in val] == [(1, 36, 50), (1, 44, 44)]  # masks at full size


@pytest.mark.skipif(not SHARED_SAMPLE.is_dir(), reason="the shared ADE20K sample is not on this machine")
def test_shared_real_sample_loads():
    ds = ADE20K(str(SHARED_SAMPLE), "validation")
    assert ds.names == [f"ADE_val_{i:08d}" for i in range(1, 5)]
    for i in range(len(ds)):
        item = ds[i]
        assert item["mask"].shape == item["image"].shape[-2:]
        values = set(item["mask"].unique().tolist())
        assert 255 in values and values - {255} <= set(range(150))
