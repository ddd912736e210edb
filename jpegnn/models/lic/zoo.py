"""CompressAI zoo models from local state-dict files, verified; downloads only on request.

``compressai.zoo.bmshj2018_hyperprior(quality=5, pretrained=True)`` always downloads. Here a zoo
model is named the same way (architecture + quality + metric, ``compressai.zoo`` naming) but its
weights come from a **local file**, so training runs offline and reproducibly:

* the file may be the zoo's own download (e.g. ``bmshj2018-hyperprior-5-f8b614e1.pth.tar``): when
  it keeps that name, the first 8 hex digits of its SHA-256 must equal the hash in the name
  (CompressAI's ``update_model`` names files that way, and ``torch.hub`` checks the same prefix),
  otherwise :class:`~jpegnn.errors.CheckpointError` (partial or corrupt download). A zoo file name
  of *another* model (different architecture, quality or metric) is refused too;
* any other file name (a renamed copy, weights you trained in zoo format) cannot be verified by
  name: it loads with a logged warning;
* the weights may be given as a file, as a folder holding the zoo file name, or not at all (then
  ``torch.hub``'s cache, ``$TORCH_HOME/hub/checkpoints``, where ``pretrained=True`` stores them);
* only with ``download=True`` is a missing file fetched from the zoo URL with
  ``torch.hub.download_url_to_file`` (hash-checked) into that folder.

State dicts are read with ``torch.load(weights_only=True)``, unwrapped from ``state_dict`` /
``network`` / ``model_state_dict`` keys, renamed by ``compressai.zoo.load_state_dict`` (old
``module.``/ParameterList keys) and built by the architecture's ``from_state_dict``, which infers
N/M from the weight shapes (a mismatch with the quality's zoo preset is logged, not refused).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn

from jpegnn.errors import CheckpointError, ConfigError, one_line_error
from jpegnn.models.lic.precision import float32_entropy_models

log = logging.getLogger(__name__)

__all__ = [
    "ZOO_METRICS",
    "zoo_architectures",
    "zoo_url",
    "zoo_file_name",
    "zoo_hash_prefix",
    "sha256_hex",
    "verify_zoo_file",
    "read_state_dict",
    "resolve_zoo_weights",
    "load_zoo_model",
    "zoo_lambda",
]

#: metrics of the zoo's pretrained weights
ZOO_METRICS = ("mse", "ms-ssim")
#: ``<stem>-<hex hash>.<ext>``: the naming of CompressAI's ``update_model`` and torch.hub
_HASHED_NAME = re.compile(r"^(?P<stem>.+)-(?P<hash>[0-9a-f]{8,64})\.(?P<ext>pth\.tar|pth|pt|tar)$")


def _zoo():
    import compressai.zoo.image as zoo_image

    return zoo_image


def zoo_architectures() -> list[str]:
    """Zoo architectures that have pretrained weights (``compressai.zoo.image.model_urls``)."""
    return list(_zoo().model_urls)


def _check(architecture: str, quality: int, metric: str) -> None:
    urls = _zoo().model_urls
    if architecture not in urls:
        raise ConfigError(
            f"unknown CompressAI zoo architecture {architecture!r}; choose one of: {', '.join(urls)}"
        )
    if metric not in ZOO_METRICS:
        raise ConfigError(f"zoo metric must be one of {ZOO_METRICS}, got {metric!r}")
    qualities = sorted(urls[architecture][metric])
    if quality not in qualities:
        raise ConfigError(
            f"{architecture} has zoo weights for qualities {qualities[0]}..{qualities[-1]}, got quality={quality!r}"
        )


def zoo_url(architecture: str, quality: int, metric: str = "mse") -> str:
    """Download URL of the zoo weights (``compressai.zoo.image.model_urls``)."""
    _check(architecture, quality, metric)
    return _zoo().model_urls[architecture][metric][quality]


def zoo_file_name(architecture: str, quality: int, metric: str = "mse") -> str:
    """File name of the zoo weights, e.g. ``bmshj2018-hyperprior-5-f8b614e1.pth.tar``."""
    return zoo_url(architecture, quality, metric).rsplit("/", 1)[-1]


def zoo_hash_prefix(file_name: str) -> Optional[str]:
    """The SHA-256 prefix embedded in a ``<stem>-<hex>.pth.tar`` name, or None."""
    match = _HASHED_NAME.match(file_name)
    return match.group("hash") if match else None


def zoo_lambda(quality: int, metric: str = "mse") -> float:
    """λ the zoo model of ``quality`` was trained with (CompressAI ``docs/source/zoo.rst``)."""
    from jpegnn.models.lic.registry import default_lambda

    return default_lambda(quality, metric)


def sha256_hex(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _all_zoo_names() -> dict[str, tuple[str, str, int]]:
    names = {}
    for arch, by_metric in _zoo().model_urls.items():
        for metric, by_quality in by_metric.items():
            for quality, url in by_quality.items():
                names[url.rsplit("/", 1)[-1]] = (arch, metric, quality)
    return names


def verify_zoo_file(path: str | os.PathLike, architecture: str, quality: int, metric: str = "mse") -> bool:
    """Check a local weights file against the zoo name of ``architecture``/``quality``/``metric``.

    Returns:
        True when the file keeps the zoo file name and its SHA-256 starts with the name's hash;
        False when the name is not a zoo file name (nothing to verify against).

    Raises:
        CheckpointError: The zoo name's hash does not match the file's SHA-256 (corrupt or
            partial download).
        ConfigError: The file is named after a *different* zoo model than the one requested.
    """
    path = Path(path)
    expected = zoo_file_name(architecture, quality, metric)
    if path.name != expected:
        other = _all_zoo_names().get(path.name)
        if other is not None:
            arch, met, q = other
            raise ConfigError(
                f"{path} is the zoo file of {arch} quality {q} ({met}), but {architecture} quality {quality} "
                f"({metric}) was requested; its zoo file is {expected}"
            )
        return False
    want = zoo_hash_prefix(expected)
    assert want is not None, expected
    have = sha256_hex(path)
    if not have.startswith(want):
        raise CheckpointError(
            f"{path}: SHA-256 starts with {have[: len(want)]}, but its zoo name says {want}: the file is "
            "corrupt or a partial download; download it again"
        )
    return True


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a CompressAI-format state dict (``weights_only``), unwrapped and with zoo key renaming.

    Accepts a raw state dict or one wrapped under ``state_dict`` / ``network`` /
    ``model_state_dict`` (CompressAI's ``examples/train.py`` and ``eval_model`` conventions).
    """
    from compressai.zoo import load_state_dict as rename_zoo_keys

    from jpegnn.utils.checkpoints import read_torch_file

    path = Path(path)
    obj = read_torch_file(path, what="state-dict file")
    if isinstance(obj, dict):
        for key in ("state_dict", "network", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict (a mapping of parameter names to tensors)")
    return rename_zoo_keys(obj)


def resolve_zoo_weights(
    architecture: str,
    quality: int,
    metric: str = "mse",
    weights: Optional[str | os.PathLike] = None,
    download: bool = False,
    arg_name: str = "weights",
    download_flag: str = "download=True",
) -> Path:
    """Find (or, with ``download``, fetch) the local weights file of a zoo model.

    Args:
        architecture, quality, metric: ``compressai.zoo`` naming.
        weights: A state-dict file, a folder holding the zoo file name, or None for
            ``torch.hub``'s cache folder (``$TORCH_HOME/hub/checkpoints``).
        download: Fetch a missing file from the zoo URL into the folder (hash-checked). Never
            done otherwise.
        arg_name: Name of the user's weights argument, used in error messages.
        download_flag: How the user enables downloading, used in error messages.

    Raises:
        CheckpointError: No local file and ``download`` is false (the message gives the zoo file
            name and URL), or the download failed.
    """
    name = zoo_file_name(architecture, quality, metric)
    url = zoo_url(architecture, quality, metric)
    if weights is not None and Path(weights).is_file():
        return Path(weights)
    if weights is None:
        folder = Path(torch.hub.get_dir()) / "checkpoints"
    elif Path(weights).is_dir() or str(weights).endswith(os.sep):
        folder = Path(weights)
    else:
        target = Path(weights)
        if target.name != name:
            raise CheckpointError(
                f"{arg_name}={target}: file not found (the zoo file of {architecture} quality {quality} "
                f"({metric}) is {name}, from {url})"
            )
        folder = target.parent
    candidate = folder / name
    if candidate.is_file():
        return candidate
    if not download:
        raise CheckpointError(
            f"{arg_name}: no local weights for zoo model {architecture} quality {quality} ({metric}): {candidate} "
            f"does not exist. Put the zoo file there (from {url}), pass {arg_name}=PATH to a state-dict file, "
            f"or set {download_flag} to let jpegnn download it with torch.hub"
        )
    folder.mkdir(parents=True, exist_ok=True)
    log.warning("downloading %s to %s (explicitly requested)", url, candidate)
    try:
        torch.hub.download_url_to_file(url, str(candidate), hash_prefix=zoo_hash_prefix(name), progress=True)
    except Exception as exc:  # noqa: BLE001 - URLError, HTTPError, RuntimeError (hash mismatch)
        raise CheckpointError(f"downloading {url} to {candidate} failed ({type(exc).__name__}: {exc})") from None
    return candidate


def load_zoo_model(
    architecture: str,
    quality: int,
    metric: str = "mse",
    weights: Optional[str | os.PathLike] = None,
    download: bool = False,
    arg_name: str = "weights",
    download_flag: str = "download=True",
) -> nn.Module:
    """A CompressAI zoo model with weights from a local file (see the module docstring).

    The file is verified against the zoo name when it keeps it; N/M come from the weight shapes.
    Returns the model in eval mode on the CPU.
    """
    path = resolve_zoo_weights(architecture, quality, metric, weights, download, arg_name, download_flag)
    if not verify_zoo_file(path, architecture, quality, metric):
        log.warning(
            "%s: not named like the zoo file %s, so its SHA-256 cannot be checked; loading it as %s "
            "quality %d (%s)", path, zoo_file_name(architecture, quality, metric), architecture, quality, metric,
        )
    try:
        state = read_state_dict(path)
    except CheckpointError as exc:
        raise CheckpointError(f"{arg_name}: {exc}") from None
    cls = _zoo().model_architectures[architecture]
    try:
        model = cls.from_state_dict(state)
    except KeyError as exc:
        raise CheckpointError(f"{arg_name}: {path} does not hold {architecture} weights (no key {exc})") from None
    except (RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{arg_name}: {path} does not hold {architecture} weights ({one_line_error(exc)})") from None
    preset = _zoo().cfgs[architecture][quality]
    got = (getattr(model, "N", None), getattr(model, "M", None))
    if None not in got and tuple(got[: len(preset)]) != tuple(preset):
        log.warning("%s: N/M %s differ from the zoo preset %s of quality %d", path, got, preset, quality)
    # a KD teacher's ẑ/likelihoods in float32 under AMP, as the students' (jpegnn.models.lic.precision)
    return float32_entropy_models(model).eval()
