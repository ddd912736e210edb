"""``jpegnn export-weights --ckpt CKPT --out FILE``: a checkpoint's network as a plain CompressAI state dict.

The file loads with ``torch.load(weights_only=True)`` and, for the architectures CompressAI's zoo
knows, with ``python -m compressai.utils.eval_model checkpoint DIR -a ARCH -p FILE``, which then
gives the numbers ``jpegnn test`` gives under the ``compressai`` protocol (see
:mod:`jpegnn.models.lic.export`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="jpegnn export-weights",
        description="Write a LICModule checkpoint's network as a CompressAI state dict (entropy tables built).",
    )
    p.add_argument("--ckpt", required=True, help="LICModule (or KD student) checkpoint written by jpegnn fit, or a model zoo name")
    p.add_argument("--out", required=True, help="output file, e.g. weights/mbt2018-mean-3.pth.tar")
    p.add_argument("--hash-name", action="store_true",
                   help="rename the file as CompressAI's zoo does: <stem>-<sha256[:8]>.pth.tar beside --out")
    args = p.parse_args(argv)
    from jpegnn.models.lic.export import compressai_architecture, export_state_dict, hashed_name
    from jpegnn.tasks.lic import LICModule
    from jpegnn.tasks.loading import load_module

    out = Path(args.out)
    with torch.no_grad():  # scoped: a caller of main() (tests, Python) keeps its grad mode
        module = load_module(args.ckpt, LICModule)
        sha = export_state_dict(module.model, out)
    if args.hash_name:
        stem = out.name[: -len(".pth.tar")] if out.name.endswith(".pth.tar") else out.stem
        target = out.with_name(hashed_name(stem, sha))
        out.replace(target)
        out = target
    hp = module.hparams
    n_entropy = hp.get("N_entropy")
    arch = compressai_architecture(hp["architecture"], n_entropy is not None and n_entropy != hp.get("N"))
    print(f"wrote {out}: {out.stat().st_size} bytes, sha256 {sha}")
    if arch is None:
        print(f"note: CompressAI's eval_model has no architecture for {hp['architecture']}"
              + (" with N_entropy != N" if n_entropy is not None else "") + "; load the file with jpegnn")
    else:
        print(f"evaluate with CompressAI: python -m compressai.utils.eval_model checkpoint DATASET -a {arch} -p {out}")
    return 0
