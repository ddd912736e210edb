"""Issue 15's targets for the zoo, from CompressAI-format result JSONs (PSNR-RGB on actual bits).

    C=../shared/reference/compressai-results
    python benchmarks/zoo_targets.py --zoo OUT/mbt2018-cpu.json --jpeg OUT/jpeg.json \
        --webp OUT/webp.json --compressai $C/compressai-mbt2018-mean_mse_cpu.json \
        [--same-architecture $C/compressai-mbt2018_mse_cpu.json] [--out benchmarks/results/zoo_kodak/targets.md]

Prints (and with ``--out`` writes atomically) one table: BD-rate of the zoo curve against JPEG
(target at most -40 %) and WebP (at most -10 %), BD-PSNR against CompressAI's published
mbt2018-mean (better than -1.5 dB), each with pass/fail, cubic interpolation over the overlapping
range (a warning line when the overlap is partial), plus the same with PCHIP, which decides when a
curve has fewer than 4 points (the cubic fit needs 4).

``--same-architecture`` adds one row without a target: BD-PSNR against CompressAI's published curve
of the zoo's own architecture (e.g. ``mbt2018`` for a serial-context zoo), because the issue's
anchor, mbt2018-mean, has no context model and so flatters a zoo that has one.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `jpegnn` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jpegnn.errors import ConfigError, run_script  # noqa: E402

#: (anchor flag, metric, comparison, threshold, label)
TARGETS = (
    ("jpeg", "bd_rate", "<=", -40.0, "BD-rate vs JPEG 4:2:0 (%)"),
    ("webp", "bd_rate", "<=", -10.0, "BD-rate vs WebP (%)"),
    ("compressai", "bd_psnr", ">", -1.5, "BD-PSNR vs CompressAI mbt2018-mean, published (dB)"),
)
#: rows reported without a target (anchor flag, metric, label)
INFORMATIONAL = (
    ("same_architecture", "bd_psnr", "BD-PSNR vs CompressAI's published curve of the same architecture (dB)"),
)


def read_curve(path: Path) -> tuple[str, list[float], list[float]]:
    """``(name, bpp, psnr-rgb)`` of a CompressAI-format results JSON (points without a PSNR dropped)."""
    try:
        data = json.loads(path.read_text())
        res = data["results"]
        pts = [(b, p) for b, p in zip(res["bpp"], res["psnr-rgb"]) if b is not None and p is not None]
    except FileNotFoundError:
        raise ConfigError(f"results file not found: {path}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not a CompressAI-format results JSON ({exc})") from None
    pts.sort()
    return str(data.get("name", path.stem)), [b for b, _ in pts], [p for _, p in pts]


def evaluate(zoo: Path, anchors: dict[str, Path]) -> list[dict]:
    """One row per target: value (cubic and PCHIP), pass/fail, warnings."""
    from jpegnn.metrics import bd_psnr, bd_rate

    _, zb, zp = read_curve(zoo)
    rows = []
    extra = [(key, metric, None, None, label) for key, metric, label in INFORMATIONAL if anchors.get(key) is not None]
    for key, metric, op, threshold, label in (*TARGETS, *extra):
        name, ab, ap = read_curve(anchors[key])
        fn = bd_rate if metric == "bd_rate" else bd_psnr
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pchip = fn(ab, ap, zb, zp, method="pchip")
            # the cubic fit (VCEG-M33) needs 4 points per curve; with fewer, PCHIP decides
            cubic = fn(ab, ap, zb, zp, method="cubic") if min(len(zb), len(ab)) >= 4 else float("nan")
        decisive = cubic if cubic == cubic else pchip
        if op is None:
            ok = None
        else:
            ok = bool(decisive <= threshold if op == "<=" else decisive > threshold)
        rows.append({"target": label, "anchor": name, "cubic": cubic, "pchip": pchip,
                     "threshold": "none" if op is None else f"{op} {threshold:g}", "pass": ok,
                     "decided_by": "cubic" if cubic == cubic else "pchip",
                     "warnings": sorted({str(w.message) for w in caught})})
    return rows


def markdown(rows: list[dict], zoo: Path) -> str:
    lines = [f"Targets of issue 15 for `{zoo.name}` (PSNR-RGB on actual bits, Kodak)", "",
             "| target | anchor | cubic | PCHIP | target | met |", "|---|---|---:|---:|---|---|"]
    for r in rows:
        cubic = "n/a (< 4 points)" if r["cubic"] != r["cubic"] else f"{r['cubic']:+.2f}"
        met = "(no target)" if r["pass"] is None else f"{'yes' if r['pass'] else '**no**'} ({r['decided_by']})"
        lines.append(f"| {r['target']} | {r['anchor']} | {cubic} | {r['pchip']:+.2f} | {r['threshold']} | {met} |")
    notes = [w for r in rows for w in r["warnings"]]
    if notes:
        lines += ["", "Notes:"] + [f"- {w}" for w in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", type=Path, required=True, help="the zoo curve's results JSON (from jpegnn bench)")
    p.add_argument("--jpeg", type=Path, required=True)
    p.add_argument("--webp", type=Path, required=True)
    p.add_argument("--compressai", type=Path, required=True, help="CompressAI's published mbt2018-mean JSON")
    p.add_argument("--same-architecture", type=Path, default=None,
                   help="CompressAI's published JSON of the zoo's own architecture: one more row, no target")
    p.add_argument("--out", type=Path, default=None, help="also write the table here (Markdown)")
    args = p.parse_args(argv)
    rows = evaluate(args.zoo, {"jpeg": args.jpeg, "webp": args.webp, "compressai": args.compressai,
                               "same_architecture": args.same_architecture})
    text = markdown(rows, args.zoo)
    print(text)
    if args.out is not None:
        from jpegnn.utils.atomic import write_text_atomic

        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.out, text)
        print(f"wrote {args.out}")
    return 0 if all(r["pass"] is not False for r in rows) else 1


if __name__ == "__main__":
    run_script(main, "zoo_targets.py")
