"""`jpegnn fit`/`jpegnn test` of the QTableClassifier (configs/jpeg/classify.yaml) composed with a
configs/quant snippet, on a tiny generated image folder: the callback's hooks sit on the
classifier's Conv2d/Linear layers (not on the DiffJPEG layer), the logits are on the activation
format's grid during training, and the checkpoint records the formats."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import Callback

from jpegnn.cli import main
from jpegnn.quant import parse_format
from tests.data.imagegen import write_class_folder

REPO = Path(__file__).resolve().parents[2]


class LogitProbe(Callback):
    """Records, after the first training batch, the quantized modules and the logits of that batch
    recomputed with the hooks still in place (class attributes: reachable after a CLI run)."""

    modules: list[str] = []
    logits = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx:
            return
        quant = next(c for c in trainer.callbacks if type(c).__name__ == "QuantizationCallback")
        LogitProbe.modules = list(quant.handle.modules)
        with torch.no_grad():
            LogitProbe.logits = pl_module.net(pl_module.jpeg(batch["image"]))


@pytest.fixture(scope="module")
def two_class_folder(tmp_path_factory) -> Path:
    return write_class_folder(tmp_path_factory.mktemp("quant_folder"), ("a", "b"),
                              {"train": 4, "val": 2}, 36, 40, seed_step=10)


def test_quantized_qtable_classifier_fits_and_tests_from_the_cli(two_class_folder, tmp_path, monkeypatch):
    """(Every snippet composes with a model config in tests/quant/test_callback.py; here the real task.)"""
    monkeypatch.chdir(tmp_path)
    config = REPO / "configs" / "quant" / "e5m2_stochastic.yaml"
    args = [
        "--config", str(REPO / "configs" / "jpeg" / "classify.yaml"), "--config", str(config),
        "--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path}",
        f"--data.init_args.root={two_class_folder}", "--data.init_args.image_size=32",
        "--data.init_args.batch_size=4", "--data.init_args.num_workers=0",
        "--model.init_args.arch=small_cnn", "--model.init_args.num_classes=2",
    ]
    LogitProbe.modules, LogitProbe.logits = [], None
    fit = ["--trainer.max_steps=2", "--trainer.limit_val_batches=1", "--trainer.num_sanity_val_steps=0",
           "--trainer.callbacks+=tests.quant.test_qtable_cli.LogitProbe"]
    assert main(["fit", *args, *fit]) == 0

    # hooks on the classifier's 4 convolutions + head, none on the DiffJPEG layer
    assert len(LogitProbe.modules) == 5 and all(m.startswith("net.") for m in LogitProbe.modules)
    spec = yaml.safe_load(config.read_text())["trainer"]["callbacks+"][0]["init_args"]
    fmt = parse_format(spec["activation"])
    logits = LogitProbe.logits
    assert logits is not None and torch.equal(fmt(logits), logits)
    assert not torch.equal(parse_format("float:e3m1")(logits), logits)  # the grid check can fail

    ckpt = tmp_path / "checkpoints" / "jpeg-classify" / "last.ckpt"
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert saved["quantization"]["activation"] == str(fmt)
    assert main(["test", *args, f"--ckpt_path={ckpt}", "--trainer.limit_test_batches=1"]) == 0
