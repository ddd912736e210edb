"""``jpegnn bench --enhance CKPT``: a "codec + filter" curve beside the codec alone, same bitstreams."""

from __future__ import annotations

import csv
import json

import lightning as L
import pytest
import torch

from jpegnn.commands.bench import main as bench_main
from jpegnn.enhance import JPEGDegradation
from jpegnn.errors import CheckpointError, ConfigError
from jpegnn.tasks import EnhancementModule
from jpegnn.tasks.lic import LICModule
from tests.data.imagegen import write_rgb_png
from tests.helpers import loader


def _fit_and_save(module, path, size=24):
    trainer = L.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(module, train_dataloaders=loader(2, (size, size), batch_size=2))
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="module")
def filter_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    module = EnhancementModule(mode="ctu", ctu_size=16, features=8, blocks=1, layers=2, growth=4,
                               degradation=JPEGDegradation(20), results_name="tiny-filter")
    return _fit_and_save(module, tmp_path_factory.mktemp("filter") / "filter.ckpt")


@pytest.fixture
def dataset(tmp_path):
    ds = tmp_path / "ds"
    write_rgb_png(ds / "a.png", 45, 70, seed=1)
    write_rgb_png(ds / "b.png", 64, 48, seed=2)
    return ds


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_bench_chains_the_filter_after_jpeg(filter_ckpt, dataset, tmp_path):
    out = tmp_path / "out"
    assert bench_main(["--codec", "jpeg", "--enhance", str(filter_ckpt), "--dataset", str(dataset),
                       "--out", str(out), "-q", "20,60", "-j", "1", "--no-progress"]) == 0
    plain = json.loads((out / "jpeg.json").read_text())
    chained = json.loads((out / "jpeg+tiny-filter.json").read_text())
    assert plain["results"]["bpp"] == chained["results"]["bpp"]  # same bitstreams
    assert chained["results"]["psnr-rgb"] != plain["results"]["psnr-rgb"]
    with open(out / "jpeg+tiny-filter_per_image.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and all(float(r["filter_time"]) > 0 for r in rows)
    with open(out / "bd_table.csv", newline="") as fh:
        assert [r["name"] for r in csv.DictReader(fh)] == ["jpeg", "jpeg+tiny-filter"]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_enhance_errors_are_clear(filter_ckpt, dataset, tmp_path):
    base = ["--dataset", str(dataset), "--out", str(tmp_path / "o"), "-j", "1", "--no-progress"]
    with pytest.raises(ConfigError, match="webp not among"):
        bench_main(["--codec", "jpeg", "--enhance", str(filter_ckpt), "--enhance-codec", "webp", *base])
    with pytest.raises(ConfigError, match="needs --enhance"):
        bench_main(["--codec", "jpeg", "--enhance-codec", "jpeg", *base])
    with pytest.raises(CheckpointError, match="nope.ckpt"):
        bench_main(["--codec", "jpeg", "--enhance", str(tmp_path / "nope.ckpt"), *base])
    lic = _fit_and_save(LICModule("bmshj2018-factorized", N=8, M=12), tmp_path / "lic.ckpt", 64)
    with pytest.raises(CheckpointError, match="EnhancementModule"):
        bench_main(["--codec", "jpeg", "--enhance", str(lic), *base])
