"""Encode and decode images with a trained CompressAI-style model, and measure one image.

The bitstream is what CompressAI's ``compress()`` returns: one or more rANS strings per latent
(``y`` and ``z`` for hyperprior models, two per latent for checkerboard coding, one per channel
group and pass for ELIC). :func:`string_bytes` counts them exactly; container header bytes (see
``jpegnn.coding.container``) come on top of that and are counted where a file is written.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from jpegnn.coding.protocol import DEFAULT_PROTOCOL, EvalProtocol, get_protocol, pad, unpad
from jpegnn.coding.refine import LatentRefinement, RefinementStats, analysis_output, refine_latent
from jpegnn.losses.rate_distortion import bits_from_likelihoods
from jpegnn.metrics.image_quality import ms_ssim_rgb, psnr_rgb


@dataclass
class EncodedImage:
    """What the decoder needs: the strings, the latent shape, the original image size and where
    the padding went (``"centre"`` or ``"bottom-right"``, see :mod:`jpegnn.coding.protocol`)."""

    strings: list[Any]
    shape: Any
    height: int
    width: int
    placement: str = "centre"
    multiple: int = 64
    #: the refined latent ``y`` that was coded and its statistics, when the encoder refined it
    #: (:mod:`jpegnn.coding.refine`); not part of the bitstream
    latent: Tensor | None = None
    refinement: RefinementStats | None = None

    @property
    def num_bytes(self) -> int:
        """Exact payload size in bytes (rANS strings only, no container header)."""
        return string_bytes(self.strings)


def string_bytes(strings: Sequence[Any]) -> int:
    """Total bytes of a (possibly nested) list of byte strings, as returned by ``compress()``."""
    if isinstance(strings, (bytes, bytearray)):
        return len(strings)
    return sum(string_bytes(s) for s in strings)


def padding_multiple(model: torch.nn.Module) -> int:
    """Size multiple the model needs (its ``downsampling_factor``; 64 for every zoo model)."""
    return int(getattr(model, "downsampling_factor", 64))


@contextlib.contextmanager
def deterministic_kernels():
    """Make encoder and decoder compute bit-identical entropy parameters on GPU.

    The rANS decoder only works if it derives exactly the CDF indexes the encoder used; cuDNN
    algorithm choice and TF32 can change the hyper-decoder's scales between two calls on the same
    input (CompressAI issues 279 and 320: black blocks, NaNs). CompressAI's ``eval_model`` sets
    ``cudnn.deterministic``; we also switch TF32 off while coding, and restore the settings after.
    """
    saved = (
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.allow_tf32,
        torch.backends.cuda.matmul.allow_tf32,
    )
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        (
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark,
            torch.backends.cudnn.allow_tf32,
            torch.backends.cuda.matmul.allow_tf32,
        ) = saved


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def prepare_entropy_models(model: torch.nn.Module, protocol: str | EvalProtocol = DEFAULT_PROTOCOL) -> None:
    """Build the CDF tables the rANS coder uses, as ``protocol`` says.

    ``compressai``: ``update(force=True)`` from the quantiles the weights carry (``eval_model``'s
    ``load_checkpoint``); ``jpegnn``: the quantiles are refit by bisection first (this moves the
    ``quantiles`` parameters of the model in memory). Runs outside inference mode: CDF buffers made
    under Lightning's ``torch.inference_mode()`` could not be loaded into again.
    """
    p = get_protocol(protocol)
    with torch.inference_mode(False), torch.no_grad():
        model.update(force=True, update_quantiles=p.refit_quantiles)


@torch.no_grad()
def encode(
    model: torch.nn.Module,
    x: Tensor,
    protocol: str | EvalProtocol = DEFAULT_PROTOCOL,
    refinement: LatentRefinement | None = None,
    criterion: Callable[..., Any] | None = None,
) -> EncodedImage:
    """Entropy-code one image (1x3xHxW in [0, 1], any size) with a model whose CDFs are built.

    The image is padded to the model's multiple as ``protocol`` says (CompressAI's centred zeros
    by default); the decoder crops the same region back. With ``refinement`` (and the model's
    training objective as ``criterion``), the latent is first refined for this image
    (:mod:`jpegnn.coding.refine`); the bitstream format and the decoder are the same.
    """
    p = get_protocol(protocol)
    h, w = x.shape[-2:]
    m = p.multiple(padding_multiple(model))
    x_pad = pad(x, m, p)
    latent, stats = None, None
    if refinement is not None and refinement.iterations > 0:
        if criterion is None:
            raise ValueError("encode: refinement needs the model's training objective as criterion")
        with torch.autocast(x.device.type, enabled=False):
            latent, stats = refine_latent(
                model, x_pad.float(), lambda t: unpad(t, h, w, m, p.placement), x, criterion, refinement
            )
    given = analysis_output(model, latent) if latent is not None else contextlib.nullcontext()
    with deterministic_kernels(), torch.autocast(x.device.type, enabled=False), given:
        out = model.compress(x_pad.float())
    return EncodedImage(out["strings"], out["shape"], h, w, placement=p.placement, multiple=m,
                        latent=latent, refinement=stats)


@torch.no_grad()
def decode(model: torch.nn.Module, enc: EncodedImage) -> Tensor:
    """Decode an :class:`EncodedImage` back to a 1x3xHxW image in [0, 1] at its original size."""
    with deterministic_kernels(), torch.autocast(_model_device(model).type, enabled=False):
        out = model.decompress(enc.strings, enc.shape)
    x_hat = unpad(out["x_hat"], enc.height, enc.width, enc.multiple, enc.placement)  # type: ignore[arg-type]
    return x_hat.clamp(0, 1)


@torch.no_grad()
def estimate_bits(
    model: torch.nn.Module, x: Tensor, protocol: str | EvalProtocol = DEFAULT_PROTOCOL, latent: Tensor | None = None
) -> tuple[float, Tensor]:
    """Estimated bits (Σ −log2 p of an eval-mode forward on the padded image) and the forward's
    reconstruction cropped to the image (1x3xHxW, clamped to [0, 1]). ``latent``: the forward
    codes this latent instead of ``g_a``'s (an :class:`EncodedImage`'s refined ``latent``)."""
    p = get_protocol(protocol)
    h, w = x.shape[-2:]
    m = p.multiple(padding_multiple(model))
    given = analysis_output(model, latent) if latent is not None else contextlib.nullcontext()
    with deterministic_kernels(), torch.autocast(x.device.type, enabled=False), given:
        fwd = model(pad(x, m, p).float())
    bits = float(bits_from_likelihoods(fwd["likelihoods"]).sum())
    return bits, unpad(fwd["x_hat"], h, w, m, p.placement).clamp(0, 1)


@torch.no_grad()
def evaluate_image(
    model: torch.nn.Module, x: Tensor, name: str, protocol: str | EvalProtocol = DEFAULT_PROTOCOL
) -> dict[str, Any]:
    """Code one image for real and measure it, padding it as ``protocol`` says.

    Returns a per-image row (see ``jpegnn.evaluation.results.PER_IMAGE_FIELDS``): actual ``bpp``
    (payload bytes x 8 / original pixels), ``bpp_estimated`` (likelihoods of an eval-mode forward on
    the same padded input, over the same pixels), PSNR-RGB and MS-SSIM-RGB of the decoded 8-bit
    image, ``encoding_time``/``decoding_time`` in seconds (device-synchronised), and
    ``decode_max_abs_diff``: the largest difference between the real decode and the model's own
    eval-mode reconstruction (0 up to float rounding for every model whose eval forward quantizes
    like its coder; mbt2018's forward rounds without the context means, so it differs there).
    Also returns the decoded tensor under ``"x_hat"`` (not a CSV column).
    """
    device = x.device
    h, w = x.shape[-2:]
    _sync(device)
    t0 = time.perf_counter()
    enc = encode(model, x, protocol)
    _sync(device)
    t1 = time.perf_counter()
    x_hat = decode(model, enc)
    _sync(device)
    t2 = time.perf_counter()

    est_bits, x_fwd = estimate_bits(model, x, protocol)
    pixels = h * w
    return {
        "image": name,
        "width": int(w),
        "height": int(h),
        "bpp": enc.num_bytes * 8.0 / pixels,
        "bpp_estimated": est_bits / pixels,
        "psnr_rgb": psnr_rgb(x_hat, x),
        "ms_ssim_rgb": ms_ssim_rgb(x_hat, x),
        "encoding_time": t1 - t0,
        "decoding_time": t2 - t1,
        "decode_max_abs_diff": float((x_hat - x_fwd).abs().max()),
        "bytes": enc.num_bytes,
        "x_hat": x_hat,
    }
