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
import zipfile
from pathlib import Path
from typing import Any, Optional, TypeVar

import torch
from lightning.pytorch import LightningModule

from jpegnn.errors import CheckpointError, one_line_error

M = TypeVar("M", bound=LightningModule)


def read_torch_file(
    path: str | os.PathLike, what: str = "checkpoint", arg_name: Optional[str] = None, mmap: bool = False
) -> Any:
    """The object a torch file holds, loaded with ``weights_only=True`` on the CPU.

    Every reader of checkpoints and state dicts goes through here, so a missing file, a file that
    is not a torch file, a truncated one, or one that pickles code gets the same one-line
    :class:`~jpegnn.errors.CheckpointError`: ``[ARG: ]WHAT not found: PATH`` or
    ``[ARG: ]PATH is not a readable PyTorch WHAT (reason)``.

    Args:
        path: The file.
        what: What the caller expects, for the message (``checkpoint``, ``state-dict file``, ...).
        arg_name: The argument or flag that named the file (``teacher_ckpt``, ``--ckpt``), if any.
        mmap: Map a zip-format file instead of reading it (tensors are read when used).
    """
    path = Path(path)
    where = f"{arg_name}: " if arg_name else ""
    if path.is_dir():
        raise CheckpointError(f"{where}{path} is a folder, not a {what}")
    if not path.is_file():
        raise CheckpointError(f"{where}{what} not found: {path}")
    # torch maps only its zip format; a legacy (or foreign) file is read whole, so that its error
    # is about its contents, not about mmap
    mmap = mmap and zipfile.is_zipfile(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001
        # torch.load on a corrupt, truncated or foreign file raises whatever its parser meets first:
        # UnpicklingError, RuntimeError, EOFError, BadZipFile, but also KeyError, IndexError or
        # struct.error from the legacy format's reader
        raise CheckpointError(f"{where}{path} is not a readable PyTorch {what} ({one_line_error(exc)})") from None


def load_module(path: str | os.PathLike, cls: type[M], map_location: str = "cpu") -> M:
    """Load a ``cls`` LightningModule from a checkpoint written by ``jpegnn fit``."""
    path = Path(path)
    header = read_torch_file(path, mmap=True)
    if not isinstance(header, dict) or "state_dict" not in header or "hyper_parameters" not in header:
        raise CheckpointError(f"{path} is not a Lightning checkpoint written by jpegnn (no state_dict/hyper_parameters)")
    student = _student_of_distillation(path, header, cls)
    if student is not None:
        return student.to(map_location).eval()
    try:
        module = cls.load_from_checkpoint(path, map_location=map_location, weights_only=True)
    except (TypeError, KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{path} does not hold a {cls.__name__} ({one_line_error(exc)})") from None
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
