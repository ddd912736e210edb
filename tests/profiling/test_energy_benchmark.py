"""benchmarks/energy_gpu.py on this CPU machine: a clear refusal, and a wall-time-only dry run."""

from __future__ import annotations

import json

import pytest

from tests.helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("energy_gpu")


def test_without_a_gpu_it_refuses_with_the_reason(bench, tiny_kodak, capsys):
    assert bench.main(["--dataset", str(tiny_kodak), "--device", "cpu", "--N", "8", "--M", "12"]) == 1
    assert capsys.readouterr().err.strip() == "energy unavailable: no CUDA device (running on cpu)"


def test_dry_run_reports_repeatability_of_wall_time(bench, tiny_kodak, tmp_path, capsys):
    out = tmp_path / "energy.json"
    args = ["--dataset", str(tiny_kodak), "--device", "cpu", "--N", "8", "--M", "12", "--limit", "2", "--runs", "3",
            "--min-seconds", "0.01", "--idle-seconds", "0", "--allow-no-energy", "--json", str(out)]
    assert bench.main(args) == 0
    doc = json.loads(out.read_text())
    assert doc["images"] == 2 and doc["runs"] == 3 and doc["model"]["params"] > 0
    for workload in ("decode", "decoder_network"):
        assert doc[workload]["j_per_frame"]["mean"] is None  # never made up without NVML
        ms = doc[workload]["ms_per_frame"]
        assert ms["n"] == 3 and ms["mean"] > 0 and ms["cv"] == pytest.approx(ms["std"] / ms["mean"])
    assert "decode" in capsys.readouterr().out
