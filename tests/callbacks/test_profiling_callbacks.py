"""The four profiling callbacks in real (tiny, CPU) Trainer runs: LICModule and a generic module."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch import nn

from jpegnn.callbacks import ComplexityCallback, EnergyCallback, LatencyCallback, MemoryCallback
from jpegnn.tasks.lic import LICModule
from tests.helpers import loader
from tests.profiling.fakes import FakeGpuEnergy


class TinyData(L.LightningDataModule):
    """4 training and 2 validation images of 64x64, 2 test images of 37x53 (like test_lic_module)."""

    def train_dataloader(self):
        return loader(4, (64, 64), batch_size=2)

    def val_dataloader(self):
        return loader(2, (64, 64), batch_size=2, seed=1)

    def test_dataloader(self):
        return loader(2, (37, 53), batch_size=1, seed=2)


def _trainer(tmp_path: Path, callbacks, **kw) -> L.Trainer:
    defaults = dict(
        accelerator="cpu", max_steps=3, logger=TensorBoardLogger(str(tmp_path), name="run", version=0),
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, log_every_n_steps=50, default_root_dir=str(tmp_path), callbacks=callbacks,
    )
    defaults.update(kw)
    return L.Trainer(**defaults)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def lic_run(tmp_path_factory):
    """One fit (3 steps) and one test of a tiny LICModule with all four callbacks."""
    tmp = tmp_path_factory.mktemp("lic_run")
    records = _Records()
    logging.getLogger("jpegnn").addHandler(records)
    callbacks = [
        ComplexityCallback(input_size="128x64"),
        LatencyCallback(input_size="64x64", every_n_steps=1, repeats=2),
        MemoryCallback(every_n_steps=1),
        EnergyCallback(),
    ]
    torch.manual_seed(0)
    module = LICModule("bmshj2018-hyperprior", quality=1, N=8, M=12)
    try:
        trainer = _trainer(tmp, callbacks)
        trainer.fit(module, TinyData())
        trainer.test(module, TinyData())
    finally:
        logging.getLogger("jpegnn").removeHandler(records)
    return {"trainer": trainer, "module": module, "callbacks": callbacks, "dir": tmp / "run" / "version_0",
            "messages": records.messages}


def _scalars(run_dir: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: set[str] = set()
    for f in run_dir.glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(f))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"]) | set(acc.Tags()["tensors"])
    return tags


def test_lic_fit_and_test_still_work(lic_run):
    assert lic_run["trainer"].global_step == 3
    assert len(lic_run["module"].test_results["rows"]) == 2


def test_complexity_json_is_written_once_with_both_sides(lic_run):
    report = json.loads((lic_run["dir"] / "complexity.json").read_text())
    module = lic_run["module"]
    assert report["params"] == sum(p.numel() for p in module.parameters())
    assert report["input"] == {"width": 128, "height": 64, "channels": 3, "size": "128x64"}
    for side in ("encoder", "decoder"):
        assert report[f"gmacs_{side}"] > 0 and report["kmacs_per_pixel"][side] > 0
    assert set(report["parts"]) == {"g_a", "h_a", "h_s", "g_s", "entropy_bottleneck"}
    assert "fvcore" in report["counter"] and report["definitions"]["decoder"]
    assert lic_run["callbacks"][0].report["macs"] == report["macs"]


def test_scalars_and_tables_reach_tensorboard(lic_run):
    tags = _scalars(lic_run["dir"])
    expected = {
        "complexity/params", "complexity/gmacs_encoder", "complexity/gmacs_decoder",
        "complexity/kmacs_per_pixel_decoder", "latency/train_forward_ms", "latency/train_backward_ms",
        "latency/train_step_ms", "latency/encode_ms", "latency/decode_ms", "memory/params_mb_fp32",
        "memory/process_peak_rss_mb", "complexity/text_summary", "memory/parameters/text_summary",
    }
    assert expected <= tags


def test_latency_samples_and_codec_timing(lic_run):
    results = json.loads((lic_run["dir"] / "latency.json").read_text())
    samples = results["train_samples"]
    assert len(samples) == 2  # batches 2 and 3 (the first is skipped)
    for s in samples:
        assert 0 < s["train_forward_ms"] < s["train_step_ms"] and 0 < s["train_backward_ms"] < s["train_step_ms"]
    for stage in ("fit", "test"):
        assert results[stage]["encode_ms"] > 0 and results[stage]["decode_ms"] > 0
        assert "rANS" in results[stage]["coding"]
        assert results[stage]["decode_timing"]["repeats"] == 2
        assert results[stage]["cpu_threads"] >= 1 and results[stage]["device"] == "cpu"  # CPU latency depends on it


def test_memory_on_cpu_is_the_process_peak_rss(lic_run):
    results = json.loads((lic_run["dir"] / "memory.json").read_text())
    assert results["parameters"]["params"] == sum(p.numel() for p in lic_run["module"].parameters())
    assert results["train_memory_kind"] == "process_peak_rss"
    assert results["test"]["kind"] == "process_peak_rss" and results["test"]["peak_mb"] > 10


def test_energy_is_unavailable_without_a_gpu_and_says_so_once(lic_run):
    unavailable = [m for m in lic_run["messages"] if m.startswith("energy unavailable:")]
    assert unavailable == ["energy unavailable: no CUDA device (the run uses cpu)"]
    results = json.loads((lic_run["dir"] / "energy.json").read_text())
    assert results == {"available": False, "reason": "no CUDA device (the run uses cpu)"}
    assert not any(t.startswith("energy/") for t in _scalars(lic_run["dir"]))


def test_energy_with_a_fake_gpu(tmp_path):
    energy = FakeGpuEnergy(idle_seconds=0.05, min_seconds=0.2)
    module = LICModule("bmshj2018-hyperprior", quality=1, N=8, M=12)
    trainer = _trainer(tmp_path, [energy], max_steps=2)
    trainer.fit(module, TinyData())
    trainer.test(module, TinyData())
    results = energy.results
    assert results["mode"] == "counter" and results["idle_w"] == pytest.approx(40.0)
    (epoch,) = results["train_epochs"]
    assert epoch["images"] == 4
    # 100 W counter minus 40 W idle, over the measured time only (validation excluded)
    assert epoch["net_j"] == pytest.approx(60.0 * epoch["seconds_rank0"], rel=0.05)
    test = results["test"]
    assert test["images"] == 2 and test["j_per_image"] > 0
    for key in ("decode", "decoder_network"):
        detail = test[f"{key}_detail_rank0"]
        assert detail["total_seconds"] >= 0.2
        assert test[f"{key}_j_per_frame"] == pytest.approx(60.0 * detail["ms_per_call"] / 1e3, rel=0.05)
    tags = _scalars(tmp_path / "run" / "version_0")
    assert {"energy/train_epoch_j", "energy/train_j_per_image", "energy/test_j_per_image",
            "energy/decode_j_per_frame", "energy/decoder_network_j_per_frame"} <= tags


class TinyClassifier(L.LightningModule):
    """A non-codec module with automatic optimization (like the future JPEG classifier)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(4, 2))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        return self(batch["image"]).pow(2).mean()

    def test_step(self, batch, batch_idx):
        self(batch["image"])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_any_lightning_module(tmp_path):
    callbacks = [ComplexityCallback(input_size="32x32"), LatencyCallback(input_size="32x32", every_n_steps=1, repeats=1),
                 MemoryCallback(every_n_steps=1), FakeGpuEnergy(idle_seconds=0.02, min_seconds=0.05)]
    trainer = _trainer(tmp_path, callbacks, limit_val_batches=0)
    module = TinyClassifier()
    trainer.fit(module, TinyData())
    trainer.test(module, TinyData())
    report = callbacks[0].report
    # conv + adaptive average pooling (fvcore: one per input value) + linear
    assert report["macs"] == {"forward": 32 * 32 * 4 * 27 + 32 * 32 * 4 + 4 * 2}
    latency = callbacks[1].results
    assert all(s["train_backward_ms"] > 0 for s in latency["train_samples"])
    assert latency["fit"]["forward_ms"] > 0 and "network only" in latency["fit"]["coding"]
    test = callbacks[3].results["test"]
    assert test["images"] == 2 and "decode_j_per_frame" not in test  # no decoder to measure


def test_callbacks_from_the_shipped_yaml(tmp_path, tiny_image_folder):
    """configs/profile/callbacks.yaml appends the four callbacks to a jpegnn fit config."""
    from jpegnn.cli import main

    root = str(tiny_image_folder)
    args = [
        "fit", "--config", "tests/conf/lic_tiny.yaml", "--config", "configs/profile/callbacks.yaml",
        "--trainer.max_steps=1", "--trainer.limit_val_batches=0", f"--trainer.default_root_dir={tmp_path}",
        f"--data.init_args.train.init_args.root={root}", f"--data.init_args.val.init_args.root={root}",
        f"--data.init_args.test.init_args.root={root}",
    ]
    assert main(args) == 0  # the four callbacks are instantiated from YAML and the run finishes
    report = json.loads((tmp_path / "complexity.json").read_text())
    assert report["input"]["size"] == "768x512" and report["params"] > 0
    assert json.loads((tmp_path / "energy.json").read_text())["available"] is False
