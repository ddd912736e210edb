"""Low-precision sweep (issue 8): number format x rounding x top-1 accuracy of a small CNN classifier.

Reproduces the *shape* of the origin notebook's table (5 exponent + 2 mantissa bits: 94.6 % nearest /
94.7 % stochastic; 2 + 1 bits: 91.0 % / 92.5 %) on a real image folder (e.g. Imagenette), with the
project's own pieces: :class:`jpegnn.tasks.QTableClassifier` in ``mode="uncompressed"`` (no JPEG
layer; the ``small_cnn`` of :mod:`jpegnn.models.classifiers`), :class:`jpegnn.data.ClassificationDataModule`
transforms, Lightning's ``Trainer`` in-process and :class:`jpegnn.callbacks.quantization.QuantizationCallback`
for the simulated formats.

Rows (every one: same seed, same initial weights, same batches in the same order, same number of
optimizer steps):

* ``fp32``: the full-precision baseline;
* ``train``: for every format and rounding mode, the weights (quantized copies of full-precision
  master weights), activations and gradients of every Conv2d/Linear layer in that format during
  training **and** validation (as the notebook quantized weights, activations and gradients;
  ``--gradient e5m2`` keeps the gradients in e5m2 instead, ``--gradient none`` in full precision);
* ``config``: the settings of each ``configs/quant/*.yaml`` snippet not already in the grid (e.g.
  e2m1 with e5m2 gradients, fixed 8.4 with full-precision gradients);
* ``eval``: the fp32-trained network validated with weights and activations in the format
  (post-training quantization, no retraining).

Float formats with fewer than 5 exponent bits saturate at ±max (``:saturate``, as QPyTorch does)
instead of overflowing to ±inf; e5m2 keeps IEEE overflow. Stochastic rounding draws from a generator
of its own (``QuantizationCallback(seed=...)``), so nearest/stochastic rows see identical data order,
augmentations and dropout masks. The training augmentations (random resized crop + flip of
``ClassificationDataModule``) are drawn once for all epochs and cached as 8-bit tensors, so no row
pays for JPEG decoding and every row sees the same pixels.

Examples (2-core CPU shared with other jobs: 23 and 11 min; results in docs/quantization.md)::

    nice -n 10 python benchmarks/quant_sweep.py --root ../shared/datasets/imagenette-224-subset \\
        --image-size 64 --epochs 10 --threads 1 --out benchmarks/results/quant_sweep
    nice -n 10 python benchmarks/quant_sweep.py --root ../shared/datasets/imagenette-224-subset \\
        --image-size 64 --epochs 10 --threads 1 --gradient e5m2 --float e4m3 e3m2 --no-eval-rows \\
        --no-config-rows --out benchmarks/results/quant_sweep/grad_e5m2

Writes (atomically, after every row, so an interrupted run leaves a labelled partial table)
``quant_sweep.csv`` (one row per run), ``quant_sweep.json`` (arguments, dataset, timings, rows) and
``quant_sweep.md`` (the tables and the exact command). A rerun with the same arguments and ``--out``
keeps the rows already measured.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

FIELDS = ["kind", "format", "rounding", "weight", "activation", "gradient", "val_acc", "val_loss",
          "status", "steps", "train_seconds", "eval_seconds"]


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", required=True, help="image folder with train/<class>/* and val/<class>/*")
    p.add_argument("--image-size", type=int, default=64, help="square network input side, pixels")
    p.add_argument("--epochs", type=int, default=10, help="passes over the training split per row")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (constant)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--float", nargs="*", default=["e5m2", "e4m3", "e3m2", "e2m1"], dest="floats",
                   help="float formats e<E>m<M>")
    p.add_argument("--fixed", nargs="*", default=["12.8", "8.4", "6.3", "4.2"],
                   help="fixed-point formats <word_length>.<fractional_length>")
    p.add_argument("--gradient", default="same",
                   help="gradient format of the train rows: 'same' (the row's format), 'none' (full precision) "
                        "or a float format e<E>m<M> (with the row's rounding mode)")
    p.add_argument("--rounding", nargs="+", default=["nearest", "stochastic"], choices=["nearest", "stochastic"])
    p.add_argument("--no-config-rows", action="store_true", help="skip the configs/quant/*.yaml rows")
    p.add_argument("--no-eval-rows", action="store_true", help="skip post-training (eval-only) rows")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--out", required=True, help="output folder (created)")
    args = p.parse_args(argv)
    for name in ("image_size", "epochs", "batch_size", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.gradient not in ("same", "none"):
        try:
            float_spec(args.gradient, "nearest")
        except Exception:  # noqa: BLE001  (ConfigError with the grammar)
            p.error(f"--gradient: expected 'same', 'none' or a float format such as e5m2, got {args.gradient!r}")
    if not (Path(args.root) / "train").is_dir():
        p.error(f"--root: {args.root} has no train/ folder")
    return args


def _quiet() -> None:
    import lightning.pytorch  # noqa: F401  (it sets its loggers' levels on import: override after)

    warnings.filterwarnings("ignore", message=r"`torch.jit.script` is deprecated")
    warnings.filterwarnings("ignore", message=r".*does not have many workers")
    warnings.filterwarnings("ignore", message=r".*smaller than the logging interval")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    for name in ("lightning.pytorch", "lightning.fabric", "lightning", "jpegnn"):
        logging.getLogger(name).setLevel(logging.WARNING)


def float_spec(fmt: str, rounding: str) -> str:
    """``float:<fmt>:<rounding>``, ``:saturate`` below 5 exponent bits (see the module doc)."""
    from jpegnn.quant import parse_format

    spec = f"float:{fmt}:{rounding}"
    parsed = parse_format(spec, "--float")
    return spec + (":saturate" if parsed.bits[0] < 5 else "")


def plan_rows(args: argparse.Namespace) -> list[dict[str, str]]:
    """Every row's kind, format label and weight/activation/gradient specs, in run order."""
    import yaml

    from jpegnn.quant import parse_format

    grid: list[tuple[str, str, str]] = []  # (label, rounding, spec)
    for fmt in args.floats:
        for r in args.rounding:
            grid.append((fmt, r, float_spec(fmt, r)))
    for fmt in args.fixed:
        for r in args.rounding:
            spec = f"fixed:{fmt}:{r}"
            parse_format(spec, "--fixed")
            grid.append((f"fixed {fmt}", r, spec))
    rows = [dict(kind="fp32", format="fp32", rounding="-", weight="none", activation="none", gradient="none")]
    if not args.no_eval_rows:
        rows += [dict(kind="eval", format=f, rounding=r, weight=s, activation=s, gradient="none") for f, r, s in grid]
    def grad(r: str, s: str) -> str:
        return s if args.gradient == "same" else "none" if args.gradient == "none" else float_spec(args.gradient, r)

    rows += [dict(kind="train", format=f, rounding=r, weight=s, activation=s, gradient=grad(r, s)) for f, r, s in grid]
    if not args.no_config_rows:
        seen = {(r["weight"], r["activation"], r["gradient"]) for r in rows if r["kind"] == "train"}
        for path in sorted((REPO / "configs" / "quant").glob("*.yaml")):
            init = yaml.safe_load(path.read_text())["trainer"]["callbacks+"][0]["init_args"]
            specs = tuple(str(parse_format(init.get(k, "none")) or "none") for k in ("weight", "activation", "gradient"))
            if specs in seen:
                continue
            seen.add(specs)
            fmt = parse_format(init["weight"])
            rows.append(dict(kind="config", format=f"configs/quant/{path.name}", rounding=fmt.rounding,
                             weight=specs[0], activation=specs[1], gradient=specs[2]))
    return rows


class CachedSplit:
    """A split held in memory as 8-bit tensors (``image`` uint8 N x 3 x H x W, ``label`` int64)."""

    def __init__(self, images, labels) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"image": self.images[i].float() / 255.0, "label": self.labels[i]}


def cache_splits(args: argparse.Namespace):
    """Decode the folder once: ``epochs`` augmented passes over train (seeded shuffle and
    augmentations, concatenated in training order) and the deterministic validation crops."""
    import torch

    from jpegnn.data import ClassificationDataModule

    dm = ClassificationDataModule(root=args.root, image_size=args.image_size, batch_size=args.batch_size,
                                  num_workers=0)
    dm.setup("fit")

    def take(ds, order):
        images, labels = [], []
        for i in order:
            item = ds[int(i)]
            images.append(torch.round(item["image"] * 255).to(torch.uint8))
            labels.append(int(item["label"]))
        return torch.stack(images), torch.tensor(labels)

    torch.manual_seed(args.seed)
    n = len(dm.train_dataset)
    orders = [torch.randperm(n) for _ in range(args.epochs)]
    train = take(dm.train_dataset, torch.cat(orders))
    val = take(dm.val_dataset, range(len(dm.val_dataset)))
    return CachedSplit(*train), CachedSplit(*val), dm.classes, n


def _trainer(callbacks: list, **kwargs):
    from lightning.pytorch import Trainer

    return Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks, **kwargs)


def _callback(row: dict[str, str], seed: int):
    from jpegnn.callbacks.quantization import QuantizationCallback

    if row["weight"] == row["activation"] == row["gradient"] == "none":
        return []
    return [QuantizationCallback(weight=row["weight"], activation=row["activation"], gradient=row["gradient"],
                                 seed=seed)]


def _validate(model, val_loader, row: dict[str, str], seed: int) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    metrics = _trainer(_callback(row, seed)).validate(model, val_loader, verbose=False)[0]
    return float(metrics["val/acc"]), float(metrics["val/loss"]), time.perf_counter() - t0


def run_train_row(row: dict[str, str], args, train, val_loader, num_classes: int):
    """Train from the seeded initial weights on the cached batches, then validate (same formats)."""
    from lightning.pytorch import seed_everything
    from torch.utils.data import DataLoader

    from jpegnn.errors import TrainingError
    from jpegnn.tasks import QTableClassifier

    seed_everything(args.seed, verbose=False)
    model = QTableClassifier(arch="small_cnn", num_classes=num_classes, mode="uncompressed", rate="none",
                             lr=args.lr, exact_bpp=False)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=False, num_workers=0)
    trainer = _trainer(_callback(row, args.seed), max_epochs=1, limit_val_batches=0, num_sanity_val_steps=0)
    t0 = time.perf_counter()
    status = "ok"
    try:
        trainer.fit(model, loader)
    except TrainingError as err:  # non-finite loss: the format overflowed
        status = f"diverged: {str(err).splitlines()[0][:120]}"
    train_s = time.perf_counter() - t0
    out = dict(row, steps=trainer.global_step, train_seconds=round(train_s, 1), status=status)
    if status != "ok":
        return dict(out, val_acc=float("nan"), val_loss=float("nan"), eval_seconds=0.0), None
    acc, loss, eval_s = _validate(model, val_loader, row, args.seed)
    return dict(out, val_acc=acc, val_loss=loss, eval_seconds=round(eval_s, 1)), model


def _pct(v: Any) -> str:
    return "diverged" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"


def render_markdown(meta: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    planned = meta["rows_planned"]
    lines = ["# Low-precision sweep (issue 8)", ""]
    if len(rows) < planned:
        lines += [f"**PARTIAL: {len(rows)} of {planned} rows measured.**", ""]
    d = meta["dataset"]
    lines += [
        f"Top-1 validation accuracy (%) of `small_cnn` (jpegnn.models.classifiers, {meta['params']} parameters) "
        f"trained from scratch on `{d['root']}` ({d['num_classes']} classes, {d['train_images']} train / "
        f"{d['val_images']} val images) at {meta['args']['image_size']} px: {meta['args']['epochs']} epochs "
        f"= {meta['steps_per_row']} Adam steps (lr {meta['args']['lr']}, batch {meta['args']['batch_size']}), "
        f"seed {meta['args']['seed']}, identical batches for every row. Accuracy = correct / {d['val_images']} "
        "validation images (centre crops), measured with the row's formats in place.",
        "",
        "Simulated formats (fake quantization in float32/64, not low-precision kernels). Train rows: weights "
        "(quantized copies of full-precision master weights), activations and the gradients flowing into every "
        "Conv2d/Linear output in the row's formats (see the last table). Binomial standard error of one accuracy "
        f"near 50 %: {100 * math.sqrt(0.25 / d['val_images']):.1f} points. Eval rows: the fp32-trained net validated with weights and activations in the format.",
        "",
    ]
    by = {(r["kind"], r["format"], r["rounding"]): r for r in rows}
    fmts = list(dict.fromkeys(r["format"] for r in meta["plan"] if r["kind"] == "train"))
    roundings = meta["args"]["rounding"]
    base = by.get(("fp32", "fp32", "-"))
    if base:
        lines += [f"fp32 baseline: **{_pct(base['val_acc'])} %** (train {base['train_seconds']} s).", ""]
    grad = meta["args"].get("gradient", "same")
    grad_text = "gradients in the same format" if grad == "same" else (
        "gradients in full precision" if grad == "none" else f"gradients in {grad}")
    for kind, title in (("train", f"Trained in the format (weights + activations; {grad_text})"),
                        ("eval", "Eval-only: fp32-trained net, weights + activations quantized")):
        if not any(r["kind"] == kind for r in meta["plan"]):
            continue
        lines += [f"## {title}", "", "| rounding | " + " | ".join(fmts) + " |",
                  "|---" * (len(fmts) + 1) + "|"]
        for r in roundings:
            cells = [_pct(by[(kind, f, r)]["val_acc"]) if (kind, f, r) in by else "—" for f in fmts]
            lines.append(f"| {r} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Every row", "", "| kind | format | rounding | weight | activation | gradient | acc % | val loss | "
              "status | train s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        loss = "" if math.isnan(r["val_loss"]) else f"{r['val_loss']:.3f}"
        lines.append(f"| {r['kind']} | {r['format']} | {r['rounding']} | `{r['weight']}` | `{r['activation']}` | "
                     f"`{r['gradient']}` | {_pct(r['val_acc'])} | {loss} | {r['status']} | {r['train_seconds']} |")
    lines += [
        "",
        "Origin notebook (different data and network, shown for shape only): e5m2 94.6 % nearest / 94.7 % "
        "stochastic; e2m1 91.0 % / 92.5 %.",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"Machine: {meta['machine']}; {meta['args']['threads']} torch thread(s); caching the data took "
        f"{meta['cache_seconds']} s; wall time so far {meta['wall_seconds']} s.",
        "",
    ]
    return "\n".join(lines)


def write_outputs(out: Path, meta: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    from jpegnn.utils.atomic import write_csv_atomic, write_json_atomic, write_text_atomic

    out.mkdir(parents=True, exist_ok=True)
    json_rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]
    write_json_atomic(out / "quant_sweep.json", dict(meta, rows=json_rows))
    write_csv_atomic(out / "quant_sweep.csv", rows, FIELDS)
    write_text_atomic(out / "quant_sweep.md", render_markdown(meta, rows))


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import json

    import torch
    from torch.utils.data import DataLoader

    torch.set_num_threads(args.threads)
    _quiet()
    out = Path(args.out)
    plan = plan_rows(args)
    key = {k: v for k, v in vars(args).items() if k not in ("out", "threads")}
    done: dict[tuple, dict] = {}
    previous = out / "quant_sweep.json"
    if previous.is_file():
        old = json.loads(previous.read_text())
        if old.get("args_key") == key:
            done = {(r["kind"], r["weight"], r["activation"], r["gradient"]): r for r in old["rows"]}
            for r in done.values():
                for k in ("val_acc", "val_loss"):
                    r[k] = float("nan") if r[k] is None else r[k]

    t_start = time.perf_counter()
    train, val, classes, n_train = cache_splits(args)
    cache_s = round(time.perf_counter() - t_start, 1)
    val_loader = DataLoader(val, batch_size=125, shuffle=False, num_workers=0)
    argv_list = sys.argv[1:] if argv is None else argv
    meta: dict[str, Any] = {
        "args": vars(args), "args_key": key,
        "command": "python benchmarks/quant_sweep.py " + " ".join(shlex.quote(a) for a in argv_list),
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, torch {torch.__version__}",
        "dataset": {"root": args.root, "num_classes": len(classes), "classes": classes,
                    "train_images": n_train, "val_images": len(val)},
        "steps_per_row": math.ceil(len(train) / args.batch_size),
        "cache_seconds": cache_s, "plan": plan, "rows_planned": len(plan),
    }
    from jpegnn.tasks import QTableClassifier

    meta["params"] = sum(p.numel() for p in QTableClassifier(arch="small_cnn", num_classes=len(classes),
                                                             mode="uncompressed", rate="none").net.parameters())
    rows: list[dict[str, Any]] = []
    fp32_model = None
    for row in plan:
        ident = (row["kind"], row["weight"], row["activation"], row["gradient"])
        if ident in done and not (row["kind"] in ("fp32", "eval") and fp32_model is None and not _all_eval_done(plan, done)):
            rows.append(done[ident])
        elif row["kind"] == "eval":
            acc, loss, eval_s = _validate(fp32_model, val_loader, row, args.seed)
            rows.append(dict(row, val_acc=acc, val_loss=loss, status="ok", steps=0, train_seconds=0.0,
                             eval_seconds=round(eval_s, 1)))
        else:
            result, model = run_train_row(row, args, train, val_loader, len(classes))
            if row["kind"] == "fp32":
                fp32_model = model
            rows.append(result)
        r = rows[-1]
        print(f"[{len(rows)}/{len(plan)}] {r['kind']:6s} {r['format']:32s} {r['rounding']:10s} "
              f"acc {_pct(r['val_acc'])} ({r['status']}, {r['train_seconds']} s)", flush=True)
        meta["wall_seconds"] = round(time.perf_counter() - t_start, 1)
        write_outputs(out, meta, rows)
    return 0


def _all_eval_done(plan: list[dict], done: dict) -> bool:
    """True when every eval row is already measured (then the fp32 net need not be retrained)."""
    return all((r["kind"], r["weight"], r["activation"], r["gradient"]) in done for r in plan if r["kind"] == "eval")


if __name__ == "__main__":
    from jpegnn.errors import run_script

    run_script(main, "quant_sweep.py")
