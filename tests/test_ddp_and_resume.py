"""Two-process CPU DDP through the real CLI, and resuming a killed run from last.ckpt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "tests" / "conf" / "lic_tiny.yaml"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for role, n, size in (("train", 8, (80, 96)), ("val", 2, (64, 64)), ("test", 2, (45, 70))):
        d = root / role
        d.mkdir()
        for i in range(n):
            base = rng.random((size[0] // 8, size[1] // 8, 3))
            img = Image.fromarray((base * 255).astype(np.uint8)).resize(size[::-1], Image.BILINEAR)
            img.save(d / f"{role}{i}.png")
    return root


def _data_args(root: Path) -> list[str]:
    return [f"--data.init_args.{r}.init_args.root={root / r}" for r in ("train", "val", "test")]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def test_two_process_cpu_ddp_fit(folders, tmp_path):
    out = tmp_path / "ranks"
    cmd = [
        sys.executable, "-m", "jpegnn", "fit", "--config", str(CONF), *_data_args(folders),
        "--trainer.devices=2", "--trainer.strategy=ddp", "--trainer.max_steps=3",
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.callbacks+=tests.helpers.RankConsistency", f"--trainer.callbacks.dir={out}",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the console entry point gives Lightning no args (no "args and sys.argv mixed" warning), and
    # Lightning's product adverts are filtered out
    assert "args parameter is intended" not in proc.stderr
    assert "💡 Tip" not in proc.stdout + proc.stderr
    records = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in records] == [2, 2]
    # global_step counts batches (8 images / 2 ranks / batch 2 = 2 per epoch; max_steps=3)
    assert [r["global_step"] for r in records] == [3, 3]
    # every parameter, the entropy-bottleneck quantiles included, is identical on both ranks
    a, b = records[0]["param_sums"], records[1]["param_sums"]
    assert a.keys() == b.keys() and any(k.endswith("quantiles") for k in a)
    assert all(a[k] == pytest.approx(b[k], rel=0, abs=1e-9) for k in a)


def test_killed_run_resumes_from_last_ckpt(folders, tmp_path):
    ckpt_dir = tmp_path / "ckpt"
    base = [
        sys.executable, "-m", "jpegnn", "fit", "--config", str(CONF), *_data_args(folders),
        "--trainer.max_steps=6", f"--trainer.default_root_dir={tmp_path}",
        "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        f"--trainer.callbacks.dirpath={ckpt_dir}", "--trainer.callbacks.save_last=true",
        "--trainer.callbacks.every_n_train_steps=1", "--trainer.callbacks.save_top_k=0",
    ]
    # 1) run until step 3, then hang; kill -9 mid-epoch (4 batches per epoch)
    hang = ["--trainer.callbacks+=tests.helpers.SleepAfterStep", "--trainer.callbacks.step=3"]
    proc = subprocess.Popen(base + hang, cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = ckpt_dir / "last.ckpt"
    deadline = time.time() + 240
    step = -1
    while time.time() < deadline and proc.poll() is None:
        if last.exists():
            try:
                step = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
            except Exception:  # noqa: BLE001 - a reader may race the atomic rename; retry
                step = -1
            if step == 3:
                break
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert step == 3, proc.stderr.read().decode()[-3000:] if proc.stderr else "no checkpoint"
    saved = torch.load(last, map_location="cpu", weights_only=True)
    assert len(saved["optimizer_states"]) == 2 and len(saved["lr_schedulers"]) == 1

    # 2) resume from last.ckpt in-process and finish
    from jpegnn.cli import main

    record = tmp_path / "resume.json"
    args = base[4:] + [
        "--ckpt_path", str(last),
        "--trainer.callbacks+=tests.helpers.RecordResumeState", f"--trainer.callbacks.path={record}",
    ]
    assert main(["fit", *args]) == 0
    state = json.loads(record.read_text())
    assert state["global_step"] == 3
    assert state["epoch"] == saved["epoch"]

    def moment(s):
        return float(sum(float(v["exp_avg"].double().sum()) for v in s["state"].values()))

    assert state["opt_exp_avg_sums"] == pytest.approx([moment(s) for s in saved["optimizer_states"]], rel=1e-6)
    assert state["opt_steps"] == [3.0, 3.0]  # net and aux optimizer both restored
    assert state["scheduler_last_epoch"] == [saved["lr_schedulers"][0]["last_epoch"]]
    final = torch.load(last, map_location="cpu", weights_only=True)
    assert final["global_step"] == 6


def test_two_process_cpu_ddp_test_reports_every_image_once(folders, tmp_path):
    """`jpegnn test` on 2 ranks: each rank codes its shard (DistributedSampler pads 3 images to 4
    by repeating one); results.json and per_image.csv hold each image exactly once."""
    test_dir = tmp_path / "three"
    test_dir.mkdir()
    for i, src in enumerate(sorted((folders / "train").glob("*.png"))[:3]):
        (test_dir / f"img{i}.png").write_bytes(src.read_bytes())
    data = _data_args(folders)[:2] + [f"--data.init_args.test.init_args.root={test_dir}"]
    cmd = [
        sys.executable, "-m", "jpegnn", "test", "--config", str(CONF), *data,
        "--trainer.devices=2", "--trainer.strategy=ddp", f"--trainer.default_root_dir={tmp_path}",
        "--trainer.logger=lightning.pytorch.loggers.CSVLogger", f"--trainer.logger.save_dir={tmp_path / 'logs'}",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (results,) = (tmp_path / "logs").rglob("results.json")
    doc = json.loads(results.read_text())
    assert len(doc["results"]["bpp"]) == 1  # one rate point: the mean over the images
    rows = (results.parent / "per_image.csv").read_text().strip().splitlines()
    assert sorted(line.split(",")[0] for line in rows[1:]) == ["img0", "img1", "img2"]
