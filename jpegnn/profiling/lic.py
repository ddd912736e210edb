"""Profiling adapters for CompressAI learned image codecs, keyed on the model's structure.

Three functions give any ``compressai.models.CompressionModel`` (every ``LICModule.model``) what
the profiling callbacks and ``jpegnn profile`` ask a LightningModule for:

* :func:`lic_parts` -> ``{part: module}`` for parameter and MAC breakdowns;
* :func:`lic_functions` -> ``{"encoder": fn, "decoder": fn}``: the *network* computation of
  each side as zero-argument callables (what MACs are counted on);
* :func:`lic_coding_functions` -> ``{"encode": fn, "decode": fn}``: the real codec
  (:func:`jpegnn.coding.lic.encode` / :func:`~jpegnn.coding.lic.decode`, rANS entropy coding
  included), for latency and energy.

Parts (CompressAI attribute names; absent ones are left out):

=====================  ==============================================================
``g_a``                analysis transform (image -> latent y)
``h_a``                hyper analysis, the hyper encoder (y -> hyperlatent z)
``h_s``                hyper synthesis, the hyper decoder (z_hat -> entropy parameters)
``context_prediction`` spatial context model (masked convolution; mbt2018 serial,
                       checkerboard two-pass; ELIC one per channel group)
``channel_context``    channel context model (ELIC's g_ch, one per channel group)
``entropy_parameters`` entropy-parameter network (mbt2018's EP; ELIC's param aggregation)
``g_s``                synthesis transform (y_hat -> image)
``entropy_bottleneck`` factorized density model of z (parameters only: at coding time it is a
                       table lookup, no MACs)
=====================  ==============================================================

What each side's MACs include (:data:`SIDE_DEFINITIONS`):

* **encoder**: ``g_a`` + ``h_a`` + everything needed to compute y's entropy parameters, which
  the encoder must derive exactly as the decoder will: ``h_s`` on z_hat, the context models on
  y_hat and ``entropy_parameters``. Factorized prior: ``g_a`` only.
* **decoder**: ``h_s`` + context models + ``entropy_parameters`` + ``g_s``. Factorized prior:
  ``g_s`` only.

Conventions, chosen so that models compare on the network work they need:

* Serial autoregressive ``mbt2018``: the 5x5 masked context convolution is counted as applied
  to the whole latent once (as in the training forward), masked-out taps included; CompressAI's
  coder evaluates it position by position on 5x5 crops, which is the same number of MACs.
* Checkerboard (``checkerboard``, ELIC's groups): the context convolution is counted once at
  full latent resolution on the anchors, and ``entropy_parameters`` once at full resolution (two
  passes of half the positions each). CompressAI's coder also runs the context convolution for
  the anchor pass, whose output it then zeroes; that wasted pass is not counted.
* Quantisation is plain rounding (no MACs). Mean-offset rounding changes values, not counts.
* Inputs are padded (bottom/right, edge replication) to the model's size multiple (64 for all
  zoo models), exactly as :func:`jpegnn.coding.lic.encode` does; MACs are those of the padded
  input.
* Entropy coding (rANS) and the entropy models' likelihood computations are not counted:
  they are not multiply-accumulates of a network.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Optional

import torch
from torch import Tensor, nn

from jpegnn.coding.lic import decode, encode, padding_multiple
from jpegnn.coding.padding import pad_to_multiple

__all__ = [
    "PART_LABELS",
    "SIDE_DEFINITIONS",
    "is_compression_model",
    "compression_model_of",
    "lic_parts",
    "lic_functions",
    "lic_coding_functions",
]

#: human-readable name of each part key
PART_LABELS: dict[str, str] = {
    "g_a": "analysis transform",
    "h_a": "hyper analysis (hyper encoder)",
    "h_s": "hyper synthesis (hyper decoder)",
    "context_prediction": "spatial context model",
    "channel_context": "channel context model",
    "entropy_parameters": "entropy parameters",
    "g_s": "synthesis transform",
    "entropy_bottleneck": "hyperlatent density model",
}

#: what the "encoder" and "decoder" MAC counts include (written into complexity reports)
SIDE_DEFINITIONS: dict[str, str] = {
    "encoder": "g_a + h_a + h_s + context models + entropy_parameters (everything needed to code y); "
    "factorized prior: g_a",
    "decoder": "h_s + context models + entropy_parameters + g_s; factorized prior: g_s",
}

_PART_ORDER = tuple(PART_LABELS)


class UnsupportedModel(Exception):
    """The model's structure is not one these adapters know (callers fall back to ``forward``)."""


def is_compression_model(obj: Any) -> bool:
    """True for a ``compressai.models.CompressionModel`` (any zoo or jpegnn LIC network)."""
    try:
        from compressai.models import CompressionModel
    except ImportError:  # pragma: no cover - compressai is a dependency
        return False
    return isinstance(obj, CompressionModel)


def compression_model_of(module: nn.Module) -> Optional[nn.Module]:
    """The CompressAI network of ``module``: itself, or its ``.model`` attribute (LICModule)."""
    if is_compression_model(module):
        return module
    inner = getattr(module, "model", None)
    return inner if is_compression_model(inner) else None


# ---------------------------------------------------------------------------------------- parts
def _latent_codec_modules(model: nn.Module) -> dict[str, list[nn.Module]]:
    """Collect h_a/h_s/context/entropy-parameter/channel-context modules of a latent-codec tree."""
    found: dict[str, list[nn.Module]] = {k: [] for k in _PART_ORDER}
    seen: set[int] = set()
    for codec in model.latent_codec.modules():
        for attr in ("h_a", "h_s", "entropy_bottleneck", "context_prediction", "entropy_parameters", "channel_context"):
            sub = codec.__dict__.get("_modules", {}).get(attr)
            if isinstance(sub, nn.Module) and id(sub) not in seen:
                seen.add(id(sub))
                found[attr].append(sub)
    return found


def lic_parts(model: nn.Module) -> dict[str, nn.Module]:
    """Named parts of a CompressAI model (see the module docstring), in coding order.

    Parts with several instances (ELIC's per-group context models) are grouped in one
    ``nn.ModuleList``. Parts without parameters (identity entropy parameters) are left out.
    """
    found: dict[str, list[nn.Module]] = {k: [] for k in _PART_ORDER}
    for attr in ("g_a", "g_s", "h_a", "h_s", "entropy_bottleneck", "context_prediction", "entropy_parameters"):
        sub = getattr(model, attr, None)
        if isinstance(sub, nn.Module):
            found[attr].append(sub)
    if isinstance(getattr(model, "latent_codec", None), nn.Module):
        for key, modules in _latent_codec_modules(model).items():
            found[key].extend(m for m in modules if all(m is not f for f in found[key]))
    parts: dict[str, nn.Module] = {}
    for key in _PART_ORDER:
        modules = [m for m in found[key] if sum(p.numel() for p in m.parameters()) > 0]
        if len(modules) == 1:
            parts[key] = modules[0]
        elif modules:
            parts[key] = nn.ModuleList(modules)
    return parts


# ------------------------------------------------------------------------------------ functions
def _describe(fn: Callable, side: str) -> Callable:
    fn.__doc__ = SIDE_DEFINITIONS[side]
    return fn


def _classic_functions(model: nn.Module, x: Tensor) -> dict[str, Callable[[], Any]]:
    """FactorizedPrior, ScaleHyperprior, MeanScaleHyperprior, JointAutoregressiveHierarchicalPriors."""
    from compressai.models import MeanScaleHyperprior, ScaleHyperprior

    g_a, g_s = model.g_a, model.g_s
    h_a, h_s = getattr(model, "h_a", None), getattr(model, "h_s", None)
    if h_a is None or h_s is None:  # factorized prior: the density model needs no network
        with torch.no_grad():
            y_hat = torch.round(g_a(x))
        return {
            "encoder": _describe(lambda: g_a(x), "encoder"),
            "decoder": _describe(lambda: g_s(y_hat), "decoder"),
        }
    abs_y = isinstance(model, ScaleHyperprior) and not isinstance(model, MeanScaleHyperprior)
    cp = getattr(model, "context_prediction", None)
    ep = getattr(model, "entropy_parameters", None)
    contextual = isinstance(cp, nn.Module) and isinstance(ep, nn.Module)

    def y_params(z_hat: Tensor, y_hat: Tensor) -> Tensor:
        params = h_s(z_hat)
        if contextual:  # mbt2018: EP(cat(hyper params, context)); context over the whole latent once
            params = ep(torch.cat((params, cp(y_hat)), dim=1))
        return params

    def encoder() -> Tensor:
        y = g_a(x)
        z = h_a(torch.abs(y) if abs_y else y)
        return y_params(torch.round(z), torch.round(y))

    with torch.no_grad():
        y = g_a(x)
        y_hat = torch.round(y)
        z_hat = torch.round(h_a(torch.abs(y) if abs_y else y))

    def decoder() -> tuple[Tensor, Tensor]:
        return y_params(z_hat, y_hat), g_s(y_hat)

    return {"encoder": _describe(encoder, "encoder"), "decoder": _describe(decoder, "decoder")}


def _y_params(codec: nn.Module, y_hat: Tensor, side: Tensor) -> Tensor:
    """Entropy parameters of y from a latent-codec tree, each network applied once (see the module
    docstring for the checkerboard convention)."""
    from compressai.latent_codecs import (
        ChannelGroupsLatentCodec,
        CheckerboardLatentCodec,
        GaussianConditionalLatentCodec,
        RasterScanLatentCodec,
    )

    if isinstance(codec, GaussianConditionalLatentCodec):
        return codec.entropy_parameters(side)
    if isinstance(codec, CheckerboardLatentCodec):
        ctx = codec.context_prediction(codec._keep_only(y_hat, "anchor"))
        params = codec.entropy_parameters(codec.merge(ctx, side))
        return _y_params(codec.latent_codec["y"], y_hat, params)
    if isinstance(codec, RasterScanLatentCodec):
        return codec.entropy_parameters(codec.merge(side, codec.context_prediction(y_hat)))
    if isinstance(codec, ChannelGroupsLatentCodec):
        y_hat_ = list(torch.split(y_hat, codec.groups, dim=1))
        outs = []
        for k in range(len(codec.groups)):
            params = codec._get_ctx_params(k, side, y_hat_)  # channel context of groups < k
            outs.append(_y_params(codec.latent_codec[f"y{k}"], y_hat_[k], params))
        return torch.cat(outs, dim=1)
    raise UnsupportedModel(f"latent codec {type(codec).__name__} is not supported")


def _latent_codec_functions(model: nn.Module, x: Tensor) -> dict[str, Callable[[], Any]]:
    """SimpleVAECompressionModel: g_a -> latent_codec -> g_s (checkerboard, ELIC)."""
    from compressai.latent_codecs import EntropyBottleneckLatentCodec, HyperpriorLatentCodec

    g_a, g_s, lc = model.g_a, model.g_s, model.latent_codec
    if isinstance(lc, EntropyBottleneckLatentCodec):
        with torch.no_grad():
            y_hat = torch.round(g_a(x))
        return {
            "encoder": _describe(lambda: g_a(x), "encoder"),
            "decoder": _describe(lambda: g_s(y_hat), "decoder"),
        }
    if not isinstance(lc, HyperpriorLatentCodec):
        raise UnsupportedModel(f"latent codec {type(lc).__name__} is not supported")
    hyper, y_codec = lc.latent_codec["hyper"], lc.latent_codec["y"]
    h_a, h_s = getattr(hyper, "h_a", None), getattr(hyper, "h_s", None)
    if not (isinstance(h_a, nn.Module) and isinstance(h_s, nn.Module)):
        raise UnsupportedModel(f"hyper codec {type(hyper).__name__} has no h_a/h_s")

    with torch.no_grad():
        y = g_a(x)
        y_hat = torch.round(y)
        z_hat = torch.round(h_a(y))
        _y_params(y_codec, y_hat, h_s(z_hat))  # raises UnsupportedModel early

    def encoder() -> Tensor:
        y = g_a(x)
        return _y_params(y_codec, torch.round(y), h_s(torch.round(h_a(y))))

    def decoder() -> tuple[Tensor, Tensor]:
        return _y_params(y_codec, y_hat, h_s(z_hat)), g_s(y_hat)

    return {"encoder": _describe(encoder, "encoder"), "decoder": _describe(decoder, "decoder")}


def lic_functions(model: nn.Module, x: Tensor) -> Optional[dict[str, Callable[[], Any]]]:
    """``{"encoder": fn, "decoder": fn}``: zero-argument callables running each side's networks.

    Args:
        model: A CompressAI ``CompressionModel`` (call in eval mode under ``torch.no_grad``).
        x: ``1 x 3 x H x W`` image in [0, 1]; padded to the model's size multiple here. The
            decoder's inputs (``y_hat``, ``z_hat``) are computed from it once, now.

    Returns:
        The two callables (their ``__doc__`` says what they include; see the module docstring),
        or None for a structure these adapters do not know.
    """
    x, _ = pad_to_multiple(x, padding_multiple(model))
    try:
        if isinstance(getattr(model, "latent_codec", None), nn.Module):
            return _latent_codec_functions(model, x)
        if isinstance(getattr(model, "g_a", None), nn.Module) and isinstance(getattr(model, "g_s", None), nn.Module):
            return _classic_functions(model, x)
    except UnsupportedModel:
        return None
    return None


def lic_coding_functions(model: nn.Module, x: Tensor) -> dict[str, Callable[[], Any]]:
    """``{"encode": fn, "decode": fn}``: real entropy coding of ``x`` with a copy of ``model``.

    The copy (eval mode) gets CDF tables built only if it has none yet (``update(force=False)``),
    so the caller's model and its buffers are never modified. ``x`` is encoded once here so that
    ``decode`` has a bitstream; ``encode`` re-encodes ``x`` on every call (pad, ``compress``), and
    ``decode`` runs ``decompress`` and the crop, exactly as ``jpegnn compress/decompress`` do.
    """
    coder = copy.deepcopy(model).eval()
    with torch.no_grad():
        coder.update(force=False)
    encoded = encode(coder, x)
    return {"encode": lambda: encode(coder, x), "decode": lambda: decode(coder, encoded)}
