"""jpegnn.demo without training: run_lightning_cli is replaced by a stand-in that records its argv."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import torch
import yaml

import jpegnn.demo as demo
from jpegnn.evaluation.classical import JpegCodec, _bpp_of, as_uint8_hwc

REPO = Path(__file__).resolve().parents[2]


def _fake_cli(tmp_path, calls, image):
    stale = tmp_path / "checkpoints" / "demo" / "last.ckpt"  # left by an earlier run
    fresh = stale.with_name("last-v1.ckpt")
    for f in (stale, fresh):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x")

    def run(argv):
        calls.append(list(argv))
        trainer = SimpleNamespace(checkpoint_callback=SimpleNamespace(last_model_path=str(fresh)),
                                  logger=SimpleNamespace(version=3), log_dir=str(tmp_path / "runs"))
        row = dict(image="pic", width=64, height=48, bpp=0.9, psnr_rgb=30.0, ms_ssim_rgb=0.9,
                   encoding_time=0.01, decoding_time=0.01)
        return SimpleNamespace(trainer=trainer, model=SimpleNamespace(test_results={"rows": [row]}),
                               datamodule=SimpleNamespace(test_dataset=[{"name": "pic", "image": image}]))

    return run, fresh


def test_demo_tests_the_checkpoint_this_fit_wrote_and_jpeg_at_nearest_bpp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    g = torch.Generator().manual_seed(0)
    coarse = torch.nn.functional.interpolate(torch.rand(1, 3, 6, 8, generator=g), size=(48, 64), mode="bilinear")[0]
    image = (0.8 * coarse + 0.2 * torch.rand(3, 48, 64, generator=g)).clamp(0, 1)
    calls = []
    run, fresh = _fake_cli(tmp_path, calls, image)
    monkeypatch.setattr(demo, "run_lightning_cli", run)
    out = io.StringIO()
    with redirect_stdout(out):
        assert demo.main([]) == 0
    fit, test = calls
    assert test[test.index("--ckpt_path") + 1] == str(fresh)  # not the stale checkpoints/demo/last.ckpt
    assert "--trainer.logger.init_args.version=3" in test  # results land in the fit's run folder
    # the JPEG column is the quality whose actual bpp is nearest to the learned codec's 0.9
    line = next(ln for ln in out.getvalue().splitlines() if ln.startswith("pic"))
    q, bpp = int(line.split("|")[2].split()[0]), float(line.split("|")[2].split()[1])
    codec, img = JpegCodec("jpeg", "JPEG 4:2:0", subsampling=2), as_uint8_hwc(image)
    all_bpp = {k: _bpp_of(codec, img, k) for k in range(1, 101)}
    assert abs(all_bpp[q] - bpp) < 5e-4
    assert abs(all_bpp[q] - 0.9) == min(abs(b - 0.9) for b in all_bpp.values())


def test_demo_config_missing_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "__file__", str(tmp_path / "site-packages" / "jpegnn" / "demo.py"))
    monkeypatch.setattr(demo, "run_lightning_cli", lambda argv: (_ for _ in ()).throw(AssertionError(argv)))
    assert demo.main([]) == 2
    assert "jpegnn demo: error: configs/demo.yaml not found" in capsys.readouterr().err


def test_demo_config_overwrites_last_checkpoint():
    cfg = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    ckpt = next(c for c in cfg["trainer"]["callbacks"] if c["class_path"].endswith("ModelCheckpoint"))
    assert ckpt["init_args"]["save_last"] is True and ckpt["init_args"]["enable_version_counter"] is False
