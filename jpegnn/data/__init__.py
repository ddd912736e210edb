"""Image data for jpegnn: file reading, datasets, patch transforms and the LightningDataModule.

Public names (usable as ``class_path`` in configs): :class:`ImageDataModule` and the datasets
:class:`ImageFolder`, :class:`Kodak`, :class:`CLIC`, :class:`Vimeo90k`, :class:`BuiltinSamples`;
:func:`load_rgb` / :func:`to_float` read any image file as 8-bit RGB / [0, 1] floats.
"""

from jpegnn.data.datamodules import ImageDataModule
from jpegnn.data.datasets import CLIC, BuiltinSamples, ImageFolder, Kodak, MissingSplitError, Vimeo90k
from jpegnn.data.io import load_rgb, to_float

__all__ = [
    "ImageDataModule",
    "ImageFolder",
    "Kodak",
    "CLIC",
    "Vimeo90k",
    "BuiltinSamples",
    "MissingSplitError",
    "load_rgb",
    "to_float",
]
