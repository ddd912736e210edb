"""benchmarks/quant_sweep.py end to end on a generated 2-class folder (seconds): every planned row is
measured once, tables and CSV/JSON are written, a rerun with the same arguments reuses the rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.data.imagegen import write_class_folder
from tests.helpers import load_benchmark

REPO = Path(__file__).resolve().parents[2]


def _load_sweep():
    return load_benchmark("quant_sweep")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_class_folder(tmp_path_factory.mktemp("sweep_folder"), ("cat", "dog"),
                              {"train": 3, "val": 2}, 24, 28, seed_step=50)


def test_quant_sweep_end_to_end(folder, tmp_path):
    sweep = _load_sweep()
    out = tmp_path / "out"
    args = ["--root", str(folder), "--image-size", "16", "--epochs", "2", "--batch-size", "3",
            "--float", "e4m3", "--fixed", "6.3", "--out", str(out)]
    assert sweep.main(args) == 0

    data = json.loads((out / "quant_sweep.json").read_text())
    rows = data["rows"]
    # fp32 + 2 formats x 2 roundings (eval and train) + the configs/quant rows not in the grid
    n_configs = len(list((REPO / "configs" / "quant").glob("*.yaml")))
    assert len(rows) == data["rows_planned"] == 1 + 4 + 4 + n_configs
    assert [r["kind"] for r in rows[:5]] == ["fp32", "eval", "eval", "eval", "eval"]
    train = {(r["format"], r["rounding"]): r for r in rows if r["kind"] == "train"}
    assert set(train) == {("e4m3", "nearest"), ("e4m3", "stochastic"), ("fixed 6.3", "nearest"),
                          ("fixed 6.3", "stochastic")}
    # narrow float formats saturate; every train row quantizes W, A and G in the same format
    assert train[("e4m3", "nearest")]["gradient"] == "float:e4m3:nearest:saturate"
    assert all(r["weight"] == r["activation"] == r["gradient"] for r in train.values())
    assert all(r["kind"] != "eval" or r["gradient"] == "none" for r in rows)
    # 2 epochs x 6 images / batch 3 = 4 optimizer steps for every trained row
    assert data["steps_per_row"] == 4
    assert all(r["steps"] == 4 for r in rows if r["kind"] in ("fp32", "train", "config") and r["status"] == "ok")
    assert all(r["val_acc"] is None or r["val_acc"] in (0.0, 0.25, 0.5, 0.75, 1.0) for r in rows)

    with open(out / "quant_sweep.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)
    md = (out / "quant_sweep.md").read_text()
    assert "| rounding | e4m3 | fixed 6.3 |" in md and "PARTIAL" not in md
    assert "benchmarks/quant_sweep.py --root" in md

    # a rerun with the same arguments keeps every measured row (no retraining)
    before = (out / "quant_sweep.csv").read_text()
    assert sweep.main(args) == 0
    assert (out / "quant_sweep.csv").read_text() == before


def test_quant_sweep_rejects_a_folder_without_train(tmp_path, capsys):
    sweep = _load_sweep()
    with pytest.raises(SystemExit):
        sweep.main(["--root", str(tmp_path), "--out", str(tmp_path / "o")])
    assert "--root" in capsys.readouterr().err
