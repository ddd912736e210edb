"""Kodak tables for the closing note: DiffJPEG fidelity to Pillow, exact sizes, rate estimate.

For every Kodak image, subsampling (4:2:0, 4:4:4) and quality (10, 20, ..., 90, 95) with the
standard tables, it compares against Pillow / libjpeg-turbo (the installed one):

* **Fidelity**: PSNR between our decode (rounded to uint8) and Pillow's decode of the same image,
  for the default float path (``DiffJPEG(q, ss)``) and the ``dct="islow"`` path (count of
  bit-identical images), and the bias ``PSNR(ours, original) - PSNR(Pillow, original)``.
* **Size**: ``jpeg_size`` (islow coefficients = libjpeg's) and the exact count on the float
  path's coefficients, against Pillow's file size with ``optimize`` off and on (error in %).
* **Rate estimate**: Pearson correlation and mean error of ``rate.estimate_bits`` (computed on the
  float path's coefficients) against the exact entropy-coded bits of the same coefficients, and of
  ``rate.estimate_bytes`` against Pillow's file size.

Usage (from the repository root)::

    .venv/bin/python benchmarks/jpeg_fidelity_kodak.py              # all 24 images, ~5 min
    .venv/bin/python benchmarks/jpeg_fidelity_kodak.py --limit 4    # quick look (printed only)

Prints the markdown tables and writes them to ``benchmarks/results/jpeg_fidelity_kodak.md`` (``--out``).
A ``--limit`` run without ``--out`` only prints: it does not replace the committed all-image tables.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import PIL
import torch
from PIL import Image, features

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jpegnn.jpeg import DiffJPEG, jpeg_size_breakdown  # noqa: E402
from jpegnn.jpeg.rate import estimate_bits, estimate_bytes  # noqa: E402
from jpegnn.utils.atomic import write_text_atomic  # noqa: E402

DEFAULT_DATASET = ROOT.parent / "shared" / "datasets" / "kodak"
QUALITIES = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
SUBSAMPLINGS = {"4:2:0": 2, "4:4:4": 0}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x[0].permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)


def pillow(img: np.ndarray, q: int, code: int, optimize: bool) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=q, subsampling=code, optimize=optimize)
    return buf.getvalue()


def run(files, qualities) -> dict:
    rec = defaultdict(list)  # (ss, q) -> list of per-image dicts
    for n, f in enumerate(files):
        t0 = time.time()
        img = np.asarray(Image.open(f).convert("RGB")).copy()
        x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
        for ss, code in SUBSAMPLINGS.items():
            for q in qualities:
                data = pillow(img, q, code, False)
                data_opt = pillow(img, q, code, True)
                ref = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
                with torch.no_grad():
                    mf = DiffJPEG(q, ss).eval()
                    cf = mf.encode(x)
                    out_f = to_uint8(mf.decode(cf))
                    mi = DiffJPEG(q, ss, dct="islow").eval()
                    ci = mi.encode(x)
                    out_i = to_uint8(mi.decode(ci))
                    est_bits = float(estimate_bits(cf)[0])
                    est_bytes = float(estimate_bytes(cf)[0])
                bi, bi_opt = jpeg_size_breakdown(ci)[0], jpeg_size_breakdown(ci, optimize=True)[0]
                bf, bf_opt = jpeg_size_breakdown(cf)[0], jpeg_size_breakdown(cf, optimize=True)[0]
                rec[(ss, q)].append(
                    dict(
                        psnr_vs_pillow=psnr(out_f, ref),
                        bias=psnr(out_f, img) - psnr(ref, img),
                        islow_exact=bool(np.array_equal(out_i, ref)),
                        psnr_islow_vs_pillow=psnr(out_i, ref),
                        pillow=len(data),
                        pillow_opt=len(data_opt),
                        size_islow=bi.total,
                        size_islow_opt=bi_opt.total,
                        size_float=bf.total,
                        size_float_opt=bf_opt.total,
                        scan_bits_float=bf.scan_bits,
                        est_bits=est_bits,
                        est_bytes=est_bytes,
                        psnr_pillow=psnr(ref, img),
                    )
                )
        print(f"[{n + 1}/{len(files)}] {Path(f).name} {time.time() - t0:.1f}s", file=sys.stderr, flush=True)
    return rec


def _err(rows, ours, theirs):
    e = np.array([100.0 * (r[ours] - r[theirs]) / r[theirs] for r in rows])
    return e


def tables(rec, qualities, n_images) -> str:
    out = []
    out.append("### A. Fidelity to Pillow's decode (standard tables)\n")
    out.append(
        "PSNR(ours, Pillow decode) in dB over all RGB uint8 samples, mean (min) over images; "
        "bias = PSNR(ours, original) - PSNR(Pillow, original), mean (max |.|); "
        "islow = images whose `dct=\"islow\"` decode is bit-identical to Pillow's.\n"
    )
    out.append("| q | 4:2:0 float PSNR vs Pillow | 4:2:0 bias dB | 4:2:0 islow identical | "
               "4:4:4 float PSNR vs Pillow | 4:4:4 bias dB | 4:4:4 islow identical |")
    out.append("|---|---|---|---|---|---|---|")
    allp = defaultdict(list)
    for q in qualities:
        cells = [str(q)]
        for ss in SUBSAMPLINGS:
            rows = rec[(ss, q)]
            p = np.array([r["psnr_vs_pillow"] for r in rows])
            b = np.array([r["bias"] for r in rows])
            allp[ss] += list(p)
            exact = sum(r["islow_exact"] for r in rows)
            cells += [f"{p.mean():.2f} ({p.min():.2f})", f"{b.mean():+.3f} ({np.abs(b).max():.3f})", f"{exact}/{len(rows)}"]
        out.append("| " + " | ".join(cells) + " |")
    cells = ["all"]
    for ss in SUBSAMPLINGS:
        p = np.array(allp[ss])
        b = np.array([r["bias"] for q in qualities for r in rec[(ss, q)]])
        ex = sum(r["islow_exact"] for q in qualities for r in rec[(ss, q)])
        cells += [f"**{p.mean():.2f}** ({p.min():.2f})", f"{b.mean():+.3f} ({np.abs(b).max():.3f})", f"{ex}/{len(b)}"]
    out.append("| " + " | ".join(cells) + " |")

    out.append("\n### B. File size error against Pillow (%), mean |error| (max |error|)\n")
    out.append(
        "`jpeg_size` (default, islow coefficients) and the exact count of the float path's "
        "coefficients (`jpeg_size(..., dct=\"float\")`), Huffman optimize off / on.\n"
    )
    out.append("| q | ss | Pillow bytes (mean) | jpeg_size | jpeg_size optimize | float coefs | float coefs optimize |")
    out.append("|---|---|---|---|---|---|---|")
    for q in qualities:
        for ss in SUBSAMPLINGS:
            rows = rec[(ss, q)]
            cells = [str(q), ss, f"{np.mean([r['pillow'] for r in rows]):.0f}"]
            for ours, theirs in (("size_islow", "pillow"), ("size_islow_opt", "pillow_opt"),
                                 ("size_float", "pillow"), ("size_float_opt", "pillow_opt")):
                e = _err(rows, ours, theirs)
                cells.append(f"{np.abs(e).mean():.3f} ({np.abs(e).max():.3f})")
            out.append("| " + " | ".join(cells) + " |")
    allrows = [r for v in rec.values() for r in v]
    exact_std = sum(r["size_islow"] == r["pillow"] for r in allrows)
    exact_opt = sum(r["size_islow_opt"] == r["pillow_opt"] for r in allrows)
    ef = np.concatenate([_err(allrows, "size_float", "pillow"), _err(allrows, "size_float_opt", "pillow_opt")])
    out.append(
        f"\n`jpeg_size` equals Pillow's file size byte for byte in **{exact_std}/{len(allrows)}** cases "
        f"(optimize off) and **{exact_opt}/{len(allrows)}** (optimize on). Float-path coefficients: "
        f"mean |error| {np.abs(ef).mean():.3f} %, max {np.abs(ef).max():.3f} %."
    )

    out.append("\n### C. Differentiable bit estimate (`jpegnn.jpeg.rate.estimate_bits`)\n")
    out.append("| set | n | Pearson r (bits vs exact bits) | Pearson r (bytes vs Pillow file) | mean error | mean abs error |")
    out.append("|---|---|---|---|---|---|")
    for name, sel in [("4:2:0", ["4:2:0"]), ("4:4:4", ["4:4:4"]), ("all", list(SUBSAMPLINGS))]:
        rows = [r for (ss, _), v in rec.items() if ss in sel for r in v]
        ex = np.array([r["scan_bits_float"] for r in rows], float)
        es = np.array([r["est_bits"] for r in rows])
        fb = np.array([r["pillow"] for r in rows], float)
        eb = np.array([r["est_bytes"] for r in rows])
        rel = es / ex - 1
        out.append(
            f"| {name} | {len(rows)} | {np.corrcoef(ex, es)[0, 1]:.5f} | {np.corrcoef(fb, eb)[0, 1]:.5f} "
            f"| {100 * rel.mean():+.2f} % | {100 * np.abs(rel).mean():.2f} % |"
        )
    per_q = []
    for q in qualities:
        rows = [r for ss in SUBSAMPLINGS for r in rec[(ss, q)]]
        ex = np.array([r["scan_bits_float"] for r in rows], float)
        es = np.array([r["est_bits"] for r in rows])
        per_q.append(f"q{q}: r={np.corrcoef(ex, es)[0, 1]:.4f}, err {100 * (es / ex - 1).mean():+.1f} %")
    out.append("\nPer quality (across images and both subsamplings): " + "; ".join(per_q) + ".")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default=str(DEFAULT_DATASET))
    ap.add_argument("--limit", type=int, default=0, help="use only the first N images (0 = all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None,
                    help="markdown file to write (default: benchmarks/results/jpeg_fidelity_kodak.md for a full "
                         "run; a --limit run without --out writes nothing)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    files = sorted(Path(args.dataset).glob("*.png"))
    if not files:  # e.g. a fresh clone without the shared Kodak folder beside it (the default)
        ap.error(f"--dataset: no PNG images in {args.dataset} (pass --dataset DIR, the Kodak folder)")
    if args.limit:
        files = files[: args.limit]
    t0 = time.time()
    rec = run(files, QUALITIES)
    head = (
        f"# DiffJPEG vs Pillow on Kodak ({len(files)} images)\n\n"
        f"Pillow {PIL.__version__} with libjpeg-turbo "
        f"{features.version('libjpeg_turbo')}, torch {torch.__version__}; standard tables, q in {list(QUALITIES)}. "
        f"Generated by `benchmarks/jpeg_fidelity_kodak.py` in {time.time() - t0:.0f} s.\n\n"
    )
    text = head + tables(rec, QUALITIES, len(files))
    print(text)
    out = args.out or (None if args.limit else str(ROOT / "benchmarks" / "results" / "jpeg_fidelity_kodak.md"))
    if out is None:
        print("--limit run: nothing written (pass --out FILE to keep it)", file=sys.stderr)
        return 0
    write_text_atomic(out, text)
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from jpegnn.errors import run_script

    run_script(main, "jpeg_fidelity_kodak.py")
