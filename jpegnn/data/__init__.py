"""Image data for jpegnn: file reading, datasets, patch transforms and the LightningDataModule.

Public names (usable as ``class_path`` in configs): :class:`ImageDataModule` and the datasets
:class:`ImageFolder`, :class:`Kodak`, :class:`Photos`, :class:`CLIC`, :class:`Vimeo90k`, :class:`BuiltinSamples`;
:func:`load_rgb` / :func:`to_float` read any image file as 8-bit RGB / [0, 1] floats.
"""

from jpegnn.data.datamodules import ImageDataModule
from jpegnn.data.datasets import CLIC, BuiltinSamples, ImageFolder, Kodak, MissingSplitError, Photos, Vimeo90k
from jpegnn.data.io import load_rgb, to_float

__all__ = [
    "ImageDataModule",
    "ImageFolder",
    "Kodak",
    "Photos",
    "CLIC",
    "Vimeo90k",
    "BuiltinSamples",
    "MissingSplitError",
    "load_rgb",
    "to_float",
]

# JPEG-table learning (issue 3): DataModules and datasets usable as short class_path names
from jpegnn.data.datamodules import ADE20KDataModule, ClassificationDataModule, FrequencyDataModule  # noqa: E402
from jpegnn.data.datasets import ADE20K, ClassFolder, FrequencyBlocks  # noqa: E402

__all__ += [
    "ClassificationDataModule", "FrequencyDataModule", "ADE20KDataModule", "ClassFolder", "ADE20K", "FrequencyBlocks",
]
