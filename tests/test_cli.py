"""The jpegnn CLI: every shipped config parses, round-trips --print_config and runs fast_dev_run."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from jpegnn.cli import main
from tests.helpers import parsed_after_ckpt_reload

REPO = Path(__file__).resolve().parents[1]
LIC_CONFIGS = sorted((REPO / "configs" / "lic").glob("*.yaml"))


def _print_config(args: list[str]) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["fit", *args, "--print_config"]) == 0
    return buf.getvalue()


@pytest.mark.parametrize("config", LIC_CONFIGS + [REPO / "configs" / "demo.yaml"], ids=lambda p: p.stem)
def test_print_config_round_trips(config, tmp_path):
    first = _print_config(["--config", str(config)])
    dumped = tmp_path / "dumped.yaml"
    dumped.write_text(first)
    assert _print_config(["--config", str(dumped)]) == first
    assert yaml.safe_load(first)["model"]["class_path"] == "jpegnn.tasks.LICModule"


ZOO_STACKS = {
    "zoo": ["configs/data/photos.yaml", "configs/zoo/mbt2018-mean-cpu.yaml"],
    "zoo-crop256": ["configs/data/photos.yaml", "configs/zoo/mbt2018-mean-cpu.yaml", "configs/zoo/crop256.yaml"],
    "zoo-context": ["configs/data/photos.yaml", "configs/zoo/mbt2018-mean-cpu.yaml", "configs/zoo/crop256.yaml",
                    "configs/zoo/context.yaml"],
}


@pytest.mark.parametrize("stack", sorted(ZOO_STACKS))
def test_zoo_recipe_configs_round_trip(stack, tmp_path):
    """The CPU zoo's layered configs: --print_config of the stack re-parses to itself, the crop256
    overlay changes the training crops (256 px, batch 4, 4,000 crops = 1,000 steps), the context
    overlay the model (mbt2018, mixed quantization, lr 1e-4) and nothing else."""
    args = [a for c in ZOO_STACKS[stack] for a in ("--config", str(REPO / c))]
    first = _print_config(args)
    dumped = tmp_path / "dumped.yaml"
    dumped.write_text(first)
    assert _print_config(["--config", str(dumped)]) == first
    data = yaml.safe_load(first)["data"]["init_args"]
    crops = (data["patch_size"], data["batch_size"], data["train_samples_per_epoch"])
    assert crops == ((128, 8, 8000) if stack == "zoo" else (256, 4, 4000))
    model = yaml.safe_load(first)["model"]["init_args"]
    context = (model["architecture"], model["latent_quantizer"], model["compile"], model["optimizer"]["init_args"]["lr"])
    assert context == (("mbt2018", "ste", True, 1e-4) if stack == "zoo-context" else ("mbt2018-mean", "noise", False, 1e-3))
    assert (model["N"], model["M"], model["aux_optimizer"]["init_args"]["lr"]) == (64, 96, 1e-3)
    assert data["train_samples_per_epoch"] // data["batch_size"] == 1000
    assert data["val_patch_size"] == 256 and data["train"]["class_path"] == "jpegnn.data.Photos"


def _tiny_lic_args(config: Path, vimeo: Path, kodak: Path, tmp_path: Path) -> list[str]:
    arch = yaml.safe_load(config.read_text())["model"]["init_args"]["architecture"]
    return [
        "--config", str(config),
        "--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.fast_dev_run=true",
        f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path}",
        "--model.init_args.N=8", f"--model.init_args.M={40 if arch == 'elic' else 12}",
        f"--data.init_args.train.init_args.root={vimeo}", f"--data.init_args.val.init_args.root={vimeo}",
        f"--data.init_args.test.init_args.root={kodak}",
        "--data.init_args.patch_size=64", "--data.init_args.val_patch_size=64",
        "--data.init_args.batch_size=2", "--data.init_args.val_batch_size=2", "--data.init_args.num_workers=0",
    ]


@pytest.mark.parametrize("config", LIC_CONFIGS, ids=lambda p: p.stem)
def test_lic_config_fast_dev_run(config, tiny_vimeo, tiny_kodak, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = _tiny_lic_args(config, tiny_vimeo, tiny_kodak, tmp_path)
    assert main(["fit", *args]) == 0
    assert main(["test", *args]) == 0
    results = list(tmp_path.rglob("results.json"))
    assert results, "test must write results.json"
    data = json.loads(results[0].read_text())
    assert len(data["results"]["bpp"]) == 1 and data["results"]["bpp"][0] > 0


def test_unknown_architecture_is_one_clear_line(tiny_vimeo, tiny_kodak, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = _tiny_lic_args(LIC_CONFIGS[0], tiny_vimeo, tiny_kodak, tmp_path)
    assert main(["fit", *args, "--model.init_args.architecture=bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("jpegnn: error: unknown architecture 'bogus'")
    assert not any("Traceback" in line for line in err)


def test_missing_dataset_root_is_one_clear_line(tiny_kodak, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "no_such_vimeo"
    args = _tiny_lic_args(LIC_CONFIGS[0], missing, tiny_kodak, tmp_path)
    assert main(["fit", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("jpegnn: error:") and str(missing) in err[-1]


def test_help_lists_extra_subcommands():
    proc = subprocess.run([sys.executable, "-m", "jpegnn", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    from jpegnn.commands import available_commands

    for name in ("fit", "validate", "test", "predict", *available_commands()):
        assert name in proc.stdout
    assert {"bench", "compress", "decompress"} <= set(available_commands())


def test_validate_and_predict_subcommands(tiny_vimeo, tiny_kodak, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = _tiny_lic_args(REPO / "configs" / "lic" / "bmshj2018-hyperprior.yaml", tiny_vimeo, tiny_kodak, tmp_path)
    args += ["--data.init_args.val_fraction=0.34"]  # the tiny Vimeo has no test list: hold out one clip
    assert main(["validate", *args]) == 0
    assert main(["predict", *args]) == 0


def _lic_tiny_base(images: Path) -> list[str]:
    return ["--config", str(REPO / "tests" / "conf" / "lic_tiny.yaml"),
            *[f"--data.init_args.{role}.init_args.root={images}" for role in ("train", "val", "test")]]


@pytest.fixture(scope="module")
def lic_tiny_ckpt(tiny_kodak, tmp_path_factory) -> Path:
    """A one-step `jpegnn fit` checkpoint of tests/conf/lic_tiny.yaml (N=8, M=12), clip_max_norm 2.0."""
    out = tmp_path_factory.mktemp("lic_tiny_ckpt")
    fit = ["fit", *_lic_tiny_base(tiny_kodak), "--trainer.max_steps=1", "--trainer.limit_val_batches=0",
           f"--trainer.default_root_dir={out}", "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
           f"--trainer.callbacks.dirpath={out / 'ck'}", "--model.init_args.clip_max_norm=2.0"]
    assert main(fit) == 0
    return next((out / "ck").glob("*.ckpt"))


def test_explicit_model_flags_win_over_ckpt_hparams_nested_keys_included(lic_tiny_ckpt, tiny_kodak, tmp_path, monkeypatch):
    """Lightning reloads the checkpoint's hyperparameters over the config; flags on the command
    line (top-level or nested, e.g. the optimizer's lr) must still win, and nothing else changes."""
    monkeypatch.chdir(tmp_path)
    test = ["test", *_lic_tiny_base(tiny_kodak), "--ckpt_path", str(lic_tiny_ckpt)]

    model = parsed_after_ckpt_reload(test).model
    assert model.hparams.clip_max_norm == 2.0  # the checkpoint's value, over the config's 1.0
    assert model.optimizer_factory.keywords["lr"] == 1e-4

    model = parsed_after_ckpt_reload([*test, "--model.init_args.optimizer.init_args.lr", "0.5",
                                       "--model.init_args.num_log_images=0"]).model
    assert model.optimizer_factory.keywords["lr"] == 0.5
    assert model.hparams.num_log_images == 0 and model.hparams.clip_max_norm == 2.0

    model = parsed_after_ckpt_reload([*test, "--model.clip_max_norm", "3.0",
                                       "--model.init_args.optimizer", "torch.optim.SGD",
                                       "--model.init_args.optimizer.lr=0.3"]).model
    assert model.hparams.clip_max_norm == 3.0
    assert model.optimizer_factory.args[-1] is torch.optim.SGD and model.optimizer_factory.keywords["lr"] == 0.3


def test_bad_ckpt_path_is_one_clear_line(lic_tiny_ckpt, tiny_kodak, tmp_path, monkeypatch, capsys):
    """A missing, foreign or truncated --ckpt_path, or weights of another width, end in one line
    naming --ckpt_path and the file (exit 2), never in Lightning's or torch's traceback."""
    monkeypatch.chdir(tmp_path)
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(lic_tiny_ckpt.read_bytes()[:4000])
    cases = [
        (tmp_path / "none.ckpt", [], "checkpoint not found"),
        (text, [], "is not a readable PyTorch checkpoint"),
        (truncated, [], "is not a readable PyTorch checkpoint"),
        (lic_tiny_ckpt, ["--model.init_args.N=16"], "does not fit the configured model (52 size mismatch(es)"),
    ]
    for path, extra, message in cases:
        for sub in ("test", "fit"):
            args = [sub, *_lic_tiny_base(tiny_kodak), f"--trainer.default_root_dir={tmp_path}", "--ckpt_path", str(path), *extra]
            assert main(args) == 2, (sub, path)
            err = capsys.readouterr().err.strip().splitlines()
            assert err[-1].startswith("jpegnn: error: --ckpt_path: ") and str(path) in err[-1] and message in err[-1], err[-1]


def test_unreadable_image_in_a_dataloader_worker_is_one_line(tiny_kodak, tmp_path, monkeypatch, capsys):
    """torch re-raises a worker's DataError with the worker's traceback in its message; the CLI
    prints the worker's own one-line message."""
    import shutil

    monkeypatch.chdir(tmp_path)
    images = tmp_path / "images"
    images.mkdir()
    good = sorted(tiny_kodak.glob("*.png"))[0]
    shutil.copy(good, images / "a.png")
    (images / "b.png").write_bytes(good.read_bytes()[:200])  # truncated
    args = ["fit", *_lic_tiny_base(images), "--trainer.max_steps=2", "--trainer.limit_val_batches=0",
            f"--trainer.default_root_dir={tmp_path}", "--data.init_args.num_workers=1"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"jpegnn: error: cannot read image {images / 'b.png'}: image file is truncated", err[-1]
