"""configs/enhance/*.yaml: --print_config round trips; fast_dev_run fit + test through the CLI.

(tests/test_cli.py's generic round-trip test covers configs/lic and demo.yaml only, so the
enhancement configs are checked here.)
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import yaml

from jpegnn.cli import main

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs" / "enhance").glob("*.yaml"))


def _print_config(args: list[str]) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["fit", *args, "--print_config"]) == 0
    return buf.getvalue()


def test_both_modes_ship():
    assert {"rdn-ctu-jpeg20", "rdn-rgb-jpeg20"} <= {p.stem for p in CONFIGS}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_print_config_round_trips(config, tmp_path):
    first = _print_config(["--config", str(config)])
    dumped = tmp_path / "dumped.yaml"
    dumped.write_text(first)
    assert _print_config(["--config", str(dumped)]) == first
    assert yaml.safe_load(first)["model"]["class_path"] == "jpegnn.tasks.EnhancementModule"


def _tiny_args(config: Path, vimeo: Path, kodak: Path, tmp_path: Path) -> list[str]:
    mode = yaml.safe_load(config.read_text())["model"]["init_args"]["mode"]
    return [
        "--config", str(config),
        "--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.fast_dev_run=true",
        f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path}",
        "--model.init_args.features=8", "--model.init_args.blocks=1", "--model.init_args.layers=2",
        "--model.init_args.growth=4", "--model.init_args.ctu_size=16",
        f"--data.init_args.train.init_args.root={vimeo}", f"--data.init_args.test.init_args.root={kodak}",
        f"--data.init_args.patch_size={24 if mode == 'ctu' else 32}", "--data.init_args.val_patch_size=32",
        "--data.init_args.batch_size=2", "--data.init_args.val_batch_size=2", "--data.init_args.num_workers=0",
        "--data.init_args.val_fraction=0.34", "--data.init_args.train_samples_per_epoch=4",
    ]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_config_fast_dev_run(config, tiny_vimeo, tiny_kodak, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = _tiny_args(config, tiny_vimeo, tiny_kodak, tmp_path)
    assert main(["fit", *args]) == 0
    assert main(["test", *args]) == 0
    data = json.loads(next(tmp_path.rglob("enhance_results.json")).read_text())
    assert data["images"] == 1 and "psnr_y_gain" in data["mean"]  # fast_dev_run: one test batch


def test_bad_loss_name_is_one_clear_line(tiny_vimeo, tiny_kodak, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = _tiny_args(CONFIGS[0], tiny_vimeo, tiny_kodak, tmp_path)
    assert main(["fit", *args, "--model.init_args.loss={psnr: 1.0}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("jpegnn: error: loss: unknown term(s) ['psnr']")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_loss_entry_flag_merges_into_the_checkpoints_loss(tiny_vimeo, tiny_kodak, tmp_path, monkeypatch):
    """`loss` is a plain dict the checkpoint stores: with --ckpt_path it comes back from the
    checkpoint, and a flag into one entry (--model.init_args.loss.satd8) changes only that entry."""
    from tests.helpers import parsed_after_ckpt_reload

    monkeypatch.chdir(tmp_path)
    args = [a for a in _tiny_args(CONFIGS[0], tiny_vimeo, tiny_kodak, tmp_path) if "fast_dev_run" not in a]
    fit = ["fit", *args, "--trainer.max_steps=1", "--trainer.limit_val_batches=0", "--model.init_args.loss.l1=0.25",
           "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint", f"--trainer.callbacks.dirpath={tmp_path / 'ck'}"]
    assert main(fit) == 0
    test = ["test", *args, "--ckpt_path", str(next((tmp_path / "ck").glob("*.ckpt")))]
    assert parsed_after_ckpt_reload(test).model.criterion.weights == {"mse": 1.0, "l1": 0.25}
    model = parsed_after_ckpt_reload([*test, "--model.init_args.loss.satd8", "0.5"]).model
    assert model.criterion.weights == {"mse": 1.0, "l1": 0.25, "satd8": 0.5}
    model = parsed_after_ckpt_reload([*test, "--model.init_args.loss={dct_mse: 1.0}"]).model
    assert model.criterion.weights == {"dct_mse": 1.0}
