"""EnhancementModule: a short fit in both modes, gains logged, test results written."""

from __future__ import annotations

import csv
import json

import lightning as L
import pytest
import torch

from jpegnn.enhance import JPEGDegradation
from jpegnn.errors import ConfigError
from jpegnn.tasks import EnhancementModule
from jpegnn.tasks.loading import load_module
from tests.helpers import loader

TINY = dict(features=8, blocks=1, layers=2, growth=4)
STEPS_TO_LEARN = 100


def _trainer(root, steps=3):
    return L.Trainer(accelerator="cpu", max_steps=steps, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(root),
                     num_sanity_val_steps=0)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("mode,patch,ctu", [("rgb", 24, 128), ("ctu", 28, 16)])
def test_short_fit_validate_test(mode, patch, ctu, tmp_path):
    torch.manual_seed(0)
    module = EnhancementModule(mode=mode, ctu_size=ctu, degradation=JPEGDegradation([15, 25]),
                               loss={"mse": 1.0, "satd4": 0.1}, **TINY)
    before = [p.detach().clone() for p in module.net.parameters()]
    trainer = _trainer(tmp_path)
    trainer.fit(module, train_dataloaders=loader(4, (patch, patch), batch_size=2),
                val_dataloaders=loader(2, (40, 48), batch_size=1, seed=1))
    assert trainer.global_step == 3
    assert any(not torch.equal(a, b) for a, b in zip(before, module.net.parameters()))
    m = trainer.callback_metrics
    for key in ("val/psnr_y_decoded", "val/psnr_rgb_filtered", "val/psnr_gain_y", "val/psnr_gain_rgb"):
        assert key in m and torch.isfinite(m[key])
    assert float(m["val/psnr_gain_y"]) == pytest.approx(float(m["val/psnr_y_filtered"] - m["val/psnr_y_decoded"]), abs=1e-4)

    trainer.test(module, dataloaders=loader(3, (40, 48), batch_size=1, seed=2))
    summary = json.loads((tmp_path / "enhance_results.json").read_text())
    assert summary["images"] == 3 and summary["network"]["mode"] == mode
    assert summary["codec"].startswith("Pillow JPEG quality 15..25")
    with open(tmp_path / "per_image.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and all(r["quality"] == "20" for r in rows)  # eval quality: middle of the range
    gain = sum(float(r["psnr_rgb_gain"]) for r in rows) / 3
    assert gain == pytest.approx(summary["mean"]["psnr_rgb_gain"])
    assert float(trainer.callback_metrics["test/psnr_gain_rgb"]) == pytest.approx(gain, abs=1e-4)

    path = tmp_path / "filter.ckpt"
    trainer.save_checkpoint(path)
    loaded = load_module(path, EnhancementModule)  # weights_only: primitive hyperparameters only
    assert loaded.degradation is None and loaded.hparams.mode == mode
    x = torch.rand(1, 3, 40, 48)
    assert torch.equal(loaded(x), module.eval()(x))
    # testing a loaded checkpoint records the steps its weights were trained for, not the new trainer's 0
    loaded.degradation = JPEGDegradation(20)
    _trainer(tmp_path / "retest").test(loaded, dataloaders=loader(1, (40, 48), batch_size=1, seed=2))
    assert json.loads((tmp_path / "retest" / "enhance_results.json").read_text())["global_step"] == 3


def test_missing_degradation_is_clear():
    module = EnhancementModule(mode="rgb", **TINY)
    with pytest.raises(ConfigError, match="'degradation' is not set"):
        module.on_after_batch_transfer({"image": torch.rand(1, 3, 16, 16)}, 0)


def test_ctu_mode_needs_large_enough_patches():
    module = EnhancementModule(mode="ctu", degradation=JPEGDegradation(20), **TINY)
    batch = module.on_after_batch_transfer({"image": torch.rand(1, 3, 64, 64)}, 0)
    with pytest.raises(ConfigError, match="patch_size >= 132"):
        module.training_pair(batch)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("mode,patch,ctu", [("rgb", 32, 128), ("ctu", 36, 32)])
def test_short_fit_learns_a_positive_gain(mode, patch, ctu, tmp_path):
    """A tiny RDN trained for a few dozen steps on JPEG quality-10 pairs beats the decode on held-out images."""
    torch.manual_seed(0)
    module = EnhancementModule(mode=mode, ctu_size=ctu, degradation=JPEGDegradation(10),
                               optimizer=lambda p: torch.optim.Adam(p, lr=2e-3), **TINY)
    trainer = _trainer(tmp_path, steps=STEPS_TO_LEARN)
    trainer.fit(module, train_dataloaders=loader(32, (patch, patch), batch_size=4))
    module.eval()
    x = next(iter(loader(4, (48, 64), batch_size=4, seed=7)))["image"]  # held-out images
    x = (x * 255).round() / 255
    dec = module.degradation(x).decoded
    filt = module(dec)
    mse_dec, mse_filt = torch.mean((dec - x) ** 2), torch.mean((filt - x) ** 2)
    gain_db = float(10 * torch.log10(mse_dec / mse_filt))
    assert gain_db > 0.05, f"{mode}: {gain_db:.3f} dB after {STEPS_TO_LEARN} steps"
