"""QuantizationCallback in a tiny Lightning fit (direct Trainer and through ``jpegnn.cli.main``
with every ``configs/quant/*.yaml`` snippet)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from jpegnn.callbacks.quantization import QuantizationCallback
from jpegnn.errors import ConfigError
from jpegnn.quant import parse_format, quantize_float

REPO = Path(__file__).resolve().parents[2]
QUANT_CONFIGS = sorted((REPO / "configs" / "quant").glob("*.yaml"))


class TinyClassifier(LightningModule):
    """8 features -> 3 classes; records its last outputs so tests can inspect them."""

    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
        self.lr = lr
        self.outputs: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _dataset(self) -> TensorDataset:
        g = torch.Generator().manual_seed(1)
        x = torch.randn(32, 8, generator=g)
        return TensorDataset(x, (x[:, :3].argmax(1)))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self._dataset(), batch_size=8)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self._dataset(), batch_size=32)

    def training_step(self, batch, batch_idx):
        x, y = batch
        out = self(x)
        self.outputs["train"] = out.detach()
        TinyClassifier.last_train_output = out.detach()  # reachable after a CLI run
        return nn.functional.cross_entropy(out, y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        out = self(x)
        self.outputs["val"], self.outputs["val_x"] = out, x
        self.log("val/loss", nn.functional.cross_entropy(out, y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


class TinyData(LightningDataModule):
    """The TinyClassifier's data as a DataModule (the jpegnn CLI requires ``data``)."""

    def train_dataloader(self) -> DataLoader:
        return TinyClassifier().train_dataloader()

    def val_dataloader(self) -> DataLoader:
        return TinyClassifier().val_dataloader()


def _trainer(tmp_path: Path, callback: QuantizationCallback, **kwargs) -> Trainer:
    return Trainer(
        accelerator="cpu", devices=1, max_steps=4, logger=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, callbacks=[callback], **kwargs,
    )


def test_fit_and_validate_in_simulated_e2m1(tmp_path):
    model = TinyClassifier()
    callback = QuantizationCallback(weight="float:e5m2", activation="float:e2m1:saturate", gradient="float:e5m2:stochastic")
    trainer = _trainer(tmp_path, callback, enable_checkpointing=True, num_sanity_val_steps=0)
    trainer.fit(model)
    # activations of the last Linear were on the e2m1 grid during training
    assert set(model.outputs["train"].abs().unique().tolist()) <= {0.0, 0.5, 1.0, 1.5, 2.0, 3.0}
    # hooks are off after fit; master weights stayed full precision (not all on the e5m2 grid)
    assert callback.handle is None
    w = model.net[0].weight.detach()
    assert not torch.equal(quantize_float(w, 5, 2), w)
    # the checkpoint holds full-precision weights and records the formats
    ckpt = torch.load(next(tmp_path.rglob("*.ckpt")), weights_only=False)
    assert ckpt["quantization"]["activation"] == "float:e2m1:nearest:saturate"
    assert torch.equal(ckpt["state_dict"]["net.0.weight"], w)

    # validation: the quantized forward equals the manual one and differs from full precision
    trainer.validate(model, verbose=False)
    x = model.outputs["val_x"]
    l1, l2 = model.net[0], model.net[2]
    q = lambda t: quantize_float(t, 5, 2)  # noqa: E731
    a = lambda t: quantize_float(t, 2, 1, saturate=True)  # noqa: E731
    with torch.inference_mode():  # validation ran in inference mode; its tensors stay there
        h = a(nn.functional.linear(x, q(l1.weight), q(l1.bias))).relu()
        expected = a(nn.functional.linear(h, q(l2.weight), q(l2.bias)))
        full_precision = model(x)  # hooks are off again after validate
    assert torch.equal(model.outputs["val"], expected)
    assert not torch.equal(model.outputs["val"], full_precision)


def test_stochastic_training_changes_updates_but_not_master_precision(tmp_path):
    torch.manual_seed(0)
    model = TinyClassifier()
    _trainer(tmp_path, QuantizationCallback(weight="fixed:8.4:stochastic", layer_types="Linear"),
             enable_checkpointing=False, limit_val_batches=0).fit(model)
    reference = TinyClassifier()
    _trainer(tmp_path, QuantizationCallback(), enable_checkpointing=False, limit_val_batches=0).fit(reference)
    w, w_ref = model.net[0].weight.detach(), reference.net[0].weight.detach()
    assert not torch.equal(w, w_ref)  # the quantized forward changed the gradients
    assert not torch.equal(w * 16, torch.round(w * 16))  # master weights are not on the 1/16 grid


def _fit_rng_state(tmp_path: Path, callback: QuantizationCallback) -> tuple[torch.Tensor, torch.Tensor]:
    """Global RNG state after a 4-step fit started from seed 5, and the first layer's weights."""
    model = TinyClassifier()
    torch.manual_seed(5)
    _trainer(tmp_path, callback, enable_checkpointing=False, limit_val_batches=0).fit(model)
    return torch.random.get_rng_state(), model.net[0].weight.detach().clone()


def test_seeded_stochastic_rounding_leaves_the_global_rng_alone(tmp_path):
    nearest, _ = _fit_rng_state(tmp_path, QuantizationCallback(weight="fixed:8.4", activation="float:e4m3"))
    spec = dict(weight="fixed:8.4:stochastic", activation="float:e4m3:stochastic", gradient="float:e5m2:stochastic")
    seeded, w1 = _fit_rng_state(tmp_path, QuantizationCallback(**spec, seed=3))
    assert torch.equal(seeded, nearest)  # same data order/dropout as the nearest-rounding run
    _, w2 = _fit_rng_state(tmp_path, QuantizationCallback(**spec, seed=3))
    assert torch.equal(w1, w2)  # reproducible draws
    _, w3 = _fit_rng_state(tmp_path, QuantizationCallback(**spec, seed=4))
    assert not torch.equal(w1, w3)
    unseeded, _ = _fit_rng_state(tmp_path, QuantizationCallback(**spec))
    assert not torch.equal(unseeded, nearest)  # without a seed the draws come from the global RNG
    with pytest.raises(ConfigError, match="seed"):
        QuantizationCallback(seed="3")


def test_callback_errors_name_the_argument():
    with pytest.raises(ConfigError, match="weight"):
        QuantizationCallback(weight="float:e5")
    with pytest.raises(ConfigError, match="gradient"):
        QuantizationCallback(gradient="fixed:8.4:sometimes")


@pytest.mark.parametrize("config", QUANT_CONFIGS, ids=lambda p: p.stem)
def test_quant_config_composes_with_a_model_config_in_the_cli(config, tmp_path, monkeypatch):
    from jpegnn.cli import main

    monkeypatch.chdir(tmp_path)
    model_cfg = tmp_path / "model.yaml"
    model_cfg.write_text(yaml.safe_dump({
        "trainer": {"accelerator": "cpu", "devices": 1, "fast_dev_run": True, "logger": False,
                    "enable_progress_bar": False, "enable_model_summary": False},
        "model": {"class_path": f"{__name__}.TinyClassifier"},
        "data": {"class_path": f"{__name__}.TinyData"},
    }))
    TinyClassifier.last_train_output = None
    assert main(["fit", "--config", str(model_cfg), "--config", str(config)]) == 0
    spec = yaml.safe_load(config.read_text())["trainer"]["callbacks+"][0]
    assert spec["class_path"] == "jpegnn.callbacks.quantization.QuantizationCallback"
    # the callback was really applied: the logits are on the activation format's grid
    out = TinyClassifier.last_train_output
    fmt = parse_format(spec["init_args"]["activation"])
    assert out is not None and torch.equal(fmt(out), out)
    assert not torch.equal(parse_format("float:e2m1:saturate")(out), out) or "e2m1" in config.stem


def _stochastic(seed: int = 3) -> QuantizationCallback:
    return QuantizationCallback(weight="fixed:8.4:stochastic", activation="float:e4m3:stochastic",
                                gradient="float:e5m2:stochastic", seed=seed)


def _fit_steps(tmp_path: Path, callback: QuantizationCallback, max_steps: int, ckpt_path=None, **kwargs) -> TinyClassifier:
    from lightning.pytorch.callbacks import ModelCheckpoint

    model = TinyClassifier()
    torch.manual_seed(5)
    saver = ModelCheckpoint(dirpath=tmp_path / "ck", save_last=True, save_top_k=0)
    trainer = Trainer(accelerator="cpu", devices=1, max_steps=max_steps, logger=False, enable_progress_bar=False,
                      enable_model_summary=False, default_root_dir=tmp_path, callbacks=[callback, saver],
                      limit_val_batches=0, limit_train_batches=1, **kwargs)
    trainer.fit(model, ckpt_path=ckpt_path)
    return model


def test_resume_continues_the_stochastic_rounding_draws(tmp_path):
    """2 steps + resume to 4 equals 4 uninterrupted steps (one batch per epoch, so Lightning's
    restart of the dataloader on resume replays the same data): the seeded generator's state
    travels in the checkpoint (without it, steps 3-4 would repeat the draws of steps 1-2)."""
    whole = _fit_steps(tmp_path / "whole", _stochastic(), 4)
    _fit_steps(tmp_path / "split", _stochastic(), 2)
    last = tmp_path / "split" / "ck" / "last.ckpt"
    saved = torch.load(last, weights_only=True)["callbacks"]
    (state,) = [v for k, v in saved.items() if k.startswith("QuantizationCallback")]
    assert state["formats"]["seed"] == 3 and state["generator_state"].dtype == torch.uint8
    resumed = _fit_steps(tmp_path / "split", _stochastic(), 4, ckpt_path=str(last))
    assert torch.equal(resumed.net[0].weight, whole.net[0].weight)
    # other formats on resume: allowed, with a warning naming what changed
    with pytest.warns(UserWarning, match=r"other formats \(weight 'fixed:8.4:stochastic' -> 'float:e5m2:nearest'"):
        _fit_steps(tmp_path / "split", QuantizationCallback(weight="float:e5m2", seed=3), 6, ckpt_path=str(last))
