"""The photos training set (``jpegnn.data.Photos``) on a tiny fake copy of its layout, and the
DataModule's flip switch (off by default: CompressAI's examples/train.py trains on crops only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from jpegnn.data import ImageDataModule, ImageFolder, Photos
from jpegnn.errors import ConfigError, DataError
from tests.data.imagegen import write_rgb_png


@pytest.fixture
def tiny_photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    layout = {
        "bsds500/train/1.jpg": (20, 30), "bsds500/train/2.jpg": (30, 20), "bsds500/val/3.jpg": (20, 30),
        "bsds500/test/4.jpg": (20, 30), "bsds500/test/5.jpg": (30, 20),
        "sun-hays80/abbey.jpg": (41, 60), "imagenet-sample-eli/n01.JPEG": (24, 36),
    }
    for i, (rel, (h, w)) in enumerate(sorted(layout.items())):
        write_rgb_png(root / rel, h, w, seed=i)  # PNG bytes under a .jpg name: Pillow reads by content
    (root / "README.md").write_text("not an image")
    return root


def test_split_follows_the_readme(tiny_photos):
    train, val, every = (Photos(str(tiny_photos), s) for s in ("train", "val", "all"))
    assert val.names == ["bsds500/test/4", "bsds500/test/5"]
    assert train.names == ["bsds500/train/1", "bsds500/train/2", "bsds500/val/3",
                           "imagenet-sample-eli/n01", "sun-hays80/abbey"]
    assert sorted(every.names) == sorted(train.names + val.names)


def test_sun_hays_images_are_box_downscaled_by_two(tiny_photos):
    ds = Photos(str(tiny_photos), "train")
    item = ds[ds.names.index("sun-hays80/abbey")]
    full = ImageFolder(str(tiny_photos / "sun-hays80"))[0]["image"]
    assert item["image"].shape == (3, 20, 30)  # 41x60 -> 20x30 (odd last row dropped)
    expected = full[:, :40, :60].reshape(3, 20, 2, 30, 2).mean(dim=(2, 4))
    assert torch.allclose(item["image"], expected, atol=1e-6)
    assert ds[0]["image"].shape == (3, 20, 30)  # other folders at full size
    no_scale = Photos(str(tiny_photos), "train", downscale={})
    assert no_scale[no_scale.names.index("sun-hays80/abbey")]["image"].shape == (3, 41, 60)


def test_bad_arguments_and_missing_folders_are_clear_errors(tiny_photos, tmp_path):
    with pytest.raises(ConfigError, match="split"):
        Photos(str(tiny_photos), "test")
    with pytest.raises(ConfigError, match="downscale"):
        Photos(str(tiny_photos), downscale={"sun-hays80": 0})
    with pytest.raises(DataError, match="root folder not found"):
        len(Photos(str(tmp_path / "nope")))
    only_train = tmp_path / "only_train"
    write_rgb_png(only_train / "bsds500/train/1.jpg", 8, 8, seed=0)
    with pytest.raises(DataError, match="validation folder not found"):
        len(Photos(str(only_train), "val"))


def _crop_is_unflipped_window(crop: np.ndarray, image: np.ndarray) -> bool:
    s = crop.shape[-1]
    h, w = image.shape[-2:]
    return any(np.array_equal(crop, image[:, t : t + s, l : l + s]) for t in range(h - s + 1) for l in range(w - s + 1))


def test_training_patches_are_plain_crops_unless_flips_are_asked_for(tiny_photos):
    image = Photos(str(tiny_photos), "train")[0]["image"].numpy()

    def patches(flips: bool) -> list[np.ndarray]:
        dm = ImageDataModule(train=Photos(str(tiny_photos), "train"), val=Photos(str(tiny_photos), "val"),
                             patch_size=8, num_workers=0, random_flips=flips)
        dm.setup("fit")
        torch.manual_seed(0)
        return [dm.train_dataset[0]["image"].numpy() for _ in range(20)]

    assert all(_crop_is_unflipped_window(p, image) for p in patches(False))
    assert not all(_crop_is_unflipped_window(p, image) for p in patches(True))
