"""Give a trained mean-scale hyperprior (``mbt2018-mean``) a serial context model (``mbt2018``).

Why: Minnen et al. 2018's joint autoregressive model is the mean-scale hyperprior plus a masked
5x5 convolution over the already-decoded latents (``context_prediction``) and a 1x1 network that
merges its output with the hyperprior's (``entropy_parameters``). Every other layer (``g_a``,
``g_s``, ``h_a``, ``h_s``, both entropy models) has the same shapes in CompressAI's two classes. On
CompressAI's published Kodak curves the context model saves 11 % of the rate of ``mbt2018-mean``
(BD-rate over qualities 1-5, PSNR-RGB). Training it from scratch throws away the hours a trained
mean-scale model holds; this starts the context model *as* that model, so fine-tuning can only
move on from it.

How: the trained layers are copied; ``entropy_parameters`` (three 1x1 convs with LeakyReLUs between,
widths 4M -> 10M/3 -> 8M/3 -> 2M) is set to pass the hyperprior's ``(scales, means)`` through
unchanged and to ignore the context:

- a scale channel passes as itself. A negative raw scale comes out as ``1e-4`` of itself (two
  LeakyReLUs), which the Gaussian conditional lower-bounds to its smallest scale (0.11), exactly as
  it bounds the negative raw scale itself: the same scale index, the same bits;
- a mean channel ``m`` passes as ``m + c`` (positive, so the LeakyReLUs are the identity) and the
  last conv subtracts ``c``. ``c`` per channel comes from calibration images
  (:func:`mean_offsets`): twice the most negative mean seen, plus 1. A mean below ``-c`` on some
  other image passes through the slope 0.01 instead: a small error in that mean, not a failure;
- the context's columns are zero in the pass-through units, so the masked conv (CompressAI's own
  seeded init) changes nothing until training gives those columns weight; the remaining hidden
  units get the fresh init and zero weight into the next layer, so they too start silent and train.

So the new model codes the same symbols at the same scales, up to a rare flip of a rounding
``round(y - mean)`` from the float error of ``(m + c) - c`` (about 1e-7 of ``c``): the same number
of bytes (``mbt2018`` codes position by position, the mean model channel by channel, so the rANS
streams differ in order) and the same image (q5 of the CPU zoo on kodim03: 23,152 + 448 bytes both). The
result loads strictly into ``JointAutoregressiveHierarchicalPriors(N, M)`` (``-a mbt2018`` of
CompressAI's ``eval_model``) and is a starting point for ``jpegnn fit --model.init_args.architecture
mbt2018 --model.init_args.weights FILE``.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch

from jpegnn.errors import ConfigError
from jpegnn.models.lic.buffers import first_mismatch, match_cdf_buffers

__all__ = ["add_context", "mean_offsets"]

_EP = "entropy_parameters"


def _mean_model(state: Mapping[str, torch.Tensor], load: bool = True) -> torch.nn.Module:
    """The ``mbt2018-mean`` that ``state`` fits (a ConfigError if none), with ``state`` loaded when ``load``."""
    from jpegnn.models.lic.registry import build_lic_model
    from jpegnn.models.lic.widen import latent_channels

    N, M = latent_channels(state)
    model = build_lic_model("mbt2018-mean", quality=1, N=N, M=M)
    problem = first_mismatch(model, state)
    if problem is not None:
        raise ConfigError(f"add-context: the weights are not an mbt2018-mean state dict at N={N}, M={M} ({problem})")
    if load:
        match_cdf_buffers(model, state)
        model.load_state_dict(state)
    return model.eval()


@torch.no_grad()
def mean_offsets(state: Mapping[str, torch.Tensor], images: Iterable[torch.Tensor]) -> torch.Tensor:
    """Per latent channel, the offset ``c`` that keeps ``mean + c`` positive on ``images``.

    Args:
        state: an ``mbt2018-mean`` state dict.
        images: float RGB tensors in [0, 1], ``(3, H, W)`` or ``(1, 3, H, W)`` (any size; padded
            to a multiple of 64 here).

    Returns:
        ``(M,)`` float32: ``2 * max(0, -min mean) + 1`` per channel, in latent units.
    """
    import torch.nn.functional as F

    model = _mean_model(state)
    lowest = None
    for x in images:
        x = x.unsqueeze(0) if x.dim() == 3 else x
        h, w = x.shape[-2:]
        x = F.pad(x, (0, (-w) % 64, 0, (-h) % 64), mode="replicate")
        z_hat, _ = model.entropy_bottleneck(model.h_a(model.g_a(x)))
        means = model.h_s(z_hat).chunk(2, 1)[1]
        low = means.amin(dim=(0, 2, 3))
        lowest = low if lowest is None else torch.minimum(lowest, low)
    if lowest is None:
        raise ConfigError("add-context: no calibration images")
    return (2.0 * (-lowest).clamp(min=0.0) + 1.0).to(torch.float32)


def add_context(state: Mapping[str, torch.Tensor], offsets: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    """The ``mbt2018`` state dict that codes as the ``mbt2018-mean`` model ``state`` (module docstring).

    Args:
        state: an ``mbt2018-mean`` state dict (its N, M read from it).
        offsets: ``(M,)`` mean offsets ``c`` (latent units, >= 0), e.g. from :func:`mean_offsets`.
        seed: seed of the fresh ``mbt2018`` whose init the context conv and the spare hidden units take.

    Returns:
        A float32 CPU state dict that loads strictly into ``build_lic_model("mbt2018", N=N, M=M)``.

    Raises:
        ConfigError: not an mbt2018-mean state dict, or offsets of the wrong shape or sign.
    """
    from jpegnn.models.lic.registry import build_lic_model
    from jpegnn.models.lic.widen import latent_channels

    _mean_model(state, load=False)  # checks the layout only
    N, M = latent_channels(state)
    offsets = torch.as_tensor(offsets, dtype=torch.float32).flatten()
    if offsets.numel() != M or not bool((offsets >= 0).all()) or not bool(torch.isfinite(offsets).all()):
        raise ConfigError(f"add-context: offsets must be {M} finite values >= 0, got shape {tuple(offsets.shape)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = build_lic_model("mbt2018", quality=1, N=N, M=M).state_dict()

    out = {k: v.detach().cpu().clone() for k, v in fresh.items()}
    for key, value in state.items():
        out[key] = value.detach().cpu().clone()
    S = 2 * M  # scales (0..M-1), then means (M..2M-1): CompressAI's chunk(2, 1) order
    eye = torch.eye(S)
    shift = torch.cat([torch.zeros(M), offsets])

    w0, b0 = out[f"{_EP}.0.weight"], out[f"{_EP}.0.bias"]  # (10M/3, 4M): reads [params, context]
    w0[:S] = 0.0
    w0[:S, :S, 0, 0] = eye
    b0[:S] = shift
    w2, b2 = out[f"{_EP}.2.weight"], out[f"{_EP}.2.bias"]  # (8M/3, 10M/3)
    w2[:S] = 0.0
    w2[:S, :S, 0, 0] = eye
    b2[:S] = 0.0
    # spare units of layer 2 (rows S:) keep the fresh init: they read everything
    w4, b4 = out[f"{_EP}.4.weight"], out[f"{_EP}.4.bias"]  # (2M, 8M/3)
    w4.zero_()
    w4[:, :S, 0, 0] = eye
    b4.copy_(-shift)
    # spare units of layers 1 and 2 start silent: zero weight into the pass-through units of the
    # next layer (rows :S of w2 outside the identity) and into the output (w4 outside the identity)
    return {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in out.items()}
