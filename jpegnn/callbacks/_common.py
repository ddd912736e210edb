"""Helpers shared by the profiling callbacks: logging, the run folder, batch inspection.

DDP rules kept here (a collective behind a rank guard hangs the run): :func:`run_dir` is
collective (it reads ``trainer.log_dir``, which broadcasts) and must be called on every rank,
never behind a rank-zero guard; :func:`log_scalars` and :func:`log_text` go through the loggers,
which already write on rank zero only; :func:`write_json_rank_zero` writes on rank zero only;
:func:`ddp_sum` is an all-reduce that every rank must reach.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

import torch
from lightning.pytorch import Trainer
from torch import Tensor

from jpegnn.utils.atomic import write_json_atomic
from jpegnn.utils.distributed import run_dir

__all__ = ["run_dir", "log_scalars", "log_text", "write_json_rank_zero", "batch_size_of", "first_image_of", "ddp_sum"]


def log_scalars(trainer: Trainer, metrics: Mapping[str, Optional[float]], step: Optional[int] = None) -> None:
    """Write scalars straight to every logger at ``step`` (default ``trainer.global_step``).

    Unlike ``LightningModule.log`` this works in any hook (``on_train_end`` included) and is not
    thinned by ``log_every_n_steps``. None values are skipped. Loggers write on rank zero only.
    """
    values = {k: float(v) for k, v in metrics.items() if v is not None}
    if not values:
        return
    step = trainer.global_step if step is None else step
    for logger in trainer.loggers:
        logger.log_metrics(values, step=step)


def log_text(trainer: Trainer, tag: str, text: str) -> None:
    """Add ``text`` (Markdown) to loggers that support it (TensorBoard's text tab)."""
    for logger in trainer.loggers:
        experiment = getattr(logger, "experiment", None)
        add_text = getattr(experiment, "add_text", None)
        if callable(add_text):
            add_text(tag, text, global_step=trainer.global_step)


def write_json_rank_zero(trainer: Trainer, path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically, on global rank zero only."""
    if trainer.is_global_zero:
        write_json_atomic(path, obj)


def _tensors(batch: Any) -> list[Tensor]:
    if isinstance(batch, Tensor):
        return [batch]
    if isinstance(batch, Mapping):
        keys = sorted(batch, key=lambda k: k != "image")  # "image" first
        return [t for k in keys for t in _tensors(batch[k])]
    if isinstance(batch, (list, tuple)):
        return [t for v in batch for t in _tensors(v)]
    return []


def batch_size_of(batch: Any) -> int:
    """Images in a batch: the first dimension of its ``"image"`` tensor, else of its first tensor."""
    for tensor in _tensors(batch):
        if tensor.dim() > 0:
            return int(tensor.shape[0])
    return 0


def first_image_of(batch: Any) -> Optional[Tensor]:
    """The batch's first image as a ``1 x C x H x W`` float tensor (a detached copy), or None."""
    for tensor in _tensors(batch):
        if tensor.dim() == 4 and tensor.is_floating_point():
            return tensor[:1].detach().clone()
    return None


def ddp_sum(trainer: Trainer, values: list[float]) -> list[float]:
    """Element-wise sum over all ranks (an all-reduce: every rank must call it)."""
    tensor = torch.tensor(values, dtype=torch.float64, device=trainer.strategy.root_device)
    return [float(v) for v in trainer.strategy.reduce(tensor, reduce_op="sum").tolist()]
