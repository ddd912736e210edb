"""QTableClassifier / QTableSegmenter on tiny data: modes, metrics, integer tables, checkpoints."""

from __future__ import annotations

import json
import math

import lightning as L
import pytest
import torch

from jpegnn.data import ADE20KDataModule, FrequencyDataModule
from jpegnn.errors import ConfigError
from jpegnn.jpeg import quality_tables
from jpegnn.tasks.qtable import QTableClassifier, QTableSegmenter
from tests.data.test_ade20k_data import write_ade


def _trainer(tmp_path, **kw):
    defaults = dict(
        accelerator="cpu", devices=1, max_steps=2, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp_path),
        num_sanity_val_steps=0, limit_val_batches=1, limit_test_batches=2,
    )
    defaults.update(kw)
    return L.Trainer(**defaults)


def _freq_data(**kw):
    args = dict(num_train=32, num_val=16, num_test=16, batch_size=16)
    args.update(kw)
    return FrequencyDataModule(**args)


def _tables(module):
    return torch.stack(module.integer_tables())


@pytest.mark.parametrize("mode", ["table", "joint", "network", "uncompressed"])
def test_classifier_modes_train_the_right_parameters(mode, tmp_path):
    torch.manual_seed(0)
    module = QTableClassifier("block_mlp", num_classes=2, mode=mode, quality=50, rate="bits", beta=0.1,
                              table_lr=0.5, real_jpeg=True)
    net_before = [p.detach().clone() for p in module.net.parameters()]
    tables_before = None if mode == "uncompressed" else _tables(module)
    trainer = _trainer(tmp_path)
    trainer.fit(module, _freq_data())
    net_changed = any(not torch.equal(a, b) for a, b in zip(net_before, module.net.parameters()))
    assert net_changed == (mode != "table")
    if mode == "uncompressed":
        assert module.jpeg is None and module.integer_tables() is None
    else:
        tables_changed = not torch.equal(tables_before, _tables(module))
        assert tables_changed == (mode in ("table", "joint"))
        assert module.jpeg.learnable == (mode in ("table", "joint"))
    results = trainer.test(module, _freq_data())[0]
    for key in ("test/acc", "test/bpp_estimated", "test/bpp_exact", "test/compression_ratio",
                "test/acc_real", "test/bpp_real"):
        assert key in results and math.isfinite(results[key]), key
    assert results["test/compression_ratio"] == pytest.approx(24.0 / results["test/bpp_exact"], rel=1e-5)
    if mode == "uncompressed":
        assert results["test/bpp_exact"] == pytest.approx(24.0)
    else:
        # the exact count equals the real Pillow files (same integer tables, same pixels)
        assert results["test/bpp_exact"] == pytest.approx(results["test/bpp_real"], rel=1e-6)
        assert 0.05 < results["test/bpp_exact"] < 24
    written = json.loads((tmp_path / "qtable_results.json").read_text())
    assert written["mode"] == mode and written["metrics"]["test/acc"] == pytest.approx(results["test/acc"])


def test_frozen_network_keeps_batchnorm_statistics(tmp_path):
    module = QTableClassifier("small_cnn", num_classes=2, mode="table", rate="none")
    stats = module.net.net.features[0][1].running_mean.clone()
    _trainer(tmp_path).fit(module, _freq_data())
    assert torch.equal(stats, module.net.net.features[0][1].running_mean)


def test_eval_mode_uses_exactly_the_integer_tables():
    module = QTableClassifier("block_mlp", num_classes=2, mode="joint", quality=37)
    with torch.no_grad():
        module.jpeg.raw_tables.add_(0.37)  # move off the integers
    module.eval()
    luma, chroma = module.integer_tables()
    used = module.jpeg.current_tables()
    assert torch.equal(used[0].long(), luma) and torch.equal(used[1].long(), chroma)
    assert luma.dtype == torch.int64 and int(luma.min()) >= 1 and int(luma.max()) <= 255
    fixed = QTableClassifier("block_mlp", num_classes=2, mode="network", quality=37)
    assert all(torch.equal(a, b) for a, b in zip(fixed.integer_tables(), quality_tables(37)))


def test_test_quality_overrides_the_tables(tmp_path):
    module = QTableClassifier("block_mlp", num_classes=2, mode="network", quality=90, test_quality=10)
    trainer = _trainer(tmp_path)
    low = trainer.test(module, _freq_data())[0]
    module.hparams.test_quality = None
    high = trainer.test(module, _freq_data())[0]
    assert low["test/bpp_exact"] < high["test/bpp_exact"]
    assert module.test_results["tables"][0] == quality_tables(90)[0].flatten().tolist()


def test_checkpoint_is_weights_only_and_carries_the_tables(tmp_path):
    module = QTableClassifier("block_mlp", num_classes=2, mode="joint", table_lr=0.5, beta=0.1)
    trainer = _trainer(tmp_path)
    trainer.fit(module, _freq_data())
    ckpt = tmp_path / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    raw = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert raw["jpeg_qtables"]["tables"] == [t.flatten().tolist() for t in module.integer_tables()]
    assert raw["jpeg_qtables"]["subsampling"] == "4:2:0"
    loaded = QTableClassifier.load_from_checkpoint(ckpt, weights_only=True)
    assert all(torch.equal(a, b) for a, b in zip(loaded.integer_tables(), module.integer_tables()))
    # the network weights of a QTable checkpoint load into a fresh classifier (frozen table runs)
    frozen = QTableClassifier("block_mlp", num_classes=2, mode="table", weights_path=str(ckpt))
    assert all(torch.equal(a, b) for a, b in zip(frozen.net.parameters(), module.net.parameters()))


def test_argument_errors_name_the_argument(tmp_path):
    with pytest.raises(ConfigError, match="mode"):
        QTableClassifier("block_mlp", num_classes=2, mode="bogus")
    with pytest.raises(ConfigError, match="rate"):
        QTableClassifier("block_mlp", num_classes=2, rate="bogus")
    with pytest.raises(ConfigError, match="architecture"):
        QTableClassifier("vgg", num_classes=2)
    with pytest.raises(ConfigError, match="num_classes"):
        _trainer(tmp_path, fast_dev_run=True).fit(
            QTableClassifier("block_mlp", num_classes=3), _freq_data())


@pytest.mark.parametrize("rate", ["bits", "abs_over_q", "inv_l1"])
def test_rate_terms_push_tables_coarser(rate, tmp_path):
    """With only the rate term (frozen net, huge beta) every rate term increases the table entries."""
    torch.manual_seed(0)
    module = QTableClassifier("block_mlp", num_classes=2, mode="table", quality=50, rate=rate, beta=1e4,
                              table_lr=0.2)
    before = module.jpeg.continuous_tables().detach().mean()
    _trainer(tmp_path, max_steps=3).fit(module, _freq_data())
    assert float(module.jpeg.continuous_tables().detach().mean()) > float(before)


def test_segmenter_fits_and_tests_with_real_jpeg(tmp_path):
    root = write_ade(tmp_path / "ADEChallengeData2016")
    dm = ADE20KDataModule(str(root), crop_size=32, base_size=40, eval_size=32, batch_size=2, num_workers=0)
    module = QTableSegmenter("tiny", mode="joint", beta=0.01, real_jpeg=True)
    trainer = _trainer(tmp_path)
    trainer.fit(module, dm)
    results = trainer.test(module, dm)[0]
    for key in ("test/miou", "test/pixel_acc", "test/bpp_exact", "test/miou_real", "test/pixel_acc_real",
                "test/bpp_real"):
        assert key in results and 0 <= results[key] < 25, key
    assert results["test/bpp_exact"] == pytest.approx(results["test/bpp_real"], rel=1e-6)


def test_exact_bpp_is_computed_on_a_rank_that_saw_no_pixels(monkeypatch):
    """BitsPerPixel.compute() all-reduces: a DDP rank whose own exact-bpp pixel count is 0 must
    still call it (else the other ranks hang), and log the all-ranks value it returns."""
    from jpegnn.metrics.bpp import BitsPerPixel

    module = QTableClassifier("block_mlp", num_classes=2, mode="joint", quality=50)
    module.log = lambda *args, **kwargs: None
    est, exact = BitsPerPixel(), BitsPerPixel()
    est.update(100.0, 50)
    calls = []

    def all_ranks_compute():  # this rank has no pixels; the other rank's are in the all-reduce
        calls.append(int(exact.pixels))
        return torch.tensor(1.5)

    monkeypatch.setattr(exact, "compute", all_ranks_compute)
    values = module._log_computed("val", module.val_task, est, exact)
    assert calls == [0] and values["val/bpp_exact"] == 1.5
    assert values["val/compression_ratio"] == pytest.approx(24 / 1.5)
