"""The profiling callbacks under two-process CPU DDP: no hang, one writer, energy summed over ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def _folders(root: Path) -> list[str]:
    rng = np.random.default_rng(0)
    for role, n, size in (("train", 8, (64, 64)), ("val", 2, (64, 64)), ("test", 2, (45, 70))):
        (root / role).mkdir(parents=True)
        for i in range(n):
            base = rng.random((size[0] // 8, size[1] // 8, 3))
            Image.fromarray((base * 255).astype(np.uint8)).resize(size[::-1], Image.BILINEAR).save(root / role / f"{i}.png")
    return [f"--data.init_args.{r}.init_args.root={root / r}" for r in ("train", "val", "test")]


@pytest.mark.slow
def test_callbacks_under_cpu_ddp(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    cmd = [
        sys.executable, "-m", "jpegnn", "fit", "--config", str(REPO / "tests/conf/lic_tiny.yaml"),
        "--config", str(REPO / "tests/callbacks/ddp_callbacks.yaml"), *_folders(tmp_path / "data"),
        "--trainer.devices=2", "--trainer.strategy=ddp", "--trainer.max_steps=2", "--trainer.max_epochs=1",
        f"--trainer.default_root_dir={tmp_path}",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("energy unavailable: no CUDA device") == 1  # rank zero, once
    assert json.loads((tmp_path / "complexity.json").read_text())["params"] == 21_563
    assert len(json.loads((tmp_path / "latency.json").read_text())["train_samples"]) == 1
    fake = json.loads((tmp_path / "fake_energy.json").read_text())
    (epoch,) = fake["train_epochs"]
    assert epoch["images"] == 8  # 2 ranks x 2 batches x 2 images, summed by the all-reduce
    # both GPUs' joules are summed: about 2 x 60 W x rank zero's measured time
    assert epoch["net_j"] == pytest.approx(2 * 60.0 * epoch["seconds_rank0"], rel=0.25)
