"""The shipped notebooks run top to bottom on tiny data (a tiny bench output and a tiny run)."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import nbformat
from lightning.pytorch.loggers import TensorBoardLogger
from nbclient import NotebookClient

from jpegnn.evaluation.bench import run_classical_bench
from jpegnn.tasks.lic import LICModule
from tests.data.imagegen import write_rgb_png
from tests.helpers import loader

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _execute(name: str, env: dict[str, str], monkeypatch) -> str:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PYTHONPATH", str(NOTEBOOKS.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_rd_curves_notebook(tmp_path, monkeypatch):
    for i, (h, w) in enumerate([(48, 40), (40, 72)]):
        write_rgb_png(tmp_path / "imgs" / f"im{i}.png", h, w, seed=i)
    run_classical_bench(["jpeg", "webp"], tmp_path / "imgs", [20, 50, 70, 90], tmp_path / "bench", workers=1)
    _execute("rd_curves.ipynb", {"JPEGNN_BENCH_DIR": str(tmp_path / "bench")}, monkeypatch)


def test_inspect_run_notebook(tmp_path, monkeypatch):
    (tmp_path / "run" / "version_0").mkdir(parents=True)  # an older run: given the logger folder, the newest is shown
    module = LICModule("bmshj2018-factorized", N=8, M=12)
    trainer = L.Trainer(accelerator="cpu", max_steps=2, logger=TensorBoardLogger(tmp_path, name="run"),
                        log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False, num_sanity_val_steps=0)
    trainer.fit(module, train_dataloaders=loader(4, (64, 64), 2), val_dataloaders=loader(2, (64, 64), 2))
    trainer.test(module, dataloaders=loader(2, (37, 53), 1))
    ckpt = tmp_path / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    assert Path(trainer.log_dir).name == "version_1"
    out = _execute("inspect_run.ipynb", {"JPEGNN_RUN_DIR": str(tmp_path / "run"), "JPEGNN_CKPT": str(ckpt)}, monkeypatch)
    assert f"run: {trainer.log_dir}" in out and "train/loss" in out and "results.json:" in out
