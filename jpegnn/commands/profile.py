"""``jpegnn profile``: parameters, GMACs, codec latency, peak memory and energy of models.

Examples::

    jpegnn profile --config configs/lic/bmshj2018-hyperprior.yaml --size 768x512
    jpegnn profile --config configs/lic/bmshj2018-hyperprior.yaml --widths 16 32 64 128 --json widths.json
    jpegnn profile --config configs/lic/mbt2018-mean.yaml configs/lic/elic.yaml --device cuda
    jpegnn profile --config configs/lic/bmshj2018-hyperprior.yaml --ckpt runs/x/last.ckpt --override model.init_args.quality=1
    jpegnn profile --ckpt mbt2018-cpu-q3 runs/x/last.ckpt   # model zoo names / LICModule checkpoints, no config

Each ``--config`` (a ``jpegnn fit`` config) is instantiated without running anything
(:func:`jpegnn.cli.build_from_config`); ``--widths`` profiles one model per value of
``--width-arg`` (default ``model.init_args.N``); ``--ckpt`` loads trained weights (one
checkpoint for all configs, or one per config; a checkpoint file or a model zoo short name,
:mod:`jpegnn.zoo`). Without ``--config``, each ``--ckpt`` (a zoo name or an LICModule checkpoint)
is profiled as the model it holds. One table row per model is printed; ``--json``
writes the rows atomically (see :mod:`jpegnn.profiling.summary` for every key).

What is measured (details in :mod:`jpegnn.profiling`):

* MACs: fvcore, 1 fused multiply-add = 1 MAC, at ``--size`` (``WIDTHxHEIGHT``), encoder and
  decoder sides apart (for CompressAI models see :mod:`jpegnn.profiling.lic`).
* encode/decode ms: median of ``--repeats`` device-synchronised calls after ``--warmup`` calls,
  of the *real* codec for CompressAI models (``jpegnn.coding.lic.encode/decode``: padding,
  network, rANS entropy coding) on a deterministic smooth synthetic image of ``--size``, or on
  ``--image`` (centre-cropped to ``--size``).
* peak memory: CUDA allocator peak on GPU; on CPU the process-wide peak RSS (an upper bound that
  only grows from one model to the next).
* energy: NVML GPU energy above idle of one real decode, repeated for at least
  ``--energy-seconds``; null with the reason without a GPU or NVML.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from jpegnn.errors import CheckpointError, ConfigError, one_line_error

__all__ = ["main", "build_parser", "load_checkpoint_weights", "REQUIRED_JSON_KEYS"]

#: keys every JSON row has (null where not measurable)
REQUIRED_JSON_KEYS = ("params", "gmacs_encoder", "gmacs_decoder", "encode_ms", "decode_ms", "energy_j_per_frame")


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError (one line) instead of printing usage and exiting 2."""

    def error(self, message: str):  # type: ignore[override]
        raise ConfigError(f"profile: {message}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="jpegnn profile",
        description="Parameters, GMACs (fvcore), encode/decode latency, peak memory and GPU energy "
        "of the model of one or more jpegnn configs, LICModule checkpoints or model zoo names; one table "
        "row per model.",
    )
    p.add_argument("--config", nargs="+", action="extend", default=[], metavar="CONFIG",
                   help="jpegnn fit config(s) whose model to profile")
    p.add_argument("--ckpt", nargs="+", action="extend", default=[], metavar="CKPT",
                   help="checkpoint(s) or model zoo name(s) to load: one for all configs or one per config "
                   "(default: random weights); without --config, each LICModule checkpoint or zoo model is profiled")
    p.add_argument("--widths", nargs="+", type=int, default=None, metavar="N",
                   help="profile one model per width, overriding --width-arg (e.g. --widths 16 32 64)")
    p.add_argument("--width-arg", default="model.init_args.N", metavar="KEY",
                   help="config key set by --widths (default: model.init_args.N)")
    p.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="config overrides, e.g. model.init_args.quality=5 (a leading -- is optional; "
                   "write --override=--key=value to pass one starting with --)")
    p.add_argument("--size", default="768x512", metavar="WxH", help="input WIDTHxHEIGHT in pixels (default 768x512)")
    p.add_argument("--image", default=None, metavar="PATH",
                   help="image for latency/energy (centre-cropped to --size; default: synthetic)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="device (default: cuda if available, else cpu)")
    p.add_argument("--repeats", type=int, default=5, metavar="N", help="timed calls per side (median; default 5)")
    p.add_argument("--warmup", type=int, default=1, metavar="N", help="untimed calls first (default 1)")
    p.add_argument("--no-energy", action="store_true", help="skip the energy measurement")
    p.add_argument("--energy-seconds", type=float, default=1.0, metavar="S",
                   help="minimum wall time of each energy measurement (default 1 s)")
    p.add_argument("--idle-seconds", type=float, default=1.0, metavar="S",
                   help="idle-power sampling window before measuring (default 1 s)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the rows to FILE (atomically)")
    return p


def _build_module(cfg: str, overrides: list[str]) -> Any:
    """``build_from_config`` with jsonargparse's usage dump and exit turned into one ConfigError."""
    import io

    from jpegnn.cli import build_from_config

    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured), contextlib.redirect_stdout(captured):
            return build_from_config(cfg, overrides)
    except SystemExit:
        lines = captured.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
        skip = ("Subtypes:", "Errors:", "- Expected a <class 'NoneType'>", "Given value")
        detail = [ln.strip() for ln in (lines[start:] if start is not None else lines[-1:])
                  if ln.strip() and not ln.strip().startswith(skip)]
        text = " ".join(detail).removeprefix("error: ") or "invalid configuration"
        text = text if len(text) <= 300 else text[:297] + "..."
        raise ConfigError(f"--config {cfg} does not give a model: {text}") from None


def _flag(override: str) -> str:
    return override if override.startswith("--") else "--" + override


def _check_args(args: argparse.Namespace) -> None:
    from jpegnn.profiling.inputs import parse_size

    from jpegnn.zoo import checkpoint_source

    if not args.config and not args.ckpt:
        raise ConfigError("give --config CONFIG (and optionally --ckpt), or --ckpt CKPT/zoo name")
    if not args.config and (args.widths or args.override):
        raise ConfigError("--widths and --override need --config (a checkpoint alone fixes its model)")
    for cfg in args.config:
        if not Path(cfg).is_file():
            raise ConfigError(f"config file not found: {cfg}")
    for ckpt in args.ckpt:
        checkpoint_source(ckpt, "--ckpt")  # a file or a model zoo name, else "checkpoint not found"
    if args.ckpt and args.config and len(args.ckpt) not in (1, len(args.config)):
        raise ConfigError(f"--ckpt: give one checkpoint or one per --config ({len(args.config)}), got {len(args.ckpt)}")
    if args.ckpt and args.widths and len(args.widths) > 1:
        raise ConfigError("--ckpt cannot be combined with several --widths (a checkpoint holds one width)")
    if args.widths and any(w < 1 for w in args.widths):
        raise ConfigError(f"--widths must be positive, got {args.widths}")
    if args.repeats < 1 or args.warmup < 0:
        raise ConfigError("--repeats must be >= 1 and --warmup >= 0")
    try:
        args.size_wh = parse_size(args.size)
    except ConfigError as exc:
        raise ConfigError(f"--size: {exc}") from None


def _device(choice: Optional[str]) -> str:
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available")
    return choice or ("cuda" if torch.cuda.is_available() else "cpu")


def load_checkpoint_weights(module: Any, path: str | Path) -> None:
    """Load a Lightning checkpoint's ``state_dict`` (or a plain state dict, or a model zoo
    model's verified release file) into ``module``.

    Raises:
        CheckpointError: unreadable file, or weights that do not fit the configured model.
    """
    import torch

    from jpegnn import zoo
    from jpegnn.utils.checkpoints import read_torch_file

    source = zoo.checkpoint_source(path, "--ckpt")
    path = zoo.path(source) if isinstance(source, zoo.ZooEntry) else Path(source)
    ckpt = read_torch_file(path, arg_name="--ckpt")
    if isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict):
        hook = getattr(module, "on_load_checkpoint", None)
        if callable(hook):
            hook(ckpt)  # LICModule resizes its CDF buffers to the checkpoint's
        targets, state = [module], ckpt["state_dict"]
    elif isinstance(ckpt, dict) and ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        targets, state = [module, getattr(module, "model", None)], ckpt  # plain state dict (CompressAI)
    else:
        raise CheckpointError(f"--ckpt: {path} holds no state_dict")
    errors = []
    for target in targets:
        if target is None:
            continue
        try:
            target.load_state_dict(state, strict=True)
            return
        except RuntimeError as exc:
            errors.append(one_line_error(exc))
    raise CheckpointError(f"--ckpt: {path} does not fit the configured model ({errors[0]})")


def _load_image(path: str, size: tuple[int, int]):
    from jpegnn.data.io import load_rgb, to_float

    img = to_float(load_rgb(path))
    width, height = size
    _, h, w = img.shape
    if h < height or w < width:
        raise ConfigError(f"--image {path} is {w}x{h}, smaller than --size {width}x{height}")
    top, left = (h - height) // 2, (w - width) // 2
    return img[:, top : top + height, left : left + width].unsqueeze(0).contiguous()


def _models(args: argparse.Namespace) -> list[tuple[str, Optional[str], list[str], Optional[str]]]:
    """(row name, config, overrides, checkpoint) for every model to profile."""
    overrides = [_flag(o) for o in args.override]
    out = []
    if not args.config:  # each checkpoint or zoo model alone
        return [(Path(ckpt).name, None, [], ckpt) for ckpt in args.ckpt]
    for i, cfg in enumerate(args.config):
        ckpt = (args.ckpt[i] if len(args.ckpt) > 1 else args.ckpt[0]) if args.ckpt else None
        stem = Path(cfg).stem
        widths = args.widths or [None]
        for width in widths:
            extra = [] if width is None else [f"--{args.width_arg}={width}"]
            name = stem if width is None else f"{stem} {args.width_arg.rsplit('.', 1)[-1]}={width}"
            if ckpt:
                name += f" [{Path(ckpt).name}]"
            out.append((name, cfg, overrides + extra, ckpt))
    return out


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Silence Lightning's start-up chatter (seed, accelerator, tips) while configs instantiate."""
    loggers = [logging.getLogger(n) for n in ("lightning", "lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            # build_from_config passes args= while sys.argv holds `jpegnn profile ...`
            warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _print_table(rows: list[dict[str, Any]], repeats: int, warmup: int) -> None:
    from jpegnn.profiling.summary import PROFILE_COLUMNS
    from jpegnn.profiling.tables import text_table

    columns = list(PROFILE_COLUMNS)
    # modules without encoder/decoder sides (enhancement, JPEG q-table networks) have a forward
    # workload instead: show it rather than a row of n/a
    extra = {"kmacs_per_pixel_decoder": [("gmacs_forward", "GMACs fwd"), ("kmacs_per_pixel_forward", "kMAC/px fwd")],
             "decode_ms": [("forward_ms", "forward ms")],
             "energy_j_per_frame": [("energy_forward_j_per_frame", "J/frame fwd")]}
    for after, added in extra.items():
        added = [c for c in added if any(row.get(c[0]) is not None for row in rows)]
        i = [k for k, _ in columns].index(after) + 1
        columns[i:i] = added
    headers = [h for _, h in columns]
    print(text_table(headers, [[row.get(k) for k, _ in columns] for row in rows]))
    first = rows[0]
    notes = [
        f"size {first['size']} on {first['device']} ({first.get('cpu_threads')} CPU threads); MACs: fvcore, 1 fused multiply-add = 1 MAC; MB = 10^6 bytes",
    ]
    notes += [f"{row['model']}: MACs of {side} counted with {text}"
              for row in rows for side, text in row["complexity"].get("counter_fallbacks", {}).items()]
    definitions = first["complexity"].get("definitions", {})
    notes += [f"GMACs {side}: {text}" for side, text in definitions.items() if text]
    notes.append(f"encode/decode: {first.get('coding')}; median of {repeats} calls after {warmup} warm-up, "
                 f"on {first.get('latency_image')}")
    notes.append(f"peak memory: {first.get('memory_kind')}"
                 + (" (process-wide peak RSS, only grows across rows)" if first.get("memory_kind") == "process_peak_rss" else ""))
    reasons = sorted({r["energy_unavailable"] for r in rows if r.get("energy_unavailable")})
    if reasons:
        notes += [f"energy unavailable: {reason}" for reason in reasons]
    else:
        notes.append("J/frame: GPU energy above idle of one real decode (NVML)")
    print("\n".join(notes))


def _is_out_of_memory(exc: BaseException) -> bool:
    """A CUDA out-of-memory error, or the CPU allocator refusing an allocation."""
    import torch

    text = str(exc)
    return isinstance(exc, torch.OutOfMemoryError) or "can't allocate memory" in text or "out of memory" in text


def _allocation_text(exc: BaseException) -> str:
    """``an allocation of 120.0 GB failed`` from torch's CPU or CUDA out-of-memory message."""
    import re

    text = str(exc)
    cpu = re.search(r"tried to allocate (\d+) bytes", text)
    if cpu:
        return f"an allocation of {int(cpu.group(1)) / 1e9:.1f} GB failed"
    cuda = re.search(r"Tried to allocate ([\d.]+ [KMGT]iB)", text)
    return f"an allocation of {cuda.group(1)} failed" if cuda else one_line_error(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jpegnn profile`` with ``argv``; returns the exit status (0)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    _check_args(args)
    device = _device(args.device)
    warnings.filterwarnings("ignore", message=r"`torch.jit.script` is deprecated")

    from jpegnn.profiling.summary import profile_module, setup_energy
    from jpegnn.utils.atomic import write_json_atomic

    image = _load_image(args.image, args.size_wh) if args.image else None
    energy = None if args.no_energy else setup_energy(device, args.idle_seconds)
    # an unavailable energy measurement is said once, in the table's notes
    rows = []
    for name, cfg, overrides, ckpt in _models(args):
        if cfg is None:
            from jpegnn.tasks.lic import LICModule
            from jpegnn.tasks.loading import load_module

            module = load_module(ckpt, LICModule)  # a zoo name, or a checkpoint with its hyperparameters
        else:
            with _quiet_lightning():
                module = _build_module(cfg, overrides)
            if ckpt:
                load_checkpoint_weights(module, ckpt)
        try:
            row = profile_module(
                module, args.size_wh, device=device, repeats=args.repeats, warmup=args.warmup,
                image=image, energy=energy, energy_seconds=args.energy_seconds, name=name,
            )
        except RuntimeError as exc:  # torch.OutOfMemoryError is one
            if not _is_out_of_memory(exc):
                raise
            raise ConfigError(
                f"--size {args.size}: {name} does not fit in {device} memory at this size "
                f"({_allocation_text(exc)}); profile a smaller size (MACs scale with the pixel count)"
            ) from None
        rows.append(row)
        print(f"profiled {name}", file=sys.stderr)
    _print_table(rows, args.repeats, args.warmup)
    if args.json:
        doc: dict[str, Any] = {"tool": "jpegnn profile", "size": args.size, "device": device, "models": rows}
        if len(rows) == 1:  # a single model's keys also at the top level
            doc = {**rows[0], **doc}
        write_json_atomic(args.json, doc)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
