"""LightningDataModule for ADE20K semantic segmentation through a JPEG layer.

Batches are dicts ``{"image": B x 3 x H x W float32 in [0, 1] (8-bit grid), "mask": B x H' x W'
int64 (0..149, 255 ignored), "name": list of B str}``.

* **train**: random rescale so the short side is ``base_size x s`` with ``s`` uniform in
  ``scale_range`` (bilinear, antialiased; masks nearest), padding to at least ``crop_size``
  (image with 0, mask with 255), a random ``crop_size`` square crop and a random horizontal
  flip — the mmsegmentation ADE20K recipe without the photometric jitter (colour changes
  would alter the very statistics a learned JPEG table adapts to).
* **val / test**: the image is resized so its short side is ``eval_size`` (None keeps the full
  size) and the mask is kept at the **original** resolution; the segmenter upsamples its logits
  to the mask's size, the standard single-scale ADE20K protocol. Images differ in size, so the
  default evaluation batch size is 1.

The image is put on the 8-bit grid after resizing (see
:mod:`jpegnn.data.datamodules.classification`): the JPEG layer, the exact size count and a
real Pillow encode all see the same pixels; the reported bpp is that of the resized image the
network receives.
"""

from __future__ import annotations

import random
from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule
from torch.utils.data import Dataset

from jpegnn.data.datamodules.classification import ItemTransformDataset, Quantize8Bit, _LoaderMixin
from jpegnn.data.datasets.ade20k import ADE20K, ADE20K_NUM_CLASSES, IGNORE_INDEX
from jpegnn.errors import ConfigError, check_positive_int

__all__ = ["ADE20KDataModule", "SegTrainTransform", "SegEvalTransform", "resize_short_side"]


def _short_side_size(h: int, w: int, short: int) -> tuple[int, int]:
    if h <= w:
        return short, max(1, round(w * short / h))
    return max(1, round(h * short / w)), short


def resize_short_side(image: torch.Tensor, short: int) -> torch.Tensor:
    """Resize ``3 x H x W`` so its short side is ``short`` pixels (bilinear, antialiased, aspect kept)."""
    size = _short_side_size(image.shape[-2], image.shape[-1], short)
    if size == tuple(image.shape[-2:]):
        return image
    return F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]


def _resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if size == tuple(mask.shape[-2:]):
        return mask
    return F.interpolate(mask[None, None].float(), size=size, mode="nearest-exact")[0, 0].long()


class SegTrainTransform:
    """Random rescale + pad + crop + horizontal flip of an ``{"image", "mask"}`` item (see module docstring).

    Randomness comes from Python's and torch's global generators (seeded per DataLoader worker
    by Lightning's ``seed_everything(..., workers=True)``).
    """

    def __init__(self, crop_size: int, base_size: int, scale_range: Sequence[float] = (0.5, 2.0)) -> None:
        self.crop_size = crop_size
        self.base_size = base_size
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.quantize = Quantize8Bit()

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        image, mask = item["image"], item["mask"]
        s = random.uniform(*self.scale_range)
        short = max(1, round(self.base_size * s))
        size = _short_side_size(image.shape[-2], image.shape[-1], short)
        image = F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
        mask = _resize_mask(mask, size)
        c = self.crop_size
        ph, pw = max(c - size[0], 0), max(c - size[1], 0)
        if ph or pw:
            image = F.pad(image, (0, pw, 0, ph), value=0.0)
            mask = F.pad(mask, (0, pw, 0, ph), value=IGNORE_INDEX)
        h, w = image.shape[-2:]
        top = int(torch.randint(0, h - c + 1, ()))
        left = int(torch.randint(0, w - c + 1, ()))
        image = image[:, top : top + c, left : left + c]
        mask = mask[top : top + c, left : left + c]
        if bool(torch.rand(()) < 0.5):
            image, mask = image.flip(-1), mask.flip(-1)
        return {**item, "image": self.quantize(image).contiguous(), "mask": mask.contiguous()}

    def __repr__(self) -> str:
        return f"SegTrainTransform(crop_size={self.crop_size}, base_size={self.base_size}, scale_range={self.scale_range})"


class SegEvalTransform:
    """Resize the image's short side to ``size`` (None: keep), keep the mask at full size, 8-bit grid."""

    def __init__(self, size: Optional[int]) -> None:
        self.size = size
        self.quantize = Quantize8Bit()

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        image = item["image"] if self.size is None else resize_short_side(item["image"], self.size)
        return {**item, "image": self.quantize(image)}

    def __repr__(self) -> str:
        return f"SegEvalTransform(size={self.size})"


class ADE20KDataModule(_LoaderMixin, LightningDataModule):
    """ADE20K SceneParsing (``ADEChallengeData2016`` layout) for JPEG-table learning.

    Args:
        root: The ``ADEChallengeData2016`` folder.
        train_split: Split used for training (``"training"``; the 4-image sample in
            ``../shared/datasets/ade20k-sample`` only has ``"validation"``).
        val_split: Split used for validation.
        test_split: Split used for test.
        crop_size: Side of the square training crops, pixels.
        base_size: Training short side before the random scale, pixels.
        scale_range: ``(min, max)`` of the random training scale factor.
        eval_size: Short side of validation/test images, pixels; None keeps the full size.
        batch_size: Training crops per batch (per device).
        val_batch_size: Validation/test images per batch (1 unless ``eval_size`` makes every
            image the same size, which ADE20K's varied aspect ratios do not).
        num_workers: DataLoader worker processes.
    """

    num_classes: int = ADE20K_NUM_CLASSES
    ignore_index: int = IGNORE_INDEX

    def __init__(
        self,
        root: str = "data/ADEChallengeData2016",
        train_split: str = "training",
        val_split: str = "validation",
        test_split: str = "validation",
        crop_size: int = 512,
        base_size: int = 512,
        scale_range: tuple[float, float] = (0.5, 2.0),
        eval_size: Optional[int] = 512,
        batch_size: int = 8,
        val_batch_size: int = 1,
        num_workers: int = 4,
    ) -> None:
        super().__init__()
        name = "ADE20KDataModule"
        for arg in ("crop_size", "base_size", "batch_size", "val_batch_size"):
            check_positive_int(name, arg, locals()[arg])
        check_positive_int(name, "eval_size", eval_size, allow_none=True)
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ConfigError(f"{name}: argument 'num_workers' must be >= 0, got {num_workers!r}")
        if len(scale_range) != 2 or not 0 < scale_range[0] <= scale_range[1]:
            raise ConfigError(f"{name}: argument 'scale_range' must be (min, max) with 0 < min <= max, got {scale_range!r}")
        self.root = str(root)
        self.splits = {"train": train_split, "val": val_split, "test": test_split}
        for split in self.splits.values():
            ADE20K(self.root, split)  # validates the split name now (touches no file)
        self.crop_size, self.base_size = crop_size, base_size
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.eval_size = eval_size
        self.batch_size, self.val_batch_size = batch_size, val_batch_size
        self.num_workers = num_workers
        self.train_dataset: Optional[Dataset] = None
        self.val_dataset: Optional[Dataset] = None
        self.test_dataset: Optional[Dataset] = None
        self.save_hyperparameters()

    def _split(self, role: str, item_transform: Any) -> ItemTransformDataset:
        ds = ADE20K(self.root, self.splits[role])
        len(ds)  # list now: a missing folder or annotation fails in setup, naming the path
        return ItemTransformDataset(ds, item_transform=item_transform)

    def setup(self, stage: Optional[str] = None) -> None:
        """List the splits ``stage`` needs (DataError naming a missing folder or annotation)."""
        if stage in (None, "fit"):
            self.train_dataset = self._split(
                "train", SegTrainTransform(self.crop_size, self.base_size, self.scale_range)
            )
        if stage in (None, "fit", "validate"):
            self.val_dataset = self._split("val", SegEvalTransform(self.eval_size))
        if stage in (None, "test", "predict"):
            self.test_dataset = self._split("test", SegEvalTransform(self.eval_size))
