"""Train-quality x test-quality accuracy matrix of a classifier behind JPEG (the notebook's March 6 experiment).

For every training setting — JPEG at quality q through the differentiable layer (``QTableClassifier``
in mode ``network``, standard tables, q in ``--train-qualities``) and, with
``--include-uncompressed``, no JPEG at all — one network is trained from scratch with the same seed,
data and budget. Each is then tested on the validation split **really encoded and decoded by
Pillow** (libjpeg-turbo, 4:2:0, standard Huffman tables) at every quality in ``--test-qualities``
(and uncompressed). The encoded validation sets are built once and shared by all networks.

Outputs in ``--out`` (written atomically):

* ``accuracy_matrix.csv``: rows = training quality (``none`` = uncompressed), columns = test quality,
  cells = top-1 accuracy on the validation split;
* ``test_bpp.csv``: real bits per pixel of the validation set at each test quality (whole files);
* ``sweep.json``: the same numbers plus the arguments, the training time of every row and the final
  training loss;
* ``accuracy_matrix.png``: the matrix as an annotated heatmap, beside accuracy against test bpp.

Small CPU run on the shared Imagenette subset (10 classes, 600 train / 250 val images)::

    python benchmarks/jpeg_quality_sweep.py --root ../shared/datasets/imagenette-224-subset \
        --out benchmarks/results/jpeg_quality_sweep --arch small_cnn --image-size 96 --epochs 5
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
import warnings
from pathlib import Path

import lightning as L
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jpegnn.data import ClassificationDataModule  # noqa: E402
from jpegnn.data.datasets.classification import missing_splits  # noqa: E402
from jpegnn.jpeg import quality_tables  # noqa: E402
from jpegnn.tasks.qtable import QTableClassifier  # noqa: E402
from jpegnn.tasks.qtable_eval import EvalSet, accuracy, collect, encode_set  # noqa: E402
from jpegnn.utils.atomic import atomic_open, write_csv_atomic, write_json_atomic  # noqa: E402


def _qualities(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or any(not 1 <= v <= 100 for v in values):
        raise argparse.ArgumentTypeError(f"qualities must be integers in 1..100, got {text!r}")
    return values


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", required=True, help="image folder with train/<class>/ and val/<class>/")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--arch", default="small_cnn", help="classifier architecture (small_cnn, resnet18, ...)")
    p.add_argument("--image-size", type=int, default=96, help="network input side, pixels")
    p.add_argument("--epochs", type=int, default=5, help="training epochs per row")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--train-qualities", type=_qualities, default=list(range(10, 101, 10)))
    p.add_argument("--test-qualities", type=_qualities, default=list(range(10, 101, 10)))
    p.add_argument("--include-uncompressed", action="store_true", help="add a row trained without JPEG")
    p.add_argument("--subsampling", default="4:2:0", choices=["4:2:0", "4:2:2", "4:4:4"])
    p.add_argument("--num-workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    problem = missing_splits(args.root)
    if problem:
        p.error(f"--root: {problem}")
    return args


def train_row(args, dm: ClassificationDataModule, quality: int | None) -> tuple[QTableClassifier, dict]:
    """Train one network from scratch at ``quality`` (None: uncompressed); returns it and its log."""
    L.seed_everything(args.seed, workers=True)
    module = QTableClassifier(
        args.arch, num_classes=dm.num_classes, mode="uncompressed" if quality is None else "network",
        quality=quality or 50, subsampling=args.subsampling, rate="none", lr=args.lr, exact_bpp=False,
    )
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_epochs=args.epochs, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
        log_every_n_steps=1,
    )
    t0 = time.perf_counter()
    trainer.fit(module, dm)
    seconds = time.perf_counter() - t0
    loss = trainer.callback_metrics.get("train/loss")
    return module, {"train_seconds": round(seconds, 1), "final_train_loss": None if loss is None else float(loss),
                    "train_acc": float(trainer.callback_metrics.get("train/acc", math.nan))}


def plot(matrix: dict, bpp: dict, rows: list[str], cols: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(14, 6))
    data = [[matrix[r][c] * 100 for c in cols] for r in rows]
    im = ax.imshow(data, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("test quality (Pillow encode/decode)")
    ax.set_ylabel("training quality (DiffJPEG)")
    lo, hi = min(min(r) for r in data), max(max(r) for r in data)
    for i, r in enumerate(data):
        for j, v in enumerate(r):
            dark = (v - lo) < 0.5 * (hi - lo)  # viridis is dark at the low end
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", color="w" if dark else "k", fontsize=8)
    fig.colorbar(im, ax=ax, label="top-1 accuracy (%)")
    ax.set_title("accuracy: train quality x test quality")
    test_q = [c for c in cols if c != "none"]
    for r in rows:
        ax2.plot([bpp[c] for c in test_q], [matrix[r][c] * 100 for c in test_q], marker="o", ms=3, label=f"train {r}")
    ax2.set_xlabel("test bits per pixel (real files)")
    ax2.set_ylabel("top-1 accuracy (%)")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7, ncol=2)
    ax2.set_title("accuracy against the test set's real bpp")
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    out = Path(args.out)
    dm = ClassificationDataModule(args.root, image_size=args.image_size, batch_size=args.batch_size,
                                  num_workers=args.num_workers)
    dm.setup("fit")
    val = collect(dm.val_dataloader())
    print(f"validation set: {val.images.shape[0]} images of {args.image_size}x{args.image_size}, "
          f"{dm.num_classes} classes", flush=True)

    cols = [str(q) for q in args.test_qualities] + ["none"]
    test_sets: dict[str, EvalSet] = {"none": val}
    for q in args.test_qualities:
        test_sets[str(q)] = encode_set(val, quality_tables(q), args.subsampling)
    bpp = {c: test_sets[c].bpp for c in cols}
    print("test bpp:", {c: round(v, 3) for c, v in bpp.items()}, flush=True)

    settings: list[int | None] = list(args.train_qualities) + ([None] if args.include_uncompressed else [])
    matrix: dict[str, dict[str, float]] = {}
    runs: dict[str, dict] = {}
    for q in settings:
        name = "none" if q is None else str(q)
        module, info = train_row(args, dm, q)
        matrix[name] = {c: accuracy(module.net, test_sets[c]) for c in cols}
        runs[name] = info
        print(f"train {name:>4}: {info['train_seconds']:6.1f} s  " +
              " ".join(f"{c}:{matrix[name][c] * 100:5.1f}" for c in cols), flush=True)

    rows = list(matrix)
    write_csv_atomic(out / "accuracy_matrix.csv",
                     [{"train_quality": r, **{c: f"{matrix[r][c]:.4f}" for c in cols}} for r in rows],
                     ["train_quality", *cols])
    write_csv_atomic(out / "test_bpp.csv", [{"test_quality": c, "bpp": f"{bpp[c]:.4f}"} for c in cols],
                     ["test_quality", "bpp"])
    write_json_atomic(out / "sweep.json", {
        "args": {k: v for k, v in vars(args).items()},
        "n_val": int(val.images.shape[0]),
        "accuracy": matrix, "test_bpp": bpp, "runs": runs,
        "torch": torch.__version__, "cmd": " ".join(sys.argv),
    })
    plot(matrix, bpp, rows, cols, out / "accuracy_matrix.png")
    print(f"wrote {out / 'accuracy_matrix.csv'}, test_bpp.csv, sweep.json, accuracy_matrix.png")
    return 0


if __name__ == "__main__":
    from jpegnn.errors import run_script

    run_script(main, "jpeg_quality_sweep.py")
