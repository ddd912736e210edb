"""Training losses: rate-distortion for learned codecs (KD and transform-domain losses join later)."""

from jpegnn.losses.rate_distortion import RateDistortionLoss, bits_from_likelihoods, ms_ssim_loss_value

__all__ = ["RateDistortionLoss", "bits_from_likelihoods", "ms_ssim_loss_value"]

from jpegnn.losses.distillation import (  # noqa: E402
    KDWeights,
    cosine_distillation,
    distillation_objective,
    kl_distillation,
    latent_distillation,
    mse_distillation,
    parse_kd_weights,
)

__all__ += [
    "KDWeights",
    "cosine_distillation",
    "distillation_objective",
    "kl_distillation",
    "latent_distillation",
    "mse_distillation",
    "parse_kd_weights",
]
