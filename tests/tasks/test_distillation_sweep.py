"""benchmarks/kd_sweep.py end to end on tiny data: teachers -> KD and no-KD students -> tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import lightning as L
import pytest
import torch

from jpegnn.tasks.lic import LICModule
from tests.data.imagegen import write_rgb_png
from tests.helpers import load_benchmark, loader


def _sweep_module():
    return load_benchmark("kd_sweep")


class _Data(L.LightningDataModule):
    def train_dataloader(self):
        return loader(2, (64, 64), batch_size=2)


def _teacher(path: Path, quality: int) -> Path:
    torch.manual_seed(quality)
    module = LICModule("bmshj2018-hyperprior", quality=quality, N=8, M=12)
    trainer = L.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        default_root_dir=str(path.parent))
    trainer.fit(module, _Data())
    trainer.save_checkpoint(path)
    return path


def test_kd_sweep_writes_one_row_per_width_and_resumes(tmp_path):
    vimeo = tmp_path / "vimeo_septuplet"
    for k in range(1, 8):
        write_rgb_png(vimeo / "sequences" / "00001" / "0001" / f"im{k}.png", 64, 64, seed=k)
    (vimeo / "sep_trainlist.txt").write_text("00001/0001\n")
    test_root = tmp_path / "test"
    for i in range(2):
        write_rgb_png(test_root / f"img{i}.png", 64, 64, seed=50 + i)
    teachers = [str(_teacher(tmp_path / f"t{q}.ckpt", q)) for q in (1, 3)]
    out, work = tmp_path / "out", tmp_path / "work"
    argv = ["--teacher", *teachers, "--widths", "4", "--steps", "2", "--train-root", str(vimeo),
            "--test-root", str(test_root), "--test-images", "2", "--patch", "64", "--batch", "2",
            "--threads", "1", "--profile-size", "64x64", "--profile-repeats", "1",
            "--work", str(work), "--out", str(out)]
    sweep = _sweep_module()
    assert sweep.main(argv) == 0

    doc = json.loads((out / "kd_sweep.json").read_text())
    row = doc["by_width"]["4"]
    assert [p["lmbda"] for p in row["kd"]] == pytest.approx([0.0018, 0.0067])  # one point per teacher λ
    for p in row["kd"] + row["no_kd"] + doc["teacher"]["points"]:
        assert p["bpp"] > 0 and p["psnr"] > 0  # actual bitstreams
    assert all(p["steps"] == 2 for p in row["kd"] + row["no_kd"])
    assert row["hparams"]["M"] == 12 and row["hparams"]["N_entropy"] == 8  # inherited from the teacher
    assert row["profile_kd"]["params"] < doc["teacher"]["profile"]["params"]
    assert row["profile_kd"]["gmacs_decoder"] > 0 and row["profile_kd"]["energy_j_per_frame"] is None
    assert set(row["bd"]) == {"kd_vs_teacher", "kd_vs_no_kd", "no_kd_vs_teacher"}
    assert row["bd"]["kd_vs_no_kd"]["method"] == "pchip"  # 2 points per curve
    with open(out / "kd_sweep.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["model"] for r in rows] == ["teacher", "student N=4"]
    assert "| student N=4" in (out / "kd_sweep.md").read_text()
    assert "python benchmarks/kd_sweep.py --teacher" in doc["meta"]["command"]
    assert "Short training (2 steps per student, 7 training images" in " ".join(doc["meta"]["notes"])

    # --preamble: a hand-written header (teacher commands, budget) on top of the generated tables
    preamble = tmp_path / "header.md"
    preamble.write_text("# My sweep\n\nTeachers: jpegnn fit ...\n")
    assert sweep.main(argv + ["--preamble", str(preamble)]) == 0
    text = (out / "kd_sweep.md").read_text()
    assert text.startswith("# My sweep\n\nTeachers: jpegnn fit ...\n\n## KD sweep") and "| student N=4" in text

    # a rerun with the same --work reuses every finished job (nothing is retrained)
    stamps = {p: p.stat().st_mtime_ns for p in (work / "points").glob("*.json")}
    assert len(stamps) == 6  # 2 teachers + 2 x (KD, no-KD)
    assert sweep.main(argv + ["--points-only"]) == 0
    assert {p: p.stat().st_mtime_ns for p in (work / "points").glob("*.json")} == stamps


def test_signed_formatting_of_bd_psnr():
    sweep = _sweep_module()
    assert sweep._fmt(-1.934, -2) == "-1.93" and sweep._fmt(0.5, -2) == "+0.50"
    assert sweep._fmt(234.4, 0) == "234" and sweep._fmt(None) == "null"
