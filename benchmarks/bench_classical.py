"""Time ``jpegnn bench`` against ``python -m compressai.utils.bench`` on the same images and qualities.

Both tools run as separate processes (import time included, as a user would see it) on the same
image subset, with the same qualities, the same metrics (PSNR-RGB and MS-SSIM-RGB) and the same
number of worker processes. The script prints the wall times and their ratio per codec, checks
that the two tools measured the same thing (bpp, PSNR, MS-SSIM at equal quality), and, if
CompressAI's published Kodak results are found, compares our curves with them (BD-rate,
BD-PSNR and mean |delta PSNR| at equal quality; those were made with Pillow 7.1.2).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_classical.py                      # 4 Kodak images, quick
    .venv/bin/python benchmarks/bench_classical.py --limit 0 -j 2       # all 24 Kodak images
    .venv/bin/python benchmarks/bench_classical.py --dataset DIR --codecs jpeg --quality 10,50,90

The machine should be otherwise idle: both tools are CPU-bound and the ratio is only meaningful
when they see the same load. Use ``--order`` to swap which tool runs first.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DATASET = ROOT.parent / "shared" / "datasets" / "kodak"
DEFAULT_PUBLISHED = ROOT.parent / "shared" / "reference" / "compressai-results"
#: our codec name -> CompressAI bench sub-command (and published JSON stem)
COMPARABLE = {"jpeg": "jpeg", "webp": "webp"}



def _run(cmd: list[str], env: dict | None = None) -> dict:
    """Run ``cmd``; return wall time, the CPU time of its process tree, the CPU time other
    processes used meanwhile (contention check), and stdout. Fails loudly on a non-zero exit."""
    from jpegnn.profiling.timing import busy_cpu_seconds

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0 = busy_cpu_seconds()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - t0
    busy1 = busy_cpu_seconds()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    other = None if busy0 is None or busy1 is None else max(0.0, (busy1 - busy0) - cpu)
    return {"wall_s": wall, "cpu_s": cpu, "other_cpu_s": other, "stdout": proc.stdout}


def _mean_abs_diff(a, b) -> float:
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    return sum(abs(x - y) for x, y in pairs) / len(pairs) if pairs else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="image folder (default: shared Kodak)")
    p.add_argument("--limit", type=int, default=4, help="use the first N images (sorted); 0 = all (default 4)")
    p.add_argument("--codecs", nargs="+", default=["jpeg", "webp"], choices=sorted(COMPARABLE))
    p.add_argument("--quality", "-q", default=",".join(str(q) for q in range(5, 100, 5)),
                   help="comma-separated qualities (default 5,10,...,95)")
    p.add_argument("-j", "--workers", type=int, default=2, help="worker processes for both tools (default 2)")
    p.add_argument("--compressai-threads", type=int, default=None, metavar="N",
                   help="run CompressAI's bench with OMP_NUM_THREADS=N (default: the environment as is, which "
                        "is how users run it; its workers then use torch's default thread count each)")
    p.add_argument("--order", choices=("compressai-first", "ours-first"), default="compressai-first")
    p.add_argument("--published", type=Path, default=DEFAULT_PUBLISHED,
                   help="folder with CompressAI's published jpeg.json / webp.json (skipped if missing)")
    p.add_argument("--out", type=Path, default=None, help="keep our outputs and a summary.json here")
    args = p.parse_args(argv)
    if not args.dataset.is_dir():
        p.error(f"--dataset: image folder not found: {args.dataset} (the default is the shared Kodak folder "
                f"beside the repository, {DEFAULT_DATASET}; pass --dataset DIR)")

    from jpegnn.errors import ConfigError
    from jpegnn.evaluation.bench import list_dataset
    from jpegnn.metrics.bd import BjontegaardWarning, bd_psnr, bd_rate

    files = [f for f, _ in list_dataset(args.dataset)]
    if args.limit:
        files = files[: args.limit]
    qualities = [int(q) for q in args.quality.split(",") if q.strip()]
    work = Path(tempfile.mkdtemp(prefix="bench_classical_"))
    subset = work / "images"
    subset.mkdir()
    for f in files:  # both tools read exactly these files
        os.symlink(f.resolve(), subset / f.name)
    out = args.out or (work / "ours")
    print(f"{len(files)} images from {args.dataset}, qualities {args.quality}, {args.workers} workers each; "
          f"{os.cpu_count()} CPUs")

    env_theirs = None
    if args.compressai_threads:
        env_theirs = {**os.environ, "OMP_NUM_THREADS": str(args.compressai_threads),
                      "MKL_NUM_THREADS": str(args.compressai_threads)}
        print(f"CompressAI's bench runs with OMP_NUM_THREADS={args.compressai_threads}")
    summary: dict = {"compressai_threads": args.compressai_threads, "images": len(files),
                     "dataset": str(args.dataset), "qualities": qualities,
                     "workers": args.workers, "codecs": {}}
    for codec in args.codecs:
        cmd_theirs = [sys.executable, "-m", "compressai.utils.bench", COMPARABLE[codec], str(subset),
                      "-q", ",".join(map(str, qualities)), "-j", str(args.workers)]
        cmd_ours = [sys.executable, "-m", "jpegnn.commands.bench", "--codec", codec, "--dataset", str(subset),
                    "--out", str(out / codec), "-q", ",".join(map(str, qualities)), "-j", str(args.workers),
                    "--no-progress"]
        runs = {}
        order = ("theirs", "ours") if args.order == "compressai-first" else ("ours", "theirs")
        for who in order:
            runs[who] = _run(cmd_ours) if who == "ours" else _run(cmd_theirs, env_theirs)
        t_theirs, t_ours = runs["theirs"]["wall_s"], runs["ours"]["wall_s"]
        theirs = json.loads(runs["theirs"]["stdout"])["results"]
        ours = json.loads((out / codec / f"{codec}.json").read_text())["results"]
        entry = {
            "compressai_s": round(t_theirs, 2),
            "ours_s": round(t_ours, 2),
            "speedup": round(t_theirs / t_ours, 2),
            "compressai_cpu_s": round(runs["theirs"]["cpu_s"], 2),
            "ours_cpu_s": round(runs["ours"]["cpu_s"], 2),
            "other_processes_cpu_s": {who: None if r["other_cpu_s"] is None else round(r["other_cpu_s"], 1)
                                      for who, r in (("compressai", runs["theirs"]), ("ours", runs["ours"]))},
            "same_run_mean_abs_diff": {
                "bpp": _mean_abs_diff(ours["bpp"], theirs["bpp"]),
                "psnr_db": _mean_abs_diff(ours["psnr-rgb"], theirs["psnr-rgb"]),
                "ms_ssim": _mean_abs_diff(ours["ms-ssim-rgb"], theirs["ms-ssim-rgb"]),
            },
        }
        print(f"\n[{codec}] compressai.utils.bench: {t_theirs:.1f} s   jpegnn bench: {t_ours:.1f} s   "
              f"speed-up x{t_theirs / t_ours:.2f}   (CPU time {entry['compressai_cpu_s']:.1f} s vs "
              f"{entry['ours_cpu_s']:.1f} s)")
        other = entry["other_processes_cpu_s"]
        if None not in other.values():
            print(f"  other processes on this machine used {other['compressai']:.1f} CPU-s during the CompressAI run "
                  f"and {other['ours']:.1f} CPU-s during ours (should be ~0 for a fair comparison)")
        d = entry["same_run_mean_abs_diff"]
        print(f"  same images, same Pillow: mean |d bpp| {d['bpp']:.2e}, mean |d PSNR| {d['psnr_db']:.2e} dB, "
              f"mean |d MS-SSIM| {d['ms_ssim']:.2e} (fast_quality vs pytorch_msssim)")

        published = args.published / f"{COMPARABLE[codec]}.json"
        if published.is_file():
            pub = json.loads(published.read_text())
            pr = pub["results"]
            def bd(fn, method="cubic"):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", BjontegaardWarning)
                        return fn(pr["bpp"], pr["psnr-rgb"], ours["bpp"], ours["psnr-rgb"], method=method)
                except ConfigError:  # too few of our points for this method
                    return math.nan

            bdr, bdp, bdr_p = bd(bd_rate), bd(bd_psnr), bd(bd_rate, "pchip")
            pub_q = list(range(5, 100, 5))  # CompressAI's run-benchmarks.sh sweep
            same_q = [(pub_q.index(q), i) for i, q in enumerate(qualities) if q in pub_q]
            dpsnr = [ours["psnr-rgb"][i] - pr["psnr-rgb"][k] for k, i in same_q]
            dbpp = [ours["bpp"][i] / pr["bpp"][k] - 1 for k, i in same_q]
            entry["vs_published"] = {
                "file": str(published),
                "description": pub.get("description"),
                "bd_rate_pct_cubic": bdr,
                "bd_rate_pct_pchip": bdr_p,
                "bd_psnr_db": bdp,
                "mean_abs_dpsnr_equal_q_db": sum(map(abs, dpsnr)) / len(dpsnr) if dpsnr else math.nan,
                "mean_dpsnr_equal_q_db": sum(dpsnr) / len(dpsnr) if dpsnr else math.nan,
                "max_abs_dpsnr_equal_q_db": max(map(abs, dpsnr)) if dpsnr else math.nan,
                "mean_rel_dbpp_equal_q_pct": 100 * sum(dbpp) / len(dbpp) if dbpp else math.nan,
            }
            v = entry["vs_published"]
            def pct(x):  # NaN: too few of our qualities for the method (cubic needs 4, pchip 2)
                return "n/a (too few qualities)" if math.isnan(x) else f"{x:+.2f} %"

            note = "" if len(files) == 24 else "  (published curves are over all 24 Kodak images; use --limit 0)"
            print(f"  vs published {published.name} ({pub.get('description')}): BD-rate {pct(bdr)} (cubic), "
                  f"{pct(bdr_p)} (pchip), BD-PSNR {'n/a' if math.isnan(bdp) else f'{bdp:+.3f} dB'}; at equal quality mean |d PSNR| "
                  f"{v['mean_abs_dpsnr_equal_q_db']:.3f} dB (mean {v['mean_dpsnr_equal_q_db']:+.3f}, max "
                  f"{v['max_abs_dpsnr_equal_q_db']:.3f}), mean bpp change {v['mean_rel_dbpp_equal_q_pct']:+.2f} %{note}")
        summary["codecs"][codec] = entry

    if args.out:
        from jpegnn.utils.atomic import write_text_atomic

        write_text_atomic(args.out / "summary.json", json.dumps(summary, indent=2) + "\n")
        print(f"\nwrote {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    from jpegnn.errors import run_script

    run_script(main, "bench_classical.py")
