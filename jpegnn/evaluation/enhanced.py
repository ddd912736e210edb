"""A codec followed by a trained enhancement filter, as one more benchmarked codec (issue 7).

``jpegnn bench --codec jpeg --enhance FILTER.ckpt`` runs every chosen codec twice: alone, and as
``"<codec>+<filter>"`` whose decoded image is passed through the filter
(:func:`jpegnn.enhance.enhance_rgb`, the exact function ``jpegnn test`` measures). The bitstream
is the codec's own, so bpp is identical and the two RD curves differ only in quality; the BD table
then gives the filter's BD-rate saving. ``decoding_time`` includes the filter; ``filter_time`` is
recorded beside it (seconds).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from jpegnn.errors import CheckpointError, ConfigError
from jpegnn.evaluation.protocol import CodecResult, as_uint8_hwc

__all__ = ["EnhancedCodec", "load_enhancement_filter", "chain_enhancement"]


class EnhancedCodec:
    """``base`` (any bench codec) then an enhancement network; implements the Codec protocol.

    Args:
        base: The codec whose decodes are filtered.
        module: A trained :class:`jpegnn.tasks.EnhancementModule` (its ``net`` and ``ctu_size``).
        filter_name: Suffix of the curve name (``"<base>+<filter_name>"``).
        device: Where the filter runs.
    """

    parallel_safe = False  # the network runs in the main process

    def __init__(self, base: Any, module: Any, filter_name: str, device: str = "cpu") -> None:
        self.base = base
        self.net = module.net.to(device).eval()
        self.ctu_size = int(module.hparams.get("ctu_size", 128))
        self.device = device
        self.name = f"{base.name}+{filter_name}"
        self.default_qualities = tuple(base.default_qualities)
        if getattr(base, "quality_range", None) is not None:  # classical codecs: --quality / --target-bpp apply
            self.quality_range = base.quality_range
        n_params = sum(p.numel() for p in self.net.parameters())
        self.description = (f"{base.description} | then the {module.hparams.get('mode')}-mode RDN filter "
                            f"{filter_name} ({n_params} parameters) on the decoded image")

    def check_quality(self, quality: int) -> int:
        check = getattr(self.base, "check_quality", None)
        return check(quality) if check is not None else int(quality)

    def encoded_size(self, img: np.ndarray, quality: int) -> int:
        size_fn = getattr(self.base, "encoded_size", None)
        if size_fn is not None:
            return size_fn(img, quality)
        return self.base.encode_decode(img, quality)[0]

    @torch.no_grad()
    def encode_decode(self, img: np.ndarray, quality: int) -> CodecResult:
        res = self.base.encode_decode(img, quality)
        res = res if isinstance(res, CodecResult) else CodecResult(*res)
        decoded = as_uint8_hwc(res.decoded)
        x = torch.from_numpy(np.array(decoded, copy=True)).permute(2, 0, 1).float().div(255).unsqueeze(0)
        from jpegnn.enhance.apply import enhance_rgb

        t0 = time.perf_counter()
        out = enhance_rgb(self.net, x.to(self.device), self.ctu_size)
        if out.is_cuda:
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        extra = {**dict(res.extra or {}), "filter_time": t1 - t0}
        return CodecResult(res.num_bytes, out[0].cpu(), res.encoding_time, res.decoding_time + (t1 - t0), extra)


def load_enhancement_filter(path: str | Path, device: str | None = None):
    """Load an :class:`~jpegnn.tasks.EnhancementModule` checkpoint (``weights_only``) in eval mode.

    Raises:
        CheckpointError: The file is missing, unreadable, or not an enhancement checkpoint.
    """
    from jpegnn.tasks.enhancement import EnhancementModule
    from jpegnn.tasks.loading import load_module

    if not Path(path).is_file():
        raise CheckpointError(f"--enhance: checkpoint not found: {path}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return load_module(path, EnhancementModule, map_location=device)


def chain_enhancement(codecs: Sequence[Any], ckpt: str | Path, only: Sequence[str] | None = None,
                      device: str | None = None) -> list[Any]:
    """``codecs`` with ``"<codec>+<filter>"`` inserted after each codec (or each named in ``only``).

    The filter's name is its ``results_name`` or ``rdn-<mode>``.

    Raises:
        ConfigError: A name in ``only`` is not one of ``codecs``.
        CheckpointError: See :func:`load_enhancement_filter`.
    """
    names = [c.name for c in codecs]
    unknown = [n for n in (only or []) if n not in names]
    if unknown:
        raise ConfigError(f"--enhance-codec: {', '.join(unknown)} not among the benchmarked codecs ({', '.join(names)})")
    module = load_enhancement_filter(ckpt, device)
    device = str(next(module.net.parameters()).device)
    filter_name = module.hparams.get("results_name") or f"rdn-{module.hparams.get('mode')}"
    out: list[Any] = []
    for c in codecs:
        out.append(c)
        if not only or c.name in only:
            out.append(EnhancedCodec(c, module, filter_name, device))
    return out
