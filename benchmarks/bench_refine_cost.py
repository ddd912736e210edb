"""What encoder-side latent refinement costs and buys, beside the plain encoder, in one run.

For each image, the same model encodes it plainly (``jpegnn.coding.lic.encode``: ``g_a`` once)
and with :class:`jpegnn.coding.refine.LatentRefinement`, alternating the order per image; both
bitstreams are decoded by the same decoder. Prints per image and in total the actual bytes, the
PSNR-RGB of the 8-bit decode and the encoding wall time of both, and the ratios: encoding time
refined / plain (the cost), and the change of the objective measured on the real bits (actual
bits per pixel + λ·255²·MSE of the 8-bit decode, the quantity refinement lowers).

Usage (the committed figures: benchmarks/results/zoo_kodak_refine/README.md; refinement needs a
model whose eval forward rounds like its coder, so the retired mean-scale zoo, docs/zoo.md "Short
names": ``JPEGNN_ZOO_DIR=mean-zoo``)::

    JPEGNN_ZOO_DIR=mean-zoo python benchmarks/bench_refine_cost.py --ckpt mbt2018-mean-cpu-q3 --images ../shared/datasets/kodak \
        --limit 4 --iterations 100 --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `jpegnn` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from jpegnn.errors import ConfigError, run_script  # noqa: E402


def measure(module, x: torch.Tensor, refinement) -> dict:
    """Encode (timed), decode and measure one image: bytes, PSNR-RGB (8-bit), seconds, objective."""
    from jpegnn.coding.lic import decode, encode
    from jpegnn.metrics.image_quality import psnr_rgb

    t0 = time.perf_counter()
    enc = encode(module.model, x, module.coding_protocol, refinement, module.criterion)
    seconds = time.perf_counter() - t0
    x_hat = (decode(module.model, enc) * 255).round() / 255
    mse = float(((x_hat - x) ** 2).mean())
    bpp = enc.num_bytes * 8 / (x.shape[-2] * x.shape[-1])
    return {"bytes": enc.num_bytes, "psnr": psnr_rgb(x_hat, x), "seconds": seconds,
            "objective": bpp + module.lmbda * 255**2 * mse}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", required=True, help="checkpoint or model zoo name (an MSE-trained model)")
    p.add_argument("--images", required=True, help="folder of images (searched recursively) or one image")
    p.add_argument("--limit", type=int, default=4, help="first N images in name order (default 4)")
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--method", choices=("sga", "ste"), default="sga")
    p.add_argument("--lr", type=float, default=None, help="Adam step size (default: the method's)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args(argv)
    from jpegnn.coding.codec import load_codec_module
    from jpegnn.coding.refine import LatentRefinement, check_refinable
    from jpegnn.data.io import load_rgb
    from jpegnn.evaluation.bench import list_dataset

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {args.limit}")
    refinement = LatentRefinement(args.iterations, args.lr, args.method)
    if refinement.iterations == 0:
        raise ConfigError("--iterations must be >= 1 (0 is the plain encoder itself)")
    module = load_codec_module(args.ckpt)
    check_refinable(module.model)
    if module.hparams.get("distortion", "mse") != "mse":
        raise ConfigError(f"{args.ckpt}: trained for {module.hparams['distortion']}; this benchmark measures MSE")
    files = list_dataset(args.images)[: args.limit]
    totals = {k: {"bytes": 0, "seconds": 0.0, "objective": 0.0, "psnr": 0.0} for k in ("plain", "refined")}
    print(f"{args.ckpt} (lambda={module.lmbda}), {refinement.iterations} iterations of {refinement.method} at lr {refinement.lr}, "
          f"{torch.get_num_threads()} thread(s)")
    with torch.no_grad():
        for i, (path, name) in enumerate(files):
            x = load_rgb(path).float().div(255).unsqueeze(0)
            order = ("plain", "refined") if i % 2 == 0 else ("refined", "plain")
            res = {k: measure(module, x, refinement if k == "refined" else None) for k in order}
            for k, r in res.items():
                for f in totals[k]:
                    totals[k][f] += r[f]
            a, b = res["plain"], res["refined"]
            print(f"{name}: plain {a['bytes']} B {a['psnr']:.3f} dB {a['seconds']:.2f} s | refined "
                  f"{b['bytes']} B {b['psnr']:.3f} dB {b['seconds']:.2f} s | objective "
                  f"{100 * (b['objective'] / a['objective'] - 1):+.2f} %")
    a, b = totals["plain"], totals["refined"]
    n = len(files)
    print(f"{n} images: bytes refined/plain = {b['bytes'] / a['bytes']:.4f}, mean PSNR "
          f"{(b['psnr'] - a['psnr']) / n:+.3f} dB, objective (actual bits) "
          f"{100 * (b['objective'] / a['objective'] - 1):+.2f} %, "
          f"encoding time ratio refined/plain = {b['seconds'] / a['seconds']:.1f}")
    return 0


if __name__ == "__main__":
    run_script(main, "bench_refine_cost.py")
