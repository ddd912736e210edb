"""Plain ``torch.utils.data.Dataset`` classes, one file per dataset (torchgeo's ``datasets/``).

Every item is ``{"image": float32 3 x H x W in [0, 1], "name": str}`` at the file's full size.
Constructing a dataset touches no files; the listing (and any missing-data error) happens on
first use.
"""

from jpegnn.data.datasets.base import IMAGE_EXTENSIONS, ImageListDataset
from jpegnn.data.datasets.clic import CLIC
from jpegnn.data.datasets.image_folder import ImageFolder
from jpegnn.data.datasets.kodak import Kodak
from jpegnn.data.datasets.samples import BuiltinSamples
from jpegnn.data.datasets.vimeo90k import MissingSplitError, Vimeo90k

__all__ = [
    "ImageListDataset",
    "ImageFolder",
    "Kodak",
    "CLIC",
    "Vimeo90k",
    "BuiltinSamples",
    "MissingSplitError",
    "IMAGE_EXTENSIONS",
]
