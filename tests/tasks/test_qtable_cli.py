"""configs/jpeg/*.yaml: each parses, round-trips --print_config and runs fast_dev_run through jpegnn.cli.main."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import torch
import yaml

from jpegnn.cli import main
from tests.data.imagegen import write_class_folder
from tests.data.test_ade20k_data import write_ade

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs" / "jpeg").glob("*.yaml"))
TASKS = {"classify": "QTableClassifier", "baseline_quality": "QTableClassifier",
         "frequency": "QTableClassifier", "segment": "QTableSegmenter"}


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    return write_class_folder(tmp_path_factory.mktemp("imagefolder"), tuple("abcdefghij"),
                              {"train": 2, "val": 1}, 40, 44, seed_step=100)


@pytest.fixture(scope="module")
def tiny_ade(tmp_path_factory) -> Path:
    return write_ade(tmp_path_factory.mktemp("ade") / "ADEChallengeData2016")


def _print_config(args: list[str]) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["fit", *args, "--print_config"]) == 0
    return buf.getvalue()


def test_all_four_configs_exist():
    assert {c.stem for c in CONFIGS} >= set(TASKS)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_print_config_round_trips(config, tmp_path):
    first = _print_config(["--config", str(config)])
    dumped = tmp_path / "dumped.yaml"
    dumped.write_text(first)
    assert _print_config(["--config", str(dumped)]) == first
    assert yaml.safe_load(first)["model"]["class_path"] == f"jpegnn.tasks.{TASKS[config.stem]}"


def _tiny_args(config: Path, tmp_path: Path, folder: Path, ade: Path) -> list[str]:
    args = [
        "--config", str(config),
        "--trainer.accelerator=cpu", "--trainer.devices=1",
        f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path}",
    ]
    stem = config.stem
    if stem in ("classify", "baseline_quality"):
        args += [f"--data.init_args.root={folder}", "--data.init_args.image_size=32", "--data.init_args.batch_size=4",
                 "--data.init_args.num_workers=0", "--model.init_args.arch=small_cnn"]
    elif stem == "segment":
        args += [f"--data.init_args.root={ade}", "--data.init_args.crop_size=32", "--data.init_args.base_size=40",
                 "--data.init_args.eval_size=32", "--data.init_args.batch_size=2", "--data.init_args.num_workers=0",
                 "--model.init_args.arch=tiny"]
    elif stem == "frequency":
        args += ["--data.init_args.num_train=32", "--data.init_args.num_val=16", "--data.init_args.num_test=16",
                 "--data.init_args.batch_size=16"]
    return args


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_config_fast_dev_run(config, tiny_folder, tiny_ade, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = _tiny_args(config, tmp_path, tiny_folder, tiny_ade)
    assert main(["fit", *args, "--trainer.fast_dev_run=true"]) == 0
    assert main(["test", *args, "--trainer.fast_dev_run=true", "--model.init_args.real_jpeg=true"]) == 0
    results = list(tmp_path.rglob("qtable_results.json"))
    assert results and "test/bpp_real" in json.loads(results[0].read_text())["metrics"]


def test_cli_checkpoint_exports(tiny_folder, tiny_ade, tmp_path, monkeypatch):
    """A checkpoint written by `jpegnn fit` (LightningCLI hparams) loads weights-only and exports."""
    monkeypatch.chdir(tmp_path)
    config = REPO / "configs" / "jpeg" / "frequency.yaml"
    args = _tiny_args(config, tmp_path, tiny_folder, tiny_ade)
    assert main(["fit", *args, "--trainer.max_steps=2", "--trainer.limit_val_batches=1"]) == 0
    ckpt = tmp_path / "checkpoints" / "jpeg-frequency" / "last.ckpt"
    assert ckpt.is_file()
    assert "jpeg_qtables" in torch.load(ckpt, map_location="cpu", weights_only=True)
    out = tmp_path / "t.json"
    assert main(["export-qtables", "--ckpt", str(ckpt), "--out", str(out)]) == 0
    assert len(json.loads(out.read_text())["qtables"]) == 2
    # Lightning reloads the checkpoint's hyperparameters for a file ckpt_path; an explicit flag
    # (here real_jpeg, False at fit time) must still win
    for old in tmp_path.rglob("qtable_results.json"):
        old.unlink()
    assert main(["test", *args, f"--ckpt_path={ckpt}", "--model.init_args.real_jpeg", "true"]) == 0
    results = list(tmp_path.rglob("qtable_results.json"))
    assert results and "test/bpp_real" in json.loads(results[0].read_text())["metrics"]


def test_wrong_num_classes_is_one_clear_line(tiny_folder, tiny_ade, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = _tiny_args(REPO / "configs" / "jpeg" / "classify.yaml", tmp_path, tiny_folder, tiny_ade)
    assert main(["fit", *args, "--trainer.fast_dev_run=true", "--model.init_args.num_classes=7"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("jpegnn: error:") and "num_classes" in err[-1]
