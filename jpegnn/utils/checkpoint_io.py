"""Checkpoint I/O that never leaves a half-written ``.ckpt`` behind.

Lightning's default ``TorchCheckpointIO`` writes straight to the destination; a run killed during
that write leaves a truncated ``last.ckpt`` and nothing to resume from. This plugin writes to a
temporary file in the same folder, fsyncs it and renames it over the destination.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from jpegnn.utils.atomic import atomic_open


class AtomicCheckpointIO(TorchCheckpointIO):
    """:class:`TorchCheckpointIO` with an atomic (temp file + ``os.replace``) save."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: _PATH, storage_options: Optional[Any] = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO does not take storage_options")
        path = os.fspath(path)
        if "://" in path:  # remote file systems: fall back to Lightning's writer
            return super().save_checkpoint(checkpoint, path, storage_options)
        with atomic_open(path, "wb") as fh:
            torch.save(checkpoint, fh)
        return None
