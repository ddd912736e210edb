"""Knowledge-distillation sweep over student widths: KD student vs the same student without KD.

Input: teacher checkpoints written by ``jpegnn fit`` (one rate point each: the same architecture
trained at several λ). For each teacher (λ) and each student width N the sweep trains

1. a **KD student** (:class:`jpegnn.tasks.DistillationModule`: M, N_entropy, λ and distortion
   inherited from that teacher; loss ``kd_weights``), and
2. the **same student without distillation** (:class:`jpegnn.tasks.LICModule` with identical
   architecture, N, M, N_entropy, λ, optimizer, initial weights and batches: RD loss only),

for the same number of steps, then tests every teacher and student with **real rANS bitstreams** on
the test images (bpp = actual payload bytes x 8 / pixels; PSNR and MS-SSIM of the 8-bit decoded
image, means over images). With the λ points of one model forming its RD curve, each width gets one
table row:

* BD-rate (%, PSNR; negative = fewer bits at equal PSNR; :func:`jpegnn.metrics.bd.bd_rate`, cubic
  with >= 4 points, PCHIP with 2-3) of the KD student against the teacher and against the no-KD
  student, and of the no-KD student against the teacher, with the curves' PSNR overlap and any
  Bjøntegaard warning; BD-PSNR (dB) as well;
* params, encoder/decoder GMACs (fvcore via :mod:`jpegnn.profiling`, at ``--profile-size``), decode
  latency (median of real ``decompress`` calls on the first test image, networks + rANS, measured
  after all training, one model at a time) and GPU decode energy (J/frame, NVML; null without a GPU).

Work is split into jobs (a teacher test, or one student trained and tested); ``--jobs 2`` runs two
at a time (separate processes of ``--threads`` torch threads each). Each finished job leaves
``<work>/points/<job>.json`` and a checkpoint, so a rerun with the same ``--work`` skips it.

Example (2-core CPU, about 40 min; see docs/distillation.md)::

    for L in 0.0018 0.0067 0.025 0.0932; do jpegnn fit --config configs/lic/bmshj2018-hyperprior.yaml \\
        --model.init_args.lmbda $L ...; done                       # the teachers
    python benchmarks/kd_sweep.py --teacher t_0.0018.ckpt t_0.0067.ckpt t_0.025.ckpt t_0.0932.ckpt \\
        --widths 16 32 64 --steps 250 --train-root VIMEO --test-root KODAK --test-images 6 \\
        --jobs 2 --threads 1 --work /tmp/kd_sweep --out benchmarks/results/kd_sweep

Writes (atomically) ``kd_sweep.json`` (every number), ``kd_sweep.md`` (the tables),
``kd_sweep.csv`` (one row per width) and ``kd_sweep_points.csv`` (one row per model and λ) into
``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import shlex
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _quiet(loggers: bool = False) -> None:
    """Silence known notices; ``loggers``: also Lightning's/jpegnn's INFO chatter (own process only)."""
    warnings.filterwarnings("ignore", message=r"`torch.jit.script` is deprecated")
    warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    warnings.filterwarnings("ignore", message=r".*does not have many workers")
    warnings.filterwarnings("ignore", message=r".*smaller than the logging interval")
    if loggers:
        import logging

        for name in ("lightning.pytorch", "lightning.fabric", "lightning", "jpegnn"):
            logging.getLogger(name).setLevel(logging.WARNING)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", nargs="+", required=True, help="teacher checkpoints (jpegnn fit), one λ each")
    p.add_argument("--widths", nargs="+", type=int, default=[16, 32, 64], help="student widths N")
    p.add_argument("--steps", type=int, default=250, help="training steps (batches) of every student")
    p.add_argument("--train-root", required=True, help="Vimeo-90k septuplet folder (training)")
    p.add_argument("--test-root", required=True, help="folder of test images (e.g. Kodak)")
    p.add_argument("--test-images", type=int, default=6, help="first K images of --test-root (sorted by name)")
    p.add_argument("--patch", type=int, default=128, help="training patch side (px, multiple of 64)")
    p.add_argument("--batch", type=int, default=8, help="training batch size")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of the networks (aux: 1e-3)")
    p.add_argument("--lr-drop-at", type=float, default=0.75,
                   help="fraction of --steps after which the lr is multiplied by 0.3")
    p.add_argument("--kd-weights", nargs="+", type=float, default=[0.2, 0.2, 0.2, 0.4],
                   help="DistillationModule kd_weights (latent y, hyper-latent z, output x_hat, RD)")
    p.add_argument("--latent-loss", default="mse", choices=("mse", "cosine", "kl"))
    p.add_argument("--jobs", type=int, default=1, help="jobs run at the same time (processes)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per job (default: torch's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile-size", default="768x512", help="WIDTHxHEIGHT for params/GMACs/latency/energy")
    p.add_argument("--profile-repeats", type=int, default=3, help="timed decode calls per model (median)")
    p.add_argument("--work", required=True, help="folder for checkpoints and per-job results (resumable)")
    p.add_argument("--out", required=True, help="output folder of the tables")
    p.add_argument("--preamble", default=None,
                   help="markdown file put at the top of kd_sweep.md (e.g. how the teachers were trained)")
    p.add_argument("--points-only", action="store_true",
                   help="run the jobs (train + test) and stop: no profiles, no tables (for a later, fuller rerun)")
    args = p.parse_args(argv)
    for t in args.teacher:
        if not Path(t).is_file():
            p.error(f"--teacher: checkpoint not found: {t}")
    for flag, folder in (("--train-root", args.train_root), ("--test-root", args.test_root)):
        if not Path(folder).is_dir():
            p.error(f"{flag}: folder not found: {folder}")
    if not any(q.suffix.lower() in (".png", ".jpg", ".jpeg") for q in Path(args.test_root).iterdir()):
        p.error(f"--test-root: no .png/.jpg images in {args.test_root}")
    return args


# ============================================================================ jobs (run in workers)
def _setup_worker(threads: Optional[int]) -> None:
    import multiprocessing

    worker = multiprocessing.parent_process() is not None  # a --jobs process (not main() itself)
    _quiet(loggers=worker)
    if threads and worker:
        import torch

        torch.set_num_threads(threads)


def _optimizers(args: dict[str, Any]) -> dict[str, Any]:
    import torch

    milestone = max(1, int(args["steps"] * args["lr_drop_at"]))
    lr = args["lr"]
    return dict(
        optimizer=lambda params: torch.optim.Adam(params, lr=lr),
        aux_optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[milestone], gamma=0.3),
        lr_scheduler_interval="step",
    )


def _datamodule(args: dict[str, Any]):
    from jpegnn.data import ImageDataModule, ImageFolder, Vimeo90k

    return ImageDataModule(
        train=Vimeo90k(args["train_root"], split="train"), test=ImageFolder(args["test_dir"]),
        patch_size=args["patch"], batch_size=args["batch"], test_batch_size=1, num_workers=0, seed=args["seed"],
    )


def _test(module, args: dict[str, Any], root: Path) -> dict[str, Any]:
    """Real-bitstream test (LICModule.test_step): mean actual bpp, PSNR, MS-SSIM over the images."""
    import lightning as L

    root.mkdir(parents=True, exist_ok=True)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(root))
    trainer.test(module, datamodule=_datamodule(args), verbose=False)
    rows = module.test_results["rows"]
    return {
        "bpp": statistics.fmean(r["bpp"] for r in rows),
        "bpp_estimated": statistics.fmean(r["bpp_estimated"] for r in rows),
        "psnr": statistics.fmean(r["psnr_rgb"] for r in rows),
        "ms_ssim": statistics.fmean(r["ms_ssim_rgb"] for r in rows),
        "decode_s_median_during_test": statistics.median(r["decoding_time"] for r in rows),
        "images": [r["image"] for r in rows],
        "per_image": [{k: r[k] for k in ("image", "bpp", "bpp_estimated", "psnr_rgb", "ms_ssim_rgb")} for r in rows],
    }


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """One job: ``kind`` = "teacher" (test it) or "kd"/"no_kd" (train a student of width N, test it)."""
    _setup_worker(job["args"].get("threads"))
    import json

    import lightning as L
    import torch

    from jpegnn.tasks import DistillationModule, LICModule
    from jpegnn.utils.atomic import write_json_atomic
    from jpegnn.tasks.loading import load_module

    args, work = job["args"], Path(job["args"]["work"])
    point_file = work / "points" / f"{job['name']}.json"
    if point_file.is_file():
        return json.loads(point_file.read_text())
    t0 = time.time()
    if job["kind"] == "teacher":
        module = load_module(job["teacher"], LICModule)
        res = _test(module, args, work / "test" / job["name"])
        res.update(lmbda=module.lmbda, checkpoint=job["teacher"], test_seconds=time.time() - t0)
    else:
        width = job["width"]
        L.seed_everything(args["seed"], verbose=False)
        kd = DistillationModule(teacher_ckpt=job["teacher"], N=width, kd_weights=tuple(args["kd_weights"]),
                                latent_loss=args["latent_loss"], results_name=f"kd-N{width}", **_optimizers(args))
        if job["kind"] == "kd":
            module = kd
        else:
            hp = kd.hparams
            module = LICModule(hp.architecture, quality=hp.quality, N=width, M=hp.M, N_entropy=hp.N_entropy,
                               lmbda=kd.lmbda, distortion=hp.distortion, results_name=f"nokd-N{width}",
                               **_optimizers(args))
            module.model.load_state_dict(kd.model.state_dict())  # identical initial weights
            del kd
        L.seed_everything(args["seed"], verbose=False)  # same batches and crops for KD and no-KD
        trainer = L.Trainer(
            accelerator="cpu", devices=1, max_steps=args["steps"], max_epochs=-1, logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            limit_val_batches=0, num_sanity_val_steps=0, default_root_dir=str(work / "train" / job["name"]),
        )
        trainer.fit(module, datamodule=_datamodule(args))
        train_s = time.time() - t0
        ckpt = work / "ckpt" / f"{job['name']}.ckpt"
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(ckpt)
        student = load_module(ckpt, LICModule)  # the deployable codec: a KD student loads as a plain LICModule
        res = _test(student, args, work / "test" / job["name"])
        res.update(lmbda=student.lmbda, checkpoint=str(ckpt), steps=int(trainer.global_step),
                   train_seconds=train_s, test_seconds=time.time() - t0 - train_s, teacher=job["teacher"],
                   hparams={k: student.hparams.get(k) for k in ("architecture", "quality", "N", "M", "N_entropy")})
    res.update(kind=job["kind"], width=job.get("width"), torch_threads=torch.get_num_threads())
    write_json_atomic(point_file, res)
    return res


# ============================================================================ aggregation (main process)
def _bd(anchor: list[dict], test: list[dict]) -> dict[str, Any]:
    """BD-rate (PSNR) and BD-PSNR of ``test`` vs ``anchor``, with the method, overlap and warnings."""
    from jpegnn.errors import ConfigError
    from jpegnn.metrics.bd import bd_psnr, bd_rate

    out: dict[str, Any] = {"bd_rate_pct": None, "bd_psnr_db": None, "method": None, "psnr_overlap_pct": None,
                           "warnings": []}
    n = min(len(anchor), len(test))
    if n < 2:
        return out
    method = "cubic" if n >= 4 else "pchip"
    ra, qa = [a["bpp"] for a in anchor], [a["psnr"] for a in anchor]
    rt, qt = [t["bpp"] for t in test], [t["psnr"] for t in test]
    lo, hi = max(min(qa), min(qt)), min(max(qa), max(qt))
    joint = max(max(qa), max(qt)) - min(min(qa), min(qt))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rate = bd_rate(ra, qa, rt, qt, method=method)
            psnr = bd_psnr(ra, qa, rt, qt, method=method)
        except ConfigError as exc:  # a degenerate curve (e.g. one PSNR for every λ): no BD figure
            out.update(method=method, warnings=[str(exc)])
            return out
    out.update(
        method=method,
        bd_rate_pct=None if math.isnan(rate) else rate,
        bd_psnr_db=None if math.isnan(psnr) else psnr,
        psnr_overlap_pct=100 * max(hi - lo, 0.0) / joint if joint > 0 else None,
        warnings=sorted({str(w.message) for w in caught}),
    )
    return out


def _profile(ckpt: str, size: tuple[int, int], image, energy, repeats: int) -> dict[str, Any]:
    """params, GMACs (fvcore), encode/decode latency (real rANS coding) and energy of one checkpoint."""
    from jpegnn.profiling import profile_module
    from jpegnn.tasks import LICModule
    from jpegnn.tasks.loading import load_module

    module = load_module(ckpt, LICModule)
    device = "cuda" if energy is not None and energy.available else "cpu"
    row = profile_module(module, size, device=device, repeats=repeats, warmup=1, image=image, energy=energy)
    keep = ("params", "gmacs_encoder", "gmacs_decoder", "encode_ms", "decode_ms", "bits_per_pixel",
            "energy_j_per_frame", "energy_unavailable", "latency_image", "device")
    return {k: row.get(k) for k in keep}


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "null"
    if isinstance(v, float):
        return f"{v:+.{-digits}f}" if digits < 0 else f"{v:.{digits}f}"
    return str(v)


def _pct(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{v:+.1f}"


def _markdown(doc: dict[str, Any]) -> str:
    meta = doc["meta"]
    t = doc["teacher"]
    # _profile times the decodes on the GPU when NVML energy is available, else on the CPU
    dev = "GPU" if str(t["profile"].get("device") or "cpu").startswith("cuda") else "CPU"
    lines = [
        "## KD sweep: students of a scale-hyperprior teacher, with and without distillation", "",
        f"Machine: {meta['machine']}. Measured {meta['finished_utc']}; sweep wall time "
        f"{meta['wall_seconds'] / 60:.1f} min.", "",
        meta["setup"], "",
        "Command:", "", "```", meta["command"], "```", "",
        "### One row per student width", "",
        "BD-rate in % on PSNR (negative = the first model needs fewer bits than the anchor at equal PSNR); "
        "BD-PSNR in dB (positive = better). Curves: one point per λ, actual bitstream bpp.", "",
        f"| model | params | enc GMACs | dec GMACs | dec ms ({dev}) | J/frame | BD-rate KD vs teacher | "
        "BD-rate KD vs no-KD | BD-rate no-KD vs teacher | BD-PSNR KD vs no-KD (dB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| teacher N={t['hparams']['N']} M={t['hparams']['M']} | {t['profile']['params']:,} | "
        f"{_fmt(t['profile']['gmacs_encoder'])} | {_fmt(t['profile']['gmacs_decoder'])} | "
        f"{_fmt(t['profile']['decode_ms'], 0)} | {_fmt(t['profile']['energy_j_per_frame'])} | 0 (anchor) | | | |",
    ]
    for width in doc["widths"]:
        w = doc["by_width"][str(width)]
        p, bd = w["profile_kd"], w["bd"]
        lines.append(
            f"| student N={width} (M={w['hparams']['M']}, N_entropy={w['hparams']['N_entropy']}) | {p['params']:,} | "
            f"{_fmt(p['gmacs_encoder'])} | {_fmt(p['gmacs_decoder'])} | {_fmt(p['decode_ms'], 0)} | "
            f"{_fmt(p['energy_j_per_frame'])} | {_pct(bd['kd_vs_teacher']['bd_rate_pct'])} | "
            f"{_pct(bd['kd_vs_no_kd']['bd_rate_pct'])} | {_pct(bd['no_kd_vs_teacher']['bd_rate_pct'])} | "
            f"{_fmt(bd['kd_vs_no_kd']['bd_psnr_db'], -2)} |"
        )
    lines += ["", "BD details (method, PSNR overlap of the two curves, warnings):", ""]
    for width in doc["widths"]:
        for key, label in (("kd_vs_teacher", "KD vs teacher"), ("kd_vs_no_kd", "KD vs no-KD"),
                           ("no_kd_vs_teacher", "no-KD vs teacher")):
            b = doc["by_width"][str(width)]["bd"][key]
            ov = "n/a" if b["psnr_overlap_pct"] is None else f"{b['psnr_overlap_pct']:.0f} %"
            warn = "; ".join(b["warnings"]) or "none"
            lines.append(f"- N={width}, {label}: {b['method']}, overlap {ov}; warnings: {warn}")
    lines += ["", "### RD points (real bitstreams)", "",
              "| model | λ | bpp (actual) | bpp (estimated) | PSNR dB | MS-SSIM | train s |",
              "|---|---|---|---|---|---|---|"]
    for p in t["points"]:
        lines.append(f"| teacher | {p['lmbda']:.4g} | {p['bpp']:.4f} | {p['bpp_estimated']:.4f} | {p['psnr']:.2f} | "
                     f"{p['ms_ssim']:.4f} | {_fmt(p.get('train_seconds'), 0)} |")
    for width in doc["widths"]:
        w = doc["by_width"][str(width)]
        for kind, label in (("kd", "KD"), ("no_kd", "no-KD")):
            for p in w[kind]:
                lines.append(f"| {label} N={width} | {p['lmbda']:.4g} | {p['bpp']:.4f} | {p['bpp_estimated']:.4f} | "
                             f"{p['psnr']:.2f} | {p['ms_ssim']:.4f} | {p['train_seconds']:.0f} |")
    lines += ["", "Notes:", *[f"- {n}" for n in meta["notes"]], ""]
    return "\n".join(lines)


def _width_csv_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["model", "N", "M", "N_entropy", "params", "gmacs_encoder", "gmacs_decoder", "decode_ms_cpu",
              "energy_j_per_frame", "bd_rate_kd_vs_teacher_pct", "bd_rate_kd_vs_no_kd_pct",
              "bd_rate_no_kd_vs_teacher_pct", "bd_psnr_kd_vs_no_kd_db", "bd_method"]
    t = doc["teacher"]
    rows = [["teacher", t["hparams"]["N"], t["hparams"]["M"], t["hparams"]["N_entropy"], t["profile"]["params"],
             t["profile"]["gmacs_encoder"], t["profile"]["gmacs_decoder"], t["profile"]["decode_ms"],
             t["profile"]["energy_j_per_frame"], 0.0, None, None, None, None]]
    for width in doc["widths"]:
        w = doc["by_width"][str(width)]
        p, bd = w["profile_kd"], w["bd"]
        rows.append([f"student N={width}", width, w["hparams"]["M"], w["hparams"]["N_entropy"], p["params"],
                     p["gmacs_encoder"], p["gmacs_decoder"], p["decode_ms"], p["energy_j_per_frame"],
                     bd["kd_vs_teacher"]["bd_rate_pct"], bd["kd_vs_no_kd"]["bd_rate_pct"],
                     bd["no_kd_vs_teacher"]["bd_rate_pct"], bd["kd_vs_no_kd"]["bd_psnr_db"], bd["kd_vs_no_kd"]["method"]])
    return header, rows


def _point_csv_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["model", "N", "lmbda", "bpp_actual", "bpp_estimated", "psnr_db", "ms_ssim", "train_steps", "train_seconds"]
    rows = [["teacher", doc["teacher"]["hparams"]["N"], p["lmbda"], p["bpp"], p["bpp_estimated"], p["psnr"],
             p["ms_ssim"], None, None] for p in doc["teacher"]["points"]]
    for width in doc["widths"]:
        for kind in ("kd", "no_kd"):
            for p in doc["by_width"][str(width)][kind]:
                rows.append([kind, width, p["lmbda"], p["bpp"], p["bpp_estimated"], p["psnr"], p["ms_ssim"],
                             p["steps"], p["train_seconds"]])
    return header, rows


def main(argv: Optional[list[str]] = None) -> int:
    """Run the sweep; torch's thread count is restored afterwards (the function is also called in-process)."""
    import torch

    threads = torch.get_num_threads()
    try:
        return _main(argv)
    finally:
        torch.set_num_threads(threads)


def _main(argv: Optional[list[str]] = None) -> int:
    _quiet()
    args = parse_args(argv)
    import torch

    from jpegnn.utils.atomic import write_csv_atomic, write_json_atomic, write_text_atomic

    if args.threads:
        torch.set_num_threads(args.threads)
    t_start = time.time()
    work, out = Path(args.work).resolve(), Path(args.out)
    (work / "points").mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)

    # the first K test images, through a folder of links (ImageFolder sorts by name)
    test_dir = work / "test_images"
    test_dir.mkdir(exist_ok=True)
    images = sorted(p for p in Path(args.test_root).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    chosen = images[: args.test_images]
    for p in chosen:
        link = test_dir / p.name
        if not link.exists():
            os.symlink(p.resolve(), link)
    shared = {k: v for k, v in vars(args).items()}
    shared.update(test_dir=str(test_dir), work=str(work), teacher=None)

    # job names carry a tag of the teacher's path: a rerun with more teachers reuses finished jobs
    tags = [hashlib.sha1(str(Path(p).resolve()).encode()).hexdigest()[:8] for p in args.teacher]
    jobs: list[dict[str, Any]] = []
    for path, tag in zip(args.teacher, tags):
        jobs.append({"name": f"teacher_{tag}", "kind": "teacher", "teacher": str(Path(path).resolve()), "args": shared})
    # widest students first: the longest jobs start early, the pool ends with short ones
    for width in sorted(args.widths, reverse=True):
        for path, tag in zip(args.teacher, tags):
            for kind in ("kd", "no_kd"):
                jobs.append({"name": f"{kind}_N{width}_{tag}", "kind": kind, "width": width,
                             "teacher": str(Path(path).resolve()), "args": shared})
    results: dict[str, dict[str, Any]] = {}
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
            futures = {job["name"]: pool.submit(run_job, job) for job in jobs}
            for name, fut in futures.items():
                results[name] = fut.result()
                _report(name, results[name])
    else:
        for job in jobs:
            results[job["name"]] = run_job(job)
            _report(job["name"], results[job["name"]])

    if args.points_only:
        return 0
    # profiles, one model at a time after all training (latency on a quieter machine)
    from PIL import Image
    from torchvision.transforms.functional import pil_to_tensor

    from jpegnn.profiling import setup_energy

    size = tuple(int(v) for v in args.profile_size.lower().split("x"))
    image = pil_to_tensor(Image.open(chosen[0]).convert("RGB")).float().div(255).unsqueeze(0)
    if tuple(image.shape[-1:-3:-1]) != size:
        image = None  # synthetic image of --profile-size
    energy = setup_energy("cuda" if torch.cuda.is_available() else "cpu", idle_seconds=1.0)
    n_t = len(args.teacher)
    mid = n_t // 2
    teacher_points = sorted((results[f"teacher_{t}"] for t in tags), key=lambda p: p["lmbda"])
    from jpegnn.tasks import LICModule
    from jpegnn.tasks.loading import load_module

    # the profiled rate point: the teacher of the median λ (bitstream size affects rANS time a little)
    mid_tag = next(t for t in tags if results[f"teacher_{t}"]["lmbda"] == teacher_points[mid]["lmbda"])
    mid_ckpt = results[f"teacher_{mid_tag}"]["checkpoint"]
    t_mod = load_module(mid_ckpt, LICModule)
    doc: dict[str, Any] = {
        "teacher": {
            "points": teacher_points,
            "profile": _profile(mid_ckpt, size, image, energy, args.profile_repeats),
            "hparams": {k: t_mod.hparams.get(k) for k in ("architecture", "quality", "N", "M", "N_entropy")},
        },
        "widths": args.widths,
        "by_width": {},
    }
    for width in args.widths:
        kd = sorted((results[f"kd_N{width}_{t}"] for t in tags), key=lambda p: p["lmbda"])
        no_kd = sorted((results[f"no_kd_N{width}_{t}"] for t in tags), key=lambda p: p["lmbda"])
        doc["by_width"][str(width)] = {
            "hparams": kd[0]["hparams"],
            "kd": kd,
            "no_kd": no_kd,
            "profile_kd": _profile(results[f"kd_N{width}_{mid_tag}"]["checkpoint"], size, image, energy, args.profile_repeats),
            "profile_no_kd": _profile(results[f"no_kd_N{width}_{mid_tag}"]["checkpoint"], size, image, energy,
                                      args.profile_repeats),
            "bd": {
                "kd_vs_teacher": _bd(teacher_points, kd),
                "kd_vs_no_kd": _bd(no_kd, kd),
                "no_kd_vs_teacher": _bd(teacher_points, no_kd),
            },
        }
        print(f"profiled N={width}", flush=True)

    from jpegnn.data import Vimeo90k

    n_train = len(Vimeo90k(args.train_root, split="train"))
    device = f"cuda ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else "cpu"
    doc["meta"] = {
        "machine": f"{device}, {os.cpu_count()} CPU cores (shared with other users' processes), "
                   f"{args.jobs} job(s) at a time with {args.threads or torch.get_num_threads()} torch thread(s) each",
        "finished_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "setup": (
            f"Teachers: {', '.join(str(p) for p in args.teacher)}. Students trained {args.steps} steps each (batch "
            f"{args.batch}, {args.patch} px random crops of {args.train_root}, Adam lr {args.lr} x0.3 after "
            f"{args.lr_drop_at:.0%} of the steps, aux Adam 1e-3, seed {args.seed}); KD loss kd_weights="
            f"{tuple(args.kd_weights)} (y, z, x_hat, RD) with {args.latent_loss} latents; no-KD = the same student, "
            f"same initial weights and batches, RD loss only. Tested with real rANS bitstreams on "
            f"{len(chosen)} images of {args.test_root} ({', '.join(p.name for p in chosen)})."
        ),
        "notes": [
            "bpp (actual) = bitstream bytes x 8 / pixels (CompressAI rANS); bpp (estimated) = likelihoods of the "
            "same forward pass; PSNR/MS-SSIM of the 8-bit decoded image, mean over the images.",
            "BD-rate (jpegnn.metrics.bd) integrates over the PSNR range where both curves exist only; with little "
            "overlap the value is fragile (see BD details).",
            f"params and GMACs by fvcore (1 MAC = one multiply-add) at {args.profile_size}; decoder = h_s + g_s "
            "(jpegnn.profiling). No-KD students have the same architecture as the KD students (same params/GMACs).",
            f"dec ms: median of {args.profile_repeats} real decodes (rANS + networks) of "
            f"{chosen[0].name if image is not None else 'a synthetic image'} at the λ={teacher_points[mid]['lmbda']:.4g} "
            "point, one model at a time after training, "
            + ("on the GPU (networks; rANS on the CPU)." if energy.available else
               "on a CPU other processes shared (noisy)."),
            "J/frame: GPU energy above idle of one real decode (NVML); "
            + ("null: " + str(energy.reason) if not energy.available else "measured"),
            f"Short training ({args.steps} steps per student, {n_train} training images in {args.train_root}): "
            "absolute RD is far from published models; only the comparison between models trained alike is "
            "meaningful.",
        ],
        "wall_seconds": time.time() - t_start,
        "job_seconds": {name: r.get("train_seconds", 0) + r.get("test_seconds", 0) for name, r in results.items()},
        "command": "python benchmarks/kd_sweep.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
    }
    write_json_atomic(out / "kd_sweep.json", doc)
    for name, table in (("kd_sweep.csv", _width_csv_rows), ("kd_sweep_points.csv", _point_csv_rows)):
        header, rows = table(doc)
        write_csv_atomic(out / name, [dict(zip(header, row)) for row in rows], header)
    text = _markdown(doc)
    if args.preamble:
        text = Path(args.preamble).read_text().rstrip() + "\n\n" + text
    write_text_atomic(out / "kd_sweep.md", text)
    print(text)
    return 0


def _report(name: str, r: dict[str, Any]) -> None:
    extra = f" ({r['train_seconds']:.0f} s training)" if "train_seconds" in r else ""
    print(f"{name}: λ={r['lmbda']:.4g} {r['bpp']:.4f} bpp (actual), {r['psnr']:.2f} dB{extra}", flush=True)


if __name__ == "__main__":
    from jpegnn.errors import run_script

    _quiet(loggers=True)
    run_script(main, "kd_sweep.py")
