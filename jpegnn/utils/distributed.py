"""What every LightningModule and callback needs to stay correct under DDP.

* :func:`run_dir`: the run's log folder. It reads ``trainer.log_dir``, which broadcasts from rank
  zero, so it is a collective: call it on every rank, never behind a rank-zero guard.
* :func:`gather_rows`: per-image result rows from all ranks, one per image. Each rank tests its
  shard of the images and ``DistributedSampler`` pads the shards by repeating images, so the rows
  are gathered (also a collective) and deduplicated by image name before means are taken or files
  written, and the result is the same on every rank.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import torch.distributed as dist
from lightning.pytorch import Trainer

__all__ = ["run_dir", "gather_rows"]


def run_dir(trainer: Optional[Trainer]) -> Path:
    """The run's log folder (``trainer.log_dir``, else ``default_root_dir``, else the working
    directory). Collective: call on every rank."""
    if trainer is None:
        return Path(os.getcwd())
    return Path(trainer.log_dir or trainer.default_root_dir or os.getcwd())


def gather_rows(rows: list[dict[str, Any]], key: str = "image") -> list[dict[str, Any]]:
    """All ranks' ``rows``, one per ``row[key]`` (the first seen), sorted by it. Collective: call
    on every rank (a single process returns its own rows, deduplicated and sorted)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        gathered: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, rows)
        rows = [row for part in gathered for row in part]
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:
        unique.setdefault(row[key], row)
    return [unique[k] for k in sorted(unique)]
