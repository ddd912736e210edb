"""Learned image codecs built from CompressAI's networks, entropy models and latent codecs."""

from jpegnn.models.lic.registry import (
    ARCHITECTURES,
    LAMBDAS_MS_SSIM,
    LAMBDAS_MSE,
    build_lic_model,
    default_lambda,
    preset_channels,
)

__all__ = [
    "ARCHITECTURES",
    "LAMBDAS_MSE",
    "LAMBDAS_MS_SSIM",
    "build_lic_model",
    "default_lambda",
    "preset_channels",
]
