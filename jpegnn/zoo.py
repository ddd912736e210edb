"""jpegnn's model zoo: released learned codecs, by short name, verified by SHA-256.

The zoo folder is ``<repository>/checkpoints/zoo/`` (``$JPEGNN_ZOO_DIR`` overrides it). It holds
``index.json`` and the release files, named as CompressAI's zoo names its own
(``<family>-<quality>-<first 8 hex digits of SHA-256>.pth.tar``). A release file is a plain
CompressAI state dict with the entropy tables built (what :mod:`jpegnn.models.lic.export` writes):
``torch.load(weights_only=True)`` reads it and, for the architectures CompressAI knows,
``python -m compressai.utils.eval_model checkpoint DIR -a ARCH -p FILE`` evaluates it.

Short names are ``<family>-q<quality>`` (``mbt2018-cpu-q3``); every jpegnn command that takes
a checkpoint takes one too (``zoo:NAME`` forces the zoo; an existing file of that name wins
otherwise), resolved by :func:`checkpoint_source` only. In Python, in the spirit of
``compressai.zoo``::

    import jpegnn.zoo
    net = jpegnn.zoo.load("mbt2018-cpu", quality=3)   # or load("mbt2018-cpu-q3")
    net = jpegnn.zoo.load("mbt2018", quality=3)       # when one family has that architecture
    module = jpegnn.zoo.load_module("mbt2018-cpu-q3")  # the LICModule the commands use

Every :func:`path` (so every load) checks the file's SHA-256 against the index (cached per path,
modification time and size): a file that does not match is a :class:`~jpegnn.errors.CheckpointError`
naming it and both hashes. :func:`release` adds a trained checkpoint to the zoo, :func:`remove` retires a rate or a family
(to make room under :data:`MAX_TOTAL_BYTES` for its successor).

``index.json`` is ``{"format": 1, "models": [entry, ...]}``; each entry holds the fields of
:class:`ZooEntry`.

Layering: this module imports :mod:`jpegnn.tasks` only inside :func:`load_module` and
:func:`release` (``tests/test_layering.py``); the coding and task layers import it lazily.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch

from jpegnn.errors import CheckpointError, ConfigError, one_line_error

__all__ = [
    "ZooEntry",
    "ENV_VAR",
    "INDEX_NAME",
    "MAX_TOTAL_BYTES",
    "zoo_dir",
    "index",
    "available",
    "entry",
    "path",
    "load",
    "load_module",
    "checkpoint_source",
    "read_weights",
    "load_weights",
    "verify",
    "release",
    "remove",
    "kodak_from_results",
]

#: environment variable that replaces the zoo folder (tests, a second zoo)
ENV_VAR = "JPEGNN_ZOO_DIR"
INDEX_NAME = "index.json"
INDEX_FORMAT = 1
#: all release files of the repository's zoo together stay below this (issue 15)
MAX_TOTAL_BYTES = 60_000_000
#: ``zoo:NAME`` always means the zoo, even where a file of that name exists
PREFIX = "zoo:"

_SHORT_NAME = re.compile(r"^(?P<family>.+)-q(?P<quality>\d+)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FAMILY = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
#: (resolved path, mtime_ns, size) -> SHA-256 hex of files already hashed in this process
_hash_cache: dict[tuple[str, int, int], str] = {}

Source = Union[str, os.PathLike]


@dataclass(frozen=True)
class ZooEntry:
    """One released model (one entry of ``index.json``)."""

    family: str  #: e.g. ``mbt2018-cpu``
    architecture: str  #: jpegnn architecture name (``jpegnn.models.lic``)
    quality: int  #: rate index 1..8 (CompressAI's zoo qualities)
    lmbda: float
    N: int
    M: int
    distortion: str  #: ``mse`` or ``ms-ssim``
    file: str  #: name of the release file inside the zoo folder
    sha256: str  #: the release file's SHA-256 (hex)
    bytes: int  #: the release file's size
    steps: Optional[int]  #: training batches (``global_step``)
    cpu_hours: Optional[float]
    data: str  #: training data, free text
    config: str  #: the ``jpegnn fit`` config used
    kodak: Optional[dict] = None  #: ``{"bpp", "psnr_rgb", "ms_ssim_rgb", "protocol"}`` or None
    notes: str = ""
    N_entropy: Optional[int] = None  #: hyper-branch width of a distilled student, else None
    #: the zoo folder the entry was read from (not written to the index)
    folder: Optional[Path] = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The short name, ``<family>-q<quality>``."""
        return f"{self.family}-q{self.quality}"

    @property
    def path(self) -> Path:
        """Where the release file is (not checked; :func:`path` checks it)."""
        return Path(self.folder if self.folder is not None else zoo_dir()) / self.file

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("folder")
        if out["N_entropy"] is None:
            out.pop("N_entropy")
        return out


_REQUIRED = {
    "family": str, "architecture": str, "quality": int, "lmbda": (int, float), "N": int, "M": int,
    "distortion": str, "file": str, "sha256": str, "bytes": int, "steps": (int, type(None)),
    "cpu_hours": (int, float, type(None)), "data": str, "config": str,
}


def _entry_from_json(item: Any, where: Path, i: int) -> ZooEntry:
    def bad(text: str) -> CheckpointError:
        return CheckpointError(f"{where}: models[{i}] {text}")

    if not isinstance(item, dict):
        raise bad("is not an object")
    for key, types in _REQUIRED.items():
        if key not in item:
            raise bad(f"has no {key!r}")
        value = item[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise bad(f"{key}={value!r} has the wrong type")
    known = {f.name for f in fields(ZooEntry)} - {"folder"}
    unknown = sorted(set(item) - known)
    if unknown:
        raise bad(f"has unknown keys {unknown}")
    if not _SHA256.match(item["sha256"]):
        raise bad(f"sha256={item['sha256']!r} is not 64 lowercase hex digits")
    name = item["file"]
    if not name or Path(name).name != name or name in (".", "..") or name == INDEX_NAME:
        raise bad(f"file={name!r} must be a plain file name inside the zoo folder")
    kodak = item.get("kodak")
    if kodak is not None and not isinstance(kodak, dict):
        raise bad("kodak must be an object or null")
    values = {k: item[k] for k in known if k in item}
    values["lmbda"] = float(values["lmbda"])
    if values.get("cpu_hours") is not None:
        values["cpu_hours"] = float(values["cpu_hours"])
    return ZooEntry(**values, folder=where.parent)


def zoo_dir() -> Path:
    """The zoo folder: ``$JPEGNN_ZOO_DIR``, else ``<repository>/checkpoints/zoo``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    import jpegnn

    return Path(jpegnn.__file__).resolve().parents[1] / "checkpoints" / "zoo"


def _folder(zoo_dir_: Optional[Source]) -> Path:
    return Path(zoo_dir_) if zoo_dir_ is not None else zoo_dir()


def index(zoo_dir: Optional[Source] = None) -> list[ZooEntry]:
    """The entries of ``index.json`` (none when the folder or its index does not exist).

    Raises:
        CheckpointError: The index is not valid JSON or an entry is malformed (names the file).
    """
    where = _folder(zoo_dir) / INDEX_NAME
    if not where.is_file():
        return []
    try:
        doc = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"model zoo index {where} is not readable JSON ({one_line_error(exc)})") from None
    if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT or not isinstance(doc.get("models"), list):
        raise CheckpointError(f"model zoo index {where}: expected {{\"format\": {INDEX_FORMAT}, \"models\": [...]}}")
    entries = [_entry_from_json(item, where, i) for i, item in enumerate(doc["models"])]
    seen: set[str] = set()
    for e in entries:
        if e.name in seen:
            raise CheckpointError(f"model zoo index {where} lists {e.name} twice")
        seen.add(e.name)
    return entries


def available(zoo_dir: Optional[Source] = None) -> list[str]:
    """The short names of the zoo's models, ``<family>-q<quality>``."""
    return [e.name for e in index(zoo_dir)]


def _listing(entries: list[ZooEntry], folder: Path) -> str:
    if not entries:
        return f"the model zoo ({folder}) is empty"
    return "available: " + ", ".join(e.name for e in entries)


def _match(name: str, quality: Optional[int], entries: list[ZooEntry]) -> list[ZooEntry]:
    """Entries ``name`` (+ ``quality``) can mean: a short name, a family, or the architecture of
    exactly one family."""
    if quality is None:
        exact = [e for e in entries if e.name == name]
        if exact:
            return exact
        m = _SHORT_NAME.match(name)
        if m:
            name, quality = m.group("family"), int(m.group("quality"))
    families = [e for e in entries if e.family == name]
    if not families:
        by_arch = [e for e in entries if e.architecture == name]
        if len({e.family for e in by_arch}) == 1:
            families = by_arch
    return [e for e in families if quality is None or e.quality == quality]


def _strip(name: str) -> str:
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def entry(name: str, quality: Optional[int] = None, zoo_dir: Optional[Source] = None) -> ZooEntry:
    """The index entry of ``name``: a short name (``mbt2018-cpu-q3``), or a family (or the
    architecture of exactly one family) with ``quality``.

    Raises:
        ConfigError: No such model, or several (a family without its quality); the message lists
            the zoo's models.
    """
    if isinstance(name, ZooEntry):
        return name
    folder = _folder(zoo_dir)
    entries = index(folder)
    text = _strip(str(name))
    if quality is not None and (isinstance(quality, bool) or not isinstance(quality, int)):
        raise ConfigError(f"model zoo: quality must be an integer, got {quality!r}")
    found = _match(text, quality, entries)
    if len(found) == 1:
        return found[0]
    asked = text if quality is None else f"{text} quality {quality}"
    if not found:
        raise ConfigError(f"model zoo: no model {asked!r}; {_listing(entries, folder)} (jpegnn zoo list)")
    raise ConfigError(f"model zoo: {asked!r} is ambiguous, give the quality: " + ", ".join(e.name for e in found))


def _sha256(file: Path, cached: bool = True) -> str:
    st = file.stat()
    key = (str(file.resolve()), st.st_mtime_ns, st.st_size)
    if cached and key in _hash_cache:
        return _hash_cache[key]
    digest = hashlib.sha256()
    with open(file, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    _hash_cache[key] = digest.hexdigest()
    return _hash_cache[key]


def _check_file(e: ZooEntry, cached: bool = True) -> Path:
    file = e.path
    if not file.is_file():
        raise CheckpointError(f"model zoo file not found: {file} (listed for {e.name} in {file.parent / INDEX_NAME})")
    actual = _sha256(file, cached)
    if actual != e.sha256:
        raise CheckpointError(
            f"model zoo file {file} ({e.name}) is corrupt or was replaced: its SHA-256 is {actual}, "
            f"the index expects {e.sha256}"
        )
    return file


def path(name: str | ZooEntry, quality: Optional[int] = None, zoo_dir: Optional[Source] = None) -> Path:
    """The verified release file of a zoo model.

    The SHA-256 is checked on every call (cached per path, modification time and size).

    Raises:
        ConfigError: Unknown name (see :func:`entry`).
        CheckpointError: The file is missing, or its SHA-256 differs from the index's (the
            message names the file and both hashes).
    """
    return _check_file(entry(name, quality, zoo_dir))


# ---------------------------------------------------------------------- weights
def read_weights(source: Source, arg_name: str = "weights") -> dict[str, torch.Tensor]:
    """A network's state dict (keys as in the CompressAI model) from any weights source.

    ``source`` is a zoo short name (or ``zoo:NAME``; the release file, verified), a CompressAI
    state-dict file (raw, or under ``state_dict``/``network``/``model_state_dict``, old zoo keys
    renamed), or a jpegnn checkpoint (its ``model.*`` weights; a KD checkpoint gives its
    student's). Read with ``weights_only=True``.
    """
    from jpegnn.utils.checkpoints import read_torch_file

    src = checkpoint_source(source, arg_name, what="weights file")
    file = _check_file(src) if isinstance(src, ZooEntry) else src
    obj = read_torch_file(file, what="weights file", arg_name=arg_name)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict) and "hyper_parameters" in obj:
        state = {k[len("model."):]: v for k, v in obj["state_dict"].items() if k.startswith("model.")}
    else:
        if isinstance(obj, dict):
            for key in ("state_dict", "network", "model_state_dict"):
                if isinstance(obj.get(key), dict):
                    obj = obj[key]
                    break
        if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
            raise CheckpointError(f"{arg_name}: {file} holds no state dict (a mapping of parameter names to tensors)")
        from compressai.zoo import load_state_dict as rename_zoo_keys

        state = rename_zoo_keys(dict(obj))
    if not state:
        raise CheckpointError(f"{arg_name}: {file} holds no network weights (no 'model.*' entries)")
    return state


def load_weights(
    model: torch.nn.Module, state: Mapping[str, torch.Tensor], arg_name: str = "weights",
    source: Source = "", error: type[Exception] = ConfigError,
) -> None:
    """Load ``state`` into a CompressAI ``model`` strictly, CDF buffers resized first.

    Raises:
        ``error`` (ConfigError by default) naming ``arg_name``, ``source`` and the first key that
        does not fit.
    """
    from jpegnn.models.lic.buffers import first_mismatch, match_cdf_buffers

    problem = first_mismatch(model, state)
    if problem is None:
        match_cdf_buffers(model, state)
        try:
            model.load_state_dict(dict(state), strict=True)
        except RuntimeError as exc:
            problem = one_line_error(exc)
    if problem is not None:
        raise error(f"{arg_name}: {source} does not fit the model ({problem})")


def load(
    name: str | ZooEntry, quality: Optional[int] = None, device: str | torch.device = "cpu",
    zoo_dir: Optional[Source] = None,
) -> torch.nn.Module:
    """A zoo model as a CompressAI ``CompressionModel``, in eval mode, entropy tables built.

    Like ``compressai.zoo.mbt2018_mean(quality=3, pretrained=True)``, but from the verified local
    release file: ``load("mbt2018-cpu", quality=3)`` or ``load("mbt2018-cpu-q3")``.
    """
    from jpegnn.models.lic import build_lic_model
    from jpegnn.utils.checkpoints import read_torch_file

    e = entry(name, quality, zoo_dir)
    file = _check_file(e)
    state = read_torch_file(file, what="model zoo file")
    if not isinstance(state, dict):
        raise CheckpointError(f"model zoo file {file} holds no state dict")
    model = build_lic_model(e.architecture, e.quality, e.N, e.M, e.N_entropy)
    load_weights(model, state, e.name, file, error=CheckpointError)
    with torch.inference_mode(False), torch.no_grad():
        model.update(force=True)
    return model.to(device).eval()


def load_module(name: str | ZooEntry, quality: Optional[int] = None, zoo_dir: Optional[Source] = None):
    """A zoo model as the :class:`~jpegnn.tasks.lic.LICModule` jpegnn's commands use, in eval mode.

    Hyperparameters come from the index entry (``results_name`` is the family, so several rates
    of one family form one curve in ``jpegnn bench``), the weights from the verified release file.
    The entry is kept as ``module.zoo_entry``.
    """
    from jpegnn.tasks.lic import LICModule

    e = entry(name, quality, zoo_dir)
    module = LICModule(
        architecture=e.architecture, quality=e.quality, N=e.N, M=e.M, lmbda=e.lmbda, distortion=e.distortion,
        N_entropy=e.N_entropy, results_name=e.family, weights=str(_check_file(e)),
    )
    module.zoo_entry = e
    return module.eval()


def checkpoint_source(arg: Source, arg_name: Optional[str] = None, what: str = "checkpoint") -> Path | ZooEntry:
    """What a ``--ckpt``-style argument names: an existing file (a Path), or a zoo model.

    ``zoo:NAME`` is always a zoo name. Otherwise an existing path wins; a value without a folder
    separator that names a zoo model (see :func:`entry`) is that model.

    Raises:
        CheckpointError: Neither (``[ARG_NAME: ]WHAT not found: ARG``, pointing at ``jpegnn zoo list``).
        ConfigError: ``zoo:NAME`` with an unknown name, or a family without its quality.
    """
    text = os.fspath(arg)
    if text.startswith(PREFIX):
        return entry(text)
    p = Path(text)
    if p.is_file():
        return p
    looks_like_a_name = text and "/" not in text and os.sep not in text and not text.endswith((".ckpt", ".tar", ".pth", ".pt"))
    if looks_like_a_name:
        entries = index()
        found = _match(text, None, entries)
        if len(found) == 1:
            return found[0]
        if found:
            raise ConfigError(f"model zoo: {text!r} is ambiguous, give the quality: " + ", ".join(e.name for e in found))
    if p.exists():
        return p  # a folder: the reader says so
    where = f"{arg_name}: " if arg_name else ""
    raise CheckpointError(f"{where}{what} not found: {text} (not a file, nor a model zoo name: see jpegnn zoo list)")


# ---------------------------------------------------------------------- checking and releasing
def verify(zoo_dir: Optional[Source] = None, max_total_bytes: int = MAX_TOTAL_BYTES) -> list[str]:
    """Re-hash every listed file (no cache); one line per problem (empty: all good).

    Problems: an unreadable index, a missing file, a hash or size that differs from the index,
    a ``*.pth.tar`` file the index does not list, and release files over ``max_total_bytes``
    together.
    """
    folder = _folder(zoo_dir)
    try:
        entries = index(folder)
    except CheckpointError as exc:
        return [str(exc)]
    problems = []
    total = 0
    for e in entries:
        try:
            file = _check_file(e, cached=False)
        except CheckpointError as exc:
            problems.append(str(exc))
            continue
        size = file.stat().st_size
        total += size
        if size != e.bytes:
            problems.append(f"model zoo file {file} ({e.name}) is {size} bytes, the index says {e.bytes}")
    listed = {e.file for e in entries}
    if folder.is_dir():
        for stray in sorted(folder.glob("*.pth.tar")):
            if stray.name not in listed:
                problems.append(f"model zoo file {stray} is not listed in {folder / INDEX_NAME}")
    if total > max_total_bytes:
        problems.append(f"model zoo files total {total / 1e6:.1f} MB, over the {max_total_bytes / 1e6:.0f} MB limit")
    return problems


def kodak_from_results(results_json: Source) -> dict[str, Any]:
    """The ``kodak`` field of an index entry from a ``jpegnn test`` ``results.json`` (one rate point)."""
    p = Path(results_json)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        res = doc["results"]
        values = {key: res[src] for key, src in (("bpp", "bpp"), ("psnr_rgb", "psnr-rgb"), ("ms_ssim_rgb", "ms-ssim-rgb"))}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"--kodak-json {p}: not a jpegnn test results.json ({one_line_error(exc)})") from None
    for key, value in values.items():
        if not isinstance(value, list) or len(value) != 1:
            raise ConfigError(f"--kodak-json {p}: expected one rate point, got {key}={value!r}")
        values[key] = value[0]
    values["protocol"] = doc.get("protocol", "compressai")
    return values


def _write_index(folder: Path, entries: list[ZooEntry]) -> None:
    from jpegnn.utils.atomic import write_json_atomic

    entries = sorted(entries, key=lambda e: (e.family, e.quality))
    write_json_atomic(folder / INDEX_NAME, {"format": INDEX_FORMAT, "models": [e.to_json() for e in entries]})


def release(
    ckpt: Source,
    family: str,
    quality: Optional[int] = None,
    *,
    steps: Optional[int] = None,
    cpu_hours: Optional[float],
    data: str,
    config: str,
    kodak: Optional[Mapping[str, Any]] = None,
    notes: str = "",
    zoo_dir: Optional[Source] = None,
) -> ZooEntry:
    """Add a trained LICModule checkpoint (or KD student) to the zoo, or replace its rate.

    Writes the release file (:func:`jpegnn.models.lic.export.export_state_dict`) under its
    hashed name, then adds or replaces the ``(family, quality)`` entry of ``index.json``
    (atomically), then removes a replaced entry's old file. ``quality`` defaults to the
    checkpoint's ``quality``, ``steps`` to its ``global_step``.

    Raises:
        ConfigError: A bad family or quality, or the zoo would exceed :data:`MAX_TOTAL_BYTES`.
        CheckpointError: The checkpoint is missing or not a jpegnn LICModule checkpoint.
    """
    from jpegnn.models.lic import preset_channels
    from jpegnn.models.lic.export import export_state_dict, hashed_name
    from jpegnn.tasks.lic import LICModule
    from jpegnn.tasks.loading import load_module as load_checkpoint
    from jpegnn.utils.checkpoints import read_torch_file

    if not isinstance(family, str) or not _FAMILY.match(family) or _SHORT_NAME.match(family):
        raise ConfigError(
            f"--family {family!r}: use lowercase letters, digits, '.', '_' and '-', not ending in -q<number>"
        )
    folder = _folder(zoo_dir)
    ckpt = Path(ckpt)
    header = read_torch_file(ckpt, arg_name="--ckpt", mmap=True)
    module = load_checkpoint(ckpt, LICModule)
    hp = module.hparams
    quality = hp["quality"] if quality is None else quality
    if isinstance(quality, bool) or not isinstance(quality, int) or quality not in range(1, 9):
        raise ConfigError(f"--quality must be 1..8 (CompressAI's zoo qualities), got {quality!r}")
    if steps is None:
        steps = int(header.get("global_step", 0)) if isinstance(header, dict) else None
    pN, pM = preset_channels(hp["architecture"], hp["quality"])
    n_entropy = hp.get("N_entropy")
    N = int(hp.get("N") or pN)
    e_kwargs = dict(
        family=family, architecture=hp["architecture"], quality=quality, lmbda=float(module.lmbda),
        N=N, M=int(hp.get("M") or pM), distortion=hp["distortion"], steps=steps,
        cpu_hours=None if cpu_hours is None else float(cpu_hours), data=str(data), config=str(config),
        kodak=dict(kodak) if kodak is not None else None, notes=str(notes),
        N_entropy=int(n_entropy) if n_entropy is not None and int(n_entropy) != N else None,
    )
    entries = index(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".release-{os.getpid()}.pth.tar"
    try:
        sha = export_state_dict(module.model, tmp)
        size = tmp.stat().st_size
        name = f"{family}-q{quality}"
        old = [e for e in entries if e.name == name]
        others = [e for e in entries if e.name != name]
        total = size + sum(e.bytes for e in others)
        if total > MAX_TOTAL_BYTES:
            raise ConfigError(
                f"releasing {name} would bring the model zoo to {total / 1e6:.1f} MB, over the "
                f"{MAX_TOTAL_BYTES / 1e6:.0f} MB limit"
            )
        new = ZooEntry(**e_kwargs, file=hashed_name(f"{family}-{quality}", sha), sha256=sha, bytes=size, folder=folder)
        os.replace(tmp, new.path)
    finally:
        tmp.unlink(missing_ok=True)
    _write_index(folder, others + [new])
    _delete_unused(old, others + [new])
    return new


def remove(name: str, zoo_dir: Optional[Source] = None) -> list[ZooEntry]:
    """Take a rate (``<family>-q<quality>``) or a whole family out of the zoo.

    The index is rewritten first (atomically), then the release files no remaining entry uses are
    deleted: a run killed in between leaves stray files, never an index naming a missing file.
    Older commits of the repository still hold a removed family's files and index.

    Returns:
        The removed entries.

    Raises:
        ConfigError: ``name`` is neither a short name nor a family of the zoo (the message lists
            the zoo's models).
    """
    folder = _folder(zoo_dir)
    entries = index(folder)
    text = _strip(str(name))
    gone = [e for e in entries if e.name == text] or [e for e in entries if e.family == text]
    if not gone:
        raise ConfigError(f"model zoo: no model or family {text!r} to remove; {_listing(entries, folder)}")
    kept = [e for e in entries if e not in gone]
    _write_index(folder, kept)
    _delete_unused(gone, kept)
    return gone


def _delete_unused(dropped: list[ZooEntry], kept: list[ZooEntry]) -> None:
    """Delete the release files of ``dropped`` entries that no ``kept`` entry uses (after the index
    without them is written, so an interrupted call leaves stray files, never a dangling index)."""
    for e in dropped:
        if all(k.file != e.file for k in kept):
            e.path.unlink(missing_ok=True)
