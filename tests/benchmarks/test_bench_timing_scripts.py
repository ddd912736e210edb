"""benchmarks/bench_diffjpeg.py and bench_lic_training.py: a clear refusal of --device cuda without a
GPU (not a CUDA traceback), and the training benchmark's contention check on a tiny CPU run."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import load_benchmark

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")


@no_gpu
@pytest.mark.parametrize("name", ["bench_diffjpeg", "bench_lic_training"])
def test_cuda_without_a_gpu_is_a_one_line_error(name, tmp_path, capsys):
    bench = load_benchmark(name)
    argv = ["--device", "cuda"] + (["--out", str(tmp_path / "x.md")] if name == "bench_diffjpeg" else [])
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--device cuda" in err and "no CUDA device" in err and "Traceback" not in err
    assert not (tmp_path / "x.md").exists()


def test_lic_training_tiny_run_reports_ratio_and_contention(capsys):
    bench = load_benchmark("bench_lic_training")
    threads = torch.get_num_threads()
    try:
        assert bench.main(["--N", "8", "--M", "12", "--patch", "64", "--batch", "2", "--steps", "2",
                           "--warmup", "1", "--rounds", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "ratio LICModule/plain = " in out
    assert "contention check: other processes used" in out


def test_diffjpeg_quick_look_does_not_replace_the_committed_results(tmp_path, monkeypatch, capsys):
    """Only the benchmark's default setting (beside kornia) goes to benchmarks/results/ by default;
    a quick run with other settings prints, and writes only where --out says."""
    bench = load_benchmark("bench_diffjpeg")
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    threads = torch.get_num_threads()
    monkeypatch.setattr(bench.torch, "set_num_threads", lambda n: None)  # keep the suite's threads
    quick = ["--batch", "2", "--size", "16", "--warmup", "0", "--repeats", "1", "--threads", "1", "--no-kornia"]
    assert bench.main(quick) == 0
    assert torch.get_num_threads() == threads
    assert not (tmp_path / "benchmarks").exists()
    assert "nothing written" in capsys.readouterr().err
    out = tmp_path / "quick.md"
    assert bench.main([*quick, "--out", str(out)]) == 0
    assert "images/s" in out.read_text()
