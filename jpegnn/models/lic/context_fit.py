"""Fit a new context model to a trained codec's latents, rate only, before fine-tuning end to end.

Why: :func:`jpegnn.models.lic.add_context.add_context` starts an ``mbt2018``'s context model
(``context_prediction``, ``entropy_parameters``) as a pass-through of the hyperprior, with the
context at zero weight. End to end, those layers then learn at the fine-tune's pace: each step
pays for the whole codec (``g_a``, ``g_s``, both backward) while only the rate term's gradient
reaches the context. With the transforms frozen the latents are fixed, so they can be computed
once and the context trained on them alone, a small fraction of a step's cost. On the CPU zoo's q2,
4,000 such steps (batch 8, lr 1e-3, 2,358 cached 256-px crops of the photos' train split) took 13
minutes of one core shared with two training runs and cut the estimated rate of ``y`` on
``bsds500/test`` by 2.9 %; the end-to-end fine-tune from there reached in 1,000 steps the
validation loss that the fine-tune from the silent context needed about 4,500 steps for
(``benchmarks/results/zoo_pilot.md``, sixth pilot).

What is trained: the rate of ``y`` in bits, under CompressAI's training-time relaxation (uniform
noise for the context's input and for the likelihood, as ``JointAutoregressiveHierarchicalPriors
.forward``), with the hyperprior's parameters ``h_s(ẑ)`` (``ẑ`` rounded around the entropy
bottleneck's medians, as in coding) fixed. Nothing else in the model changes; the distortion
does not enter (the transforms, hence the image, are frozen).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jpegnn.errors import ConfigError

__all__ = ["CachedLatents", "ContextFitReport", "cache_latents", "estimated_bpp", "fit_context", "random_crops"]

_CONTEXT_LAYERS = ("context_prediction", "entropy_parameters")


def _check_model(model: nn.Module) -> None:
    for name in ("g_a", "h_a", "h_s", "entropy_bottleneck", "gaussian_conditional") + _CONTEXT_LAYERS:
        if not hasattr(model, name):
            raise ConfigError(f"fit-context: the model ({type(model).__name__}) has no {name}: it needs an mbt2018")


@dataclass
class CachedLatents:
    """Latents of a frozen codec on fixed crops.

    Attributes:
        y: ``(n, M, h, w)`` float32, the analysis transform's output (not quantized).
        params: ``(n, 2M, h, w)`` float32, ``h_s(ẑ)``: the hyperprior's input to ``entropy_parameters``.
        pixels_per_crop: image pixels behind one latent crop (``crop * crop``): bits / this = bpp.
    """

    y: Tensor
    params: Tensor
    pixels_per_crop: int

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, index: Tensor) -> "CachedLatents":
        return CachedLatents(self.y[index], self.params[index], self.pixels_per_crop)


def random_crops(images: Iterable[Tensor], size: int, per_image: int, seed: int = 0) -> Iterable[Tensor]:
    """``per_image`` random ``size`` x ``size`` crops of each ``(3, H, W)`` image in [0, 1].

    Images smaller than ``size`` are replicate-padded first (as the training crops of
    :class:`jpegnn.data.transforms.RandomCropFlip`). The crops are fixed by ``seed``.
    """
    if size < 64 or size % 64:
        raise ConfigError(f"fit-context: the crop size must be a multiple of 64 (>= 64), got {size}")
    if per_image < 1:
        raise ConfigError(f"fit-context: crops per image must be >= 1, got {per_image}")
    g = torch.Generator().manual_seed(seed)
    for image in images:
        h, w = image.shape[-2:]
        if h < size or w < size:
            image = F.pad(image[None], (0, max(0, size - w), 0, max(0, size - h)), mode="replicate")[0]
            h, w = image.shape[-2:]
        for _ in range(per_image):
            i = int(torch.randint(0, h - size + 1, (1,), generator=g))
            j = int(torch.randint(0, w - size + 1, (1,), generator=g))
            yield image[:, i:i + size, j:j + size]


@torch.no_grad()
def cache_latents(model: nn.Module, crops: Iterable[Tensor], batch_size: int = 8) -> CachedLatents:
    """Run the frozen ``g_a``, ``h_a``, entropy bottleneck (rounding) and ``h_s`` on equal-size crops.

    Memory: ``3M * (crop/16)^2 * 4`` bytes per crop (M=96, 256 px: 295 KB; 2,358 crops: 0.7 GB).
    """
    _check_model(model)
    was_training = model.training
    model.eval()
    ys, ps, pending, size = [], [], [], None

    def flush() -> None:
        x = torch.stack(pending)
        y = model.g_a(x)
        z_hat, _ = model.entropy_bottleneck(model.h_a(y))
        ys.append(y.float())
        ps.append(model.h_s(z_hat).float())
        pending.clear()

    for crop in crops:
        crop = crop.squeeze(0) if crop.dim() == 4 else crop
        if size is None:
            size = tuple(crop.shape[-2:])
        elif tuple(crop.shape[-2:]) != size:
            raise ConfigError(f"fit-context: crops must share one size, got {tuple(crop.shape[-2:])} after {size}")
        pending.append(crop.float())
        if len(pending) == batch_size:
            flush()
    if pending:
        flush()
    model.train(was_training)
    if not ys:
        raise ConfigError("fit-context: no images to fit the context on")
    return CachedLatents(torch.cat(ys), torch.cat(ps), int(size[0] * size[1]))


def _rate_bits(model: nn.Module, y: Tensor, params: Tensor, training: bool) -> Tensor:
    """Bits of ``y`` under the context model: CompressAI's forward, noise when ``training``, else
    its evaluation estimate (rounded context input)."""
    gc = model.gaussian_conditional
    y_hat = gc.quantize(y, "noise" if training else "dequantize")
    ctx = model.context_prediction(y_hat)
    scales, means = model.entropy_parameters(torch.cat((params, ctx), dim=1)).chunk(2, 1)
    _, likelihoods = gc(y, scales, means=means, training=training)
    return -torch.log2(likelihoods).sum()


@torch.no_grad()
def estimated_bpp(model: nn.Module, latents: CachedLatents, batch_size: int = 32) -> float:
    """Estimated (likelihood-based, not coded) bits per pixel of ``y`` on ``latents``, eval mode."""
    _check_model(model)
    bits = 0.0
    for k in range(0, len(latents), batch_size):
        bits += float(_rate_bits(model, latents.y[k:k + batch_size], latents.params[k:k + batch_size], False))
    return bits / (len(latents) * latents.pixels_per_crop)


@dataclass
class ContextFitReport:
    """What :func:`fit_context` did; bpp are estimated (likelihoods), of ``y`` only, on held-out crops."""

    steps: int
    train_crops: int
    held_out_crops: int
    bpp_before: float
    bpp_after: float
    seconds: float
    history: list[tuple[int, float]] = field(default_factory=list)  #: (step, held-out estimated bpp of y)

    @property
    def change(self) -> float:
        """Relative change of the held-out rate of ``y`` (-0.029 is 2.9 % fewer bits)."""
        return self.bpp_after / self.bpp_before - 1.0


def fit_context(
    model: nn.Module,
    latents: CachedLatents,
    steps: int = 4000,
    lr: float = 1e-3,
    batch_size: int = 8,
    held_out: float = 0.1,
    clip_max_norm: float = 1.0,
    eval_every: int = 500,
    seed: int = 0,
    log: Optional[Callable[[str], None]] = None,
) -> ContextFitReport:
    """Train ``model``'s ``context_prediction`` and ``entropy_parameters`` on ``latents``, rate only.

    Adam at ``lr`` on batches of ``batch_size`` cached crops drawn with replacement; gradients
    clipped to ``clip_max_norm`` (CompressAI's ``examples/train.py``). Every ``eval_every`` steps
    the held-out crops (every ``1/held_out``-th crop, at least one) are scored and the weights of
    the best score kept, so the result is never worse on them than the start. Other layers are not
    touched. The model is left in eval mode.

    Returns:
        A :class:`ContextFitReport` (estimated bpp of ``y`` on the held-out crops, before and after).
    """
    _check_model(model)
    if steps < 0 or batch_size < 1 or not lr > 0 or eval_every < 1:
        raise ConfigError(f"fit-context: need steps >= 0, batch size >= 1, lr > 0, eval_every >= 1; got "
                          f"{steps}, {batch_size}, {lr}, {eval_every}")
    if not 0 < held_out < 1:
        raise ConfigError(f"fit-context: held_out must be a fraction in (0, 1), got {held_out}")
    n = len(latents)
    every = max(2, round(1 / held_out))
    is_held = torch.zeros(n, dtype=torch.bool)
    is_held[::every] = True
    if n < 2:
        raise ConfigError(f"fit-context: need at least 2 crops (one held out), got {n}")
    train, val = latents.subset(~is_held), latents.subset(is_held)
    layers = [getattr(model, name) for name in _CONTEXT_LAYERS]
    params = [p for layer in layers for p in layer.parameters()]
    opt = torch.optim.Adam(params, lr=lr)
    g = torch.Generator().manual_seed(seed)
    model.eval()
    start = time.perf_counter()
    best = before = estimated_bpp(model, val)
    best_state = [{k: v.clone() for k, v in layer.state_dict().items()} for layer in layers]
    history = [(0, before)]
    for step in range(1, steps + 1):
        for layer in layers:
            layer.train()
        idx = torch.randint(0, len(train), (batch_size,), generator=g)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * 1_000_003 + step)  # the quantization noise, reproducible
            bits = _rate_bits(model, train.y[idx], train.params[idx], True)
        loss = bits / (batch_size * latents.pixels_per_crop)
        if not torch.isfinite(loss):
            raise ConfigError(f"fit-context: the rate became {float(loss)} at step {step}; lower the lr ({lr})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip_max_norm > 0:
            nn.utils.clip_grad_norm_(params, clip_max_norm)
        opt.step()
        if step % eval_every == 0 or step == steps:
            model.eval()
            score = estimated_bpp(model, val)
            history.append((step, score))
            if log is not None:
                log(f"fit-context: step {step}/{steps}: held-out rate of y {score:.4f} bpp (estimated), "
                    f"{score / before - 1:+.2%}")
            if score < best:
                best = score
                best_state = [{k: v.clone() for k, v in layer.state_dict().items()} for layer in layers]
    for layer, state in zip(layers, best_state):
        layer.load_state_dict(state)
    model.eval()
    return ContextFitReport(steps, len(train), len(val), before, best, time.perf_counter() - start, history)
