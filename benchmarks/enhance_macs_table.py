"""The RDN complexity table (issue 7): MACs per 128x128 CTU as features C, depth D and growth g vary.

For every (C, D, g) of the grid (3 blocks; plus the notebook's 4-block g=24 network) the closed-form
count :func:`jpegnn.models.enhance.rdn_macs` is compared with fvcore's count of the built network
on one input (ctu mode: a 132x132 luma block -> 128x128). Writes ``macs_table.json`` and
``macs_table.md`` (atomically) into the output folder. One torch thread; about 30 s on one core.

Usage: .venv/bin/python benchmarks/enhance_macs_table.py [--out benchmarks/results/enhance] [--mode ctu]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from fvcore.nn import FlopCountAnalysis

from jpegnn.models.enhance.rdn import RDN, rdn_block_macs_per_pixel, rdn_macs
from jpegnn.utils.atomic import write_text_atomic

GRID = [(c, d, g, 3) for c in (16, 32, 64) for d in (4, 6, 8) for g in (8, 16, 24)] + [(32, 6, 24, 4)]


def fvcore_macs(net: torch.nn.Module, x: torch.Tensor) -> int:
    """fvcore's total (1 multiply-add = 1 count) for one forward of ``net`` on ``x``."""
    analysis = FlopCountAnalysis(net, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return int(analysis.total())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/results/enhance", help="output folder")
    ap.add_argument("--mode", choices=("ctu", "rgb"), default="ctu", help="RDN mode (default ctu)")
    ap.add_argument("--size", type=int, default=128, help="output side in pixels (default 128)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = []
    for c, d, g, b in GRID:
        net = RDN(args.mode, features=c, blocks=b, layers=d, growth=g).eval()
        side_in = args.size + 2 * net.border
        with torch.no_grad():
            counted = fvcore_macs(net, torch.rand(1, net.channels, side_in, side_in))
        formula = rdn_macs(args.size, args.size, c, b, d, g, args.mode)
        rows.append({
            "features_C": c, "layers_D": d, "growth_g": g, "blocks": b,
            "params": sum(p.numel() for p in net.parameters()),
            "block_macs_per_pixel": rdn_block_macs_per_pixel(c, g, d),
            "macs_formula": formula, "macs_fvcore": counted, "agree": formula == counted,
            "gmacs": round(formula / 1e9, 3), "kmacs_per_pixel": round(formula / args.size**2 / 1e3, 1),
        })
        print(rows[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"mode": args.mode, "output": f"{args.size}x{args.size}",
            "input": f"{args.size + 2 * (2 if args.mode == 'ctu' else 0)}^2",
            "unit": "MACs (1 multiply-add), convolutions only, batch 1; fvcore FlopCountAnalysis vs rdn_macs",
            "all_agree": all(r["agree"] for r in rows), "rows": rows}
    write_text_atomic(out / "macs_table.json", json.dumps(meta, indent=2) + "\n")
    lines = [f"RDN MACs per {args.size}x{args.size} output ({args.mode} mode), closed form vs fvcore "
             f"(all agree: {meta['all_agree']})", "",
             "| C | D | g | blocks | params | MACs/px of one RDB | G MACs | k MACs/px | fvcore = formula |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for r in rows:
        lines.append(f"| {r['features_C']} | {r['layers_D']} | {r['growth_g']} | {r['blocks']} | {r['params']:,} | "
                     f"{r['block_macs_per_pixel']:,} | {r['gmacs']} | {r['kmacs_per_pixel']} | {'yes' if r['agree'] else 'NO'} |")
    write_text_atomic(out / "macs_table.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    from jpegnn.errors import run_script

    run_script(main, "enhance_macs_table.py")
