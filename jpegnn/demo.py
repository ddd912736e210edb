"""``make demo``: the CPU model zoo on photographs it never saw, beside JPEG and WebP at matched bpp.

What runs (a few minutes on 2 CPU cores after set-up):

1. ``jpegnn fit --config configs/demo.yaml``: a short fine-tune of the zoo's quality-3 model on three
   built-in photographs that are not test images (progress bar, TensorBoard logs in ``runs/demo``),
   then ``jpegnn test`` of that checkpoint with real rANS bitstreams on the test photographs.
2. Every rate of the zoo family (``mbt2018-cpu``, at least three) codes the test photographs
   for real (CompressAI's protocol: actual bpp = payload bits / pixels); per image, Pillow JPEG 4:2:0
   and WebP run at the quality whose bpp is nearest to the learned codec's.
3. ``jpegnn bench`` on the same images (JPEG and WebP quality sweeps, the zoo as one curve) draws the
   RD figure and the BD table.

With ``--kodak DIR`` the 24 Kodak images get steps 2-3 too. Outputs go to ``outputs/demo/``:
``demo_summary.json`` (per codec and rate: mean bpp, PSNR-RGB, MS-SSIM-RGB at the matched points,
and the mean PSNR gain over JPEG and WebP), ``<set>/rd.png``, ``<set>/bd_table.md`` and the bench's
per-codec JSON/CSV. The zoo was trained on ``shared/datasets/photos`` (BSDS500 train/val,
Sun-Hays80, two ImageNet samples); neither the built-in photographs nor Kodak are in it.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Optional

from jpegnn.cli import run_lightning_cli
from jpegnn.errors import ConfigError, JpegnnError

#: the zoo family the demo shows, and the built-in photographs it codes
FAMILY = "mbt2018-cpu"
TEST_SAMPLES = ("astronaut", "coffee", "chelsea", "rocket")
#: classical codecs matched to each learned rate, per image
MATCHED = ("jpeg", "webp")
OUT = Path("outputs/demo")
ZOO_TRAINING_DATA = (
    "shared/datasets/photos train split: BSDS500 train+val, Sun-Hays80 (downscaled by 2), two ImageNet samples"
)


def _config_path() -> Path:
    here = Path("configs/demo.yaml")
    if here.is_file():
        return here
    beside = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
    if beside.is_file():
        return beside
    raise ConfigError(
        f"configs/demo.yaml not found in the current folder ({Path.cwd()}) nor in the jpegnn checkout "
        f"({beside.parent}); run `make demo` from the repository root"
    )


def _fit_outputs(fit_cli) -> tuple[Path, list[str]]:
    """The checkpoint this fit wrote last, and the flags that make ``test`` log into the fit's run folder.

    ModelCheckpoint does not overwrite a ``last.ckpt`` left by an earlier run: it writes
    ``last-v1.ckpt`` beside it, so the path must come from the callback, not be assumed.
    """
    callback = fit_cli.trainer.checkpoint_callback
    last = getattr(callback, "last_model_path", "") if callback is not None else ""
    if not last or not Path(last).is_file():
        raise ConfigError("the demo fit saved no last checkpoint (ModelCheckpoint with save_last: true is required)")
    logger = fit_cli.trainer.logger
    flags = [f"--trainer.logger.init_args.version={logger.version}"] if isinstance(getattr(logger, "version", None), int) else []
    return Path(last), flags


def zoo_rates(family: str = FAMILY) -> list:
    """The zoo entries of ``family``, lowest λ first; at least three are needed."""
    import jpegnn.zoo

    entries = sorted((e for e in jpegnn.zoo.index() if e.family == family), key=lambda e: e.lmbda)
    if len(entries) < 3:
        raise ConfigError(
            f"the model zoo ({jpegnn.zoo.zoo_dir()}) has {len(entries)} rate(s) of {family}; the demo needs 3 "
            "(see docs/zoo.md, 'Adding a rate')"
        )
    return entries


def evaluate_set(entries: list, images: dict[str, Any]) -> dict[str, Any]:
    """Code ``images`` (name -> 3xHxW float tensor) with every zoo rate and the matched classical codecs.

    Returns ``{"rates": [{"name", "lmbda", "learned": rows, "jpeg": rows, "webp": rows}, ...]}`` with
    one per-image row per image (bpp actual, PSNR-RGB, MS-SSIM-RGB, ...).
    """
    import torch

    import jpegnn.zoo
    from jpegnn.coding.lic import evaluate_image
    from jpegnn.evaluation.classical import RateMonotonicityWarning, get_codec, row_at_target_bpp
    from jpegnn.evaluation.fast_quality import ReferenceQuality
    from jpegnn.evaluation.protocol import as_uint8_hwc

    pixels = {name: as_uint8_hwc(x) for name, x in images.items()}
    refs = {name: (img, ReferenceQuality(img)) for name, img in pixels.items()}
    classical = {name: get_codec(name) for name in MATCHED}
    out = []
    for e in entries:
        model = jpegnn.zoo.load(e.name)
        learned = []
        with torch.no_grad():
            for name, x in images.items():
                row = evaluate_image(model, x.unsqueeze(0), name)
                row.pop("x_hat")
                learned.append(row)
        point = {"name": e.name, "lmbda": e.lmbda, "learned": learned}
        with warnings.catch_warnings():
            # a rate that does not rise with quality on some image (JPEG q1..3 on flat content) makes
            # row_at_target_bpp scan every quality instead of bisecting: the nearest bpp is still found
            warnings.simplefilter("ignore", RateMonotonicityWarning)
            for cname, codec in classical.items():
                point[cname] = [row_at_target_bpp(codec, refs[r["image"]][0], r["bpp"], r["image"], refs[r["image"]][1])
                                for r in learned]
        out.append(point)
    return {"rates": out}


def summarize_set(result: dict[str, Any]) -> dict[str, Any]:
    """Per codec and rate: mean bpp, PSNR-RGB, MS-SSIM-RGB; mean PSNR gain of the zoo over each codec."""
    from jpegnn.evaluation.results import summarize

    codecs: dict[str, dict[str, float]] = {}
    gains: dict[str, list[float]] = {c: [] for c in MATCHED}
    for p in result["rates"]:
        for key in ("learned", *MATCHED):
            label = p["name"] if key == "learned" else f"{key}@{p['name']}"
            mean = summarize(p[key])  # NaN MS-SSIM of small images skipped
            codecs[label] = {m: mean[m] for m in ("bpp", "psnr_rgb", "ms_ssim_rgb")}
        for c in MATCHED:
            gains[c] += [a["psnr_rgb"] - b["psnr_rgb"] for a, b in zip(p["learned"], p[c])]
    return {
        "codecs": codecs,
        **{f"mean_gain_db_vs_{c}": sum(g) / len(g) for c, g in gains.items()},
        "images": [r["image"] for r in result["rates"][0]["learned"]],
    }


def table(result: dict[str, Any], summary: dict[str, Any], title: str) -> str:
    head = (f"{'zoo rate':<22}| {'learned bpp':>11}{'PSNR':>7}{'MS-SSIM':>8} | {'JPEG bpp':>8}{'PSNR':>7} | "
            f"{'WebP bpp':>8}{'PSNR':>7} | {'vs JPEG':>7}{'vs WebP':>8}")
    lines = [title, head, "-" * len(head)]
    for p in result["rates"]:
        s, j, w = (summary["codecs"][k] for k in (p["name"], f"jpeg@{p['name']}", f"webp@{p['name']}"))
        lines.append(
            f"{p['name']:<22}| {s['bpp']:>11.3f}{s['psnr_rgb']:>7.2f}{s['ms_ssim_rgb']:>8.4f} | {j['bpp']:>8.3f}"
            f"{j['psnr_rgb']:>7.2f} | {w['bpp']:>8.3f}{w['psnr_rgb']:>7.2f} | {s['psnr_rgb'] - j['psnr_rgb']:>+7.2f}"
            f"{s['psnr_rgb'] - w['psnr_rgb']:>+8.2f}"
        )
    lines.append("-" * len(head))
    lines.append(f"mean PSNR gain of the zoo at matched bpp (per image): {summary['mean_gain_db_vs_jpeg']:+.2f} dB "
                 f"over JPEG 4:2:0, {summary['mean_gain_db_vs_webp']:+.2f} dB over WebP")
    return "\n".join(lines)


def _bench(entries: list, images: dict[str, Any], out: Path, title: str) -> Path:
    """jpegnn bench (JPEG/WebP sweeps + the zoo curve) on ``images`` written as PNG under ``out/images``."""
    from PIL import Image

    from jpegnn.evaluation.bench import run_bench
    from jpegnn.evaluation.classical import get_codec
    from jpegnn.evaluation.learned import load_learned_codecs
    from jpegnn.metrics.bd import BjontegaardWarning
    from jpegnn.evaluation.protocol import as_uint8_hwc

    folder = out / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for name, x in images.items():
        Image.fromarray(as_uint8_hwc(x)).save(folder / f"{Path(name).name}.png")
    codecs = [get_codec(c) for c in MATCHED] + load_learned_codecs([f"zoo:{e.name}" for e in entries], device="cpu")
    with warnings.catch_warnings():
        # BD caveats (partial overlap) are written into bd_table.md, as `jpegnn bench` does
        warnings.simplefilter("ignore", BjontegaardWarning)
        # PCHIP: defined from 2 points per curve (the cubic fit needs 4; the zoo may have 3 rates)
        run_bench(codecs, folder, out, workers=2, progress=False, anchor="jpeg", bd_method="pchip", title=title)
    return out / "rd.png"


def _images(dataset) -> dict[str, Any]:
    return {item["name"]: item["image"] for item in (dataset[i] for i in range(len(dataset)))}


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jpegnn.demo", description=__doc__.splitlines()[0])
    p.add_argument("--kodak", default=None, metavar="DIR", help="also code the 24 Kodak images in DIR")
    p.add_argument("--out", default=str(OUT), metavar="DIR", help=f"output folder (default {OUT})")
    args, extra = p.parse_known_args(list(argv or []))
    out = Path(args.out)
    try:
        entries = zoo_rates()  # before training: a missing zoo fails at once
        config = str(_config_path())
        t0 = time.time()
        fit_cli = run_lightning_cli(["fit", "--config", config, *extra])
        fit_s = time.time() - t0
        ckpt, same_run = _fit_outputs(fit_cli)
        # the test logs (and writes results.json / per_image.csv) into the fit's run folder
        cli = run_lightning_cli(["test", "--config", config, *same_run, "--ckpt_path", str(ckpt), *extra])
        sets = {"builtin": _images(cli.datamodule.test_dataset)}
        if args.kodak:
            from jpegnn.data import Kodak

            sets["kodak"] = _images(Kodak(args.kodak))
        results = {name: evaluate_set(entries, imgs) for name, imgs in sets.items()}
        figures = {name: _bench(entries, imgs, out / name, f"{name} ({len(imgs)} images)") for name, imgs in sets.items()}
    except JpegnnError as exc:
        print(f"jpegnn demo: error: {exc}", file=sys.stderr)
        return 2

    from jpegnn.evaluation.results import summarize
    from jpegnn.utils.atomic import write_json_atomic

    tuned = summarize(cli.model.test_results["rows"])
    summary = {
        "zoo": {"family": FAMILY, "rates": [e.name for e in entries], "trained_on": ZOO_TRAINING_DATA},
        "fine_tuned": {
            "from": f"{FAMILY}-q3", "checkpoint": str(ckpt), "steps": int(fit_cli.trainer.global_step),
            "minutes": fit_s / 60, "trained_on": "built-in photographs motorcycle_left, motorcycle_right, hubble_deep_field",
            "test": {k: tuned[k] for k in ("bpp", "psnr_rgb", "ms_ssim_rgb")},
        },
        "protocol": "compressai (actual rANS payload bits / pixels; classical codecs: file bits / pixels)",
        "sets": {name: summarize_set(res) for name, res in results.items()},
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "demo_summary.json", summary)

    print(f"\njpegnn demo: the CPU model zoo ({FAMILY}, trained on {ZOO_TRAINING_DATA}) on photographs it never saw,")
    print("coded with real rANS bitstreams (bpp = actual bits / pixels), beside Pillow JPEG 4:2:0 and WebP at the")
    print("quality whose bpp is nearest, per image.\n")
    for name in results:
        s = summary["sets"][name]
        print(table(results[name], s, f"{name}: {', '.join(s['images'][:6])}{' ...' if len(s['images']) > 6 else ''}"))
        print(f"RD figure: {figures[name].resolve()}\n")
    t = summary["fine_tuned"]
    print(f"fine-tune ({t['steps']} steps, {t['minutes']:.1f} min on the CPU, from {FAMILY}-q3 on "
          f"{t['trained_on']}):\n  jpegnn test on the built-in test photographs: {t['test']['bpp']:.3f} bpp, "
          f"{t['test']['psnr_rgb']:.2f} dB, MS-SSIM {t['test']['ms_ssim_rgb']:.4f}")
    print(f"\ncheckpoint: {ckpt.resolve()}\nresults:    {Path(cli.trainer.log_dir, 'results.json').resolve()}")
    print(f"summary:    {(out / 'demo_summary.json').resolve()}")
    print("TensorBoard: .venv/bin/tensorboard --logdir runs/demo")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
