"""``jpegnn bench``: rate-distortion benchmark of classical codecs and trained checkpoints.

Examples::

    jpegnn bench --codec jpeg webp --dataset ../shared/datasets/kodak --out runs/bench-kodak
    jpegnn bench --codec jpeg jpeg444 jpeg2000 --quality 10 30 50 70 90 -j 2 --dataset DIR --out OUT \\
        --reference ../shared/reference/compressai-results/jpeg.json --anchor jpeg
    jpegnn bench --codec jpeg --ckpt runs/lic/last.ckpt --target-bpp 0.25 0.5 1.0 --dataset DIR --out OUT
    jpegnn bench --codec jpeg --enhance checkpoints/rdn-rgb-jpeg20/last.ckpt --dataset DIR --out OUT
    jpegnn bench --codec jpeg --ckpt mbt2018-cpu-q1 mbt2018-cpu-q3 --dataset DIR --out OUT  # model zoo names

Writes ``<codec>.json`` (CompressAI format), ``<codec>_per_image.csv``, ``rd.png``/``rd.svg`` and
``bd_table.csv``/``bd_table.md`` into ``--out`` (see :mod:`jpegnn.evaluation.bench`). User errors
(missing or empty dataset, unknown codec, missing checkpoint, bad reference JSON) raise
:class:`~jpegnn.errors.JpegnnError` subclasses, which ``jpegnn`` prints as one line.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Sequence

from jpegnn.errors import ConfigError, JpegnnError

__all__ = ["main", "build_parser", "load_checkpoint_codecs"]


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError (one line) instead of printing usage and exiting 2."""

    def error(self, message: str):  # type: ignore[override]
        raise ConfigError(f"bench: {message}")


def _ints(values: Sequence[str]) -> list[int]:
    """``["5", "10"]`` or ``["5,10,15"]`` -> ``[5, 10, 15]``."""
    out = []
    for v in values:
        for part in str(v).split(","):
            if part.strip():
                try:
                    out.append(int(part))
                except ValueError:
                    raise ConfigError(f"--quality: not an integer: {part!r}") from None
    return out


def _floats(values: Sequence[str], flag: str) -> list[float]:
    out = []
    for v in values:
        for part in str(v).split(","):
            if part.strip():
                try:
                    out.append(float(part))
                except ValueError:
                    raise ConfigError(f"{flag}: not a number: {part!r}") from None
    return out


def build_parser() -> argparse.ArgumentParser:
    from jpegnn.evaluation.classical import CODECS

    p = _Parser(
        prog="jpegnn bench",
        description="Rate-distortion benchmark with real bitstreams (classical codecs via Pillow, "
        "trained checkpoints via --ckpt): per-codec CompressAI-format JSON, per-image CSV, RD plot, BD table.",
    )
    p.add_argument("--codec", nargs="*", default=None, metavar="NAME",
                   help=f"classical codecs (default: jpeg unless --ckpt is given); known: {', '.join(CODECS)}")
    p.add_argument("--ckpt", nargs="+", action="extend", default=[], metavar="CKPT",
                   help="trained checkpoints or model zoo names (jpegnn zoo list) to benchmark as learned codecs "
                        "(real entropy coding)")
    p.add_argument("--protocol", choices=("compressai", "jpegnn"), default="compressai",
                   help="how --ckpt models pad images and build entropy tables (jpegnn.coding.protocol); "
                        "default compressai, as eval_model, comparable with published results")
    p.add_argument("--refine", type=int, default=0, metavar="ITERATIONS",
                   help="--ckpt models: refine each image's latent in the encoder for this many gradient steps "
                        "(jpegnn.coding.refine; same decoder and bitstream format; default 0: off)")
    p.add_argument("--refine-method", choices=("sga", "ste"), default="sga",
                   help="how --refine relaxes rounding: sga (stochastic Gumbel annealing, default) or ste "
                        "(straight-through); the curve is named '<name>+<method><ITERATIONS>'")
    p.add_argument("--refine-lr", type=float, default=None, metavar="LR",
                   help="Adam step size of --refine (default: 5e-3 for sga, 3e-3 for ste)")
    p.add_argument("--dataset", required=True, metavar="DIR", help="folder of images (searched recursively) or one image")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder")
    p.add_argument("--quality", "-q", nargs="+", default=None, metavar="Q",
                   help="qualities for the classical codecs, space- or comma-separated (default 5,10,...,95)")
    p.add_argument("-j", "--workers", type=int, default=None, metavar="N",
                   help="worker processes (default: number of CPU cores)")
    p.add_argument("--target-bpp", nargs="+", default=None, metavar="BPP",
                   help="instead of the quality sweep, per image pick the quality closest to each target rate")
    p.add_argument("--reference", nargs="+", action="extend", default=[], metavar="JSON",
                   help="CompressAI-format result JSONs to overlay and include in the BD table")
    p.add_argument("--anchor", default=None, metavar="NAME",
                   help="BD anchor: a codec name or a reference's '<name> (reference)' (default: the first codec)")
    p.add_argument("--bd-method", choices=("cubic", "pchip"), default="cubic", help="BD interpolation (default cubic)")
    p.add_argument("--title", default=None, help="RD figure title")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--enhance", default=None, metavar="CKPT",
                   help="an EnhancementModule checkpoint: also benchmark '<codec>+<filter>' (the codec's decode "
                   "filtered; same bitstream) beside each codec")
    p.add_argument("--enhance-codec", nargs="+", default=None, metavar="NAME",
                   help="with --enhance: filter only these codecs (default: all, classical and --ckpt)")
    return p


def load_checkpoint_codecs(paths: Sequence[str], protocol: str = "compressai", refinement=None) -> list:
    """Learned codecs for ``--ckpt`` (checkpoints of one architecture, or zoo models of one
    family, form one RD curve), their latents refined per image with ``refinement`` (a
    :class:`jpegnn.coding.refine.LatentRefinement`) when it has iterations.

    Raises:
        CheckpointError: A checkpoint is neither a file nor a model zoo name, or is not a jpegnn
            checkpoint.
    """
    from jpegnn.zoo import checkpoint_source

    for path in paths:
        checkpoint_source(path)  # before any model loads: every argument names a file or a zoo model
    if not paths:
        return []
    from jpegnn.evaluation.learned import load_learned_codecs

    return load_learned_codecs([Path(p) for p in paths], protocol=protocol, refinement=refinement)


def main(argv: list[str] | None = None) -> int:
    """Run ``jpegnn bench``; returns 0. Raises :class:`~jpegnn.errors.JpegnnError` on user errors."""
    args = build_parser().parse_args(argv)
    from jpegnn.evaluation.bench import list_dataset, run_bench
    from jpegnn.evaluation.classical import get_codec
    from jpegnn.metrics.bd import BjontegaardWarning

    names = args.codec if args.codec is not None else ([] if args.ckpt else ["jpeg"])
    codecs = [get_codec(n) for n in names]  # unknown codec -> ConfigError before any work
    files = list_dataset(args.dataset)  # missing / empty dataset -> DataError
    from jpegnn.coding.refine import LatentRefinement

    refinement = LatentRefinement(args.refine, args.refine_lr, args.refine_method)  # bad values -> ConfigError naming refine
    if args.refine and not args.ckpt:
        raise ConfigError("bench: --refine refines learned codecs' latents; give --ckpt")
    codecs += load_checkpoint_codecs(args.ckpt, args.protocol, refinement)  # missing checkpoint -> CheckpointError
    if not codecs:
        raise ConfigError("bench: nothing to benchmark (give --codec and/or --ckpt)")
    if args.enhance is not None:
        from jpegnn.evaluation.enhanced import chain_enhancement

        codecs = chain_enhancement(codecs, args.enhance, only=args.enhance_codec)  # "<codec>+<filter>" curves
    elif args.enhance_codec:
        raise ConfigError("bench: --enhance-codec needs --enhance CKPT")
    with warnings.catch_warnings():
        # BD caveats are written into bd_table.md (printed below), not repeated as Python warnings
        warnings.simplefilter("ignore", BjontegaardWarning)
        result = run_bench(
            codecs,
            args.dataset,
            args.out,
            qualities=_ints(args.quality) if args.quality else None,
            workers=args.workers,
            target_bpp=_floats(args.target_bpp, "--target-bpp") if args.target_bpp else None,
            references=args.reference,
            anchor=args.anchor,
            bd_method=args.bd_method,
            progress=not args.no_progress,
            title=args.title or f"{Path(args.dataset).name} ({len(files)} images)",
        )
    n_rates = {name: len(r["results"]["bpp"]) for name, r in result.results.items()}
    print(f"benchmarked {len(files)} images in {result.elapsed_s:.1f} s: "
          + ", ".join(f"{k} ({v} points)" for k, v in n_rates.items()))
    print((result.out_dir / "bd_table.md").read_text(encoding="utf-8"))
    print("wrote " + ", ".join(str(f) for f in result.files))
    return 0


if __name__ == "__main__":  # python -m jpegnn.commands.bench ...
    try:
        sys.exit(main(sys.argv[1:]))
    except JpegnnError as exc:
        print(f"jpegnn bench: error: {exc}", file=sys.stderr)
        sys.exit(2)
