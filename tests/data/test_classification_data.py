"""ClassFolder and ClassificationDataModule on a tiny generated ``train/`` + ``val/`` class-folder tree."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from jpegnn.data import ClassFolder, ClassificationDataModule
from jpegnn.errors import DataError
from tests.data.imagegen import smooth_rgb, write_rgb_png

CLASSES = ("cat", "dog", "eel")


@pytest.fixture(scope="module")
def tiny_classes(tmp_path_factory) -> Path:
    """``train/{cat,dog,eel}`` (3, 2, 2 images of mixed sizes, one grey JPEG) and ``val/{cat,dog}``."""
    root = tmp_path_factory.mktemp("cls")
    counts = {"train": (3, 2, 2), "val": (1, 2, 0)}
    for split, per_class in counts.items():
        for c, (cls, n) in enumerate(zip(CLASSES, per_class)):
            for i in range(n):
                write_rgb_png(root / split / cls / f"{cls}{i}.png", 40 + 8 * i, 48, seed=10 * c + i)
    grey = Image.fromarray(smooth_rgb(36, 44, seed=99)[..., 0])  # mode L, stored as JPEG
    grey.save(root / "train" / "dog" / "grey.jpg", quality=95)
    (root / "train" / ".hidden").mkdir()  # ignored
    (root / "train" / "cat" / "notes.txt").write_text("not an image")  # ignored (extension)
    return root


def test_labels_follow_sorted_class_folders(tiny_classes):
    ds = ClassFolder(str(tiny_classes / "train"))
    assert ds.classes == list(CLASSES) and ds.num_classes == 3
    assert len(ds) == 8
    assert ds.names[:4] == ["cat/cat0", "cat/cat1", "cat/cat2", "dog/dog0"]
    assert ds.labels == [0, 0, 0, 1, 1, 1, 2, 2]
    item = ds[5]  # dog/grey (sorted after dog0, dog1)
    assert item["name"] == "dog/grey" and item["label"] == 1
    assert item["image"].shape == (3, 36, 44)
    assert torch.equal(item["image"][0], item["image"][1])  # grey copied into 3 channels


def test_val_split_uses_training_classes(tiny_classes):
    val = ClassFolder(str(tiny_classes / "val"), classes=list(CLASSES))
    assert val.labels == [0, 1, 1]  # 'eel' absent from val: indices still agree with train
    assert ClassFolder(str(tiny_classes / "val")).classes == ["cat", "dog"]


def test_unknown_class_and_missing_folder_name_the_path(tiny_classes, tmp_path):
    stray = ClassFolder(str(tiny_classes / "train"), classes=["cat", "dog"])
    with pytest.raises(DataError, match="eel"):
        len(stray)
    missing = ClassFolder(str(tmp_path / "nope"))  # constructing touches nothing
    with pytest.raises(DataError, match=str(tmp_path / "nope")):
        len(missing)


def test_datamodule_batches(tiny_classes):
    dm = ClassificationDataModule(str(tiny_classes), image_size=32, batch_size=4, num_workers=0)
    assert dm.num_classes == 3 and dm.classes == list(CLASSES) and dm.resize_size == 37
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 3, 32, 32) and batch["image"].dtype == torch.float32
    assert batch["label"].dtype == torch.int64 and len(batch["name"]) == 4
    x = batch["image"] * 255
    assert torch.equal(x, x.round()) and 0 <= float(x.min()) and float(x.max()) <= 255  # 8-bit grid
    val1 = next(iter(dm.val_dataloader()))
    val2 = next(iter(dm.val_dataloader()))
    assert torch.equal(val1["image"], val2["image"])  # deterministic
    assert val1["label"].tolist() == [0, 1, 1]
    dm.setup("test")
    assert len(dm.test_dataloader().dataset) == 3  # test defaults to the val split


def test_missing_root_fails_in_setup(tmp_path):
    dm = ClassificationDataModule(str(tmp_path / "absent"), image_size=32, num_workers=0)
    with pytest.raises(DataError, match="absent"):
        dm.setup("fit")
