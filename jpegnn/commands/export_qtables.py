"""``jpegnn export-qtables --ckpt CKPT --out OUT [--format pillow|cjpeg]``: learned JPEG tables for real encoders.

Reads the integer quantization tables of a :class:`~jpegnn.tasks.QTableClassifier` /
:class:`~jpegnn.tasks.QTableSegmenter` checkpoint and writes them atomically as Pillow JSON
(``pillow``: ``Image.save(f, "JPEG", qtables=d["qtables"], subsampling=d["pillow_subsampling"])``,
without ``quality=``) or as libjpeg's ``cjpeg -qtables`` text (``cjpeg``; use it with
``-quality 50`` or no ``-quality``). The formats and the checkpoint reader live in
:mod:`jpegnn.jpeg.qtable_formats`; this module is the command line only.

The default format follows the extension of OUT: ``.txt`` → cjpeg, anything else → pillow.
Errors (missing file, not a checkpoint, a checkpoint without JPEG tables) are one line naming
the checkpoint, exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from jpegnn.errors import ConfigError
from jpegnn.jpeg.qtable_formats import FORMATS, cjpeg_text, pillow_payload, read_checkpoint_tables
from jpegnn.utils.atomic import write_json_atomic, write_text_atomic

__all__ = ["main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog="jpegnn export-qtables",
        description="Export the learned integer JPEG quantization tables of a QTable checkpoint "
        "for Pillow (JSON, qtables= without quality=) or libjpeg's cjpeg -qtables (text).",
    )
    p.add_argument("--ckpt", required=True, help="checkpoint written by jpegnn fit with QTableClassifier/QTableSegmenter")
    p.add_argument("--out", required=True, help="output file (.json for pillow, .txt for cjpeg)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="pillow (JSON) or cjpeg (text); default from the extension of --out (.txt: cjpeg)")
    args = p.parse_args(list(argv) if argv is not None else None)
    fmt = args.format or ("cjpeg" if args.out.lower().endswith(".txt") else "pillow")
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file name")
    info = read_checkpoint_tables(args.ckpt)
    if fmt == "pillow":
        write_json_atomic(out, pillow_payload(info["tables"], info["subsampling"], source=str(args.ckpt)))
    else:
        write_text_atomic(out, cjpeg_text(info["tables"], info["subsampling"], comment=f"from {args.ckpt}"))
    means = ", ".join(f"{n} mean {sum(t) / 64:.1f}" for n, t in zip(info["names"], info["tables"]))
    print(f"wrote {out} ({fmt}, {len(info['tables'])} tables, {info['subsampling']}; {means})")
    return 0
