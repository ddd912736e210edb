"""Test helpers importable by class_path from CLI runs in subprocesses (``tests.helpers.X``)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch
from lightning.pytorch import Callback
from torch.utils.data import DataLoader, Dataset


class RandomImages(Dataset):
    """Deterministic random images ``{"image", "name"}`` of one size (a fast stand-in dataset)."""

    def __init__(self, n: int, size: tuple[int, int], seed: int = 0):
        self.n, self.size, self.seed = n, size, seed

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(self.seed * 1000 + i)
        # smooth-ish content so the codec has something to learn
        base = torch.rand(3, self.size[0] // 8 + 1, self.size[1] // 8 + 1, generator=g)
        img = torch.nn.functional.interpolate(base[None], size=self.size, mode="bilinear", align_corners=False)[0]
        return {"image": img.clamp(0, 1), "name": f"img{i:03d}"}


def loader(n: int, size: tuple[int, int], batch_size: int, seed: int = 0) -> DataLoader:
    return DataLoader(RandomImages(n, size, seed), batch_size=batch_size)


def tiny_lic_checkpoint(
    path: Path, steps: int = 1, seed: int = 0, architecture: str = "mbt2018-mean", **module_kwargs
) -> Path:
    """Train an N=8/M=12 LICModule (more LICModule arguments in ``module_kwargs``) for ``steps``
    steps on 64x64 random images and save a ``jpegnn fit``-style checkpoint at ``path`` (a
    stand-in for a trained codec)."""
    import lightning as L

    from jpegnn.tasks.lic import LICModule

    torch.manual_seed(seed)
    module = LICModule(architecture, N=8, M=12, **module_kwargs)
    trainer = L.Trainer(accelerator="cpu", max_steps=steps, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(module, train_dataloaders=loader(2 * steps, (64, 64), batch_size=2))
    trainer.save_checkpoint(path)
    return Path(path)


class SleepAfterStep(Callback):
    """Blocks at the start of the batch after global step ``step`` (its checkpoint is saved by then).

    ModelCheckpoint always runs after other callbacks in a hook, so sleeping in
    ``on_train_batch_end`` would block before step ``step``'s checkpoint is written.
    """

    def __init__(self, step: int = 3, seconds: float = 120.0):
        self.step, self.seconds = step, seconds

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            time.sleep(self.seconds)


class RecordResumeState(Callback):
    """Writes the restored global step and optimizer/scheduler states at train start to ``path``."""

    def __init__(self, path: str):
        self.path = path

    def on_train_start(self, trainer, pl_module):
        opt_states = [o.state_dict() for o in trainer.optimizers]
        sched = [c.scheduler.state_dict() for c in trainer.lr_scheduler_configs]

        def first_moment(state):
            # sum of Adam's exp_avg over all parameters (restored, or 0 when fresh)
            return float(sum(float(s["exp_avg"].double().sum()) for s in state["state"].values() if "exp_avg" in s))

        record = {
            "global_step": trainer.global_step,
            "epoch": trainer.current_epoch,
            "opt_exp_avg_sums": [first_moment(s) for s in opt_states],
            "opt_steps": [max((float(s["step"]) for s in st["state"].values()), default=0.0) for st in opt_states],
            "scheduler_last_epoch": [s.get("last_epoch") for s in sched],
        }
        Path(self.path).write_text(json.dumps(record))


class RankConsistency(Callback):
    """At fit end, every rank writes a checksum of all parameters and buffers to ``dir/rank<N>.json``."""

    def __init__(self, dir: str):
        self.dir = dir

    def on_fit_end(self, trainer, pl_module):
        os.makedirs(self.dir, exist_ok=True)
        sums = {n: float(p.detach().double().sum()) for n, p in pl_module.named_parameters()}
        record = {"rank": trainer.global_rank, "world_size": trainer.world_size,
                  "global_step": trainer.global_step, "param_sums": sums}
        Path(self.dir, f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


def load_benchmark(name: str):
    """Import ``benchmarks/<name>.py`` (not a package) as a module, for end-to-end script tests."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parsed_after_ckpt_reload(argv: list[str]):
    """The LightningCLI as `jpegnn` builds it for ``argv``, stopped before running the subcommand."""
    from lightning.pytorch import LightningDataModule, LightningModule

    from jpegnn.cli import JpegnnCLI

    class Parsed(JpegnnCLI):
        def _run_subcommand(self, subcommand):
            pass

    return Parsed(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                  auto_configure_optimizers=False, save_config_callback=None, args=argv, args_list=argv)

