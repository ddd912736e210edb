"""LightningDataModules for classification through a JPEG layer: an image-folder set and the synthetic frequency set.

Batches are dicts ``{"image": B x 3 x S x S float32 in [0, 1], "label": B int64, "name": list of B str}``.

Every image handed to the model is on the 8-bit grid (values ``k / 255``) after resizing and
cropping: a real JPEG encoder only ever sees 8-bit samples, so the differentiable JPEG layer, the
exact size count and the Pillow encode of the same batch all start from the same pixels.

:class:`ClassificationDataModule` reads ``root/train/<class>/*`` and ``root/val/<class>/*``
(Imagenette, ImageNet, any such folder): training uses a random resized crop to
``image_size`` (area 35–100 % of the image, aspect 3/4–4/3) and a random horizontal flip;
validation and test resize the short side to ``resize_size`` (``image_size / 0.875`` by default,
the usual 256 → 224 ratio) and take the centre ``image_size`` crop, deterministically.

:class:`FrequencyDataModule` serves :class:`~jpegnn.data.datasets.frequency.FrequencyBlocks`
train/val/test sets drawn with seeds ``seed``, ``seed + 1`` and ``seed + 2`` (no augmentation:
a flip or crop would move the informative frequencies).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from jpegnn.data.datasets.classification import ClassFolder, list_class_folders
from jpegnn.data.datasets.frequency import FrequencyBlocks
from jpegnn.errors import ConfigError, check_positive_int

__all__ = [
    "ClassificationDataModule",
    "FrequencyDataModule",
    "Quantize8Bit",
    "ItemTransformDataset",
    "collate_labeled",
]


class Quantize8Bit:
    """Round ``[0, 1]`` float images to the 8-bit grid (``round(255 x) / 255``), clamped to [0, 1]."""

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return (image.clamp(0, 1) * 255).round_().div_(255)

    def __repr__(self) -> str:
        return "Quantize8Bit()"


class ItemTransformDataset(Dataset):
    """Apply ``transform`` to the ``"image"`` of every item (or ``item_transform`` to the whole dict).

    Top-level and holding only picklable transforms, so DataLoader workers can receive it.
    """

    def __init__(
        self,
        base: Dataset,
        transform: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
        item_transform: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None,
    ) -> None:
        self.base = base
        self.transform = transform
        self.item_transform = item_transform

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = dict(self.base[index])
        if self.transform is not None:
            item["image"] = self.transform(item["image"])
        if self.item_transform is not None:
            item = self.item_transform(item)
        return item

    def __repr__(self) -> str:
        return f"ItemTransformDataset({self.base!r})"


def collate_labeled(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack ``image`` (and ``mask``) tensors, make ``label`` an int64 tensor, other keys lists.

    Raises:
        ConfigError: Images (or masks) of different sizes in one batch; the message names them.
    """
    out: dict[str, Any] = {}
    for key in batch[0]:
        values = [item[key] for item in batch]
        if key in ("image", "mask"):
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                desc = ", ".join(f"{item.get('name', '?')} {tuple(item[key].shape[-2:])}" for item in batch[:4])
                raise ConfigError(
                    f"cannot batch {key}s of different sizes ({desc}{', ...' if len(batch) > 4 else ''}); "
                    "use a batch size of 1 for full-size evaluation or set a crop/resize size"
                )
            out[key] = torch.stack(values)
        elif key == "label":
            out[key] = torch.as_tensor(values, dtype=torch.int64)
        else:
            out[key] = values
    return out


class _LoaderMixin:
    """DataLoader construction shared by the classification and segmentation DataModules.

    Subclasses set ``train_dataset``, ``val_dataset``, ``test_dataset`` (predict uses the test
    split), ``batch_size`` (training) and ``val_batch_size`` (validation, test, predict).
    """

    num_workers: int
    batch_size: int
    val_batch_size: int
    train_dataset: Optional[Dataset]
    val_dataset: Optional[Dataset]
    test_dataset: Optional[Dataset]

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_dataset, "train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_dataset, "val", self.val_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_dataset, "test", self.val_batch_size, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.test_dataset, "predict", self.val_batch_size, shuffle=False)

    def _loader(self, dataset: Optional[Dataset], role: str, batch_size: int, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise ConfigError(
                f"{type(self).__name__}: the {role} dataset is not set up: call setup() for its stage first"
            )
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            collate_fn=collate_labeled,
            drop_last=False,
        )


class ClassificationDataModule(_LoaderMixin, LightningDataModule):
    """Image-folder classification (``root/{train,val}/<class>/*``) with the usual crop conventions.

    Class indices follow the sorted class folders of the training split, and the validation and
    test splits use the same list (a class folder there that training lacks is a DataError).
    ``num_classes`` and ``classes`` are read from the folders (cheap, no image is opened).

    Args:
        root: Dataset folder holding the split folders.
        train_dir: Training split, relative to ``root``.
        val_dir: Validation split, relative to ``root``.
        test_dir: Test split, relative to ``root``; None uses ``val_dir``.
        image_size: Side of the square network input, pixels.
        resize_size: Short side before the centre crop in validation/test, pixels; None uses
            ``round(image_size / 0.875)``.
        min_scale: Smallest crop area (fraction of the image) of the training random resized crop.
        batch_size: Training images per batch (per device).
        val_batch_size: Validation/test images per batch; None uses ``batch_size``.
        num_workers: DataLoader worker processes (0 loads in the main process).
    """

    def __init__(
        self,
        root: str = "data/imagenette",
        train_dir: str = "train",
        val_dir: str = "val",
        test_dir: Optional[str] = None,
        image_size: int = 224,
        resize_size: Optional[int] = None,
        min_scale: float = 0.35,
        batch_size: int = 32,
        val_batch_size: Optional[int] = None,
        num_workers: int = 4,
    ) -> None:
        super().__init__()
        name = "ClassificationDataModule"
        for arg in ("image_size", "batch_size"):
            check_positive_int(name, arg, locals()[arg])
        check_positive_int(name, "resize_size", resize_size, allow_none=True)
        check_positive_int(name, "val_batch_size", val_batch_size, allow_none=True)
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ConfigError(f"{name}: argument 'num_workers' must be >= 0, got {num_workers!r}")
        if not 0.0 < min_scale <= 1.0:
            raise ConfigError(f"{name}: argument 'min_scale' must be in (0, 1], got {min_scale!r}")
        self.root = str(root)
        self.train_dir, self.val_dir = train_dir, val_dir
        self.test_dir = test_dir if test_dir is not None else val_dir
        self.image_size = image_size
        self.resize_size = resize_size if resize_size is not None else round(image_size / 0.875)
        if self.resize_size < image_size:
            raise ConfigError(f"{name}: 'resize_size' ({self.resize_size}) must be >= 'image_size' ({image_size})")
        self.min_scale = min_scale
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size if val_batch_size is not None else batch_size
        self.num_workers = num_workers
        self._classes: Optional[list[str]] = None
        self.train_dataset: Optional[Dataset] = None
        self.val_dataset: Optional[Dataset] = None
        self.test_dataset: Optional[Dataset] = None
        self.save_hyperparameters()

    # -- classes -----------------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        """Class folder names of the training split, in label order."""
        if self._classes is None:
            from pathlib import Path

            train = Path(self.root) / self.train_dir
            self._classes = list_class_folders(train if train.is_dir() else Path(self.root) / self.val_dir)
        return self._classes

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    # -- transforms ----------------------------------------------------------------------------
    def train_transform(self) -> v2.Compose:
        """Random resized crop to ``image_size`` (area ``min_scale``–1), horizontal flip, 8-bit grid."""
        return v2.Compose([
            v2.RandomResizedCrop(self.image_size, scale=(self.min_scale, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            Quantize8Bit(),
        ])

    def eval_transform(self) -> v2.Compose:
        """Short side to ``resize_size``, centre ``image_size`` crop, 8-bit grid (deterministic)."""
        return v2.Compose([
            v2.Resize(self.resize_size, antialias=True),
            v2.CenterCrop(self.image_size),
            Quantize8Bit(),
        ])

    def _split(self, sub: str, transform: v2.Compose) -> ItemTransformDataset:
        from pathlib import Path

        ds = ClassFolder(str(Path(self.root) / sub), classes=self.classes)
        len(ds)  # list now: a missing folder fails in setup with the path named
        return ItemTransformDataset(ds, transform)

    # -- Lightning hooks -----------------------------------------------------------------------
    def setup(self, stage: Optional[str] = None) -> None:
        """List the splits ``stage`` needs (DataError naming a missing folder)."""
        if stage in (None, "fit"):
            self.train_dataset = self._split(self.train_dir, self.train_transform())
        if stage in (None, "fit", "validate"):
            self.val_dataset = self._split(self.val_dir, self.eval_transform())
        if stage in (None, "test", "predict"):
            self.test_dataset = self._split(self.test_dir, self.eval_transform())


class FrequencyDataModule(_LoaderMixin, LightningDataModule):
    """The synthetic frequency set (:class:`FrequencyBlocks`): label = sort axis of the central 4x4 DCT.

    Args:
        num_train: Training images.
        num_val: Validation images.
        num_test: Test images.
        grid: Blocks per image side (images are ``8 * grid`` pixels square).
        amplitude: Half-range of the random pixels around 128, grey levels.
        seed: Seed of the training set; validation and test use ``seed + 1`` and ``seed + 2``.
        batch_size: Training images per batch.
        val_batch_size: Validation/test images per batch; None uses ``batch_size``.
        num_workers: DataLoader worker processes (0 is fastest: the set lives in memory).
    """

    classes: tuple[str, ...] = FrequencyBlocks.classes

    def __init__(
        self,
        num_train: int = 8192,
        num_val: int = 1024,
        num_test: int = 1024,
        grid: int = 2,
        amplitude: int = 64,
        seed: int = 0,
        batch_size: int = 128,
        val_batch_size: Optional[int] = None,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        name = "FrequencyDataModule"
        for arg in ("num_train", "num_val", "num_test", "grid", "batch_size"):
            check_positive_int(name, arg, locals()[arg])
        check_positive_int(name, "val_batch_size", val_batch_size, allow_none=True)
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ConfigError(f"{name}: argument 'num_workers' must be >= 0, got {num_workers!r}")
        self.num_train, self.num_val, self.num_test = num_train, num_val, num_test
        self.grid, self.amplitude, self.seed = grid, amplitude, seed
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size if val_batch_size is not None else batch_size
        self.num_workers = num_workers
        # datasets are cheap to construct (generation happens on first item access)
        self.train_dataset = FrequencyBlocks(num_train, grid, amplitude, seed)
        self.val_dataset = FrequencyBlocks(num_val, grid, amplitude, seed + 1)
        self.test_dataset = FrequencyBlocks(num_test, grid, amplitude, seed + 2)
        self.save_hyperparameters()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def setup(self, stage: Optional[str] = None) -> None:
        """Nothing to list: the sets are generated in memory on first use."""
