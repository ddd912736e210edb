"""LightningDataModules (torchgeo's ``datamodules/``): one module serving every dataset role."""

from jpegnn.data.datamodules.compression import (
    DataFallbackWarning,
    ImageDataModule,
    RoleDataset,
    collate_images,
    holdout_split,
)

__all__ = ["ImageDataModule", "RoleDataset", "collate_images", "holdout_split", "DataFallbackWarning"]
