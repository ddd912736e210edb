"""GPU energy per decoded Kodak frame of the hyperprior decoder, and its repeatability.

Run on a machine with an NVIDIA GPU (Volta or newer for the energy counter; older GPUs fall back
to power sampling) and an idle GPU (other jobs' energy lands in the counter too)::

    .venv/bin/python benchmarks/energy_gpu.py --dataset ../shared/datasets/kodak --json energy_kodak.json
    .venv/bin/python benchmarks/energy_gpu.py --dataset DIR --ckpt runs/x/checkpoints/last.ckpt --runs 5
    .venv/bin/python benchmarks/energy_gpu.py --dataset DIR --N 64                # a narrower student

What it does:

1. Builds the model: ``--ckpt`` (an LICModule checkpoint), or random weights (seed 0) of
   ``--arch`` (default ``bmshj2018-hyperprior``) at ``--quality`` (default 3: N=128, M=192) or
   ``--N``/``--M``. The networks' work does not depend on the weights (their values change GPU
   power only slightly), but the rANS work follows the bit rate: random weights measure the
   networks, a ``--ckpt`` is needed for a trained model's entropy decoding.
2. Encodes every image of ``--dataset`` once (real rANS bitstreams; inputs padded to 64).
3. After one untimed pass over the images, for each of ``--runs`` runs: samples idle power for
   ``--idle-seconds`` (the GPU having just worked, so every run starts from the same state), then
   for every image measures, with NVML, the GPU energy of

   * ``decode``: the real decoder (``jpegnn.coding.lic.decode``: hyper decoder, rANS entropy
     decoding on the CPU, synthesis transform, crop), and
   * ``decoder_network``: the decoder networks alone (``h_s`` + ``g_s`` on GPU, no entropy
     decoding), the workload ``jpegnn profile`` counts decoder MACs on,

   each repeated until ``--min-seconds`` of wall time have passed; J/frame = energy above idle /
   calls. A run's figure is the mean J/frame over the images.
4. Reports, per workload, the runs' mean, sample standard deviation and coefficient of variation
   (std / mean) of J/frame, plus ms/frame, gross J/frame and idle W; ``--json`` writes everything
   (per-image values included) atomically.

Without a GPU or NVML the script says ``energy unavailable: <reason>`` and exits with status 1;
``--allow-no-energy`` still runs the pipeline and reports wall time only (for a CPU dry run).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

# CompressAI 1.2.8 scripts a helper with torch.jit.script at import time
warnings.filterwarnings("ignore", message=r"`torch.jit.script` is deprecated")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jpegnn.coding.lic import decode, encode  # noqa: E402
from jpegnn.data import ImageFolder  # noqa: E402
from jpegnn.profiling.energy import (  # noqa: E402
    EnergyMeter,
    EnergyUnavailable,
    NvmlDevice,
    measure_idle_power,
    measure_repeated,
    open_nvml_device,
    repeatability,
)
from jpegnn.profiling.lic import lic_functions  # noqa: E402
from jpegnn.profiling.tables import text_table  # noqa: E402
from jpegnn.profiling.timing import synchronize  # noqa: E402
from jpegnn.utils.atomic import write_json_atomic  # noqa: E402

WORKLOADS = ("decode", "decoder_network")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, metavar="DIR", help="folder of images (Kodak: the 24 kodimNN.png)")
    p.add_argument("--ckpt", default=None, help="LICModule checkpoint (default: random weights)")
    p.add_argument("--arch", default="bmshj2018-hyperprior", help="architecture for random weights")
    p.add_argument("--quality", type=int, default=3, help="zoo preset for random weights (3: N=128, M=192)")
    p.add_argument("--N", type=int, default=None, help="override N (random weights)")
    p.add_argument("--M", type=int, default=None, help="override M (random weights)")
    p.add_argument("--runs", type=int, default=5, help="repeated measurements of the whole set (default 5)")
    p.add_argument("--min-seconds", type=float, default=1.0, help="minimum wall time per image and workload (s)")
    p.add_argument("--idle-seconds", type=float, default=2.0, help="idle-power window before each run (s)")
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    p.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    p.add_argument("--device", default="cuda", help="torch device (default cuda)")
    p.add_argument("--allow-no-energy", action="store_true", help="without NVML, report wall time only (exit 0)")
    p.add_argument("--json", default=None, metavar="FILE", help="write all results to FILE")
    return p


def load_model(args: argparse.Namespace, device: torch.device) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The CompressAI network (eval, CDFs built) and a description of it."""
    if args.ckpt:
        from jpegnn.tasks.lic import LICModule
        from jpegnn.tasks.loading import load_module

        module = load_module(args.ckpt, LICModule)
        module.update_entropy_models()
        model = module.model
        info = {"checkpoint": str(args.ckpt), **{k: module.hparams[k] for k in ("architecture", "quality", "N", "M")}}
    else:
        from jpegnn.models.lic import build_lic_model

        torch.manual_seed(0)
        model = build_lic_model(args.arch, args.quality, args.N, args.M)
        with torch.no_grad():
            model.update(force=True)
        info = {"checkpoint": None, "weights": "random (seed 0)", "architecture": args.arch, "quality": args.quality,
                "N": getattr(model, "N", args.N), "M": getattr(model, "M", args.M)}
    info["params"] = sum(p.numel() for p in model.parameters())
    return model.to(device).eval(), info


def open_energy_device(device: torch.device) -> tuple[Optional[NvmlDevice], Optional[str]]:
    """NVML's view of ``device`` (energy counter or power sampling), or None and the reason why
    energy cannot be measured (not a CUDA device, no pynvml, no driver, nothing reported)."""
    if device.type != "cuda":
        return None, f"no CUDA device (running on {device.type})"
    try:
        return open_nvml_device(device.index if device.index is not None else torch.cuda.current_device()), None
    except EnergyUnavailable as exc:
        return None, str(exc)


def measure_image(fn, gpu, idle_w: Optional[float], min_seconds: float, device: torch.device) -> dict[str, Any]:
    """J/frame (net and gross) and ms/frame of one workload on one image."""
    sync = lambda: synchronize(device)  # noqa: E731
    if gpu is None:  # dry run: wall time only
        fn()
        sync()
        calls, t0 = 0, time.perf_counter()
        while calls < 1 or time.perf_counter() - t0 < min_seconds:
            fn()
            calls += 1
        sync()
        return {"net_j": None, "gross_j": None, "ms": (time.perf_counter() - t0) / calls * 1e3, "calls": calls}
    result = measure_repeated(fn, EnergyMeter(gpu, idle_w=idle_w), min_seconds=min_seconds, sync=sync)
    return {"net_j": result.net_j_per_call, "gross_j": result.gross_j_per_call,
            "ms": result.seconds_per_call * 1e3, "calls": result.calls}


def _mean(values: Sequence[Optional[float]]) -> Optional[float]:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not Path(args.dataset).is_dir():
        parser.error(f"--dataset: image folder not found: {args.dataset}")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"energy unavailable: --device {args.device} but no CUDA device is available", file=sys.stderr)
        if not args.allow_no_energy:
            return 1
        device = torch.device("cpu")

    gpu, reason = open_energy_device(device)
    if gpu is None:
        print(f"energy unavailable: {reason}", file=sys.stderr)
        if not args.allow_no_energy:
            return 1

    model, info = load_model(args, device)
    dataset = ImageFolder(args.dataset)
    n = len(dataset) if args.limit is None else min(args.limit, len(dataset))
    if n == 0:
        print(f"no images in {args.dataset}", file=sys.stderr)
        return 1
    images = []
    with torch.no_grad():
        for i in range(n):
            item = dataset[i]
            x = item["image"].unsqueeze(0).to(device)
            enc = encode(model, x)
            network = lic_functions(model, x)["decoder"]
            images.append({"name": item["name"], "bytes": enc.num_bytes, "pixels": x.shape[-1] * x.shape[-2],
                           "decode": (lambda e=enc: decode(model, e)), "decoder_network": network})
    print(f"{info['architecture']} N={info['N']} M={info['M']} ({info['params']:,} params, {info['weights'] if 'weights' in info else info['checkpoint']}); "
          f"{n} images, {args.runs} runs x {len(args.workloads)} workloads x >= {args.min_seconds} s per image", file=sys.stderr)

    runs: list[dict[str, Any]] = []
    with torch.no_grad():
        # one untimed pass first, so that every run's idle window follows GPU work (same clocks and
        # P-state for all runs, which is what repeatability compares)
        for img in images:
            for w in args.workloads:
                img[w]()
        for r in range(args.runs):
            synchronize(device)
            idle_w = measure_idle_power(gpu, args.idle_seconds) if gpu is not None and gpu.power_supported else None
            run: dict[str, Any] = {"idle_w": idle_w, "per_image": {w: {} for w in args.workloads}}
            for img in images:
                for w in args.workloads:
                    run["per_image"][w][img["name"]] = measure_image(img[w], gpu, idle_w, args.min_seconds, device)
            for w in args.workloads:
                vals = list(run["per_image"][w].values())
                run[w] = {k: _mean([v[k] for v in vals]) for k in ("net_j", "gross_j", "ms")}
            runs.append(run)
            summary = ", ".join(f"{w} {run[w]['net_j']} J/frame, {run[w]['ms']:.2f} ms/frame" for w in args.workloads)
            print(f"run {r + 1}/{args.runs}: idle {idle_w} W; {summary}", file=sys.stderr)

    results: dict[str, Any] = {
        "benchmark": "energy per decoded frame (GPU, NVML)",
        "model": info,
        "dataset": str(args.dataset),
        "images": n,
        "bpp_mean": sum(i["bytes"] * 8 / i["pixels"] for i in images) / n,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "nvml_mode": None if gpu is None else ("counter" if gpu.counter_supported else "sampling"),
        "energy_unavailable": reason,
        "runs": args.runs,
        "min_seconds": args.min_seconds,
        "idle_seconds": args.idle_seconds,
        "idle_w": repeatability([run["idle_w"] for run in runs]),
        "torch": torch.__version__,
    }
    rows = []
    for w in args.workloads:
        stats = repeatability([run[w]["net_j"] for run in runs])
        results[w] = {
            "j_per_frame": stats,
            "gross_j_per_frame": repeatability([run[w]["gross_j"] for run in runs]),
            "ms_per_frame": repeatability([run[w]["ms"] for run in runs]),
            "j_per_frame_runs": [run[w]["net_j"] for run in runs],
            "per_image_runs": [run["per_image"][w] for run in runs],
        }
        ms = results[w]["ms_per_frame"]
        rows.append([w, stats["mean"], stats["std"], None if stats["cv"] is None else 100 * stats["cv"],
                     results[w]["gross_j_per_frame"]["mean"], ms["mean"], ms["cv"] and 100 * ms["cv"]])
    print(text_table(["workload", "J/frame mean", "J/frame std", "CV %", "gross J/frame", "ms/frame", "ms CV %"], rows))
    print(f"J/frame: GPU energy above idle ({results['idle_w']['mean']} W mean) per decoded frame, mean over "
          f"{n} images, statistics over {args.runs} runs; {results['device']}; NVML {results['nvml_mode']}"
          + (f"; energy unavailable: {reason}" if reason else ""))
    if args.json:
        write_json_atomic(args.json, results)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from jpegnn.errors import run_script

    run_script(main, "energy_gpu.py")
