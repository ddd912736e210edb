"""``jpegnn compress IMAGE OUT --ckpt CKPT`` and ``jpegnn decompress IN IMAGE [--ckpt CKPT]``.

``CKPT`` is a checkpoint file or a model zoo short name (``mbt2018-cpu-q3``; ``jpegnn zoo list``).
"""

from __future__ import annotations

import argparse

import torch


def main_compress(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="jpegnn compress", description="Encode an image with a trained checkpoint.")
    p.add_argument("image", help="input image (any size; PNG, JPEG, ...)")
    p.add_argument("out", help="output .jnn file")
    p.add_argument("--ckpt", required=True,
                   help="LICModule checkpoint written by jpegnn fit, or a model zoo name (jpegnn zoo list)")
    p.add_argument("--protocol", choices=("compressai", "jpegnn"), default="compressai",
                   help="padding and entropy-table protocol (jpegnn.coding.protocol; default compressai: "
                        "centred zero padding, quantiles as trained); decompress reads it from the file")
    p.add_argument("--refine", type=int, default=0, metavar="ITERATIONS",
                   help="refine the image's latent in the encoder for this many gradient steps on the model's "
                        "own rate-distortion objective (jpegnn.coding.refine: slower encoding, usually fewer bits "
                        "and higher PSNR; the decoder and file format are unchanged; default 0: off)")
    p.add_argument("--refine-method", choices=("sga", "ste"), default="sga",
                   help="how --refine relaxes rounding: sga (stochastic Gumbel annealing, default) or ste (straight-through)")
    p.add_argument("--refine-lr", type=float, default=None, metavar="LR",
                   help="Adam step size of --refine (default: 5e-3 for sga, 3e-3 for ste)")
    args = p.parse_args(argv)
    from jpegnn.coding.codec import compress_image, load_codec_module
    from jpegnn.coding.refine import LatentRefinement

    refinement = LatentRefinement(args.refine, args.refine_lr, args.refine_method)  # bad values -> ConfigError naming refine
    with torch.no_grad():  # scoped: a caller of main() (tests, Python) keeps its grad mode
        module = load_codec_module(args.ckpt, args.protocol)
        report = compress_image(args.image, args.out, module, ckpt_path=args.ckpt, refinement=refinement)
        print(report.line("wrote"))
    return 0


def main_decompress(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="jpegnn decompress", description="Decode a .jnn file to an image.")
    p.add_argument("src", help="input .jnn file")
    p.add_argument("image", help="output image (PNG recommended)")
    p.add_argument("--ckpt", default=None, help="checkpoint or model zoo name (default: the one recorded when compressing)")
    args = p.parse_args(argv)
    from jpegnn.coding.codec import decompress_file

    with torch.no_grad():
        print(decompress_file(args.src, args.image, ckpt=args.ckpt).line("decoded"))
    return 0


main = main_compress
