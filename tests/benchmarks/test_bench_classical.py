"""benchmarks/bench_classical.py: clear error for a missing --dataset; the summary (ratio the right way
round, NaN BD figures labelled, written atomically) without running the two tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import load_benchmark

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "compressai-results"


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_classical")


def test_missing_dataset_names_the_flag(bench, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--dataset", str(tmp_path / "nope"), "--limit", "2"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--dataset" in err and "nope" in err and "Traceback" not in err


def test_summary_ratio_and_atomic_write(bench, tiny_kodak, tmp_path, monkeypatch, capsys):
    results = {"bpp": [1.0, 2.0], "psnr-rgb": [30.0, 35.0], "ms-ssim-rgb": [0.9, 0.95]}

    def fake_run(cmd, env=None):
        if "jpegnn.commands.bench" in cmd:  # ours: 2 s, writes its JSON like the real tool
            out = Path(cmd[cmd.index("--out") + 1])
            out.mkdir(parents=True, exist_ok=True)
            (out / "jpeg.json").write_text(json.dumps({"results": results}))
            return {"wall_s": 2.0, "cpu_s": 2.0, "other_cpu_s": 0.0, "stdout": ""}
        return {"wall_s": 6.0, "cpu_s": 6.0, "other_cpu_s": 0.0, "stdout": json.dumps({"results": results})}

    import jpegnn.utils.atomic as atomic

    written = []
    real = atomic.write_text_atomic
    monkeypatch.setattr(atomic, "write_text_atomic", lambda p, t: (written.append(Path(p)), real(p, t)))
    monkeypatch.setattr(bench, "_run", fake_run)
    out = tmp_path / "out"
    published = REFERENCE if (REFERENCE / "jpeg.json").is_file() else tmp_path
    assert bench.main(["--dataset", str(tiny_kodak), "--limit", "2", "--codecs", "jpeg", "-q", "50,90",
                       "--published", str(published), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["codecs"]["jpeg"]["speedup"] == 3.0  # CompressAI 6 s / ours 2 s
    assert out / "summary.json" in written
    text = capsys.readouterr().out
    assert "speed-up x3.00" in text
    assert "nan" not in text.lower()  # 2 qualities: cubic BD is undefined, said so
