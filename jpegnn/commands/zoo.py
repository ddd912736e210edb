"""``jpegnn zoo list|verify|release|remove|widen|add-context``: the model zoo's index and release files (:mod:`jpegnn.zoo`).

Examples::

    jpegnn zoo list                 # short names, λ, N/M, steps, CPU hours, Kodak bpp/PSNR, files
    jpegnn zoo verify               # re-hash every release file; exit 2 with one line per bad file
    jpegnn zoo release --ckpt checkpoints/zoo-train/best.ckpt --family mbt2018-cpu --quality 3 \\
        --cpu-hours 41.5 --data "1,179 photographs (configs/data/photos.yaml)" \\
        --config configs/zoo/context.yaml --kodak-json runs/zoo/version_3/results.json
    jpegnn zoo remove mbt2018-cpu   # a family (or one rate, mbt2018-cpu-q3): files and entries

    # widen and add-context take an mbt2018-mean (a zoo name, a release file or a jpegnn fit checkpoint):
    jpegnn zoo widen q5-mean.pth.tar --N 128 --M 192 --out runs/q5-wide.pth.tar   # then fit from it:
    jpegnn fit ... --model.init_args.N 128 --model.init_args.M 192 --model.init_args.weights runs/q5-wide.pth.tar

    jpegnn zoo add-context q5-mean.pth.tar --out runs/q5-ctx.pth.tar   # mbt2018 that codes the same
    jpegnn zoo add-context q5-mean.pth.tar --out runs/q5-ctx.pth.tar \\
        --fit-context ../shared/datasets/photos --fit-dataset photos   # + its context fitted to the latents
    jpegnn fit ... --model.init_args.architecture mbt2018 --model.init_args.weights runs/q5-ctx.pth.tar

``$JPEGNN_ZOO_DIR`` replaces the zoo folder (``checkpoints/zoo/``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from jpegnn.errors import ConfigError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError (one line) instead of printing usage and exiting 2."""

    def error(self, message: str):  # type: ignore[override]
        raise ConfigError(f"zoo: {message}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="jpegnn zoo", description="The model zoo: released learned codecs by short name (jpegnn.zoo).")
    sub = p.add_subparsers(dest="action", metavar="{list,verify,release,remove,widen,add-context}")
    sub.required = True
    sub.add_parser("list", help="a table of the zoo's models")
    sub.add_parser("verify", help="re-hash every release file against index.json (exit 2 if any is bad)")
    r = sub.add_parser("release", help="add a trained checkpoint to the zoo (or replace its rate)")
    r.add_argument("--ckpt", required=True, help="LICModule (or KD student) checkpoint written by jpegnn fit")
    r.add_argument("--family", required=True, help="model family, e.g. mbt2018-cpu (short name <family>-q<quality>)")
    r.add_argument("--quality", type=int, default=None, help="rate index 1..8 (default: the checkpoint's quality)")
    r.add_argument("--cpu-hours", type=float, required=True, help="CPU hours the training took")
    r.add_argument("--data", required=True, help="training data, free text")
    r.add_argument("--config", required=True, help="the jpegnn fit config used")
    r.add_argument("--steps", type=int, default=None, help="training steps (default: the checkpoint's global_step)")
    r.add_argument("--kodak-json", default=None, metavar="RESULTS_JSON",
                   help="results.json of `jpegnn test` on Kodak: its bpp, PSNR-RGB, MS-SSIM-RGB and protocol")
    r.add_argument("--notes", default="", help="free text")
    d = sub.add_parser("remove", help="take rates or whole families out of the zoo (index entries and files)")
    d.add_argument("names", nargs="+", metavar="NAME", help="short name (<family>-q<quality>) or family")
    w = sub.add_parser("widen", help="more channels (N, M) for a trained model, same output (jpegnn.models.lic.widen)")
    w.add_argument("source", help="zoo short name, CompressAI state-dict file or jpegnn fit checkpoint")
    w.add_argument("--N", type=int, default=None, help="the new transform / hyper-latent width (default: the source's)")
    w.add_argument("--M", type=int, default=None, help="the new latent width (default: the source's)")
    w.add_argument("--out", required=True, help="the widened state-dict file to write")
    w.add_argument("--architecture", default=None,
                   help="mbt2018-mean or bmshj2018-hyperprior (default: the zoo entry's or the checkpoint's)")
    w.add_argument("--new-scale", type=float, default=0.1,
                   help="factor on the random init of the new latent and hyper-latent channels")
    w.add_argument("--seed", type=int, default=0, help="seed of that random init")
    c = sub.add_parser("add-context", help="an mbt2018-mean model as an mbt2018 (serial context) that codes the same "
                                           "(jpegnn.models.lic.add_context)")
    c.add_argument("source", help="mbt2018-mean: zoo short name, CompressAI state-dict file or jpegnn fit checkpoint")
    c.add_argument("--out", required=True, help="the mbt2018 state-dict file to write")
    c.add_argument("--calibration", default=None, metavar="DIR",
                   help="images whose hyperprior means set the offsets (default: the built-in sample photographs)")
    c.add_argument("--seed", type=int, default=0, help="seed of the context conv's and spare units' init")
    f = c.add_argument_group(
        "fit the context to the latents (jpegnn.models.lic.context_fit)",
        "then train the context layers alone on the frozen codec's latents of random crops, rate only, "
        "before fine-tuning end to end (the crops' latents are cached: 3M*(crop/16)^2*4 bytes each)")
    f.add_argument("--fit-context", default=None, metavar="DIR", help="training images (default: no fit)")
    f.add_argument("--fit-dataset", choices=("folder", "photos"), default="folder",
                   help="folder: every image under DIR; photos: DIR is shared/datasets/photos, its train split")
    f.add_argument("--fit-steps", type=int, default=4000, help="Adam steps (default 4000)")
    f.add_argument("--fit-lr", type=float, default=1e-3, help="Adam step size (default 1e-3)")
    f.add_argument("--fit-batch", type=int, default=8, help="crops per step (default 8)")
    f.add_argument("--fit-crop", type=int, default=256, help="crop size in pixels, a multiple of 64 (default 256)")
    f.add_argument("--fit-crops-per-image", type=int, default=2, help="random crops per image (default 2)")
    return p


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f}"


def _list() -> int:
    from jpegnn import zoo
    from jpegnn.profiling.tables import text_table

    entries = zoo.index()
    folder = zoo.zoo_dir()
    if not entries:
        print(f"the model zoo ({folder}) is empty")
        return 0
    headers = ["name", "architecture", "lambda", "N/M", "steps", "CPU h", "Kodak bpp", "Kodak PSNR", "file", "MB"]
    rows = []
    for e in entries:
        kodak = e.kodak or {}
        bpp, psnr = kodak.get("bpp"), kodak.get("psnr_rgb")
        rows.append([e.name, e.architecture, e.lmbda, f"{e.N}/{e.M}", e.steps, f"{e.cpu_hours:.2f}",
                     None if bpp is None else f"{bpp:.3f}", None if psnr is None else f"{psnr:.2f}", e.file, _mb(e.bytes)])
    print(text_table(headers, rows))
    total = sum(e.bytes for e in entries)
    print(f"{len(entries)} models in {folder}, {_mb(total)} MB together; Kodak: actual bpp and PSNR-RGB (dB) "
          "of jpegnn test (n/a: not measured)")
    return 0


def _verify() -> int:
    from jpegnn import zoo

    problems = zoo.verify()
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        return 2
    entries = zoo.index()
    print(f"ok: {len(entries)} release files in {zoo.zoo_dir()} match index.json")
    return 0


def _release(args: argparse.Namespace) -> int:
    from jpegnn import zoo

    kodak = zoo.kodak_from_results(args.kodak_json) if args.kodak_json else None
    e = zoo.release(
        args.ckpt, args.family, args.quality, steps=args.steps, cpu_hours=args.cpu_hours, data=args.data,
        config=args.config, kodak=kodak, notes=args.notes,
    )
    print(f"wrote {e.path}: {e.bytes} bytes, sha256 {e.sha256}")
    print(f"added {e.name} ({e.architecture}, lambda={e.lmbda}, N/M {e.N}/{e.M}, {e.steps} steps) to "
          f"{e.path.parent / zoo.INDEX_NAME}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from jpegnn import zoo

    for name in args.names:
        for e in zoo.remove(name):
            print(f"removed {e.name} ({e.file}, {_mb(e.bytes)} MB) from {e.path.parent / zoo.INDEX_NAME}")
    return 0


def _source_architecture(source: str) -> str | None:
    """The architecture a zoo entry or a jpegnn checkpoint records, or None (plain state dicts)."""
    from jpegnn import zoo
    from jpegnn.utils.checkpoints import read_torch_file

    src = zoo.checkpoint_source(source, "source", what="weights file")
    if isinstance(src, zoo.ZooEntry):
        return src.architecture
    # mapped, not read: only the hyperparameters are looked at here, read_weights reads the tensors
    obj = read_torch_file(src, what="weights file", arg_name="source", mmap=True)
    hp = obj.get("hyper_parameters") if isinstance(obj, dict) else None
    arch = hp.get("architecture") if isinstance(hp, dict) else None
    return arch if isinstance(arch, str) else None


def _widen(args: argparse.Namespace) -> int:
    from jpegnn import zoo
    from jpegnn.models.lic import build_lic_model
    from jpegnn.models.lic.export import export_state_dict
    from jpegnn.models.lic.widen import latent_channels, widen

    if args.N is None and args.M is None:
        raise ConfigError("zoo widen: give --N and/or --M (the new widths)")
    arch = args.architecture or _source_architecture(args.source)
    if arch is None:
        raise ConfigError(f"zoo widen: {args.source} does not record its architecture; give --architecture")
    state = zoo.read_weights(args.source, arg_name="source")
    N, M = latent_channels(state)
    wide = widen(state, arch, N=args.N, M=args.M, new_scale=args.new_scale, seed=args.seed)
    N_new, M_new = latent_channels(wide)
    model = build_lic_model(arch, quality=1, N=N_new, M=M_new)
    zoo.load_weights(model, wide, arg_name="source", source=args.source)
    digest = export_state_dict(model, args.out)
    print(f"wrote {args.out}: {arch} N {N} -> {N_new}, M {M} -> {M_new}, sha256 {digest}")
    print(f"fine-tune it with: jpegnn fit ... --model.init_args.architecture {arch} --model.init_args.N {N_new} "
          f"--model.init_args.M {M_new} --model.init_args.weights {args.out}")
    return 0


def _add_context(args: argparse.Namespace) -> int:
    from jpegnn import zoo
    from jpegnn.data.datasets import BuiltinSamples, ImageFolder
    from jpegnn.models.lic import build_lic_model
    from jpegnn.models.lic.add_context import add_context, mean_offsets
    from jpegnn.models.lic.export import export_state_dict
    from jpegnn.models.lic.widen import latent_channels

    arch = _source_architecture(args.source)
    if arch not in (None, "mbt2018-mean"):
        raise ConfigError(f"zoo add-context: {args.source} is {arch}; it needs an mbt2018-mean model")
    state = zoo.read_weights(args.source, arg_name="source")
    images = ImageFolder(args.calibration) if args.calibration else BuiltinSamples()
    offsets = mean_offsets(state, (images[i]["image"] for i in range(len(images))))
    out = add_context(state, offsets, seed=args.seed)
    N, M = latent_channels(out)
    model = build_lic_model("mbt2018", quality=1, N=N, M=M)
    zoo.load_weights(model, out, arg_name="source", source=args.source)
    fitted = _fit_context(model, args) if args.fit_context else ""
    digest = export_state_dict(model, args.out)
    print(f"wrote {args.out}: mbt2018 N={N} M={M} from {args.source} (mean offsets {float(offsets.min()):.2f}.."
          f"{float(offsets.max()):.2f} from {len(images)} images{fitted}), sha256 {digest}")
    print(f"fine-tune it with: jpegnn fit ... --model.init_args.architecture mbt2018 --model.init_args.N {N} "
          f"--model.init_args.M {M} --model.init_args.weights {args.out}")
    return 0


def _fit_context(model, args: argparse.Namespace) -> str:
    """Fit ``model``'s context layers to its latents on ``--fit-context``; a phrase for the summary line."""
    import torch

    from jpegnn.data.datasets import ImageFolder, Photos
    from jpegnn.models.lic.context_fit import cache_latents, fit_context, random_crops

    data = Photos(args.fit_context, split="train") if args.fit_dataset == "photos" else ImageFolder(args.fit_context)
    if len(data) == 0:
        raise ConfigError(f"zoo add-context: --fit-context {args.fit_context}: no images")
    with torch.random.fork_rng(devices=[]):
        crops = random_crops((data[i]["image"] for i in range(len(data))), args.fit_crop,
                             args.fit_crops_per_image, seed=args.seed)
        latents = cache_latents(model, crops)
        print(f"fit-context: {len(latents)} crops of {args.fit_crop} px from {len(data)} images cached", flush=True)
        report = fit_context(model, latents, steps=args.fit_steps, lr=args.fit_lr, batch_size=args.fit_batch,
                             seed=args.seed, log=lambda line: print(line, flush=True))
    return (f"; context fitted to {report.train_crops} crops for {report.steps} steps in {report.seconds:.0f} s: "
            f"held-out rate of y {report.bpp_before:.4f} -> {report.bpp_after:.4f} bpp (estimated, "
            f"{report.change:+.2%})")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.action == "list":
        return _list()
    if args.action == "verify":
        return _verify()
    if args.action == "widen":
        return _widen(args)
    if args.action == "add-context":
        return _add_context(args)
    if args.action == "remove":
        return _remove(args)
    return _release(args)
