"""ImageDataModule: batch shapes per stage, validation fallback, hold-out split, configs, Trainer run."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import LightningCLI

from jpegnn.data import ImageDataModule, ImageFolder, Kodak, Vimeo90k, load_rgb
from jpegnn.data.datamodules import DataFallbackWarning, collate_images, holdout_split
from jpegnn.errors import ConfigError, DataError
from tests.conftest import TINY_FOLDER_SIZES

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "data"


def first(loader):
    return next(iter(loader))


def test_train_batches_are_random_patches(tiny_vimeo):
    dm = ImageDataModule(train=Vimeo90k(tiny_vimeo), patch_size=16, batch_size=4, num_workers=0)
    assert (dm.patch_size, dm.batch_size, dm.num_workers) == (16, 4, 0)
    dm.setup("fit")
    batch = first(dm.train_dataloader())
    assert batch["image"].shape == (4, 3, 16, 16) and batch["image"].dtype == torch.float32
    assert len(batch["name"]) == 4 and all(n.count("/") == 2 for n in batch["name"])
    assert len(dm.train_dataloader()) == 6  # 21 frames, batch 4, last batch kept
    assert not dm.has_val and dm.val_dataloader() == []


def test_val_center_crops_or_full_images(tiny_vimeo, tiny_image_folder):
    dm = ImageDataModule(train=Vimeo90k(tiny_vimeo), val=ImageFolder(tiny_image_folder), patch_size=16,
                         val_patch_size=24, val_batch_size=2, num_workers=0)
    dm.setup("fit")
    batches = list(dm.val_dataloader())
    assert [b["image"].shape for b in batches] == [(2, 3, 24, 24), (2, 3, 24, 24)]
    assert batches[0]["name"] == ["a", "b"]

    full = ImageDataModule(val=ImageFolder(tiny_image_folder), val_patch_size=None, val_batch_size=8, num_workers=0)
    full.setup("validate")
    shapes = [tuple(b["image"].shape) for b in full.val_dataloader()]
    assert shapes == [(1, 3, h, w) for h, w in TINY_FOLDER_SIZES.values()]


def test_test_images_are_full_size_and_unchanged(tiny_image_folder):
    dm = ImageDataModule(test=ImageFolder(tiny_image_folder), num_workers=0)
    dm.setup("test")
    batches = list(dm.test_dataloader())
    assert len(batches) == 4
    for batch, rel in zip(batches, TINY_FOLDER_SIZES):
        expected = load_rgb(tiny_image_folder / rel).float() / 255
        assert batch["image"].shape == (1, *expected.shape)  # e.g. 37 x 53: not resized, not padded
        assert torch.equal(batch["image"][0], expected)
    dm.setup("predict")  # predict falls back to the test set
    assert [b["name"] for b in dm.predict_dataloader()] == [["a"], ["b"], ["c"], ["sub/d"]]


def test_batching_full_images_of_different_sizes_is_a_clear_error(tiny_image_folder):
    dm = ImageDataModule(test=ImageFolder(tiny_image_folder), test_batch_size=2, num_workers=0)
    dm.setup("test")
    with pytest.raises(ConfigError, match=r"different sizes \(a \(37, 53\), b \(40, 48\)\).*batch size of 1"):
        first(dm.test_dataloader())
    assert collate_images([{"image": torch.zeros(3, 2, 2), "name": "x"}])["image"].shape == (1, 3, 2, 2)


def test_missing_test_list_falls_back_without_validation(tiny_vimeo):
    dm = ImageDataModule(train=Vimeo90k(tiny_vimeo), val=Vimeo90k(tiny_vimeo, split="test"), num_workers=0)
    with pytest.warns(DataFallbackWarning, match=r"sep_testlist.txt.*training without validation"):
        dm.setup("fit")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataFallbackWarning)  # warned once only
        dm.setup("fit")
    assert dm.val_dataset is None and len(dm.train_dataset) == 21


def test_missing_test_list_falls_back_to_clip_holdout(tiny_vimeo):
    dm = ImageDataModule(train=Vimeo90k(tiny_vimeo), val=Vimeo90k(tiny_vimeo, split="test"), patch_size=16,
                         val_patch_size=16, val_fraction=0.3, num_workers=0)
    with pytest.warns(DataFallbackWarning, match="validating on 30% of the training set"):
        dm.setup("fit")
    train_names = {dm.train_dataset.base.names[i] for i in dm.train_dataset.indices}
    val_names = {dm.val_dataset.base.names[i] for i in dm.val_dataset.indices}
    assert len(val_names) == 7 and len(train_names) == 14  # one whole clip of 3 held out
    assert {n.rsplit("/", 1)[0] for n in val_names}.isdisjoint({n.rsplit("/", 1)[0] for n in train_names})
    assert first(dm.val_dataloader())["image"].shape == (7, 3, 16, 16)


def test_holdout_split_is_deterministic_and_disjoint():
    groups = [i // 3 for i in range(30)]
    a = holdout_split(groups, 0.2, seed=1)
    assert a == holdout_split(groups, 0.2, seed=1)
    train, val = a
    assert len(val) == 6 and sorted(train + val) == list(range(30))
    assert {groups[i] for i in train}.isdisjoint({groups[i] for i in val})
    with pytest.raises(ConfigError, match="val_fraction"):
        holdout_split([0, 0, 0], 0.5, seed=0)


def test_other_data_errors_still_stop(tiny_vimeo, tmp_path):
    dm = ImageDataModule(train=Vimeo90k(tiny_vimeo), val=Kodak(tmp_path / "no-kodak"), num_workers=0)
    with pytest.raises(DataError, match="no-kodak"):
        dm.setup("fit")
    with pytest.raises(DataError, match="not found"):
        ImageDataModule(train=Vimeo90k(tmp_path / "none"), num_workers=0).setup("fit")


def test_missing_roles_and_bad_arguments(tiny_kodak):
    dm = ImageDataModule(test=Kodak(tiny_kodak), num_workers=0)
    with pytest.raises(ConfigError, match="no training dataset"):
        dm.setup("fit")
    with pytest.raises(ConfigError, match="no validation data"):
        dm.setup("validate")
    with pytest.raises(ConfigError, match="no test dataset"):
        ImageDataModule(num_workers=0).setup("test")
    with pytest.raises(ConfigError, match="'patch_size'"):
        ImageDataModule(patch_size=0)
    with pytest.raises(ConfigError, match="'val_fraction'"):
        ImageDataModule(val_fraction=1.0)


def test_prepare_data_delegates_and_hparams_are_primitive(tiny_kodak):
    calls = []

    class Spy(Kodak):
        def prepare_data(self):
            calls.append(self.root)

    dm = ImageDataModule(test=Spy(tiny_kodak), num_workers=0)
    dm.prepare_data()
    assert calls == [tiny_kodak]
    assert dm.hparams["test"] == f"Kodak(root={str(tiny_kodak)!r})"
    buffer = io.BytesIO()
    torch.save(dict(dm.hparams), buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True)["patch_size"] == 256


class TinyModel(LightningModule):
    """Records the shapes it sees per stage."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 1)
        self.seen: dict[str, list] = {"train": [], "val": [], "test": []}

    def training_step(self, batch, batch_idx):
        self.seen["train"].append(tuple(batch["image"].shape))
        return self.conv(batch["image"]).mean()

    def validation_step(self, batch, batch_idx):
        self.seen["val"].append(tuple(batch["image"].shape))

    def test_step(self, batch, batch_idx):
        self.seen["test"].append((tuple(batch["image"].shape), batch["name"][0]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_trainer_fit_and_test_with_a_worker(tiny_vimeo, tiny_kodak):
    dm = ImageDataModule(train=Vimeo90k(tiny_vimeo), val=Vimeo90k(tiny_vimeo, split="test"), test=Kodak(tiny_kodak),
                         patch_size=16, val_patch_size=16, batch_size=4, num_workers=1, val_fraction=0.3)
    model = TinyModel()
    trainer = Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=2, limit_val_batches=1,
                      limit_test_batches=4, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      num_sanity_val_steps=0)
    with pytest.warns(DataFallbackWarning):
        trainer.fit(model, datamodule=dm)
    assert model.seen["train"] == [(4, 3, 16, 16)] * 2
    assert model.seen["val"] == [(7, 3, 16, 16)]  # one held-out clip of 7 frames
    trainer.test(model, datamodule=dm, verbose=False)
    assert model.seen["test"] == [((1, 3, 32, 48), "kodim01"), ((1, 3, 32, 48), "kodim02"),
                                  ((1, 3, 32, 48), "kodim03"), ((1, 3, 48, 32), "kodim04")]


@pytest.mark.parametrize("name", ["vimeo90k", "kodak", "clic", "image_folder", "samples", "photos"])
def test_shipped_configs_parse_with_lightning_cli(name, tmp_path):
    overrides = []
    if name != "samples":
        overrides = ["--data.init_args.test.init_args.root", str(tmp_path / "test-root")]
    cli = LightningCLI(
        LightningModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
        save_config_callback=None,
        args=["--config", str(CONFIGS / f"{name}.yaml"),
              "--model", "lightning.pytorch.demos.boring_classes.BoringModel",
              "--trainer.logger", "false", "--trainer.accelerator", "cpu", *overrides],
    )
    dm = cli.datamodule
    assert isinstance(dm, ImageDataModule)
    if overrides:
        assert dm.sources["test"].root == tmp_path / "test-root"
    if name == "vimeo90k":
        assert (dm.patch_size, dm.batch_size, dm.test_batch_size) == (256, 16, 1)
        assert isinstance(dm.sources["train"], Vimeo90k) and dm.sources["train"].split == "train"


def test_vimeo_config_end_to_end(tiny_vimeo, tiny_kodak):
    cli = LightningCLI(
        LightningModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
        save_config_callback=None,
        args=["--config", str(CONFIGS / "vimeo90k.yaml"),
              "--model", "lightning.pytorch.demos.boring_classes.BoringModel",
              "--trainer.logger", "false", "--trainer.accelerator", "cpu",
              "--data.init_args.train.init_args.root", str(tiny_vimeo),
              "--data.init_args.val.init_args.root", str(tiny_vimeo),
              "--data.init_args.test.init_args.root", str(tiny_kodak),
              "--data.init_args.patch_size", "32", "--data.init_args.num_workers", "0"],
    )
    dm = cli.datamodule
    with pytest.warns(DataFallbackWarning):
        dm.setup("fit")
    assert first(dm.train_dataloader())["image"].shape == (16, 3, 32, 32)
    dm.setup("test")
    assert first(dm.test_dataloader())["image"].shape == (1, 3, 32, 48)


def test_train_samples_per_epoch_draws_patches_with_replacement(tiny_image_folder):
    dm = ImageDataModule(train=ImageFolder(str(tiny_image_folder)), patch_size=16, batch_size=5,
                         num_workers=0, train_samples_per_epoch=12)
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert [b["image"].shape[0] for b in batches] == [5, 5, 2]  # 12 patches from 4 images
    assert all(b["image"].shape[-2:] == (16, 16) for b in batches)
    with pytest.raises(ConfigError, match="train_samples_per_epoch"):
        ImageDataModule(train=ImageFolder(str(tiny_image_folder)), train_samples_per_epoch=0)
