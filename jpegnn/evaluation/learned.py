"""Trained LICModule checkpoints as benchmarkable codecs (``jpegnn bench --ckpt ...``).

Each checkpoint is one rate point. ``num_bytes`` is the size of the complete ``.jnn`` file the
``jpegnn compress`` command would write (container header + rANS payload), so bpp is the actual
file rate; the likelihood-based estimate is reported beside it as ``bpp_estimated``. Images are
padded and the entropy tables built as the evaluation protocol says (:mod:`jpegnn.coding.protocol`;
``compressai`` by default, as ``eval_model``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from jpegnn.coding.container import Container, model_hash, pack
from jpegnn.coding.lic import decode, encode, estimate_bits
from jpegnn.coding.protocol import DEFAULT_PROTOCOL, EvalProtocol
from jpegnn.coding.refine import LatentRefinement, check_refinable
from jpegnn.evaluation.protocol import CodecResult


class LearnedCodec:
    """A LICModule checkpoint with real entropy coding, implementing the bench Codec protocol."""

    default_qualities = (0,)  # a checkpoint is a single rate point
    parallel_safe = False  # the model runs in the main process (its own threads, maybe a GPU)

    def __init__(self, module, ckpt: str | Path, device: str = "cpu", refinement: LatentRefinement | None = None):
        self.module = module.to(device).eval()
        self.model = self.module.model
        #: set by :func:`jpegnn.coding.codec.load_codec_module`, which built the tables for it
        self.protocol: EvalProtocol = module.coding_protocol
        #: encoder-side latent refinement (:mod:`jpegnn.coding.refine`); None or 0 iterations: off
        self.refinement = refinement if refinement is not None and refinement.iterations > 0 else None
        if self.refinement is not None:
            check_refinable(self.model)
        hp = module.hparams
        suffix = self.refinement.suffix if self.refinement is not None else ""  # a refined curve is not the model's
        self.name = (hp.get("results_name") or f"{hp['architecture']}-q{hp['quality']}") + suffix
        #: the RD curve this checkpoint is a point of (checkpoints with the same one are merged)
        self.curve = (hp.get("results_name") or hp["architecture"]) + suffix
        n_params = sum(p.numel() for p in self.model.parameters())
        refined = (
            f"; latents refined per image by the encoder ({self.refinement.iterations} Adam steps, "
            f"{self.refinement.method}, lr {self.refinement.lr}; jpegnn.coding.refine): not the model's amortized curve"
            if self.refinement is not None else ""
        )
        self.description = (
            f"jpegnn {hp['architecture']} (quality preset {hp['quality']}, lambda={module.lmbda}, "
            f"{n_params} parameters) from {Path(ckpt).name}; actual bpp of the .jnn file (header + rANS payload); "
            f"{self.protocol.describe()}{refined}"
        )
        self._hash = model_hash(self.model)
        self._device = device

    @torch.no_grad()
    def encode_decode(self, img: np.ndarray, quality: int = 0) -> CodecResult:
        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div(255).unsqueeze(0)
        x = x.to(self._device)
        t0 = time.perf_counter()
        enc = encode(self.model, x, self.protocol, self.refinement, self.module.criterion)
        data = pack(
            Container(self.module.hparams["architecture"], self._hash, enc.height, enc.width,
                      enc.multiple, enc.shape, enc.strings, enc.placement)
        )
        t1 = time.perf_counter()
        x_hat = decode(self.model, enc)
        t2 = time.perf_counter()
        est_bits, _ = estimate_bits(self.model, x, self.protocol, enc.latent)
        pixels = enc.height * enc.width
        extra = {"bpp_estimated": est_bits / pixels}
        if enc.refinement is not None:  # the objective (estimated bpp + weighted distortion) before and after
            extra.update(refine_loss_before=enc.refinement.loss_before, refine_loss_after=enc.refinement.loss_after,
                         refine_best_iteration=enc.refinement.best_iteration)
        return CodecResult(len(data), x_hat[0].cpu(), t1 - t0, t2 - t1, extra)


def load_learned_codec(
    path: str | Path,
    device: str | None = None,
    protocol: str | EvalProtocol = DEFAULT_PROTOCOL,
    refinement: LatentRefinement | None = None,
) -> LearnedCodec:
    """Load a LICModule checkpoint (``weights_only``; clear error if missing) as a bench codec,
    with its entropy tables built and its images padded as ``protocol`` says (and its latents
    refined per image when ``refinement`` has iterations)."""
    from jpegnn.coding.codec import load_codec_module

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return LearnedCodec(load_codec_module(path, protocol), path, device, refinement)


class LearnedCodecCurve:
    """Several checkpoints of one model family as one RD curve (one rate point per checkpoint).

    Checkpoints are grouped by name (``results_name`` or ``<architecture>-q<quality>`` without the
    quality); rate point ``i`` is the ``i``-th checkpoint in order of increasing λ, so the curve's
    "qualities" 0..n-1 run from low to high rate like a classical codec's.
    """

    parallel_safe = False

    def __init__(self, name: str, members: list[LearnedCodec]):
        self.name = name
        self.members = sorted(members, key=lambda c: c.module.lmbda)
        self.default_qualities = tuple(range(len(self.members)))
        self.description = " | ".join(m.description for m in self.members)

    def encode_decode(self, img: np.ndarray, quality: int = 0) -> CodecResult:
        return self.members[int(quality)].encode_decode(img, 0)


def load_learned_codecs(
    paths,
    device: str | None = None,
    protocol: str | EvalProtocol = DEFAULT_PROTOCOL,
    refinement: LatentRefinement | None = None,
) -> list:
    """Load checkpoints as bench codecs; checkpoints of the same architecture become one curve.

    A lone checkpoint keeps its own name (``results_name`` or ``<architecture>-q<quality>``);
    several checkpoints of one architecture (and no distinct ``results_name``) are merged into a
    :class:`LearnedCodecCurve` named after the architecture. With ``refinement`` (iterations > 0)
    every name gets the suffix ``+<method><iterations>``: such a curve is not the models' own.
    """
    codecs = [load_learned_codec(p, device, protocol, refinement) for p in paths]
    groups: dict[str, list[LearnedCodec]] = {}
    for c in codecs:
        groups.setdefault(c.curve, []).append(c)
    out: list = []
    for key, members in groups.items():
        out.append(members[0] if len(members) == 1 else LearnedCodecCurve(key, members))
    return out
