"""LightningModules ("tasks"): training logic only; the networks live in ``jpegnn.models``."""

from jpegnn.tasks.lic import LICModule

__all__ = ["LICModule"]
