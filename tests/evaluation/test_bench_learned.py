"""``jpegnn bench --ckpt``: a tiny trained checkpoint benchmarked beside JPEG through the Codec protocol."""

from __future__ import annotations

import csv
import json
import math

import pytest

from jpegnn.commands.bench import main as bench_main
from tests.data.imagegen import write_rgb_png
from tests.helpers import tiny_lic_checkpoint


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    return tiny_lic_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.ckpt", steps=1)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Lightning / BD-overlap chatter on a 1-step model
def test_bench_with_checkpoint(tiny_ckpt, tmp_path, capsys):
    ds = tmp_path / "ds"
    write_rgb_png(ds / "a.png", 45, 70, seed=1)
    write_rgb_png(ds / "b.png", 64, 48, seed=2)
    out = tmp_path / "out"
    rc = bench_main(["--codec", "jpeg", "--ckpt", str(tiny_ckpt), "--dataset", str(ds), "--out", str(out),
                     "-q", "20,80", "-j", "1", "--no-progress"])
    assert rc == 0
    learned = [p for p in out.glob("*.json") if p.name != "jpeg.json"]
    assert len(learned) == 1
    data = json.loads(learned[0].read_text())
    assert len(data["results"]["bpp"]) == 1 and data["results"]["bpp"][0] > 0  # one checkpoint = one point
    assert math.isfinite(data["results"]["psnr-rgb"][0])
    with open(out / f"{learned[0].stem}_per_image.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and all(float(r["bpp_estimated"]) > 0 for r in rows)
    with open(out / "bd_table.csv", newline="") as fh:
        names = [r["name"] for r in csv.DictReader(fh)]
    assert names == ["jpeg", data["name"]]
    assert (out / "rd.png").exists() and data["name"] in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_checkpoints_of_one_architecture_form_one_curve(tiny_ckpt, tmp_path):
    # a second rate point: same architecture, larger lambda
    second = tiny_lic_checkpoint(tmp_path / "hi.ckpt", steps=1, seed=1, lmbda=0.05)
    ds = tmp_path / "ds"
    write_rgb_png(ds / "a.png", 45, 70, seed=1)
    out = tmp_path / "out"
    assert bench_main(["--ckpt", str(second), str(tiny_ckpt), "--dataset", str(ds), "--out", str(out),
                       "-j", "1", "--no-progress"]) == 0
    data = json.loads((out / "mbt2018-mean.json").read_text())
    assert len(data["results"]["bpp"]) == 2  # ordered by lambda: 0.0067 (quality 3 preset), then 0.05
    assert data["description"].count("lambda=") == 2
