"""Loading checkpoints safely and with clear errors.

Checkpoints are loaded with ``weights_only=True`` (no arbitrary unpickling): jpegnn modules keep
only primitive hyperparameters, so their checkpoints load that way. A missing file, a file that is
not a checkpoint, or a checkpoint of another kind raises :class:`~jpegnn.errors.CheckpointError`
naming the file.

A knowledge-distillation checkpoint (:class:`jpegnn.tasks.distillation.DistillationModule`) asked
for as an :class:`~jpegnn.tasks.lic.LICModule` (what ``jpegnn compress``, ``bench --ckpt`` and the
other coding commands do) loads as the plain LICModule of its student network; the teacher is
never needed.
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
    student = _student_of_distillation(path, header, cls)
    if student is not None:
        return student.to(map_location).eval()
    try:
        module = cls.load_from_checkpoint(path, map_location=map_location, weights_only=True)
    except (TypeError, KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{path} does not hold a {cls.__name__} ({type(exc).__name__}: {exc})") from None
    return module.eval()


def _student_of_distillation(path: Path, header: dict, cls: type) -> LightningModule | None:
    """The student LICModule of a DistillationModule checkpoint when ``cls`` asks for an LICModule.

    None when the checkpoint is not a KD checkpoint, or when ``cls`` is the DistillationModule
    itself (or a subclass), which then loads normally.
    """
    from jpegnn.tasks.distillation import STUDENT_KEY, DistillationModule, student_from_checkpoint
    from jpegnn.tasks.lic import LICModule

    if STUDENT_KEY not in header or issubclass(cls, DistillationModule):
        return None
    if not issubclass(LICModule, cls):
        raise CheckpointError(f"{path} holds a distilled LICModule student, not a {cls.__name__}")
    return student_from_checkpoint(path, header)
