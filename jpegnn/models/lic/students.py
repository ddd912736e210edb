"""Narrow students of CompressAI codecs, and access to their intermediate latents.

Two things knowledge distillation (KD) for learned image compression needs that CompressAI does
not provide:

1. **A hyper branch whose width is independent of N.** In CompressAI's hyperprior models the
   hyper-latent ``z`` has N channels and the entropy bottleneck is ``EntropyBottleneck(N)``, so
   a student with fewer channels N also gets a smaller ``z``: its ``z`` no longer compares with the
   teacher's, and shrinking N silently shrinks the side-information model (the KD logbook's
   "entropy bottleneck size depends on N" issue of 11/05/2025, fixed on 12/05/2025 by "define
   N_entropy for student").
   :class:`ScaleHyperpriorStudent` and :class:`MeanScaleHyperpriorStudent` take ``N_entropy``:
   the channels of ``h_a``/``h_s``'s hidden layers, of ``z`` and of the entropy bottleneck, while
   ``g_a``/``g_s`` use N and the latent ``y`` has M channels. With ``N_entropy == N`` they are
   exactly CompressAI's models (same module names and shapes, so state dicts are interchangeable).

2. **The latents of a forward pass.** CompressAI's ``forward`` returns only ``x_hat`` and the
   likelihoods. :func:`forward_with_latents` runs the model's own ``forward`` unchanged and records
   ``y = g_a(x)``, ``y_hat`` (the input of ``g_s``), ``z = h_a(...)`` and ``z_hat`` (the entropy
   bottleneck's output) with temporary forward hooks, so the returned ``x_hat`` and likelihoods are
   bit-for-bit those of ``model(x)`` and the recorded tensors carry gradients. It works for every
   jpegnn architecture (``bmshj2018-factorized`` has no ``z``) and CompressAI zoo model.

Students are built with float32 entropy models under autocast
(:func:`jpegnn.models.lic.precision.float32_entropy_models`), however they are constructed
(``build_lic_model``, the constructors, ``from_state_dict``).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from compressai.entropy_models import EntropyBottleneck
from compressai.models import MeanScaleHyperprior, ScaleHyperprior
from compressai.models.utils import conv, deconv
from torch import Tensor, nn

from jpegnn.errors import ConfigError
from jpegnn.models.lic.precision import float32_entropy_models

__all__ = [
    "ScaleHyperpriorStudent",
    "MeanScaleHyperpriorStudent",
    "N_ENTROPY_ARCHITECTURES",
    "forward_with_latents",
    "latent_channels",
]


def _check_widths(N: int, M: int, N_entropy: int) -> None:
    for name, value in (("N", N), ("M", M), ("N_entropy", N_entropy)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


class ScaleHyperpriorStudent(ScaleHyperprior):
    """Ballé et al. 2018 scale hyperprior with a hyper branch of its own width.

    Args:
        N: channels of the hidden layers of ``g_a``/``g_s``.
        M: channels of the latent ``y`` (keep the teacher's M for like-with-like latent KD).
        N_entropy: channels of ``z``, of the entropy bottleneck and of ``h_a``/``h_s``'s hidden
            layers (default N: CompressAI's model).
    """

    def __init__(self, N: int, M: int, N_entropy: Optional[int] = None, **kwargs: Any):
        N_entropy = int(N if N_entropy is None else N_entropy)
        _check_widths(N, M, N_entropy)
        super().__init__(N=N, M=M, **kwargs)
        # replace the N-wide hyper branch (same names, so the state dict layout is CompressAI's)
        self.entropy_bottleneck = EntropyBottleneck(N_entropy)
        self.h_a = nn.Sequential(
            conv(M, N_entropy, stride=1, kernel_size=3),
            nn.ReLU(inplace=True),
            conv(N_entropy, N_entropy),
            nn.ReLU(inplace=True),
            conv(N_entropy, N_entropy),
        )
        self.h_s = nn.Sequential(
            deconv(N_entropy, N_entropy),
            nn.ReLU(inplace=True),
            deconv(N_entropy, N_entropy),
            nn.ReLU(inplace=True),
            conv(N_entropy, M, stride=1, kernel_size=3),
            nn.ReLU(inplace=True),
        )
        self.N_entropy = N_entropy
        float32_entropy_models(self)

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, Tensor]) -> "ScaleHyperpriorStudent":
        """Build the model whose N, M and N_entropy match the weight shapes, and load them."""
        N = state_dict["g_a.0.weight"].size(0)
        M = state_dict["g_a.6.weight"].size(0)
        N_entropy = state_dict["h_a.0.weight"].size(0)
        net = cls(N, M, N_entropy)
        net.load_state_dict(state_dict)
        return net


class MeanScaleHyperpriorStudent(MeanScaleHyperprior):
    """Minnen et al. 2018 mean-scale hyperprior (mbt2018-mean) with a hyper branch of its own width.

    Args:
        N: channels of the hidden layers of ``g_a``/``g_s``.
        M: channels of the latent ``y``.
        N_entropy: channels of ``z``, of the entropy bottleneck and of ``h_a``'s hidden layers
            (``h_s`` widens to M and 3M/2 as in CompressAI; default N: CompressAI's model).
    """

    def __init__(self, N: int, M: int, N_entropy: Optional[int] = None, **kwargs: Any):
        N_entropy = int(N if N_entropy is None else N_entropy)
        _check_widths(N, M, N_entropy)
        super().__init__(N=N, M=M, **kwargs)
        self.entropy_bottleneck = EntropyBottleneck(N_entropy)
        self.h_a = nn.Sequential(
            conv(M, N_entropy, stride=1, kernel_size=3),
            nn.LeakyReLU(inplace=True),
            conv(N_entropy, N_entropy),
            nn.LeakyReLU(inplace=True),
            conv(N_entropy, N_entropy),
        )
        self.h_s = nn.Sequential(
            deconv(N_entropy, M),
            nn.LeakyReLU(inplace=True),
            deconv(M, M * 3 // 2),
            nn.LeakyReLU(inplace=True),
            conv(M * 3 // 2, M * 2, stride=1, kernel_size=3),
        )
        self.N_entropy = N_entropy
        float32_entropy_models(self)

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, Tensor]) -> "MeanScaleHyperpriorStudent":
        """Build the model whose N, M and N_entropy match the weight shapes, and load them."""
        N = state_dict["g_a.0.weight"].size(0)
        M = state_dict["g_a.6.weight"].size(0)
        N_entropy = state_dict["h_a.0.weight"].size(0)
        net = cls(N, M, N_entropy)
        net.load_state_dict(state_dict)
        return net


#: jpegnn architecture name -> student class accepting ``N_entropy``
N_ENTROPY_ARCHITECTURES: dict[str, type] = {
    "bmshj2018-hyperprior": ScaleHyperpriorStudent,
    "mbt2018-mean": MeanScaleHyperpriorStudent,
}


def _hyper_modules(model: nn.Module) -> tuple[Optional[nn.Module], Optional[nn.Module]]:
    """``(h_a, entropy bottleneck of z)`` of ``model``, or ``(None, None)`` without a hyperprior.

    Classic CompressAI models hold them as attributes; latent-codec models (checkerboard, ELIC)
    hold them inside ``latent_codec`` (the first module named ``h_a`` and the entropy bottleneck
    beside it). A factorized prior has an entropy bottleneck on ``y`` itself and no ``h_a``.
    """
    h_a = getattr(model, "h_a", None)
    if isinstance(h_a, nn.Module):
        eb = getattr(model, "entropy_bottleneck", None)
        return h_a, eb if isinstance(eb, EntropyBottleneck) else None
    for name, module in model.named_modules():
        if name.endswith("h_a"):
            parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
            eb = next((m for m in parent.modules() if isinstance(m, EntropyBottleneck)), None)
            return module, eb
    return None, None


def forward_with_latents(model: nn.Module, x: Tensor) -> dict[str, Any]:
    """Run ``model(x)`` and also return its latents.

    Returns a dict with

    * ``x_hat``, ``likelihoods``: exactly ``model(x)``'s outputs;
    * ``y``: the analysis transform's output ``g_a(x)`` (B x M x H/16 x W/16), before quantization;
    * ``y_hat``: the input of ``g_s``: ``y`` with uniform noise (training), rounded (eval), or the
      model's straight-through/mean-shifted quantization, whatever its forward does;
    * ``z``: the hyper-analysis output ``h_a(...)`` (B x N_entropy x H/64 x W/64), or None for a
      factorized prior;
    * ``z_hat``: the entropy bottleneck's output for ``z`` (noisy or rounded), or None.

    The tensors are taken from the live graph with forward hooks removed before returning, so
    gradients flow through them. Each hooked module must run once per forward (true for every
    CompressAI image model); a second call would overwrite the first.

    Raises:
        ConfigError: ``model`` has no ``g_a``/``g_s`` (not a CompressAI image codec).
    """
    g_a, g_s = getattr(model, "g_a", None), getattr(model, "g_s", None)
    if not isinstance(g_a, nn.Module) or not isinstance(g_s, nn.Module):
        raise ConfigError(f"{type(model).__name__} has no g_a/g_s transforms: not a CompressAI image codec")
    h_a, eb = _hyper_modules(model)
    seen: dict[str, Tensor] = {}

    def keep(key: str, value: Any) -> None:
        if isinstance(value, (tuple, list)):
            value = value[0]
        seen.setdefault(key, value)

    handles = [
        g_a.register_forward_hook(lambda m, args, out: keep("y", out)),
        g_s.register_forward_pre_hook(lambda m, args: keep("y_hat", args[0])),
    ]
    if h_a is not None:
        handles.append(h_a.register_forward_hook(lambda m, args, out: keep("z", out)))
        if eb is not None:
            handles.append(eb.register_forward_hook(lambda m, args, out: keep("z_hat", out)))
    try:
        out = model(x)
    finally:
        for handle in handles:
            handle.remove()
    return {
        "x_hat": out["x_hat"],
        "likelihoods": out["likelihoods"],
        "y": seen.get("y"),
        "y_hat": seen.get("y_hat"),
        "z": seen.get("z"),
        "z_hat": seen.get("z_hat"),
    }


@torch.no_grad()
def latent_channels(model: nn.Module, size: int = 64) -> tuple[int, Optional[int]]:
    """``(channels of y, channels of z or None)`` of ``model``, from one eval forward on zeros.

    ``size`` (pixels, square) must be a multiple of the model's padding multiple (64 for every
    jpegnn architecture).
    """
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters())
        lat = forward_with_latents(model, torch.zeros(1, 3, size, size, device=param.device, dtype=param.dtype))
    finally:
        model.train(was_training)
    z = lat["z"]
    return int(lat["y"].shape[1]), (None if z is None else int(z.shape[1]))
