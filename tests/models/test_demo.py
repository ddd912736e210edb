"""jpegnn.demo on a tiny zoo: the fit/test steps are a stand-in that records its argv, the zoo part
(three rates of a tiny mbt2018-mean, JPEG/WebP at matched bpp, the bench figure, the summary) runs."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

import jpegnn.demo as demo
import jpegnn.zoo as zoo
from jpegnn.cli import main as jpegnn_main
from jpegnn.data import ImageFolder
from tests.data.imagegen import write_rgb_png

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "tests" / "conf" / "lic_tiny.yaml")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo_images")
    write_rgb_png(root / "pic.png", 48, 64, seed=1)
    write_rgb_png(root / "odd.png", 50, 70, seed=2)
    return root


@pytest.fixture(scope="module")
def tiny_zoo(images, tmp_path_factory) -> Path:
    """Three rates of the demo's family: one tiny mbt2018-mean (N=8, M=12), 2 training steps, released
    as qualities 1, 3 and 5."""
    out = tmp_path_factory.mktemp("demo_zoo_ckpt")
    fit = ["fit", "--config", TINY, *[f"--data.init_args.{r}.init_args.root={images}" for r in ("train", "val", "test")],
           "--model.init_args.architecture=mbt2018-mean", f"--trainer.default_root_dir={out}", "--trainer.max_steps=2",
           "--trainer.limit_val_batches=0", "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
           f"--trainer.callbacks.dirpath={out / 'ck'}"]
    assert jpegnn_main(fit) == 0
    ckpt = next((out / "ck").glob("*.ckpt"))
    folder = tmp_path_factory.mktemp("demo_zoo")
    for q in (1, 3, 5):
        zoo.release(ckpt, demo.FAMILY, q, cpu_hours=0.0, data="test images", config=TINY, zoo_dir=folder)
    return folder


def _stand_in(tmp_path, calls, images: Path):
    stale = tmp_path / "checkpoints" / "demo" / "last.ckpt"  # left by an earlier run
    fresh = stale.with_name("last-v1.ckpt")
    for f in (stale, fresh):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x")
    test_set = ImageFolder(str(images))

    def run(argv):
        calls.append(list(argv))
        trainer = SimpleNamespace(checkpoint_callback=SimpleNamespace(last_model_path=str(fresh)),
                                  logger=SimpleNamespace(version=3), log_dir=str(tmp_path / "runs"), global_step=150)
        row = dict(image="pic", width=64, height=48, bpp=0.9, psnr_rgb=30.0, ms_ssim_rgb=float("nan"),
                   encoding_time=0.01, decoding_time=0.01)
        return SimpleNamespace(trainer=trainer, model=SimpleNamespace(test_results={"rows": [row]}),
                               datamodule=SimpleNamespace(test_dataset=test_set))

    return run, fresh


def test_demo_codes_every_zoo_rate_beside_jpeg_and_webp_at_matched_bpp(tiny_zoo, images, tiny_kodak, tmp_path,
                                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(zoo.ENV_VAR, str(tiny_zoo))
    calls = []
    run, fresh = _stand_in(tmp_path, calls, images)
    monkeypatch.setattr(demo, "run_lightning_cli", run)
    out = io.StringIO()
    with redirect_stdout(out):
        assert demo.main(["--kodak", str(tiny_kodak), "--out", str(tmp_path / "o")]) == 0
    fit, test = calls
    assert fit[0] == "fit" and test[test.index("--ckpt_path") + 1] == str(fresh)  # not the stale last.ckpt
    assert "--trainer.logger.init_args.version=3" in test  # results land in the fit's run folder

    summary = json.loads((tmp_path / "o" / "demo_summary.json").read_text())
    assert summary["zoo"]["rates"] == [f"{demo.FAMILY}-q{q}" for q in (1, 3, 5)]
    assert set(summary["sets"]) == {"builtin", "kodak"}
    builtin = summary["sets"]["builtin"]
    assert builtin["images"] == ["odd", "pic"] and len(summary["sets"]["kodak"]["images"]) == 24
    for rate in summary["zoo"]["rates"]:
        for key in (rate, f"jpeg@{rate}", f"webp@{rate}"):
            assert set(builtin["codecs"][key]) == {"bpp", "psnr_rgb", "ms_ssim_rgb"}
    gain = builtin["mean_gain_db_vs_jpeg"]
    assert isinstance(gain, float) and gain == gain  # a number, whichever sign
    assert (tmp_path / "o" / "builtin" / "rd.png").stat().st_size > 0
    bd = (tmp_path / "o" / "kodak" / "bd_table.md").read_text()
    assert "pchip" in bd.lower()  # defined for a 3-rate zoo (the cubic fit needs 4 points)
    zoo_row = next(ln for ln in bd.splitlines() if ln.startswith(f"| {demo.FAMILY}"))
    assert "nan" not in zoo_row.lower()
    text = out.getvalue()
    assert f"{demo.FAMILY}-q3" in text and "over JPEG 4:2:0" in text and "fine-tune (150 steps" in text


def test_matched_points_are_each_images_nearest_quality(tiny_zoo, images, monkeypatch):
    from jpegnn.evaluation.classical import _bpp_of, get_codec
    from jpegnn.evaluation.protocol import as_uint8_hwc

    monkeypatch.setenv(zoo.ENV_VAR, str(tiny_zoo))
    imgs = {item["name"]: item["image"] for item in ImageFolder(str(images))}
    result = demo.evaluate_set(demo.zoo_rates()[:1], imgs)
    point = result["rates"][0]
    for learned, jpeg in zip(point["learned"], point["jpeg"]):
        assert jpeg["image"] == learned["image"] and jpeg["target_bpp"] == learned["bpp"]
        codec, img = get_codec("jpeg"), as_uint8_hwc(imgs[learned["image"]])
        best = min(abs(_bpp_of(codec, img, q) - learned["bpp"]) for q in range(1, 101))
        assert abs(jpeg["bpp"] - learned["bpp"]) == pytest.approx(best, abs=1e-12)


def test_demo_without_three_zoo_rates_stops_before_training(tmp_path, monkeypatch, capsys):
    (tmp_path / "empty_zoo").mkdir()
    (tmp_path / "empty_zoo" / "index.json").write_text(json.dumps({"format": 1, "models": []}))
    monkeypatch.setenv(zoo.ENV_VAR, str(tmp_path / "empty_zoo"))
    monkeypatch.setattr(demo, "run_lightning_cli", lambda argv: pytest.fail("trained without a zoo"))
    assert demo.main(["--out", str(tmp_path / "o")]) == 2
    assert "the demo needs 3" in capsys.readouterr().err


def test_demo_config_fine_tunes_the_zoo_q3_model_on_photographs_that_are_not_test_images():
    cfg = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    model, data = cfg["model"]["init_args"], cfg["data"]["init_args"]
    released = zoo.entry(f"{demo.FAMILY}-q3", zoo_dir=REPO / "checkpoints" / "zoo")  # the committed index
    assert model["weights"] == released.name and model["architecture"] == released.architecture
    assert (model["N"], model["M"]) == (released.N, released.M)
    train, test = set(data["train"]["init_args"]["names"]), set(data["test"]["init_args"]["names"])
    assert test == set(demo.TEST_SAMPLES) and not train & test
