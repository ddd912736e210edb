"""Evaluation parity with CompressAI: ``jpegnn test`` equals ``compressai.utils.eval_model``.

One tiny model per architecture CompressAI's ``eval_model`` knows is trained for two steps with
``jpegnn fit``, tested with ``jpegnn test`` (protocol ``compressai``, the default), exported with
``jpegnn export-weights``, and evaluated by CompressAI's own ``eval_model`` functions, in process,
on the same images. The images are not multiples of 64 (so the padding matters) and have a shorter
side above 160 px (pytorch_msssim's five scales, which eval_model needs).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from jpegnn.cli import main
from tests.data.imagegen import write_rgb_png

REPO = Path(__file__).resolve().parents[2]
SIZES = [(171, 230), (197, 261)]  # (height, width): no side a multiple of 64


@pytest.fixture(scope="module")
def odd_images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("odd_images")
    for i, (h, w) in enumerate(SIZES):
        write_rgb_png(root / f"im{i}.png", h, w, seed=10 + i)
    return root


def _base(images: Path, arch: str) -> list[str]:
    return ["--config", str(REPO / "tests" / "conf" / "lic_tiny.yaml"),
            *[f"--data.init_args.{role}.init_args.root={images}" for role in ("train", "val", "test")],
            f"--model.init_args.architecture={arch}", "--model.init_args.optimizer.init_args.lr=1e-3"]


def _fit(images: Path, arch: str, out: Path) -> Path:
    fit = ["fit", *_base(images, arch), "--trainer.max_steps=2", "--trainer.limit_val_batches=0",
           f"--trainer.default_root_dir={out}", "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
           f"--trainer.callbacks.dirpath={out / 'ck'}"]
    assert main(fit) == 0
    return next((out / "ck").glob("*.ckpt"))


def _jpegnn_test(images: Path, arch: str, ckpt: Path, out: Path, *extra: str) -> dict:
    assert main(["test", *_base(images, arch), "--ckpt_path", str(ckpt), f"--trainer.default_root_dir={out}",
                 *extra]) == 0
    return json.loads((out / "results.json").read_text())


def _compressai_eval_model(arch: str, weights: Path, images: Path) -> dict:
    """CompressAI's eval_model on ``weights`` (its module sets one thread on import: restored)."""
    threads = torch.get_num_threads()
    try:
        from compressai.utils.eval_model.__main__ import eval_model, load_checkpoint
    finally:
        torch.set_num_threads(threads)
    net = load_checkpoint(arch, False, str(weights))
    files = sorted(images.glob("*.png"))
    return dict(eval_model(net, images, images, files, entropy_estimation=False, half=False, per_image=False,
                           architecture=arch))


@pytest.mark.parametrize("arch", ["bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018"])
def test_jpegnn_test_equals_compressai_eval_model_on_exported_weights(arch, odd_images, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    ckpt = _fit(odd_images, arch, tmp_path / "fit")
    ours = _jpegnn_test(odd_images, arch, ckpt, tmp_path / "test")
    assert ours["protocol"] == "compressai"

    weights = tmp_path / "release" / "model.pth.tar"
    weights.parent.mkdir()
    capsys.readouterr()
    assert main(["export-weights", "--ckpt", str(ckpt), "--out", str(weights)]) == 0
    printed = capsys.readouterr().out
    assert f"-a {arch} -p {weights}" in printed
    state = torch.load(weights, weights_only=True)  # plain tensors only
    assert all(isinstance(v, torch.Tensor) for v in state.values())

    theirs = _compressai_eval_model(arch, weights, odd_images)
    assert ours["results"]["bpp"][0] == pytest.approx(theirs["bpp"], abs=1e-6)
    assert ours["results"]["psnr-rgb"][0] == pytest.approx(theirs["psnr-rgb"], abs=1e-4)
    assert ours["results"]["ms-ssim-rgb"][0] == pytest.approx(theirs["ms-ssim-rgb"], abs=1e-6)


def test_jpegnn_protocol_is_recorded_and_pads_differently(odd_images, tmp_path, monkeypatch):
    """The other protocol (edge padding bottom/right, quantiles refit) is available by name and
    recorded; on these sizes its padded input differs, so its likelihood-based bits differ."""
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    ckpt = _fit(odd_images, "bmshj2018-hyperprior", tmp_path / "fit")
    a = _jpegnn_test(odd_images, "bmshj2018-hyperprior", ckpt, tmp_path / "a")
    b = _jpegnn_test(odd_images, "bmshj2018-hyperprior", ckpt, tmp_path / "b", "--model.init_args.eval_protocol=jpegnn")
    assert (a["protocol"], b["protocol"]) == ("compressai", "jpegnn")
    assert "edge replication" in b["description"] and "zeros" in a["description"]
    est = [_mean_column(tmp_path / d / "per_image.csv", "bpp_estimated") for d in ("a", "b")]
    assert est[0] != est[1]


def _mean_column(path: Path, column: str) -> float:
    with open(path) as fh:
        values = [float(row[column]) for row in csv.DictReader(fh)]
    return sum(values) / len(values)


def test_unknown_protocol_is_one_clear_line(odd_images, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["test", *_base(odd_images, "bmshj2018-hyperprior"), "--model.init_args.eval_protocol=bogus"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("jpegnn: error: argument 'eval_protocol' must be one of compressai, jpegnn")
