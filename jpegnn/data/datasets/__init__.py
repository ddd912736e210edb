"""Plain ``torch.utils.data.Dataset`` classes, one file per dataset (torchgeo's ``datasets/``).

Every item is ``{"image": float32 3 x H x W in [0, 1], "name": str}`` at the file's full size.
Constructing a dataset touches no files; the listing (and any missing-data error) happens on
first use.
"""

from jpegnn.data.datasets.base import IMAGE_EXTENSIONS, ImageListDataset
from jpegnn.data.datasets.clic import CLIC
from jpegnn.data.datasets.image_folder import ImageFolder
from jpegnn.data.datasets.kodak import Kodak
from jpegnn.data.datasets.photos import Photos
from jpegnn.data.datasets.samples import BuiltinSamples
from jpegnn.data.datasets.vimeo90k import MissingSplitError, Vimeo90k

__all__ = [
    "ImageListDataset",
    "ImageFolder",
    "Kodak",
    "Photos",
    "CLIC",
    "Vimeo90k",
    "BuiltinSamples",
    "MissingSplitError",
    "IMAGE_EXTENSIONS",
]

# JPEG-table learning (issue 3): classification folders, ADE20K, the synthetic frequency set
from jpegnn.data.datasets.ade20k import ADE20K  # noqa: E402
from jpegnn.data.datasets.classification import ClassFolder  # noqa: E402
from jpegnn.data.datasets.frequency import FrequencyBlocks  # noqa: E402

__all__ += ["ClassFolder", "ADE20K", "FrequencyBlocks"]
