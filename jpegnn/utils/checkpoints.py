"""Reading checkpoints and state dicts safely and with clear errors.

Every torch file is loaded with ``weights_only=True`` (no arbitrary unpickling): jpegnn modules
keep only primitive hyperparameters, so their checkpoints load that way. A missing file, a file
that is not a torch file, a truncated one, or one that pickles code raises
:class:`~jpegnn.errors.CheckpointError` naming the file.

Building a task's LightningModule from a checkpoint (including a knowledge-distillation
checkpoint loaded as its student LICModule) is :func:`jpegnn.tasks.loading.load_module`: this
helper layer does not know the tasks.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any, Optional

import torch

from jpegnn.errors import CheckpointError, one_line_error


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
