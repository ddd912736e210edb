"""Rate-distortion benchmark runner: codecs x images x rate points -> result files, RD plot, BD table.

:func:`run_bench` takes any objects implementing :class:`jpegnn.evaluation.protocol.Codec`
(classical Pillow codecs, and trained checkpoints coded for real through `.jnn` files) and writes
into ``out_dir``:

* ``<codec>.json``: CompressAI results format (``jpegnn.evaluation.results``), one entry per rate
  point, each the mean over images, plus a ``meta`` block (qualities or target bpps, image count,
  dataset, workers, wall time of the whole run in seconds);
* ``<codec>_per_image.csv``: one row per image and rate point (standard per-image columns plus
  ``codec``, ``quality``, ``num_bytes`` and, in target-bpp mode, ``target_bpp``);
* ``rd.png`` / ``rd.svg``: PSNR-RGB and MS-SSIM-RGB (dB) against bpp, our curves solid and
  reference JSONs dashed;
* ``bd_table.csv`` / ``bd_table.md``: BD-rate and BD-PSNR (PSNR-RGB and MS-SSIM in dB) of every
  curve against the anchor (default: the first codec).

Images are processed in parallel, one task per image: a worker process reads the image once,
caches its reference statistics and runs every codec and rate point on it (``workers`` processes,
default = the CPU cores available; each worker uses one torch thread). :func:`run_classical_bench`
is the same with codecs given by registry name.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from jpegnn.errors import ConfigError, DataError
from jpegnn.evaluation.classical import evaluate_image, get_codec
from jpegnn.evaluation.protocol import Codec
from jpegnn.evaluation.results import compressai_results, write_per_image_csv, write_results_json
from jpegnn.metrics.bd import BD_TABLE_FIELDS, BjontegaardWarning, bd_table, bd_table_markdown
from jpegnn.utils.atomic import write_csv_atomic, write_text_atomic

__all__ = ["BenchResult", "run_bench", "run_classical_bench", "list_dataset", "load_reference", "default_workers"]


@dataclass
class BenchResult:
    """What :func:`run_bench` produced.

    Attributes:
        out_dir: Output folder.
        results: codec name -> CompressAI-format dict (as written to ``<name>.json``).
        rows: codec name -> per-image rows.
        references: reference name -> CompressAI-format dict (as loaded).
        bd_rows: Rows of the BD table (see :func:`jpegnn.metrics.bd.bd_table`).
        files: Every file written.
        elapsed_s: Wall time of the image loop in seconds (coding + metrics, all workers).
    """

    out_dir: Path
    results: dict[str, dict[str, Any]]
    rows: dict[str, list[dict[str, Any]]]
    references: dict[str, dict[str, Any]]
    bd_rows: list[dict[str, Any]]
    files: list[Path] = field(default_factory=list)
    elapsed_s: float = 0.0


def default_workers() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def list_dataset(dataset: str | os.PathLike | Sequence[str | os.PathLike]) -> list[tuple[Path, str]]:
    """``(path, name)`` of the images of ``dataset``: a folder (searched recursively), one image file,
    or a list of image files.

    Raises:
        DataError: The folder or a file does not exist, or the folder holds no image.
    """
    from jpegnn.data.datasets.base import unique_names
    from jpegnn.data.datasets.image_folder import ImageFolder

    if isinstance(dataset, (str, os.PathLike)):
        root = Path(dataset)
        if root.is_dir():
            return list(ImageFolder(str(root)).files)
        if not root.exists():
            raise DataError(f"dataset not found: {root}")
        files = [root]
    else:
        files = [Path(p) for p in dataset]
        if not files:
            raise DataError("dataset is empty: no image files given")
    for f in files:
        if not f.is_file():
            raise DataError(f"image file not found: {f}")
    stems = [f.stem for f in files]
    names = stems if len(set(stems)) == len(stems) else unique_names([f.as_posix() for f in files])
    return list(zip(files, names))


#: result lists of a reference JSON that the plot and BD table read (each one per rate point)
_REFERENCE_KEYS = ("bpp", "psnr-rgb", "ms-ssim-rgb", "ms-ssim-db-rgb")


def load_reference(ref: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """Load a CompressAI-format results JSON (path or already-loaded dict) and check its shape.

    Raises:
        DataError: Missing or unreadable file, invalid JSON, no ``results.bpp`` list, or a
            ``psnr-rgb`` / ``ms-ssim-rgb`` / ``ms-ssim-db-rgb`` list of another length than
            ``bpp`` or holding something other than numbers and nulls.
    """
    if isinstance(ref, Mapping):
        data, where = dict(ref), str(ref.get("name", "reference dict"))
    else:
        path = Path(ref)
        where = str(path)
        if not path.is_file():
            raise DataError(f"reference results file not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read reference results {path}: {exc}") from None
        if isinstance(data, dict):
            data.setdefault("name", path.stem)
    res = data.get("results") if isinstance(data, dict) else None
    if not isinstance(res, dict) or not isinstance(res.get("bpp"), list):
        raise DataError(f"reference results {where} are not in CompressAI format (no results.bpp list)")
    n = len(res["bpp"])
    for key in _REFERENCE_KEYS:
        values = res.get(key)
        if values is None:
            continue
        if not isinstance(values, list) or len(values) != n:
            got = f"{len(values)} values" if isinstance(values, list) else type(values).__name__
            raise DataError(f"reference results {where}: results.{key} has {got}, results.bpp has {n}")
        bad = [v for v in values if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)))]
        if bad:
            raise DataError(f"reference results {where}: results.{key} holds a non-number ({bad[0]!r})")
    return data


def _safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("._") or "codec"


# --------------------------------------------------------------------------------------------
# worker side


def _init_worker() -> None:
    """One torch thread per worker process: the pool provides the parallelism."""
    import torch

    torch.set_num_threads(1)


def _load_image(path: Path):
    """H x W x 3 uint8 numpy array via :func:`jpegnn.data.io.load_rgb` (DataError on failure)."""
    from jpegnn.data.io import load_rgb

    return load_rgb(path).permute(1, 2, 0).contiguous().numpy()


def _work(task: tuple) -> tuple[int, list[dict[str, Any]]]:
    index, path, name, codecs, qualities, target_bpps = task
    img = _load_image(path)
    return index, evaluate_image(name, img, codecs, qualities, target_bpps)


def _run_tasks(tasks: list[tuple], workers: int, progress: bool, desc: str) -> list[list[dict[str, Any]]]:
    from tqdm.auto import tqdm

    out: list[list[dict[str, Any]] | None] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc=desc, unit="img", disable=not progress, file=sys.stderr)
    try:
        if workers <= 1 or len(tasks) <= 1:
            # in this process: the metrics pin themselves to one thread (fast_quality.single_thread);
            # a learned codec keeps the caller's thread setting
            for task in tasks:
                i, rows = _work(task)
                out[i] = rows
                bar.update(1)
        else:
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            ctx = mp.get_context(method)
            with ctx.Pool(min(workers, len(tasks)), initializer=_init_worker) as pool:
                for i, rows in pool.imap_unordered(_work, tasks):
                    out[i] = rows
                    bar.update(1)
    finally:
        bar.close()
    return [r or [] for r in out]


# --------------------------------------------------------------------------------------------
# runner


def _resolve_qualities(codecs: Sequence[Codec], qualities: Any) -> dict[str, list[int]]:
    """codec name -> sorted qualities. A plain list applies to codecs that have a ``quality_range``."""
    out: dict[str, list[int]] = {}
    for c in codecs:
        if isinstance(qualities, Mapping):
            qs = qualities.get(c.name)
        elif qualities is not None and getattr(c, "quality_range", None) is not None:
            qs = qualities
        else:
            qs = None
        qs = list(qs) if qs else list(c.default_qualities)
        check = getattr(c, "check_quality", None)
        if check is not None:
            qs = [check(q) for q in qs]
        if not qs:
            raise ConfigError(f"codec {c.name!r}: no quality to run")
        out[c.name] = sorted(set(int(q) for q in qs))
    return out


def run_bench(
    codecs: Sequence[Codec],
    dataset: str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    qualities: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
    workers: int | None = None,
    target_bpp: float | Sequence[float] | None = None,
    references: Sequence[str | os.PathLike | Mapping[str, Any]] = (),
    anchor: str | None = None,
    bd_method: str = "cubic",
    progress: bool = True,
    title: str | None = None,
) -> BenchResult:
    """Benchmark ``codecs`` on ``dataset`` and write the result files into ``out_dir``.

    Args:
        codecs: Objects implementing :class:`~jpegnn.evaluation.protocol.Codec` (unique names).
        dataset: Image folder (recursive), one image, or a list of image files.
        out_dir: Output folder (created).
        qualities: Rate points: a list for every codec with a ``quality_range`` (classical
            codecs), or a dict codec name -> list. Default: each codec's ``default_qualities``
            (5, 10, ..., 95 for the classical ones).
        workers: Processes (default: available CPU cores). ``1`` runs in this process.
        target_bpp: One or more target rates (bpp). If given, they replace the quality sweep:
            for each image, codec and target the quality whose bpp is closest is used, so codecs
            are compared at matched rate.
        references: CompressAI-format JSON paths or dicts to overlay in the plot and include in
            the BD table (e.g. CompressAI's published Kodak curves).
        anchor: Name of the BD anchor (a codec or reference ``name``); default the first codec.
        bd_method: ``"cubic"`` or ``"pchip"`` (see :mod:`jpegnn.metrics.bd`).
        progress: Show a tqdm progress bar on stderr.
        title: Figure title (default: the dataset folder name and the image count).

    Raises:
        DataError: Missing or empty dataset, unreadable image or reference.
        ConfigError: No codecs, duplicate codec names, bad qualities or target bpp, unknown anchor.
    """
    if not codecs:
        raise ConfigError("no codec to benchmark")
    names = [c.name for c in codecs]
    if len(set(names)) != len(names):
        raise ConfigError(f"codec names must be unique, got {names}")
    targets: list[float] | None = None
    if target_bpp is not None:
        targets = [float(target_bpp)] if isinstance(target_bpp, (int, float)) else [float(t) for t in target_bpp]
        bad = [t for t in targets if not (math.isfinite(t) and t > 0)]
        if bad or not targets:
            raise ConfigError(f"target bpp must be positive numbers, got {target_bpp!r}")
    quals = _resolve_qualities(codecs, qualities)
    refs = [load_reference(r) for r in references]
    files = list_dataset(dataset)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")

    parallel = [c for c in codecs if getattr(c, "parallel_safe", True)]
    serial = [c for c in codecs if not getattr(c, "parallel_safe", True)]
    t0 = time.perf_counter()
    per_image: list[list[dict[str, Any]]] = [[] for _ in files]
    for group, nworkers, label in ((parallel, workers, "classical"), (serial, 1, "learned")):
        if not group:
            continue
        tasks = [(i, p, n, list(group), quals, targets) for i, (p, n) in enumerate(files)]
        for i, rows in enumerate(_run_tasks(tasks, nworkers, progress, f"bench {label}")):
            per_image[i].extend(rows)
    elapsed = time.perf_counter() - t0

    # aggregate per codec, in rate-point order
    results: dict[str, dict[str, Any]] = {}
    rows_by_codec: dict[str, list[dict[str, Any]]] = {}
    written: list[Path] = []
    dataset_label = str(dataset) if isinstance(dataset, (str, os.PathLike)) else f"{len(files)} files"
    for c in codecs:
        rows = [r for img_rows in per_image for r in img_rows if r["codec"] == c.name]
        rows_by_codec[c.name] = rows
        if targets:
            points = [[r for r in rows if r["target_bpp"] == t] for t in targets]
            meta: dict[str, Any] = {
                "target_bpp": targets,
                "mean_quality": [sum(r["quality"] for r in p) / len(p) for p in points],
            }
        else:
            points = [[r for r in rows if r["quality"] == q] for q in quals[c.name]]
            meta = {"qualities": quals[c.name]}
        res = compressai_results(c.name, c.description, points)
        res["meta"] = {
            **meta,
            "images": len(files),
            "dataset": dataset_label,
            "workers": workers if c in parallel else 1,
            "run_wall_time_s": round(elapsed, 3),  # the whole image loop, all codecs together
        }
        results[c.name] = res
        stem = _safe_filename(c.name)
        write_results_json(out / f"{stem}.json", res)
        extra = ["codec", "quality", "num_bytes"] + (["target_bpp"] if targets else [])
        extra += sorted({k for r in rows for k in r} - set(extra) - {"image", "width", "height", "bpp",
                         "bpp_estimated", "psnr_rgb", "ms_ssim_rgb", "encoding_time", "decoding_time"})
        write_per_image_csv(out / f"{stem}_per_image.csv", rows, extra_fields=extra)
        written += [out / f"{stem}.json", out / f"{stem}_per_image.csv"]

    # references get unique display names
    ref_by_name: dict[str, dict[str, Any]] = {}
    for r in refs:
        base = f"{r.get('name', 'reference')} (reference)"
        name, k = base, 2
        while name in results or name in ref_by_name:
            name, k = f"{base} {k}", k + 1
        ref_by_name[name] = {**r, "name": name}

    curves = {**results, **ref_by_name}
    anchor = anchor or codecs[0].name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BjontegaardWarning)
        bd_rows = bd_table(curves, anchor, method=bd_method)
    notes = []
    for w in caught:
        if issubclass(w.category, BjontegaardWarning):
            notes.append(str(w.message))
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    write_csv_atomic(out / "bd_table.csv", bd_rows, BD_TABLE_FIELDS)
    md = bd_table_markdown(bd_rows)
    if notes:
        md += "\nNotes:\n" + "".join(f"- {n}\n" for n in dict.fromkeys(notes))
    write_text_atomic(out / "bd_table.md", md)
    written += [out / "bd_table.csv", out / "bd_table.md"]

    from jpegnn.evaluation.plots import plot_rd

    fig_title = title or f"{Path(dataset_label).name or dataset_label} ({len(files)} images)"
    written += plot_rd(
        list(results.values()) + list(ref_by_name.values()),
        out / "rd",
        title=fig_title,
        reference_style=[False] * len(results) + [True] * len(ref_by_name),
    )
    return BenchResult(out, results, rows_by_codec, ref_by_name, bd_rows, written, elapsed)


def run_classical_bench(
    codecs: Sequence[str | Codec],
    dataset_files: str | os.PathLike | Sequence[str | os.PathLike],
    qualities: Sequence[int] | Mapping[str, Sequence[int]] | None,
    out_dir: str | os.PathLike,
    workers: int | None = None,
    target_bpp: float | Sequence[float] | None = None,
    references: Sequence[str | os.PathLike | Mapping[str, Any]] = (),
    anchor: str | None = None,
    **kwargs: Any,
) -> BenchResult:
    """:func:`run_bench` with classical codecs named as in :data:`jpegnn.evaluation.classical.CODECS`.

    ``codecs`` may mix registry names (``"jpeg"``, ``"webp"``, ...) and ready codec objects.
    Raises :class:`~jpegnn.errors.ConfigError` for an unknown or unavailable codec name.
    """
    built = [get_codec(c) if isinstance(c, str) else c for c in codecs]
    return run_bench(built, dataset_files, out_dir, qualities=qualities, workers=workers,
                     target_bpp=target_bpp, references=references, anchor=anchor, **kwargs)
