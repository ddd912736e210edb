"""Accuracy against real bits per pixel: learned JPEG tables against standard quality scaling, same network.

1. A classifier is trained once (``--base-mode uncompressed``: on the original images, the
   notebook's "test_quality" setting; or ``network`` at ``--base-quality``), or loaded from
   ``--base-weights`` (a state dict or a QTable checkpoint).
2. **Standard tables**: the validation split is encoded and decoded by Pillow (libjpeg-turbo,
   4:2:0, standard Huffman tables) with the Annex K tables at each ``--qualities`` value; the
   frozen network is scored on the decoded images; bpp is the real file size.
3. **Learned tables**: for each ``--betas`` value, ``QTableClassifier(mode="table")`` learns the
   tables for the *same frozen network* on the training split (init: ``--init-quality`` tables,
   rate term ``--rate``, ``--table-epochs`` epochs); its integer tables (exactly what
   ``jpegnn export-qtables`` writes) are then used by Pillow on the validation split, as in 2.
   The differentiable layer's own eval-mode accuracy and exact size are recorded beside it, to show
   that they agree with the real codec.
4. Optionally ``--reference-tables FILE...``: the origin's 2019 learned tables (printed tensors,
   3 tables), rounded and clamped to [1, 255] so that a real encoder accepts them.

Every learned point is compared with the standard curve at the same bpp (linear interpolation
between the two neighbouring qualities): ``delta_acc`` > 0 means the learned tables buy more
accuracy for the same bits.

Outputs in ``--out``: ``accuracy_vs_bpp.csv`` (one row per point), ``accuracy_vs_bpp.json`` (plus
tables, arguments, timings), ``accuracy_vs_bpp.png``, ``base_net.pth`` (the frozen network) and
``tables_beta<β>.txt`` (cjpeg -qtables files of the learned tables).

Small CPU run on the shared Imagenette subset::

    python benchmarks/jpeg_accuracy_vs_bpp.py --root ../shared/datasets/imagenette-224-subset \
        --out benchmarks/results/jpeg_accuracy_vs_bpp --arch small_cnn --image-size 128 \
        --base-epochs 12 --table-epochs 2 --betas 0.03,0.1,0.3
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

from jpegnn.jpeg.qtable_formats import cjpeg_text  # noqa: E402
from jpegnn.data import ClassificationDataModule  # noqa: E402
from jpegnn.data.datasets.classification import missing_splits  # noqa: E402
from jpegnn.jpeg import quality_tables  # noqa: E402
from jpegnn.tasks import qtable_codec as codec  # noqa: E402
from jpegnn.tasks.qtable import QTableClassifier  # noqa: E402
from jpegnn.tasks.qtable_eval import accuracy, collect, encode_set, interpolate, origin_tables  # noqa: E402
from jpegnn.utils.atomic import atomic_open, write_csv_atomic, write_json_atomic, write_text_atomic  # noqa: E402

FIELDS = ["method", "setting", "acc", "bpp_real", "standard_acc_at_bpp", "delta_acc", "acc_diffjpeg",
          "bpp_exact", "luma_mean", "chroma_mean", "seconds"]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", required=True, help="image folder with train/<class>/ and val/<class>/")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--arch", default="small_cnn")
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--base-mode", default="uncompressed", choices=["uncompressed", "network"])
    p.add_argument("--base-quality", type=int, default=75, help="training quality when --base-mode network")
    p.add_argument("--base-epochs", type=int, default=12)
    p.add_argument("--base-lr", type=float, default=2e-3)
    p.add_argument("--base-weights", default=None, help="reuse a trained network (state dict or QTable ckpt)")
    p.add_argument("--qualities", type=_ints, default=[5, 10, 15, 20, 30, 40, 50, 60, 75, 90])
    p.add_argument("--betas", type=_floats, default=[0.03, 0.1, 0.3])
    p.add_argument("--rate", default="bits", choices=["bits", "abs_over_q", "inv_l1"])
    p.add_argument("--init-quality", type=int, default=50)
    p.add_argument("--table-epochs", type=int, default=2)
    p.add_argument("--table-lr", type=float, default=0.5)
    p.add_argument("--reference-tables", nargs="*", default=[], help="origin table files (3 printed 8x8 tensors)")
    p.add_argument("--subsampling", default="4:2:0", choices=["4:2:0", "4:2:2", "4:4:4"])
    p.add_argument("--num-workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    problem = missing_splits(args.root)
    if problem:
        p.error(f"--root: {problem}")
    return args


def _trainer(epochs: int) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu", devices=1, max_epochs=epochs, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
        log_every_n_steps=1,
    )


def train_base(args, dm: ClassificationDataModule, out: Path) -> Path:
    """Train the frozen network once; returns its state-dict file."""
    path = out / "base_net.pth"
    L.seed_everything(args.seed, workers=True)
    module = QTableClassifier(args.arch, num_classes=dm.num_classes, mode=args.base_mode,
                              quality=args.base_quality, rate="none", lr=args.base_lr, exact_bpp=False)
    t0 = time.perf_counter()
    _trainer(args.base_epochs).fit(module, dm)
    print(f"base network ({args.base_mode}) trained in {time.perf_counter() - t0:.0f} s", flush=True)
    with atomic_open(path, "wb") as fh:
        torch.save(module.net.net.state_dict(), fh)
    return path


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    std = sorted((r["bpp_real"], r["acc"] * 100, r["setting"]) for r in rows if r["method"] == "standard")
    ax.plot([b for b, _, _ in std], [a for _, a, _ in std], "o-", color="C0", label="standard tables (quality q)")
    for b, a, s in std:
        ax.annotate(s.replace("q=", ""), (b, a), textcoords="offset points", xytext=(3, -9), fontsize=7, color="C0")
    learned = [r for r in rows if r["method"] == "learned"]
    ax.plot([r["bpp_real"] for r in learned], [r["acc"] * 100 for r in learned], "s", color="C3", ms=7,
            label="learned tables (frozen network)")
    for r in learned:
        ax.annotate(r["setting"], (r["bpp_real"], r["acc"] * 100), textcoords="offset points", xytext=(4, 4),
                    fontsize=7, color="C3")
    ref = [r for r in rows if r["method"] == "origin-2019"]
    if ref:
        ax.plot([r["bpp_real"] for r in ref], [r["acc"] * 100 for r in ref], "^", color="C2", ms=7,
                label="origin 2019 tables, clamped to [1, 255]")
    ax.set_xlabel("bits per pixel (real Pillow files, headers included)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*module\\(s\\) in eval mode.*")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dm = ClassificationDataModule(args.root, image_size=args.image_size, batch_size=args.batch_size,
                                  num_workers=args.num_workers)
    dm.setup("fit")
    val = collect(dm.val_dataloader())
    n_val = val.images.shape[0]
    print(f"validation set: {n_val} images of {args.image_size}x{args.image_size}", flush=True)

    weights = Path(args.base_weights) if args.base_weights else train_base(args, dm, out)
    base = QTableClassifier(args.arch, num_classes=dm.num_classes, mode="uncompressed", weights_path=str(weights))
    rows: list[dict] = []
    acc_raw = accuracy(base.net, val)
    print(f"uncompressed: acc {acc_raw:.3f} (24 bpp)", flush=True)

    for q in args.qualities:
        t0 = time.perf_counter()
        tables = quality_tables(q)
        enc = encode_set(val, tables, args.subsampling)
        rows.append({"method": "standard", "setting": f"q={q}", "acc": accuracy(base.net, enc),
                     "bpp_real": enc.bpp, "luma_mean": float(tables[0].float().mean()),
                     "chroma_mean": float(tables[1].float().mean()), "seconds": time.perf_counter() - t0})
        print(f"standard q={q:3d}: acc {rows[-1]['acc']:.3f} bpp {enc.bpp:.3f}", flush=True)
    curve = [(r["bpp_real"], r["acc"]) for r in rows]

    learned_tables: dict[str, list[list[int]]] = {}
    for beta in args.betas:
        t0 = time.perf_counter()
        L.seed_everything(args.seed, workers=True)
        module = QTableClassifier(args.arch, num_classes=dm.num_classes, mode="table", weights_path=str(weights),
                                  quality=args.init_quality, subsampling=args.subsampling, rate=args.rate,
                                  beta=beta, table_lr=args.table_lr, exact_bpp=False)
        _trainer(args.table_epochs).fit(module, dm)
        module.eval()
        tables = module.integer_tables()
        enc = encode_set(val, tables, args.subsampling)
        with torch.no_grad():
            acc_diff = accuracy(lambda x: module.net(module.jpeg(x)), val)
            exact = torch.cat([codec.exact_bytes(val.images[i : i + 64], tables, args.subsampling)
                               for i in range(0, n_val, 64)])
        bpp_exact = float(8 * exact.sum() / (n_val * args.image_size**2))
        name = f"beta={beta:g}"
        learned_tables[name] = [t.flatten().tolist() for t in tables]
        write_text_atomic(out / f"tables_beta{beta:g}.txt",
                          cjpeg_text(learned_tables[name], args.subsampling, comment=f"{name}, {args.rate}"))
        rows.append({"method": "learned", "setting": name, "acc": accuracy(base.net, enc), "bpp_real": enc.bpp,
                     "acc_diffjpeg": acc_diff, "bpp_exact": bpp_exact,
                     "luma_mean": float(tables[0].float().mean()), "chroma_mean": float(tables[1].float().mean()),
                     "seconds": time.perf_counter() - t0})
        print(f"learned {name}: acc {rows[-1]['acc']:.3f} bpp {enc.bpp:.3f} "
              f"(DiffJPEG eval: acc {acc_diff:.3f}, exact bpp {bpp_exact:.3f}); {rows[-1]['seconds']:.0f} s", flush=True)

    for ref in args.reference_tables:
        tables = origin_tables(ref)
        enc = encode_set(val, tables, args.subsampling)
        rows.append({"method": "origin-2019", "setting": Path(ref).stem, "acc": accuracy(base.net, enc),
                     "bpp_real": enc.bpp, "luma_mean": float(tables[0].float().mean()),
                     "chroma_mean": float(torch.stack(tables[1:]).float().mean())})
        print(f"origin {Path(ref).stem}: acc {rows[-1]['acc']:.3f} bpp {enc.bpp:.3f}", flush=True)

    for r in rows:
        if r["method"] != "standard":
            r["standard_acc_at_bpp"] = interpolate(curve, r["bpp_real"])
            r["delta_acc"] = r["acc"] - r["standard_acc_at_bpp"]
    fmt = {k: (lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else
               (f"{v:.4f}" if isinstance(v, float) else v)) for k in FIELDS}
    write_csv_atomic(out / "accuracy_vs_bpp.csv", [{k: fmt[k](r.get(k)) for k in FIELDS} for r in rows], FIELDS)
    write_json_atomic(out / "accuracy_vs_bpp.json", {
        "args": vars(args), "n_val": n_val, "uncompressed_acc": acc_raw, "rows": rows,
        "learned_tables": learned_tables, "base_weights": str(weights), "cmd": " ".join(sys.argv),
    })
    title = (f"{args.arch}, {args.image_size}px, {n_val} val images; base: {args.base_mode}, "
             f"{args.base_epochs} ep; tables: {args.rate}, {args.table_epochs} ep")
    plot(rows, out / "accuracy_vs_bpp.png", title)
    print(f"wrote {out / 'accuracy_vs_bpp.csv'}, accuracy_vs_bpp.json, accuracy_vs_bpp.png")
    return 0


if __name__ == "__main__":
    from jpegnn.errors import run_script

    run_script(main, "jpeg_accuracy_vs_bpp.py")
