"""Training losses: rate-distortion for learned codecs (KD and transform-domain losses join later)."""

from jpegnn.losses.rate_distortion import RateDistortionLoss, bits_from_likelihoods, ms_ssim_loss_value

__all__ = ["RateDistortionLoss", "bits_from_likelihoods", "ms_ssim_loss_value"]
