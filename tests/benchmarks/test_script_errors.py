"""Benchmark scripts end a user error (a JpegnnError from inside jpegnn) with one line and exit 2,
like the jpegnn command (jpegnn.errors.run_script)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jpegnn.errors import DataError, run_script
from tests.data.imagegen import write_rgb_png

REPO = Path(__file__).resolve().parents[2]


def test_run_script_turns_a_jpegnn_error_into_one_line(capsys, monkeypatch):
    monkeypatch.delenv("JPEGNN_DEBUG", raising=False)

    def failing():
        raise DataError("no class folders in x/val")

    with pytest.raises(SystemExit) as exc:
        run_script(failing, "sweep.py")
    assert exc.value.code == 2
    assert capsys.readouterr().err == "sweep.py: error: no class folders in x/val\n"
    with pytest.raises(SystemExit) as exc:
        run_script(lambda: None, "sweep.py")
    assert exc.value.code == 0


def test_sweep_with_an_empty_val_split_is_one_line(tmp_path):
    for cls in ("a", "b"):
        write_rgb_png(tmp_path / "train" / cls / "0.png", 16, 16, seed=1)
    (tmp_path / "val").mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    env.pop("JPEGNN_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "jpeg_quality_sweep.py"), "--root", str(tmp_path),
         "--image-size", "16", "--epochs", "1", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"jpeg_quality_sweep.py: error: no class folders in {tmp_path / 'val'} " \
        f"(expected {tmp_path / 'val'}/<class>/<image files>)"
