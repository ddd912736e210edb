"""benchmarks/zoo_targets.py (issue 15's BD targets) and benchmarks/zoo_curves.py on made-up data."""

from __future__ import annotations

import json
import math

import pytest
from torch.utils.tensorboard import SummaryWriter

from jpegnn.errors import ConfigError
from tests.helpers import load_benchmark

BPP = [0.1, 0.2, 0.4, 0.8]


def _write(path, name, psnr):
    path.write_text(json.dumps({"name": name, "description": "", "results": {"bpp": BPP, "psnr-rgb": psnr}}))
    return path


@pytest.fixture
def anchors(tmp_path):
    jpeg = _write(tmp_path / "jpeg.json", "jpeg", [24.0, 27.0, 30.0, 33.0])
    webp = _write(tmp_path / "webp.json", "webp", [26.0, 29.0, 32.0, 35.0])
    cai = _write(tmp_path / "cai.json", "mbt2018-mean", [28.0, 31.0, 34.0, 37.0])
    return ["--jpeg", str(jpeg), "--webp", str(webp), "--compressai", str(cai)]


def test_targets_pass_and_fail_with_the_exit_status(anchors, tmp_path, capsys):
    targets = load_benchmark("zoo_targets")
    # 1 dB below CompressAI, 2 dB above WebP: every target met
    good = _write(tmp_path / "good.json", "zoo", [27.0, 30.0, 33.0, 36.0])
    assert targets.main(["--zoo", str(good), *anchors, "--out", str(tmp_path / "t.md")]) == 0
    text = (tmp_path / "t.md").read_text()
    assert text.count("| yes (cubic) |") == 3 and "BD-PSNR vs CompressAI" in text
    # 2.5 dB below CompressAI: the BD-PSNR target fails, so the exit status is 1
    bad = _write(tmp_path / "bad.json", "zoo", [25.5, 28.5, 31.5, 34.5])
    assert targets.main(["--zoo", str(bad), *anchors]) == 1
    out = capsys.readouterr().out
    assert "**no**" in out


def test_the_same_architecture_row_is_reported_without_a_target(anchors, tmp_path, capsys):
    targets = load_benchmark("zoo_targets")
    good = _write(tmp_path / "good.json", "zoo", [27.0, 30.0, 33.0, 36.0])
    ctx = _write(tmp_path / "ctx.json", "mbt2018", [30.0, 33.0, 36.0, 39.0])  # 3 dB above the zoo
    # 3 dB below it is no failure: every target is still met, the exit status stays 0
    assert targets.main(["--zoo", str(good), *anchors, "--same-architecture", str(ctx), "--out", str(tmp_path / "t.md")]) == 0
    row = next(ln for ln in (tmp_path / "t.md").read_text().splitlines() if "same architecture" in ln)
    assert row.startswith("| BD-PSNR vs CompressAI's published curve of the same architecture (dB) | mbt2018 | -3.00 |")
    assert row.endswith("| none | (no target) |")
    capsys.readouterr()
    assert targets.main(["--zoo", str(good), *anchors]) == 0 and "same architecture" not in capsys.readouterr().out


def test_targets_bd_values_match_jpegnn_metrics(anchors, tmp_path):
    from jpegnn.metrics import bd_psnr, bd_rate

    targets = load_benchmark("zoo_targets")
    zoo = _write(tmp_path / "zoo.json", "zoo", [27.0, 30.0, 33.0, 36.0])
    paths = dict(zip(("jpeg", "webp", "compressai"), [tmp_path / "jpeg.json", tmp_path / "webp.json", tmp_path / "cai.json"]))
    rows = targets.evaluate(zoo, paths)
    assert rows[0]["cubic"] == pytest.approx(bd_rate(BPP, [24.0, 27.0, 30.0, 33.0], BPP, [27.0, 30.0, 33.0, 36.0]))
    assert rows[2]["cubic"] == pytest.approx(-1.0, abs=1e-9)
    assert rows[2]["cubic"] == pytest.approx(bd_psnr(BPP, [28.0, 31.0, 34.0, 37.0], BPP, [27.0, 30.0, 33.0, 36.0]))


def test_targets_with_three_rates_are_decided_by_pchip(anchors, tmp_path):
    targets = load_benchmark("zoo_targets")
    zoo = tmp_path / "zoo3.json"
    zoo.write_text(json.dumps({"name": "zoo", "results": {"bpp": BPP[:3], "psnr-rgb": [27.0, 30.0, 33.0]}}))
    rows = targets.evaluate(zoo, dict(zip(("jpeg", "webp", "compressai"),
                                          [tmp_path / "jpeg.json", tmp_path / "webp.json", tmp_path / "cai.json"])))
    assert all(r["decided_by"] == "pchip" and math.isnan(r["cubic"]) for r in rows)
    assert rows[2]["pchip"] == pytest.approx(-1.0, abs=1e-9) and rows[2]["pass"]


def test_targets_missing_file_is_one_line(anchors, tmp_path):
    targets = load_benchmark("zoo_targets")
    with pytest.raises(Exception, match="results file not found"):
        targets.main(["--zoo", str(tmp_path / "none.json"), *anchors])


def test_curves_merge_resumed_runs_and_check_convergence(tmp_path, capsys):
    curves = load_benchmark("zoo_curves")
    run = tmp_path / "q3"
    for version, steps in enumerate(([1000, 2000], [3000, 4000, 5000])):  # a resumed run: two event files
        w = SummaryWriter(str(run / "runs" / "zoo" / f"version_{version}"))
        for s in steps:
            w.add_scalar("val/loss", 2.0 - 0.1 * s / 1000 if s < 4000 else 1.60 - 0.001 * (s - 4000) / 1000, s)
            w.add_scalar("val/psnr", 25 + s / 1000, s)
            w.add_scalar("train/loss", 3.0, s)
        w.close()
    c = curves.read_scalars(run)
    assert sorted(c["val/loss"]) == [1000, 2000, 3000, 4000, 5000]
    change, converged = curves.convergence(c["val/loss"])
    assert converged and change == pytest.approx(abs(1.599 - 1.60) / 1.60, rel=1e-4)  # TensorBoard stores float32
    assert curves.main([str(run), "--out", str(tmp_path / "curves"), "--mark", "q3=4000", "--mark-label", "crops 256"]) == 0
    assert (tmp_path / "curves.png").stat().st_size > 0 and "converged" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="--mark 'q5=10': expected RUN=STEP with RUN one of q3"):
        curves.main([str(run), "--mark", "q5=10"])
    assert curves.convergence({1000: 2.0}) is None
    assert not math.isnan(change)


def _write_val_loss(run, points):
    """A zoo run folder (``runs/zoo/version_0`` event file) with ``val/loss`` at the given steps."""
    w = SummaryWriter(str(run / "runs" / "zoo" / "version_0"))
    for step, value in points.items():
        w.add_scalar("val/loss", value, step)
    w.close()


def test_curves_of_a_fine_tune_continue_its_source_run(tmp_path, capsys):
    curves = load_benchmark("zoo_curves")
    for name, points in (("q5", {1000: 3.0, 2000: 2.0, 3000: 1.9}), ("q5-wide", {500: 1.80, 1000: 1.79})):
        _write_val_loss(tmp_path / name, points)
    runs = [str(tmp_path / "q5"), str(tmp_path / "q5-wide")]
    assert curves.main(runs + ["--continues", "q5-wide=q5@2500", "--out", str(tmp_path / "c")]) == 0
    rows = (tmp_path / "c.csv").read_text().splitlines()
    assert "q5-wide,val/loss,3500,1.79" in rows and "q5-wide,val/loss,1000,1.79" not in rows
    # lineage 1000..3500: the last fifth starts at step 2,800 -> ref 2.0 at 2,000 (the source's), not 1.80
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("q5-wide"))
    assert "10.50 % (still moving)" in line
    with pytest.raises(ConfigError, match="--continues 'q5-wide=q4@10': expected RUN=SOURCE@STEP"):
        curves.main(runs + ["--continues", "q5-wide=q4@10"])


def test_curves_of_a_fine_tune_redrawn_from_their_csv_are_not_shifted_twice(tmp_path, capsys):
    curves = load_benchmark("zoo_curves")
    for name, points in (("q5", {1000: 3.0, 2000: 2.0, 3000: 1.9}), ("q5-ste", {500: 1.80, 1000: 1.79})):
        _write_val_loss(tmp_path / name, points)
    flags = ["--continues", "q5-ste=q5@2500"]
    assert curves.main([str(tmp_path / "q5"), str(tmp_path / "q5-ste"), *flags, "--out", str(tmp_path / "a")]) == 0
    first = (tmp_path / "a.csv").read_text()
    # the CSV again, with the fine-tune's folder (merged over it) and without it: the same lineage steps
    for runs in ([str(tmp_path / "q5-ste")], []):
        assert curves.main([*runs, "--history", str(tmp_path / "a.csv"), *flags, "--out", str(tmp_path / "b")]) == 0
        assert (tmp_path / "b.csv").read_text() == first
    assert "q5-ste,val/loss,3500,1.79" in first.splitlines()
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("q5-ste")]
    assert len(lines) == 3 and all("10.50 % (still moving)" in x for x in lines)


def test_curves_history_csv_keeps_the_segments_whose_event_files_are_gone(tmp_path, capsys):
    curves = load_benchmark("zoo_curves")
    w = SummaryWriter(str(tmp_path / "q1" / "runs" / "zoo" / "version_0"))  # the surviving, later segment
    for s, v in ((4000, 1.51), (5500, 1.50)):
        w.add_scalar("val/loss", v, s)
    w.close()
    history = tmp_path / "old.csv"
    history.write_text("run,tag,step,value\nq1,val/loss,1000,3.0\nq1,val/loss,3000,1.52\nq1,val/loss,4000,9.9\n"
                       "q3,val/loss,1000,2.0\nq3,val/loss,2000,1.9\n")
    assert curves.main([str(tmp_path / "q1"), "--history", str(history), "--out", str(tmp_path / "c")]) == 0
    rows = (tmp_path / "c.csv").read_text().splitlines()
    assert "q1,val/loss,1000,3" in rows and "q1,val/loss,4000,1.51" in rows and "q1,val/loss,4000,9.9" not in rows
    assert "q3,val/loss,2000,1.9" in rows  # a run only the CSV has is still drawn
    out = capsys.readouterr().out
    q1 = next(x for x in out.splitlines() if x.startswith("q1"))
    assert "0.66 % (converged)" in q1  # last fifth of 5,500 steps: the folder's 1.51 at 4,000 (not the CSV's 9.9) -> 1.50
    assert curves.main(["--history", str(history)]) == 0  # the CSV alone redraws the figure's runs
    history.write_text("run,step,value\nq1,1,2\n")
    with pytest.raises(ConfigError, match="expected the columns run,tag,step,value"):
        curves.main(["--history", str(history)])
    history.write_text("run,tag,step,value\nq1,val/loss,x,2\n")
    with pytest.raises(ConfigError, match="line 2: step and value must be numbers"):
        curves.main(["--history", str(history)])
    with pytest.raises(ConfigError, match="give run folders and/or --history CSV"):
        curves.main([])


def test_curves_by_rate_put_a_run_and_its_continuations_in_one_row(tmp_path):
    curves = load_benchmark("zoo_curves")
    sources = {"q5-ste": "q5", "q5-ctx": "q5-ste", "q1-ctx": "q1"}
    rows = curves.rate_rows(["q1", "q5", "q5-ste", "q1-ctx", "q5-ctx", "q9"], sources)
    assert rows == {"q1": ["q1", "q1-ctx"], "q5": ["q5", "q5-ste", "q5-ctx"], "q9": ["q9"]}
    assert curves.rate_rows(["a", "b"], {"a": "b", "b": "a"}) == {"b": ["a"], "a": ["b"]}  # a cycle stops, no hang
    for name, points in (("q5", {1000: 3.0, 2000: 2.0}), ("q5-ste", {500: 1.9, 1000: 1.8}), ("q1", {1000: 0.6, 2000: 0.5})):
        _write_val_loss(tmp_path / name, points)
    runs = [str(tmp_path / n) for n in ("q5", "q5-ste", "q1")]
    assert curves.main(runs + ["--continues", "q5-ste=q5@2500", "--layout", "rates", "--out", str(tmp_path / "r")]) == 0
    assert curves.main(runs + ["--continues", "q5-ste=q5@2500", "--out", str(tmp_path / "one")]) == 0
    from PIL import Image

    with Image.open(tmp_path / "r.png") as by_rate, Image.open(tmp_path / "one.png") as one_row:
        # two rows of panels (q5 with its fine-tune, q1) against the default single row, same width
        assert by_rate.width == one_row.width and by_rate.height > 1.5 * one_row.height
