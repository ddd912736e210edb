"""Where ``jpegnn decompress`` finds a model when no ``--ckpt`` is given.

``jpegnn compress`` records ``model_hash -> checkpoint path`` in a small JSON index
(``$JPEGNN_CACHE/models.json``, default ``~/.cache/jpegnn/models.json``), written atomically; a
model zoo model is recorded as ``zoo:<short name>`` (:mod:`jpegnn.zoo`), which the loaders resolve.
Decoding looks the file's model hash up there; the checkpoint found is still verified against the
hash before use.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from jpegnn.utils.atomic import write_json_atomic


def index_path() -> Path:
    root = os.environ.get("JPEGNN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "jpegnn")
    return Path(root) / "models.json"


def _read() -> dict[str, str]:
    try:
        data = json.loads(index_path().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def remember(model_hash: bytes, ckpt: str | os.PathLike) -> None:
    """Record that ``ckpt`` (a path, or ``zoo:NAME``) holds the model with ``model_hash``.

    The index is a convenience: if it cannot be written (read-only or misplaced cache folder),
    a warning says so and decoding then needs ``--ckpt``; the compressed file is unaffected.
    """
    data = _read()
    ref = os.fspath(ckpt)
    data[model_hash.hex()] = ref if ref.startswith("zoo:") else str(Path(ref).resolve())
    try:
        write_json_atomic(index_path(), data)
    except OSError as exc:
        warnings.warn(
            f"could not record the model in the local index {index_path()} ({exc.strerror or exc}); "
            "pass --ckpt to jpegnn decompress",
            stacklevel=2,
        )


def lookup(model_hash: bytes) -> str | None:
    """Checkpoint path recorded for ``model_hash``, if any."""
    return _read().get(model_hash.hex())
