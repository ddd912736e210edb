"""``make demo``: train a small hyperprior on the built-in photographs, test it with real bitstreams.

Runs ``jpegnn fit --config configs/demo.yaml`` (a few minutes on 2 CPU cores, progress bar on),
then ``jpegnn test`` on the last checkpoint, and prints one table: per image, the learned codec's
*actual* bpp (rANS bitstream bytes x 8 / pixels), PSNR-RGB, MS-SSIM-RGB, encode and decode time,
beside Pillow JPEG (4:2:0, standard tables) at the quality whose bpp is nearest. The checkpoint is
left under ``checkpoints/demo/`` and TensorBoard logs under ``runs/demo/``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from jpegnn.cli import run_lightning_cli
from jpegnn.errors import ConfigError, JpegnnError


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


def _table(rows: list[dict], jpeg_rows: list[dict]) -> str:
    head = (
        f"{'image':<16}{'size':>10} | {'learned bpp':>11}{'PSNR':>8}{'MS-SSIM':>9}{'enc ms':>9}{'dec ms':>9} |"
        f" {'JPEG q':>6}{'bpp':>7}{'PSNR':>8}{'MS-SSIM':>9}"
    )
    lines = [head, "-" * len(head)]
    for r, j in zip(rows, jpeg_rows):
        lines.append(
            f"{r['image']:<16}{str(r['width']) + 'x' + str(r['height']):>10} | {r['bpp']:>11.3f}{r['psnr_rgb']:>8.2f}"
            f"{r['ms_ssim_rgb']:>9.4f}{r['encoding_time'] * 1e3:>9.1f}{r['decoding_time'] * 1e3:>9.1f} |"
            f" {j['quality']:>6}{j['bpp']:>7.3f}{j['psnr_rgb']:>8.2f}{j['ms_ssim_rgb']:>9.4f}"
        )
    n = len(rows)

    def mean(rs, k):
        return sum(x[k] for x in rs) / n

    lines.append("-" * len(head))
    lines.append(
        f"{'mean':<16}{'':>10} | {mean(rows, 'bpp'):>11.3f}{mean(rows, 'psnr_rgb'):>8.2f}"
        f"{mean(rows, 'ms_ssim_rgb'):>9.4f}{mean(rows, 'encoding_time') * 1e3:>9.1f}"
        f"{mean(rows, 'decoding_time') * 1e3:>9.1f} | {'':>6}{mean(jpeg_rows, 'bpp'):>7.3f}"
        f"{mean(jpeg_rows, 'psnr_rgb'):>8.2f}{mean(jpeg_rows, 'ms_ssim_rgb'):>9.4f}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    extra = list(argv or [])
    try:
        config = str(_config_path())
        t0 = time.time()
        fit_cli = run_lightning_cli(["fit", "--config", config, *extra])
        fit_s = time.time() - t0
        ckpt, same_run = _fit_outputs(fit_cli)
        # the test logs (and writes results.json / per_image.csv) into the fit's run folder
        cli = run_lightning_cli(["test", "--config", config, *same_run, "--ckpt_path", str(ckpt), *extra])
    except JpegnnError as exc:
        print(f"jpegnn demo: error: {exc}", file=sys.stderr)
        return 2
    rows = cli.model.test_results["rows"]

    from jpegnn.evaluation.classical import jpeg_at_bpp

    # JPEG on exactly the images the learned codec was tested on, at its actual bpp per image
    samples = {item["name"]: item["image"] for item in cli.datamodule.test_dataset}
    jpeg_rows = [jpeg_at_bpp(samples[r["image"]], r["bpp"]) for r in rows]
    print(
        f"\njpegnn demo: bmshj2018-hyperprior (N=64, M=96) trained {fit_s / 60:.1f} min on 2 CPU cores on the "
        "built-in photographs,\ntested on the same photographs at full size with real rANS bitstreams "
        "(bpp = actual file bits / pixels),\nbeside Pillow JPEG 4:2:0 at the quality with the nearest bpp.\n"
    )
    print(_table(rows, jpeg_rows))
    print(f"\ncheckpoint: {ckpt.resolve()}\nresults:    {Path(cli.trainer.log_dir, 'results.json').resolve()}")
    print("TensorBoard: .venv/bin/tensorboard --logdir runs/demo")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
