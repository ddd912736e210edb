"""benchmarks/*.sh that cannot run here stop at once with one clear line: the GPU scripts without a
CUDA device, enhance_jpeg20.sh without its shared datasets (its default path is outside the clone)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def _bash(script: str, env: dict, *args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # python3 = the venv's
    return subprocess.run(["bash", str(REPO / "benchmarks" / script), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PATH": path, **env}, cwd=REPO)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
@pytest.mark.parametrize("script", ["gpu_lic_run.sh", "gpu_lic_check2.sh"])
def test_gpu_scripts_refuse_without_cuda(script, tmp_path):
    res = _bash(script, {"VIMEO": str(tmp_path), "KODAK": str(tmp_path), "OUT": str(tmp_path / "out")})
    assert res.returncode == 1
    assert "needs a CUDA GPU" in res.stderr and "Traceback" not in res.stderr + res.stdout
    assert not (tmp_path / "out").exists()  # nothing was started


def test_enhance_jpeg20_names_shared_when_datasets_are_missing(tmp_path):
    res = _bash("enhance_jpeg20.sh", {"SHARED": str(tmp_path / "nope")}, str(tmp_path / "out"), timeout=60)
    assert res.returncode == 2
    assert "set SHARED" in res.stderr and "Traceback" not in res.stderr + res.stdout
    assert not (tmp_path / "out").exists()  # nothing was started


@pytest.mark.parametrize("script,args", [("zoo_train.sh", ["3"]), ("zoo_pilot.sh", ["n64", "1"])])
def test_zoo_scripts_name_shared_and_usage(script, args, tmp_path):
    """The zoo training scripts stop with one line when the shared photos/Kodak are missing (before
    any run folder is made) and print their usage without arguments."""
    res = _bash(script, {"SHARED": str(tmp_path / "nope"), "RUNS": str(tmp_path / "runs")}, *args)
    assert res.returncode == 2 and "SHARED folder not found" in res.stderr
    assert not (tmp_path / "runs").exists()
    (tmp_path / "empty").mkdir()
    res = _bash(script, {"SHARED": str(tmp_path / "empty"), "RUNS": str(tmp_path / "runs")}, *args)
    assert res.returncode == 2 and "not found (set SHARED)" in res.stderr
    res = _bash(script, {})
    assert res.returncode == 2 and res.stderr.startswith("usage:")


def test_zoo_stop_usage_and_missing_run(tmp_path):
    res = _bash("zoo_stop.sh", {})
    assert res.returncode == 2 and res.stderr.startswith("usage:")
    res = _bash("zoo_stop.sh", {}, str(tmp_path / "nope"))
    assert res.returncode == 2 and "run folder not found" in res.stderr
    (tmp_path / "idle").mkdir()
    res = _bash("zoo_stop.sh", {}, str(tmp_path / "idle"))  # nothing running there: said, nothing stopped
    assert res.returncode == 0 and "no running jpegnn fit" in res.stderr


_FAKE_FIT = """
import os, sys, time
child = os.fork()  # like a DataLoader worker: same command line, same folder
if child:
    open("child.pid", "w").write(str(child))
time.sleep(120)
"""


@pytest.mark.parametrize("after_validation", [False, True])
def test_zoo_stop_stops_the_run_not_its_worker_after_the_save_or_the_validation(tmp_path, after_validation):
    """zoo_stop.sh picks the `jpegnn fit` process of the folder, not a forked worker of it, waits for
    the next save (or, with --after-validation, the next val/loss in the event files), writes the
    CPU time to cpu.log and stops it."""
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path / "q5"
    (run / "checkpoints" / "zoo-train").mkdir(parents=True)
    ckpt = run / "checkpoints" / "zoo-train" / "last.ckpt"
    ckpt.write_bytes(b"old")
    w = SummaryWriter(str(run / "runs" / "zoo" / "version_0"))
    w.add_scalar("val/loss", 2.0, 999)
    w.close()
    fake = subprocess.Popen(["jpegnn fit", "-c", _FAKE_FIT], executable=sys.executable, cwd=run)
    try:
        for _ in range(100):
            if (run / "child.pid").exists():
                break
            time.sleep(0.1)
        child = int((run / "child.pid").read_text())
        args = ["--after-validation", str(run)] if after_validation else [str(run)]
        stop = subprocess.Popen(["bash", str(REPO / "benchmarks" / "zoo_stop.sh"), *args], cwd=REPO, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, "PYTHON": sys.executable, "ZOO_STOP_POLL": "0.5"})
        waiting = stop.stderr.readline()
        assert f"pid {fake.pid}, waiting for the " in waiting, waiting
        if after_validation:
            assert "validation after step 999" in waiting
            ckpt.touch()  # a save alone does not stop it
            time.sleep(1.5)
            assert stop.poll() is None
            w = SummaryWriter(str(run / "runs" / "zoo" / "version_0"))
            w.add_scalar("val/loss", 1.9, 1999)
            w.close()
        else:
            time.sleep(1.1)
            ckpt.write_bytes(b"new")  # the next save
        out, err = stop.communicate(timeout=60)
        assert stop.returncode == 0, err
        assert fake.wait(timeout=10) != 0  # the run itself got SIGTERM
        os.kill(child, 0)  # the worker was not the one picked (the run's own exit reaps workers in real runs)
        log = (run / "cpu.log").read_text()
        assert f"pid {fake.pid} cpu_seconds" in log
        assert ("after the validation at step 1999" if after_validation else "after the save of") in log
    finally:
        fake.kill()
        if (run / "child.pid").exists():
            try:
                os.kill(int((run / "child.pid").read_text()), 9)
            except ProcessLookupError:
                pass
