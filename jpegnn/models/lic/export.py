"""Release files: a learned codec's weights as a plain CompressAI state dict.

The file is what ``python -m compressai.utils.update_model`` writes: ``model.state_dict()`` after
``update(force=True)`` (entropy tables built from the quantiles the weights carry), saved with
``torch.save``, holding tensors only, so ``torch.load(weights_only=True)`` reads it and
``python -m compressai.utils.eval_model checkpoint DIR -a ARCH -p FILE`` evaluates it (its
``from_state_dict`` infers N and M from the weight shapes). CompressAI's zoo names its files
``<name>-<first 8 hex digits of the file's SHA-256>.pth.tar``; :func:`hashed_name` gives that name.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from jpegnn.errors import ConfigError
from jpegnn.utils.atomic import write_bytes_atomic

__all__ = ["COMPRESSAI_ARCHITECTURES", "compressai_architecture", "state_dict_bytes", "export_state_dict", "hashed_name"]

#: jpegnn architecture -> the ``-a`` name of ``compressai.utils.eval_model`` that rebuilds it.
#: ``checkerboard`` is jpegnn's own class and ``elic`` (``Elic2022Official``) has no zoo entry, so
#: eval_model cannot rebuild them; their exported files load with jpegnn only.
COMPRESSAI_ARCHITECTURES: dict[str, str] = {
    "bmshj2018-factorized": "bmshj2018-factorized",
    "bmshj2018-hyperprior": "bmshj2018-hyperprior",
    "mbt2018-mean": "mbt2018-mean",
    "mbt2018": "mbt2018",
}


def compressai_architecture(architecture: str, n_entropy_differs: bool = False) -> str | None:
    """``eval_model``'s ``-a`` name for a jpegnn architecture, or None when eval_model cannot load it
    (jpegnn-only classes, or a student whose hyper branch is narrower than N)."""
    if n_entropy_differs:
        return None
    return COMPRESSAI_ARCHITECTURES.get(architecture)


def _compact(key: str, value: torch.Tensor) -> torch.Tensor:
    """``value``, or a broadcast view of its first kernel when it is a mask repeated over channels.

    A masked convolution's ``mask`` buffer (``mbt2018``'s context model: 2M x M x 5 x 5, 1.8 MB at
    M=96) is one 5x5 pattern for every channel pair. Saved as that pattern expanded (stride 0), the
    file holds 25 numbers; ``torch.load`` gives back the same values in the same shape, and
    ``load_state_dict`` copies them into the model's buffer.
    """
    if key.endswith("mask") and value.dim() == 4 and value.numel() > 0:
        first = value[:1, :1].clone()
        if torch.equal(first.expand_as(value), value):
            return first.expand_as(value)
    return value.contiguous()


def state_dict_bytes(model: torch.nn.Module) -> bytes:
    """``torch.save`` of the model's state dict (tensors on the CPU, entropy tables as built; a
    channel-repeated convolution mask as one kernel broadcast, :func:`_compact`)."""
    state = {k: _compact(k, v.detach().cpu()) for k, v in model.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def export_state_dict(model: torch.nn.Module, out: str | Path) -> str:
    """Build the entropy tables (``update(force=True)``) and write the state dict to ``out`` atomically.

    Returns:
        The file's SHA-256 (hex).

    Raises:
        ConfigError: ``out`` is a folder or cannot be written.
    """
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name such as model.pth.tar")
    with torch.inference_mode(False), torch.no_grad():
        model.update(force=True)
    data = state_dict_bytes(model)
    try:
        write_bytes_atomic(out, data)
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from None
    return hashlib.sha256(data).hexdigest()


def hashed_name(stem: str, sha256: str) -> str:
    """CompressAI's zoo file name: ``<stem>-<first 8 hex digits of SHA-256>.pth.tar``."""
    return f"{stem}-{sha256[:8]}.pth.tar"
