"""How the latents of a learned codec are quantized in training: CompressAI's noise, or mixed.

CompressAI trains its zoo with additive uniform noise ``y + U(-0.5, 0.5)`` standing in for
rounding, for the rate term *and* for the synthesis transform's input; at test time the coder sends
``round(y - μ) + μ``. The decoder ``g_s`` therefore never sees, in training, the latents it
decodes (the train-test mismatch of Ballé et al. 2018 and Minnen & Singh 2020, "Channel-wise
autoregressive entropy models", Sec. 3).

``"ste"`` ("mixed" quantization, Minnen & Singh 2020) keeps the noisy latents for the likelihood
(the rate term stays a smooth, unbiased estimate) and hands ``g_s`` the latents the coder sends,
``round(y - μ) + μ``, with a straight-through gradient. It is what CompressAI's own latent codecs
do with ``GaussianConditionalLatentCodec(quantizer="ste")``; here it is applied to the
hyperprior models of the zoo (``bmshj2018-hyperprior``, ``mbt2018-mean``), whose weights and state
dicts stay CompressAI's: only the training-mode forward of the Gaussian conditional changes, so a
model trained this way is exported, coded and decoded as any other (and ``eval()`` is exactly
CompressAI's). The hyper-latent ``z`` keeps CompressAI's noise (as the latent codecs do).

The serial context model ``mbt2018`` trains mixed as :class:`MixedJointAutoregressive`: its context
(the masked conv) reads the noisy latents, as in CompressAI's forward (the decoder's context is
``round(y - μ) + μ`` with the very ``μ`` the context predicts, which a parallel training pass cannot
form), and ``g_s`` gets ``round(y - μ) + μ`` with the ``μ`` of ``entropy_parameters``. CompressAI's
own forward gives ``g_s`` the noisy latents. The factorized prior (no Gaussian conditional) cannot
train mixed: a ConfigError.
"""

from __future__ import annotations

from typing import Optional

import torch
from compressai.entropy_models import GaussianConditional
from compressai.models import JointAutoregressiveHierarchicalPriors, MeanScaleHyperprior, ScaleHyperprior
from compressai.ops import quantize_ste
from torch import Tensor, nn

from jpegnn.errors import ConfigError
from jpegnn.models.lic.precision import Float32EntropyModel, float32_entropy_models

__all__ = [
    "LATENT_QUANTIZERS", "MixedJointAutoregressive", "StraightThroughGaussianConditional", "set_latent_quantizer",
]

#: training-mode latent quantizers: CompressAI's default, and mixed (noise for the rate, STE for g_s)
LATENT_QUANTIZERS = ("noise", "ste")

#: forwards that feed the Gaussian conditional's output ``y_hat`` to ``g_s`` (mbt2018 subclasses
#: MeanScaleHyperprior but has its own forward, which discards it)
_MIXED_CAPABLE_FORWARDS = (ScaleHyperprior.forward, MeanScaleHyperprior.forward)


class StraightThroughGaussianConditional(GaussianConditional):
    """A ``GaussianConditional`` whose training forward returns the coder's latents for ``g_s``.

    Same parameters, buffers and state dict as CompressAI's class (the instance's class is swapped
    by :func:`set_latent_quantizer`; importable by name, so instances pickle); compression,
    decompression and the eval-mode forward are inherited unchanged. Training forward: likelihoods of ``y + U(-0.5, 0.5)`` (CompressAI's), and
    ``y_hat = round(y - μ) + μ`` forward with the identity as its gradient.
    """

    def forward(
        self,
        inputs: Tensor,
        scales: Tensor,
        means: Optional[Tensor] = None,
        training: Optional[bool] = None,
    ) -> tuple[Tensor, Tensor]:
        if training is None:
            training = self.training
        noisy, likelihood = super().forward(inputs, scales, means, training)
        if not training:
            return noisy, likelihood
        y_hat = quantize_ste(inputs) if means is None else quantize_ste(inputs - means) + means
        return y_hat, likelihood


class MixedJointAutoregressive(JointAutoregressiveHierarchicalPriors):
    """CompressAI's ``mbt2018`` whose training forward feeds ``g_s`` the Gaussian conditional's output.

    With :class:`StraightThroughGaussianConditional` that output is ``round(y - μ) + μ`` with a
    straight-through gradient (mixed quantization); the context model and the likelihoods read the
    noisy latents, as in CompressAI's forward. Same parameters and state dict as CompressAI's class
    (the instance's class is swapped by :func:`set_latent_quantizer`); compression, decompression
    and the eval-mode forward are CompressAI's.
    """

    def forward(self, x: Tensor) -> dict:
        if not self.training:
            return super().forward(x)
        y = self.g_a(x)
        z_hat, z_likelihoods = self.entropy_bottleneck(self.h_a(y))
        params = self.h_s(z_hat)
        ctx_params = self.context_prediction(self.gaussian_conditional.quantize(y, "noise"))
        scales_hat, means_hat = self.entropy_parameters(torch.cat((params, ctx_params), dim=1)).chunk(2, 1)
        y_hat, y_likelihoods = self.gaussian_conditional(y, scales_hat, means=means_hat)
        return {"x_hat": self.g_s(y_hat), "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}


def set_latent_quantizer(model: nn.Module, quantizer: str, arg_name: str = "latent_quantizer") -> nn.Module:
    """Make ``model`` train with ``quantizer`` (``"noise"`` or ``"ste"``, see the module docstring).

    Changes the class of ``model.gaussian_conditional`` in place (no parameter or buffer changes;
    a float32-under-autocast entropy model, :mod:`jpegnn.models.lic.precision`, stays one) and
    returns ``model``. ``"noise"`` restores CompressAI's class. A model that cannot train with
    ``"ste"`` is a ConfigError naming ``arg_name``.
    """
    if quantizer not in LATENT_QUANTIZERS:
        raise ConfigError(f"{arg_name} must be one of {', '.join(LATENT_QUANTIZERS)}, got {quantizer!r}")
    gc = getattr(model, "gaussian_conditional", None)
    # the class under jpegnn's float32-under-autocast subclass (jpegnn.models.lic.precision)
    base = getattr(type(gc), "_float32_base", type(gc))
    float32 = isinstance(gc, Float32EntropyModel)
    autoregressive = type(model) in (JointAutoregressiveHierarchicalPriors, MixedJointAutoregressive)
    mixed_capable = autoregressive or getattr(type(model), "forward", None) in _MIXED_CAPABLE_FORWARDS
    if quantizer == "ste" and mixed_capable and base in (GaussianConditional, StraightThroughGaussianConditional):
        target = StraightThroughGaussianConditional
    elif quantizer == "noise":
        target = GaussianConditional if base is StraightThroughGaussianConditional else base
    else:
        raise ConfigError(
            f"{arg_name}='ste' needs a hyperprior model whose decoder reads the Gaussian conditional's "
            f"output (bmshj2018-hyperprior, mbt2018-mean, mbt2018); {type(model).__name__} is not one: use 'noise'"
        )
    if autoregressive:
        model.__class__ = MixedJointAutoregressive if quantizer == "ste" else JointAutoregressiveHierarchicalPriors
    if target is not base:
        gc.__class__ = target
        if float32:
            float32_entropy_models(gc)
    return model
