"""configs/kd/*.yaml: --print_config round trips, fast_dev_run fit + test through jpegnn.cli.main,
and the issue's end-to-end flow (teacher checkpoint -> student -> test with real bitstreams)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from compressai.models import ScaleHyperprior

from jpegnn.cli import main
from jpegnn.tasks.distillation import AutoencoderDistillationModule
from jpegnn.tasks.lic import LICModule
from tests.helpers import loader

REPO = Path(__file__).resolve().parents[2]
KD_CONFIGS = sorted((REPO / "configs" / "kd").glob("*.yaml"))
#: configs whose fast_dev_run also runs `jpegnn test` (real bitstreams; one per kind of teacher)
TESTED = {"hyperprior-student", "hyperprior-student-zoo", "autoencoder-student"}
KD_CLASSES = {"jpegnn.tasks.DistillationModule", "jpegnn.tasks.AutoencoderDistillationModule"}


def _print_config(args: list[str]) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["fit", *args, "--print_config"]) == 0
    return buf.getvalue()


def test_every_kind_of_kd_config_ships():
    names = {p.stem for p in KD_CONFIGS}
    assert {"hyperprior-student", "hyperprior-student-zoo", "hyperprior-student-hybrid",
            "autoencoder-teacher", "autoencoder-student"} <= names


@pytest.mark.parametrize("config", KD_CONFIGS, ids=lambda p: p.stem)
def test_print_config_round_trips(config, tmp_path):
    first = _print_config(["--config", str(config)])
    dumped = tmp_path / "dumped.yaml"
    dumped.write_text(first)
    assert _print_config(["--config", str(dumped)]) == first
    assert yaml.safe_load(first)["model"]["class_path"] in KD_CLASSES


def _quick(module, root: Path, name: str) -> Path:
    trainer = L.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        default_root_dir=str(root))
    trainer.fit(module, train_dataloaders=loader(2, (64, 64), batch_size=2))
    path = root / name
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    """Tiny stand-ins for every teacher a config names (made here, never downloaded)."""
    root = tmp_path_factory.mktemp("kd_teachers")
    torch.manual_seed(0)
    out = {"lic": _quick(LICModule("bmshj2018-hyperprior", quality=1, N=16, M=24), root, "lic.ckpt"),
           "ae": _quick(AutoencoderDistillationModule(N=8, M=8), root, "ae.ckpt")}
    for quality in (5, 1):
        path = root / f"random-hyperprior-q{quality}.pth.tar"  # zoo format, randomly initialised
        torch.save(ScaleHyperprior(16, 24).state_dict(), path)
        out[f"zoo{quality}"] = path
    return out


def _tiny_args(config: Path, teachers: dict, vimeo: Path, kodak: Path, tmp_path: Path) -> list[str]:
    cfg = yaml.safe_load(config.read_text())
    init = cfg["model"]["init_args"]
    args = [
        "--config", str(config),
        "--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.fast_dev_run=true",
        f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path}",
        f"--data.init_args.train.init_args.root={vimeo}", f"--data.init_args.val.init_args.root={vimeo}",
        f"--data.init_args.test.init_args.root={kodak}",
        "--data.init_args.patch_size=64", "--data.init_args.val_patch_size=64",
        "--data.init_args.batch_size=2", "--data.init_args.val_batch_size=2", "--data.init_args.num_workers=0",
        "--model.init_args.N=8",
    ]
    if cfg["model"]["class_path"].endswith("AutoencoderDistillationModule"):
        args.append("--model.init_args.M=8")
        if "teacher_ckpt" in init:
            args.append(f"--model.init_args.teacher_ckpt={teachers['ae']}")
        return args
    if "teacher_ckpt" in init:
        args.append(f"--model.init_args.teacher_ckpt={teachers['lic']}")
    if "teacher_weights" in init:
        args.append(f"--model.init_args.teacher_weights={teachers['zoo' + str(init['teacher_quality'])]}")
    if "rate_teacher_weights" in init:
        args.append(f"--model.init_args.rate_teacher_weights={teachers['zoo' + str(init['rate_teacher_quality'])]}")
    return args


@pytest.mark.parametrize("config", KD_CONFIGS, ids=lambda p: p.stem)
def test_kd_config_fast_dev_run(config, teachers, tiny_vimeo, tiny_kodak, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = _tiny_args(config, teachers, tiny_vimeo, tiny_kodak, tmp_path)
    assert main(["fit", *args]) == 0
    if config.stem not in TESTED:
        return  # the student's test path is the same LICModule/autoencoder code as below
    assert main(["test", *args]) == 0
    if "autoencoder" in config.stem:
        data = json.loads(next(tmp_path.rglob("reconstruction.json")).read_text())
        assert data["psnr-rgb"] > 0 and len(data["per_image"]) == 1
    else:
        data = json.loads(next(tmp_path.rglob("results.json")).read_text())
        assert data["results"]["bpp"][0] > 0 and data["name"] == "kd-bmshj2018-hyperprior-N8"


def test_fit_then_test_the_student_checkpoint_without_its_teacher(teachers, tiny_vimeo, tiny_kodak, tmp_path, monkeypatch):
    """The issue's flow: `jpegnn fit --config configs/kd/...` then `jpegnn test --ckpt_path`, teacher gone."""
    import shutil

    monkeypatch.chdir(tmp_path)
    teacher = tmp_path / "teacher.ckpt"
    shutil.copy(teachers["lic"], teacher)
    config = REPO / "configs" / "kd" / "hyperprior-student.yaml"
    args = _tiny_args(config, {**teachers, "lic": teacher}, tiny_vimeo, tiny_kodak, tmp_path)
    args = [a for a in args if a != "--trainer.fast_dev_run=true"] + [
        "--trainer.max_steps=2", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
        "--trainer.num_sanity_val_steps=0", "--trainer.limit_test_batches=2",
    ]
    assert main(["fit", *args]) == 0
    # the config's best-val/loss ModelCheckpoint, relative to the working directory
    saved = sorted((tmp_path / "checkpoints" / "kd-hyperprior-student").glob("*.ckpt"))
    assert saved, "fit must write a checkpoint"
    teacher.unlink()
    assert main(["test", *args, f"--ckpt_path={saved[0]}"]) == 0
    # the CLI-written checkpoint also reloads as a DistillationModule and as the student codec
    from jpegnn.tasks.distillation import DistillationModule
    from jpegnn.tasks.loading import load_module

    again = DistillationModule.load_from_checkpoint(saved[0], weights_only=True)
    assert again.hparams.N == 8 and again._teachers is None
    assert type(load_module(saved[0], LICModule)) is LICModule
    data = json.loads(next(tmp_path.rglob("results.json")).read_text())
    assert data["results"]["bpp"][0] > 0
