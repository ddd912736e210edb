"""Encoder-side latent refinement: search, per image, for the latent that codes it best.

A trained analysis transform ``g_a`` gives a good latent ``y`` for an image, not the best one: it
is one network for every image (the *amortization gap*, Cremer et al. 2018). Refinement starts
from ``y = g_a(x)`` and runs gradient descent on ``y`` alone, every weight frozen, to lower the
model's own rate-distortion objective on this image (its ``RateDistortionLoss``: estimated bits
per pixel + λ·255²·MSE, or λ·(1 − MS-SSIM)), with the latents rounded as the coder rounds them:
``round(y − μ) + μ`` for ``y`` and ``round(z − median) + median`` for the hyper-latent
``z = h_a(y)``, the rounding passed through by a straight-through estimator (Campos et al. 2019,
"Content adaptive optimization for neural image compression"; Yang et al. 2020, "Improving
inference for neural image compression", whose STE baseline this is). Adam with a cosine-decayed
step size; the iterate with the lowest objective is kept, and iterate 0 is ``g_a(x)`` itself, so
the kept latent never has a higher objective than the trained encoder's.

Only the encoder changes: the bitstream format, the decoder and the model are untouched, and any
jpegnn or CompressAI decoder decodes the result (as with a JPEG encoder's trellis quantization or
WebP's RD search). The price is encoding time: each iteration is one forward and backward pass
of ``h_a``, ``h_s``, ``g_s`` and the entropy models on the whole image. Results made this way
must be reported as such (``jpegnn bench`` names the curve ``<name>+refine<iterations>``): an
RD curve of a model with refinement is not that model's amortized curve.

The objective's rate is the likelihood of the *rounded* latents (the estimate the coder's rANS
tables realise to within a few bytes), so the objective tracks the actual file.
"""

from __future__ import annotations

import contextlib
import math
import time
import types
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import torch
from compressai.entropy_models import EntropyModel
from compressai.models import FactorizedPrior, MeanScaleHyperprior, ScaleHyperprior
from compressai.ops import quantize_ste
from torch import Tensor, nn

from jpegnn.errors import ConfigError

__all__ = [
    "LatentRefinement",
    "RefinementStats",
    "check_refinable",
    "refine_latent",
    "analysis_output",
    "straight_through_rounding",
]

#: forward passes whose eval-mode quantization is the coder's (y and z rounded around the means/
#: medians the coder uses); the autoregressive mbt2018 rounds y without its context means in
#: ``forward``, so its forward objective is not its coded one.
_REFINABLE_FORWARDS = {
    FactorizedPrior.forward: "bmshj2018-factorized",
    ScaleHyperprior.forward: "bmshj2018-hyperprior",
    MeanScaleHyperprior.forward: "mbt2018-mean",
}

Criterion = Callable[[Mapping[str, object], Tensor], Mapping[str, Tensor]]


@dataclass(frozen=True)
class LatentRefinement:
    """How to refine: ``iterations`` gradient steps (0: off) at Adam step size ``lr`` (decayed
    to 0 on a cosine over the iterations). The defaults were chosen on two Kodak images at
    qualities 1, 3 and 5 of the CPU zoo (``benchmarks/results/zoo_refine/README.md``)."""

    iterations: int = 100
    lr: float = 3e-3

    def __post_init__(self) -> None:
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int) or self.iterations < 0:
            raise ConfigError(f"refine: iterations must be an integer >= 0, got {self.iterations!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"refine: lr must be a finite number > 0, got {self.lr!r}")

    @property
    def suffix(self) -> str:
        """What results made with it are named after: ``+refine<iterations>``."""
        return f"+refine{self.iterations}"


@dataclass
class RefinementStats:
    """One image's refinement: the objective (the model's training loss on this image, rounded
    latents: bits per pixel + weighted distortion) of ``g_a(x)`` and of the kept latent, the
    iteration that gave it (0 = ``g_a(x)`` itself) and the wall time in seconds."""

    iterations: int
    best_iteration: int
    loss_before: float
    loss_after: float
    seconds: float


def check_refinable(model: nn.Module) -> None:
    """Raise a :class:`ConfigError` unless ``model`` is a CompressAI model whose eval forward
    rounds like its coder (factorized prior, scale hyperprior, mean-scale hyperprior)."""
    forward = getattr(type(model), "forward", None)
    if forward not in _REFINABLE_FORWARDS or not hasattr(model, "g_a"):
        known = ", ".join(sorted(_REFINABLE_FORWARDS.values()))
        raise ConfigError(
            f"latent refinement supports {known}; {type(model).__name__} rounds its latents differently "
            "in forward than when coding (or has no g_a), so its objective would not be the coded one"
        )


def _ste_quantize(self: EntropyModel, inputs: Tensor, mode: str, means: Tensor | None = None) -> Tensor:
    # eval-mode rounding with a straight-through gradient; other modes as CompressAI's own
    if mode != "dequantize":
        return type(self).quantize(self, inputs, mode, means)
    if means is None:
        return quantize_ste(inputs)
    return quantize_ste(inputs - means) + means


@contextlib.contextmanager
def straight_through_rounding(model: nn.Module) -> Iterator[None]:
    """Within the block, every entropy model of ``model`` rounds (eval mode) with a
    straight-through gradient instead of a zero one; the values are unchanged."""
    patched = [m for m in model.modules() if isinstance(m, EntropyModel)]
    for m in patched:
        m.quantize = types.MethodType(_ste_quantize, m)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for m in patched:
            m.__dict__.pop("quantize", None)


class _GivenLatent(nn.Module):
    """Stands in for ``g_a``: returns the given latent, checking that it fits the input."""

    def __init__(self, y: Tensor, factor: int):
        super().__init__()
        self.y, self.factor = y, factor

    def forward(self, x: Tensor) -> Tensor:
        expected = (x.shape[-2] // self.factor, x.shape[-1] // self.factor)
        if tuple(self.y.shape[-2:]) != expected:
            raise RuntimeError(f"given latent is {tuple(self.y.shape[-2:])}, the input needs {expected}")
        return self.y.to(dtype=x.dtype)


@contextlib.contextmanager
def analysis_output(model: nn.Module, y: Tensor) -> Iterator[None]:
    """Within the block, ``model.g_a`` is replaced by a module that returns ``y`` (g_a is not
    run), so the model's own ``compress``/``forward`` code the given latent. ``y`` must be the
    latent of the (padded) image the block then codes; another size is an error."""
    g_a = model.g_a
    model.g_a = _GivenLatent(y, 16)  # g_a: four stride-2 layers in every refinable architecture
    try:
        yield
    finally:
        model.g_a = g_a


def refine_latent(
    model: nn.Module,
    x_padded: Tensor,
    crop: Callable[[Tensor], Tensor],
    x: Tensor,
    criterion: Criterion,
    refinement: LatentRefinement,
) -> tuple[Tensor, RefinementStats]:
    """Refine the latent of one image and return it with its :class:`RefinementStats`.

    Args:
        model: an eval-mode model accepted by :func:`check_refinable`; its weights are not changed
            and get no gradients.
        x_padded: the image as the coder sees it (1x3xHpxWp, padded as the protocol says).
        crop: maps the model's reconstruction of ``x_padded`` back to the image's own pixels.
        x: the image itself (1x3xHxW in [0, 1]); the objective is measured on its pixels only,
            the rate divided by its pixel count.
        criterion: the model's training objective, ``criterion({"x_hat", "likelihoods"}, x)["loss"]``.
        refinement: iterations and step size.
    """
    check_refinable(model)
    t0 = time.perf_counter()
    with torch.inference_mode(False), torch.enable_grad():
        x_padded, x = x_padded.clone().float(), x.clone().float()  # normal tensors, also under inference mode
        with torch.no_grad():
            y0 = model.g_a(x_padded).float()
        y = y0.clone().requires_grad_(True)
        opt = torch.optim.Adam([y], lr=refinement.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(refinement.iterations, 1))
        best_loss, best_y, best_it = math.inf, y0, 0

        def objective() -> Tensor:
            with analysis_output(model, y):
                out = model(x_padded)
            return criterion({"x_hat": crop(out["x_hat"]).clamp(0, 1), "likelihoods": out["likelihoods"]}, x)["loss"]

        with straight_through_rounding(model):
            loss_before = float("nan")
            for it in range(refinement.iterations + 1):
                loss = objective()
                value = float(loss.detach())
                if it == 0:
                    loss_before = value
                if value < best_loss:  # the loss of the current y, before this iteration's step
                    best_loss, best_y, best_it = value, y.detach().clone(), it
                if it == refinement.iterations:
                    break
                (grad,) = torch.autograd.grad(loss, [y])  # no weight gets a gradient
                y.grad = grad
                opt.step()
                sched.step()
    stats = RefinementStats(refinement.iterations, best_it, loss_before, best_loss, time.perf_counter() - t0)
    return best_y.detach(), stats
