"""Encoder-side latent refinement: search, per image, for the latent that codes it best.

A trained analysis transform ``g_a`` gives a good latent ``y`` for an image, not the best one: it
is one network for every image (the *amortization gap*, Cremer et al. 2018). Refinement starts
from ``y = g_a(x)`` and runs gradient descent on ``y`` alone, every weight frozen, to lower the
model's own rate-distortion objective on this image (its ``RateDistortionLoss``: estimated bits
per pixel + λ·255²·MSE, or λ·(1 − MS-SSIM)); the hyper-latent follows as ``z = h_a(y)``
(Campos et al. 2019, "Content adaptive optimization for neural image compression"; Yang et al.
2020, "Improving inference for neural image compression"). Rounding has no gradient, so each
step relaxes it, as one of two methods:

- ``sga`` (default): stochastic Gumbel annealing (Yang et al. 2020). Each latent is a soft,
  random mixture of its floor and ceiling (around the mean ``μ`` for ``y``, the median for ``z``),
  the nearer one more likely, with a temperature annealed from 0.5 to 0.1 so the mixture ends
  close to hard rounding; constant Adam step size. The Gumbel noise comes from a generator seeded
  per call, so the same image gives the same file.
- ``ste``: hard rounding ``round(y − μ) + μ`` forward, identity backward (straight-through);
  Adam with a cosine-decayed step size.

Every ``check_every`` steps (and at the end) the objective is measured with hard rounding, as the
coder rounds; the latent with the lowest such objective is kept, and step 0 is ``g_a(x)`` itself,
so the kept latent never has a higher objective than the trained encoder's. The rate in it is the
likelihood of the rounded latents, which the rANS coder realises to within a few bytes, so it
tracks the actual file.

Only the encoder changes: the bitstream format, the decoder and the model are untouched, and any
jpegnn or CompressAI decoder decodes the result (as with a JPEG encoder's trellis quantization or
WebP's RD search). The price is encoding time: each step is one forward and backward pass of
``h_a``, ``h_s``, ``g_s`` and the entropy models on the whole image. Results made this way must
be reported as such (``jpegnn bench`` names the curve ``<name>+<method><iterations>``): an RD
curve of a model with refinement is not that model's amortized curve.
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
    "stochastic_gumbel_rounding",
]

#: Adam step size per method when none is given (chosen on Kodak, benchmarks/results/zoo_kodak_refine)
DEFAULT_LR = {"sga": 5e-3, "ste": 3e-3}
#: SGA temperature: from TAU_START, decaying exponentially to TAU_END at the last step
TAU_START, TAU_END = 0.5, 0.1

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
    """How to refine: ``iterations`` gradient steps (0: off) by ``method`` (``"sga"`` or
    ``"ste"``, see the module docstring) at Adam step size ``lr`` (None: the method's
    :data:`DEFAULT_LR`), the hard-rounded objective measured every ``check_every`` steps. The
    defaults were chosen on three Kodak images at qualities 1, 3 and 5 of the CPU zoo
    (``benchmarks/results/zoo_kodak_refine/README.md``)."""

    iterations: int = 100
    lr: float | None = None
    method: str = "sga"
    check_every: int = 10

    def __post_init__(self) -> None:
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int) or self.iterations < 0:
            raise ConfigError(f"refine: iterations must be an integer >= 0, got {self.iterations!r}")
        if self.method not in DEFAULT_LR:
            raise ConfigError(f"refine: method must be one of {', '.join(DEFAULT_LR)}, got {self.method!r}")
        if self.lr is None:
            object.__setattr__(self, "lr", DEFAULT_LR[self.method])
        if isinstance(self.lr, bool) or not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"refine: lr must be a finite number > 0, got {self.lr!r}")
        if isinstance(self.check_every, bool) or not isinstance(self.check_every, int) or self.check_every < 1:
            raise ConfigError(f"refine: check_every must be an integer >= 1, got {self.check_every!r}")

    @property
    def suffix(self) -> str:
        """What results made with it are named after: ``+<method><iterations>``, e.g. ``+sga100``."""
        return f"+{self.method}{self.iterations}"


@dataclass
class RefinementStats:
    """One image's refinement: the objective (the model's training loss on this image, rounded
    latents: bits per pixel + weighted distortion) of ``g_a(x)`` and of the kept latent, the
    step that gave it (0 = ``g_a(x)`` itself) and the wall time in seconds."""

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


@contextlib.contextmanager
def _eval_rounding(model: nn.Module, rounding: Callable[[Tensor], Tensor]) -> Iterator[None]:
    """Within the block, every entropy model of ``model`` rounds in eval mode (CompressAI's
    ``quantize(inputs, "dequantize", means)``) as ``rounding(inputs - means) + means``; its other
    modes stay CompressAI's own."""

    def quantize(self: EntropyModel, inputs: Tensor, mode: str, means: Tensor | None = None) -> Tensor:
        if mode != "dequantize":
            return type(self).quantize(self, inputs, mode, means)
        return rounding(inputs) if means is None else rounding(inputs - means) + means

    patched = [m for m in model.modules() if isinstance(m, EntropyModel)]
    for m in patched:
        m.quantize = types.MethodType(quantize, m)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for m in patched:
            m.__dict__.pop("quantize", None)


def straight_through_rounding(model: nn.Module) -> contextlib.AbstractContextManager:
    """Within the block, every entropy model of ``model`` rounds (eval mode) with a
    straight-through gradient instead of a zero one; the values are unchanged."""
    return _eval_rounding(model, quantize_ste)


class _Temperature:
    """The current SGA temperature and the Gumbel noise source, shared by the patched models."""

    def __init__(self, generator: torch.Generator):
        self.tau = TAU_START
        self.generator = generator


def _gumbel(shape: torch.Size, like: Tensor, generator: torch.Generator) -> Tensor:
    u = torch.rand(shape, generator=generator, dtype=like.dtype).to(like.device)
    return -torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-7)))


def _sga_round(v: Tensor, state: _Temperature) -> Tensor:
    """A soft, random mix of ``floor(v)`` and ``floor(v) + 1``, the nearer more likely, at ``state.tau``."""
    lower = torch.floor(v).detach()
    eps = 1e-5  # atanh(±1) is infinite
    logits = torch.stack(
        [-torch.atanh((v - lower).clamp(-1 + eps, 1 - eps)), -torch.atanh((lower + 1 - v).clamp(-1 + eps, 1 - eps))], -1
    ) / state.tau
    weights = torch.softmax((logits + _gumbel(logits.shape, logits, state.generator)) / state.tau, -1)
    return lower + weights[..., 1]  # floor·w0 + (floor + 1)·w1


def stochastic_gumbel_rounding(model: nn.Module, state: _Temperature) -> contextlib.AbstractContextManager:
    """Within the block, every entropy model of ``model`` rounds (eval mode) by stochastic Gumbel
    annealing at ``state.tau`` (soft, random, differentiable; Yang et al. 2020)."""
    return _eval_rounding(model, lambda v: _sga_round(v, state))


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
        sched = None
        if refinement.method == "ste":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(refinement.iterations, 1))
        state = _Temperature(torch.Generator().manual_seed(0))
        decay = math.log(TAU_START / TAU_END) / max(refinement.iterations - 1, 1)

        def objective(latent: Tensor) -> Tensor:
            with analysis_output(model, latent):
                out = model(x_padded)
            return criterion({"x_hat": crop(out["x_hat"]).clamp(0, 1), "likelihoods": out["likelihoods"]}, x)["loss"]

        def hard_objective(latent: Tensor) -> float:  # eval-mode forward: rounded as the coder rounds
            with torch.no_grad():
                return float(objective(latent))

        loss_before = hard_objective(y0)
        best_loss, best_y, best_it = loss_before, y0, 0

        def relaxed():  # rounding with a gradient, as the method says
            return straight_through_rounding(model) if refinement.method == "ste" else stochastic_gumbel_rounding(model, state)

        for it in range(1, refinement.iterations + 1):
            state.tau = TAU_START * math.exp(-decay * (it - 1))
            with relaxed():
                loss = objective(y)
            (grad,) = torch.autograd.grad(loss, [y])  # no weight gets a gradient
            y.grad = grad
            opt.step()
            if sched is not None:
                sched.step()
            if it % refinement.check_every == 0 or it == refinement.iterations:
                value = hard_objective(y.detach())
                if value < best_loss:
                    best_loss, best_y, best_it = value, y.detach().clone(), it
    stats = RefinementStats(refinement.iterations, best_it, loss_before, best_loss, time.perf_counter() - t0)
    return best_y.detach(), stats
