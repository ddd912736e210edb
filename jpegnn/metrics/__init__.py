"""Metrics: image quality (PSNR, MS-SSIM), bits per pixel, and Bjøntegaard deltas."""
