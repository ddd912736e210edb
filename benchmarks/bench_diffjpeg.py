"""Forward+backward throughput of ``jpegnn.jpeg.DiffJPEG`` against kornia's differentiable JPEG.

Both codecs run in the same process on the same random batch (default 16x3x256x256, CPU), with
learnable quantization tables and a scalar loss ``out.mean()``; gradients reach the input and
the tables. Runs alternate between the two codecs (ours, kornia, ours, kornia, ...) so that load
from other processes hits both alike; the median of the repeats is reported, with the CPU time
other processes used meanwhile (a contention check, from /proc/stat).

Usage (from the repository root; needs the ``bench`` extra: ``pip install kornia``)::

    .venv/bin/python benchmarks/bench_diffjpeg.py                 # 2 threads, 4:2:0, q=50
    .venv/bin/python benchmarks/bench_diffjpeg.py --repeats 9 --subsampling 4:4:4 --dct islow

Writes a markdown summary to ``benchmarks/results/bench_diffjpeg_<device>.md`` (``--out``); a run with
non-default settings (or without kornia) only prints unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jpegnn.jpeg import DiffJPEG, quality_tables  # noqa: E402
from jpegnn.profiling.timing import busy_cpu_seconds  # noqa: E402
from jpegnn.utils.atomic import write_text_atomic  # noqa: E402




def make_ours(args):
    model = DiffJPEG(
        quality=args.quality, subsampling=args.subsampling, learnable=True, rounding="ste", dct=args.dct
    ).train()
    model.to(args.device)
    params = list(model.parameters())

    def step(x):
        xi = x.detach().requires_grad_(True)
        loss = model(xi).mean()
        loss.backward()
        for p in params:
            p.grad = None
        return loss

    return step


def make_kornia(args):
    from kornia.enhance import jpeg_codec_differentiable

    y, c = quality_tables(50)  # kornia scales its tables by jpeg_quality itself; start from q50
    qy = y.float().to(args.device).requires_grad_(True)
    qc = c.float().to(args.device).requires_grad_(True)
    q = torch.tensor([float(args.quality)], device=args.device)

    def step(x):
        xi = x.detach().requires_grad_(True)
        loss = jpeg_codec_differentiable(xi, q, qy[None], qc[None]).mean()
        loss.backward()
        qy.grad = None
        qc.grad = None
        return loss

    return step


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--quality", type=int, default=50)
    ap.add_argument("--subsampling", default="4:2:0", help="ours only; kornia is always 4:2:0")
    ap.add_argument("--dct", default="float", choices=["float", "islow"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-kornia", action="store_true")
    ap.add_argument("--out", default=None, help="markdown summary path")
    args = ap.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error(f"--device {args.device}: no CUDA device is available on this machine (use --device cpu)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, args.size, args.size, device=args.device)
    codecs = {"jpegnn DiffJPEG": make_ours(args)}
    if not args.no_kornia:
        try:
            codecs["kornia jpeg_codec_differentiable"] = make_kornia(args)
        except ImportError:
            print("kornia is not installed (pip install kornia); timing ours only", file=sys.stderr)
    times = {k: [] for k in codecs}
    for name, step in codecs.items():
        for _ in range(args.warmup):
            step(x)
    _sync(args.device)
    busy0, wall0 = busy_cpu_seconds(), time.perf_counter()
    cpu0 = time.process_time()
    for _ in range(args.repeats):
        for name, step in codecs.items():
            t = time.perf_counter()
            step(x)
            _sync(args.device)
            times[name].append(time.perf_counter() - t)
    wall = time.perf_counter() - wall0
    own_cpu = time.process_time() - cpu0
    busy = None if busy0 is None else busy_cpu_seconds() - busy0
    others = None if busy is None else max(busy - own_cpu, 0.0)
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append((name, med, args.batch / med, min(ts), max(ts)))
    lines = [
        f"# DiffJPEG forward+backward throughput ({args.device}, {args.threads} threads)",
        "",
        f"batch {args.batch}x3x{args.size}x{args.size}, q={args.quality}, learnable tables, loss=out.mean(), "
        f"ours: subsampling {args.subsampling}, rounding ste, dct {args.dct}; kornia 4:2:0. "
        f"{args.warmup} warm-up, median of {args.repeats} alternating runs. torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}.",
        "",
        "| codec | s/batch (median) | images/s | min-max s |",
        "|---|---|---|---|",
    ]
    for name, med, ips, lo, hi in rows:
        lines.append(f"| {name} | {med:.4f} | **{ips:.1f}** | {lo:.4f}-{hi:.4f} |")
    if len(rows) == 2:
        ratio = rows[0][2] / rows[1][2]
        lines += ["", f"**Speed ratio (ours / kornia): {ratio:.2f}x**"]
    if others is not None:
        lines += [
            "",
            f"Contention check: other processes used {others:.2f} CPU-s during {wall:.2f} s of timing "
            f"({100 * others / (wall * (os.cpu_count() or 1)):.0f}% of the machine).",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    # the committed results file is the benchmark's default setting beside kornia: a run with other
    # settings (a quick look) only prints unless --out names a file
    settings = ("batch", "size", "quality", "subsampling", "dct", "warmup", "repeats")
    standard = len(rows) == 2 and all(getattr(args, k) == ap.get_default(k) for k in settings)
    if not args.out and not standard:
        changed = ", ".join(f"--{k} {getattr(args, k)}" for k in settings if getattr(args, k) != ap.get_default(k))
        print(f"non-default run ({changed or 'kornia missing'}): nothing written (pass --out FILE to keep it)",
              file=sys.stderr)
        return 0
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"bench_diffjpeg_{args.device}.md"
    write_text_atomic(out, text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    from jpegnn.errors import run_script

    run_script(main, "bench_diffjpeg.py")
