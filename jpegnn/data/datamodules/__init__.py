"""LightningDataModules (torchgeo's ``datamodules/``): one module serving every dataset role."""

from jpegnn.data.datamodules.compression import (
    DataFallbackWarning,
    ImageDataModule,
    RoleDataset,
    collate_images,
    holdout_split,
)

__all__ = ["ImageDataModule", "RoleDataset", "collate_images", "holdout_split", "DataFallbackWarning"]

# JPEG-table learning (issue 3)
from jpegnn.data.datamodules.classification import ClassificationDataModule, FrequencyDataModule  # noqa: E402
from jpegnn.data.datamodules.segmentation import ADE20KDataModule  # noqa: E402

__all__ += ["ClassificationDataModule", "FrequencyDataModule", "ADE20KDataModule"]
