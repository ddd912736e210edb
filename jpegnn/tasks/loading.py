"""Loading a task's LightningModule from a checkpoint written by ``jpegnn fit``.

:func:`load_module` is what the coding commands (``jpegnn compress``/``decompress``,
``bench --ckpt``, ``bench --enhance``), the enhancement degradations and the benchmarks use to get
a ready module from a checkpoint. It reads the file through
:func:`jpegnn.utils.checkpoints.read_torch_file` (``weights_only=True``, one-line
:class:`~jpegnn.errors.CheckpointError` naming the file) and knows the tasks: a
knowledge-distillation checkpoint (:class:`~jpegnn.tasks.distillation.DistillationModule`) asked
for as an :class:`~jpegnn.tasks.lic.LICModule` loads as the plain LICModule of its student
network; the teacher is never needed. A model zoo short name (``mbt2018-cpu-q3``,
``zoo:NAME``; see :mod:`jpegnn.zoo`) in place of a file loads that zoo model as an LICModule:
:func:`jpegnn.zoo.checkpoint_source` is the one place where such names are told from files.

It lives here, above the task modules, and not in :mod:`jpegnn.utils`, so that the helper layer
never imports the tasks built on it (``tests/test_layering.py`` checks the layering).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

from lightning.pytorch import LightningModule

from jpegnn.errors import CheckpointError, one_line_error
from jpegnn.tasks.distillation import STUDENT_KEY, DistillationModule, student_from_checkpoint
from jpegnn.tasks.lic import LICModule
from jpegnn.utils.checkpoints import read_torch_file

__all__ = ["load_module"]

M = TypeVar("M", bound=LightningModule)


def load_module(path: str | os.PathLike, cls: type[M], map_location: str = "cpu") -> M:
    """Load a ``cls`` LightningModule from a checkpoint written by ``jpegnn fit`` (or a model zoo
    short name, for an LICModule), in eval mode."""
    from jpegnn.zoo import ZooEntry, checkpoint_source
    from jpegnn.zoo import load_module as load_zoo_module

    source = checkpoint_source(path)
    if isinstance(source, ZooEntry):
        if not issubclass(LICModule, cls):
            raise CheckpointError(f"{path} is a model zoo codec (an LICModule), not a {cls.__name__}")
        return load_zoo_module(source).to(map_location).eval()
    path = Path(source)
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
    if STUDENT_KEY not in header or issubclass(cls, DistillationModule):
        return None
    if not issubclass(LICModule, cls):
        raise CheckpointError(f"{path} holds a distilled LICModule student, not a {cls.__name__}")
    return student_from_checkpoint(path, header)
