"""Knowledge-distillation sweep over student widths: KD student vs the same student without KD.

For each teacher checkpoint (one rate point each, e.g. the same architecture trained by
``jpegnn fit`` at two λ) and each student width N:

1. a **KD student** (:class:`jpegnn.tasks.DistillationModule`: M and N_entropy = the teacher's,
   λ = the teacher's, loss ``kd_weights``) and
2. the **same student without distillation** (:class:`jpegnn.tasks.LICModule` with identical
   architecture, N, M, N_entropy, λ, optimizer and initial weights: its loss is the KD loss with
   weights ``(0, 0, 0, 1)``)

are trained for the same number of steps on the same batches (same seed), then tested, like the
teacher, with real rANS bitstreams on the test images (bpp = payload bytes x 8 / pixels, PSNR and
MS-SSIM of the 8-bit decoded image). Each width gets one table:

* bpp, PSNR (dB), MS-SSIM per model and rate point;
* BD-rate (%, negative = fewer bits at equal PSNR; :func:`jpegnn.metrics.bd.bd_rate`, PCHIP with
  2-3 rate points, cubic with 4+) of the KD student against the teacher and against the no-KD
  student, and of the no-KD student against the teacher. With a single teacher BD-rate is
  undefined: the table then gives the differences at the one tested rate point;
* params, decoder GMACs (fvcore via :mod:`jpegnn.profiling`, at ``--profile-size``), median
  real decode latency over the test images (ms, on this machine, including rANS decoding), and
  GPU decode energy (J/frame, NVML; null without a GPU).

Example (CPU, a few minutes per teacher)::

    jpegnn fit --config configs/lic/bmshj2018-hyperprior.yaml ...   # the teacher(s) first
    python benchmarks/kd_sweep.py --teacher runs/t_q3/last.ckpt runs/t_q5/last.ckpt \\
        --widths 16 32 64 --steps 300 --train-root /path/vimeo_septuplet --test-root /path/kodak \\
        --test-images 4 --out benchmarks/results/kd_sweep_cpu

Writes ``kd_sweep.json`` (every number) and ``kd_sweep.md`` (the tables) into ``--out``, and the
student checkpoints into ``--out/ckpt`` (``--keep-checkpoints``).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Optional

warnings.filterwarnings("ignore", message=r"`torch.jit.script` is deprecated")
warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
warnings.filterwarnings("ignore", message=r".*does not have many workers")

import lightning as L  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from jpegnn.data import ImageDataModule, ImageFolder, Vimeo90k  # noqa: E402
from jpegnn.tasks import DistillationModule, LICModule  # noqa: E402
from jpegnn.utils.checkpoints import load_module  # noqa: E402


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", nargs="+", required=True, help="teacher checkpoint(s) (jpegnn fit), one rate point each")
    p.add_argument("--widths", nargs="+", type=int, default=[16, 32, 64], help="student widths N")
    p.add_argument("--steps", type=int, default=300, help="training steps (batches) of every student")
    p.add_argument("--train-root", required=True, help="Vimeo-90k septuplet folder (training)")
    p.add_argument("--test-root", required=True, help="folder of test images (e.g. Kodak)")
    p.add_argument("--test-images", type=int, default=4, help="first K images of --test-root (sorted by name)")
    p.add_argument("--patch", type=int, default=128, help="training patch side (px, multiple of 64)")
    p.add_argument("--batch", type=int, default=8, help="training batch size")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of the networks (aux: 1e-3)")
    p.add_argument("--lr-drop-at", type=float, default=0.75,
                   help="fraction of --steps after which the lr is multiplied by 0.3 (as configs/demo.yaml)")
    p.add_argument("--kd-weights", nargs="+", type=float, default=[0.2, 0.2, 0.2, 0.4],
                   help="DistillationModule kd_weights (latent y, hyper-latent z, output, RD)")
    p.add_argument("--latent-loss", default="mse", choices=("mse", "cosine", "kl"))
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile-size", default="768x512", help="WIDTHxHEIGHT for params/GMACs/energy")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep the student checkpoints in --out/ckpt")
    return p.parse_args(argv)


def _trainer(root: Path, steps: int) -> L.Trainer:
    return L.Trainer(
        accelerator="auto", devices=1, max_steps=steps, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
        default_root_dir=str(root),
    )


def _optimizers(args: argparse.Namespace) -> dict[str, Any]:
    milestone = max(1, int(args.steps * args.lr_drop_at))
    return dict(
        optimizer=lambda params: torch.optim.Adam(params, lr=args.lr),
        aux_optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[milestone], gamma=0.3),
        lr_scheduler_interval="step",
    )


def _datamodule(args: argparse.Namespace, test_dir: Path) -> ImageDataModule:
    return ImageDataModule(
        train=Vimeo90k(args.train_root, split="train"), test=ImageFolder(str(test_dir)),
        patch_size=args.patch, batch_size=args.batch, test_batch_size=1, num_workers=0, seed=args.seed,
    )


def _test(module: LICModule, dm: ImageDataModule, root: Path) -> dict[str, Any]:
    """Real-bitstream test (LICModule.test_step); returns mean bpp/PSNR/MS-SSIM and decode times."""
    root.mkdir(parents=True, exist_ok=True)
    trainer = L.Trainer(accelerator="auto", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=str(root))
    trainer.test(module, datamodule=dm, verbose=False)
    rows = module.test_results["rows"]
    return {
        "bpp": statistics.fmean(r["bpp"] for r in rows),
        "psnr": statistics.fmean(r["psnr_rgb"] for r in rows),
        "ms_ssim": statistics.fmean(r["ms_ssim_rgb"] for r in rows),
        "decode_ms_median": 1000 * statistics.median(r["decoding_time"] for r in rows),
        "images": [r["image"] for r in rows],
    }


def _profile(module: LICModule, size: tuple[int, int], energy) -> dict[str, Any]:
    """Params, decoder GMACs (fvcore) and, on a GPU, decode energy (jpegnn.profiling)."""
    from jpegnn.profiling import complexity_report

    report = complexity_report(module.model, size, device="cpu")
    out = {"params": report["params"], "gmacs_decoder": report.get("gmacs_decoder"), "energy_j_per_frame": None,
           "energy_unavailable": None}
    if energy is not None and energy.available:
        from jpegnn.profiling import profile_module

        row = profile_module(module, size, device="cuda", repeats=3, warmup=1, energy=energy, energy_seconds=1.0)
        out["energy_j_per_frame"] = row["energy_j_per_frame"]
        module.to("cpu")
    else:
        out["energy_unavailable"] = getattr(energy, "reason", "not measured")
    return out


def _bd(anchor: list[dict], test: list[dict]) -> Optional[float]:
    from jpegnn.metrics.bd import bd_rate

    if len(anchor) < 2 or len(test) < 2:
        return None
    method = "cubic" if min(len(anchor), len(test)) >= 4 else "pchip"
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        value = bd_rate([a["bpp"] for a in anchor], [a["psnr"] for a in anchor],
                        [t["bpp"] for t in test], [t["psnr"] for t in test], method=method)
    return None if math.isnan(value) else value


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "null"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _markdown(doc: dict[str, Any]) -> str:
    lines = [f"# KD sweep ({doc['meta']['device']})", "", doc["meta"]["setup"], ""]
    teacher_points = doc["teacher"]["points"]
    for width in doc["widths"]:
        w = doc["by_width"][str(width)]
        lines += [f"## student N={width}", ""]
        lines.append("| model | rate point (λ) | bpp | PSNR dB | MS-SSIM | params | dec. GMACs | dec. ms (median) | J/frame |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for name, points, prof in (("teacher", teacher_points, doc["teacher"]["profile"]),
                                   ("KD student", w["kd"], w["profile"]),
                                   ("no-KD student", w["no_kd"], w["profile"])):
            for p in points:
                lines.append(
                    f"| {name} | {p['lmbda']:.4g} | {_fmt(p['bpp'], 4)} | {_fmt(p['psnr'], 2)} | {_fmt(p['ms_ssim'], 4)} | "
                    f"{prof['params']} | {_fmt(prof['gmacs_decoder'], 2)} | {_fmt(p['decode_ms_median'], 1)} | "
                    f"{_fmt(prof['energy_j_per_frame'], 4)} |"
                )
        lines.append("")
        bd = w["bd_rate_pct"]
        if bd["kd_vs_teacher"] is not None:
            lines.append(
                f"BD-rate (PSNR, {bd['method']}): KD vs teacher {_fmt(bd['kd_vs_teacher'], 2)} %, "
                f"KD vs no-KD {_fmt(bd['kd_vs_no_kd'], 2)} %, no-KD vs teacher {_fmt(bd['no_kd_vs_teacher'], 2)} %"
            )
        else:
            lines.append("BD-rate: undefined with one rate point; differences at the tested point instead:")
        for d in w["at_rate_points"]:
            lines.append(
                f"- λ={d['lmbda']:.4g}: KD − no-KD: {_fmt(d['kd_minus_no_kd_psnr_db'], 2)} dB PSNR, "
                f"{_fmt(d['kd_vs_no_kd_bpp_pct'], 1)} % bpp; KD − teacher: {_fmt(d['kd_minus_teacher_psnr_db'], 2)} dB, "
                f"{_fmt(d['kd_vs_teacher_bpp_pct'], 1)} % bpp"
            )
        lines.append("")
    lines += ["Notes:", *[f"- {n}" for n in doc["meta"]["notes"]], ""]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="kd_sweep_"))
    size = tuple(int(v) for v in args.profile_size.lower().split("x"))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    from jpegnn.profiling import setup_energy

    energy = setup_energy(device, idle_seconds=1.0)

    # the first K test images, through a folder of links (ImageFolder sorts by name)
    test_dir = work / "test_images"
    test_dir.mkdir()
    images = sorted(p for p in Path(args.test_root).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    for p in images[: args.test_images]:
        os.symlink(p.resolve(), test_dir / p.name)
    dm = _datamodule(args, test_dir)

    t_start = time.time()
    teachers = []
    for path in args.teacher:
        module = load_module(path, LICModule)
        teachers.append((path, module))
    teachers.sort(key=lambda t: t[1].lmbda)
    teacher_points = []
    for path, module in teachers:
        res = _test(module, dm, work / "test_teacher")
        res.update(lmbda=module.lmbda, checkpoint=str(path))
        teacher_points.append(res)
        print(f"teacher λ={module.lmbda:.4g}: {res['bpp']:.4f} bpp, {res['psnr']:.2f} dB", flush=True)
    doc: dict[str, Any] = {
        "teacher": {"points": teacher_points, "profile": _profile(teachers[0][1], size, energy),
                    "hparams": {k: teachers[0][1].hparams.get(k) for k in ("architecture", "quality", "N", "M", "N_entropy")}},
        "widths": args.widths,
        "by_width": {},
    }

    for width in args.widths:
        kd_points, no_kd_points, train_s = [], [], {"kd": [], "no_kd": []}
        profile = None
        for path, teacher in teachers:
            L.seed_everything(args.seed, verbose=False)
            kd = DistillationModule(teacher_ckpt=str(path), N=width, kd_weights=tuple(args.kd_weights),
                                    latent_loss=args.latent_loss, results_name=f"kd-N{width}", **_optimizers(args))
            hp = kd.hparams
            plain = LICModule(hp.architecture, quality=hp.quality, N=width, M=hp.M, N_entropy=hp.N_entropy,
                              lmbda=kd.lmbda, distortion=hp.distortion, results_name=f"nokd-N{width}", **_optimizers(args))
            plain.model.load_state_dict(kd.model.state_dict())  # identical initial weights
            for name, module, points in (("kd", kd, kd_points), ("no_kd", plain, no_kd_points)):
                L.seed_everything(args.seed, verbose=False)  # same batches and crops
                t0 = time.time()
                trainer = _trainer(work / f"{name}_N{width}", args.steps)
                trainer.fit(module, datamodule=dm)
                train_s[name].append(time.time() - t0)
                ckpt = work / f"{name}_N{width}_lmbda{kd.lmbda:g}.ckpt"
                trainer.save_checkpoint(ckpt)
                student = load_module(ckpt, LICModule)  # the deployable codec (a KD student loads as LICModule)
                res = _test(student, dm, work / f"test_{name}_N{width}")
                res.update(lmbda=kd.lmbda, train_seconds=train_s[name][-1], steps=trainer.global_step)
                points.append(res)
                if args.keep_checkpoints:
                    (out / "ckpt").mkdir(exist_ok=True)
                    shutil.copy(ckpt, out / "ckpt" / ckpt.name)
                print(f"N={width} {name} λ={kd.lmbda:.4g}: {res['bpp']:.4f} bpp, {res['psnr']:.2f} dB "
                      f"({train_s[name][-1]:.0f} s training)", flush=True)
                if profile is None and name == "no_kd":
                    profile = _profile(student, size, energy)
        method = "cubic" if len(teachers) >= 4 else "pchip"
        at_points = []
        for t, k, n in zip(teacher_points, kd_points, no_kd_points):
            at_points.append({
                "lmbda": t["lmbda"],
                "kd_minus_no_kd_psnr_db": k["psnr"] - n["psnr"],
                "kd_vs_no_kd_bpp_pct": 100 * (k["bpp"] / n["bpp"] - 1),
                "kd_minus_teacher_psnr_db": k["psnr"] - t["psnr"],
                "kd_vs_teacher_bpp_pct": 100 * (k["bpp"] / t["bpp"] - 1),
            })
        doc["by_width"][str(width)] = {
            "kd": kd_points, "no_kd": no_kd_points, "profile": profile, "at_rate_points": at_points,
            "bd_rate_pct": {
                "method": method if len(teachers) >= 2 else None,
                "kd_vs_teacher": _bd(teacher_points, kd_points),
                "kd_vs_no_kd": _bd(no_kd_points, kd_points),
                "no_kd_vs_teacher": _bd(teacher_points, no_kd_points),
            },
        }
        # write after every width: a long sweep keeps what it measured
        _write(out, doc, args, device, energy, t_start)
    shutil.rmtree(work, ignore_errors=True)
    print((out / "kd_sweep.md").read_text())
    return 0


def _write(out: Path, doc: dict[str, Any], args: argparse.Namespace, device: str, energy, t_start: float) -> None:
    from jpegnn.utils.atomic import write_json_atomic

    threads = torch.get_num_threads()
    doc["meta"] = {
        "device": f"{device}" + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else f", {threads} torch threads"),
        "setup": (
            f"Students trained {args.steps} steps each (batch {args.batch}, {args.patch} px crops of {args.train_root}, "
            f"Adam lr {args.lr} x0.3 after {args.lr_drop_at:.0%} of the steps, seed {args.seed}); KD loss kd_weights="
            f"{tuple(args.kd_weights)} with {args.latent_loss} latents; no-KD = same student, same init and batches, RD "
            f"loss only. Tested with real rANS bitstreams on the first {args.test_images} images of {args.test_root}."
        ),
        "notes": [
            "bpp = actual bitstream bytes x 8 / pixels; PSNR/MS-SSIM of the 8-bit decoded image, mean over images.",
            "BD-rate in %: negative = fewer bits than the anchor at equal PSNR (jpegnn.metrics.bd.bd_rate, over the "
            "overlapping PSNR range only).",
            f"params and decoder GMACs (fvcore, 1 MAC = 1 fused multiply-add) at {args.profile_size}; the decoder side "
            "is h_s + g_s (jpegnn.profiling).",
            "decode ms: median real decode (rANS + networks) over the test images on this machine"
            + (", which other processes shared (noisy)" if device == "cpu" else ""),
            "J/frame: GPU energy above idle of one real decode (NVML); "
            + ("null: " + str(energy.reason) if not energy.available else "measured"),
        ],
        "wall_seconds": time.time() - t_start,
        "command": "python benchmarks/kd_sweep.py " + " ".join(sys.argv[1:]),
    }
    write_json_atomic(out / "kd_sweep.json", doc)
    (out / "kd_sweep.md").write_text(_markdown(doc))


if __name__ == "__main__":
    sys.exit(main())
