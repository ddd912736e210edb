"""Loading checkpoints safely and with clear errors.

Checkpoints are loaded with ``weights_only=True`` (no arbitrary unpickling): jpegnn modules keep
only primitive hyperparameters, so their checkpoints load that way. A missing file, a file that is
not a checkpoint, or a checkpoint of another kind raises :class:`~jpegnn.errors.CheckpointError`
naming the file.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import TypeVar

import torch
from lightning.pytorch import LightningModule

from jpegnn.errors import CheckpointError

M = TypeVar("M", bound=LightningModule)


def load_module(path: str | os.PathLike, cls: type[M], map_location: str = "cpu") -> M:
    """Load a ``cls`` LightningModule from a checkpoint written by ``jpegnn fit``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        header = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(header, dict) or "state_dict" not in header or "hyper_parameters" not in header:
        raise CheckpointError(f"{path} is not a Lightning checkpoint written by jpegnn (no state_dict/hyper_parameters)")
    try:
        module = cls.load_from_checkpoint(path, map_location=map_location, weights_only=True)
    except (TypeError, KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{path} does not hold a {cls.__name__} ({type(exc).__name__}: {exc})") from None
    return module.eval()
