"""One LightningDataModule for image compression: dataset *roles* that may use different datasets.

The field trains on one dataset and reports on others (Vimeo-90k patches for training, Kodak and
CLIC full images for testing), so :class:`ImageDataModule` takes a dataset per role instead of
being one class per dataset. In a LightningCLI config the datasets are chosen by ``class_path``::

    data:
      class_path: jpegnn.data.ImageDataModule
      init_args:
        train: {class_path: jpegnn.data.Vimeo90k, init_args: {root: data/vimeo_septuplet, split: train}}
        val: {class_path: jpegnn.data.Vimeo90k, init_args: {root: data/vimeo_septuplet, split: test}}
        test: {class_path: jpegnn.data.Kodak, init_args: {root: data/kodak}}
        patch_size: 256
        batch_size: 16

and any dataset argument is overridable, e.g. ``--data.init_args.test.init_args.root DIR``.

What each role yields (batches are dicts ``{"image": B x 3 x H x W float32 in [0, 1],
"name": list of B str}``):

* **train**: random ``patch_size`` crops, shuffled, ``batch_size`` per batch (per device under
  DDP). No flips by default: CompressAI's ``examples/train.py`` trains on random crops only;
  ``random_flips=True`` adds random horizontal and vertical flips (each p = 0.5).
* **val**: centre crops of ``val_patch_size`` in batches of ``val_batch_size``; or, with
  ``val_patch_size=None``, full images one per batch.
* **test** / **predict**: full images, never resized or padded (padding to the model's multiple is
  the model's job), ``test_batch_size`` per batch (1 by default; larger sizes need images of
  equal size). ``predict`` falls back to the test dataset when not given.

Validation fallback: when ``val`` is None, or its split list is missing
(:class:`~jpegnn.data.datasets.vimeo90k.MissingSplitError`, e.g. a Vimeo-90k copy without
``sep_testlist.txt``), a fraction ``val_fraction`` of the training set is held out
deterministically (by clip for Vimeo-90k, so frames of one clip never straddle the split); with
``val_fraction=0`` training runs without validation. A missing list warns once (rank 0) and does
not stop training; every other data error does.

Under DDP Lightning replaces the samplers with ``DistributedSampler`` (which pads the last
batch by repeating images): report test numbers from a single-device run.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Dataset

from jpegnn.data.datasets.vimeo90k import MissingSplitError
from jpegnn.data.transforms import CenterCrop, RandomCropFlip
from jpegnn.errors import ConfigError, check_positive_int

__all__ = ["ImageDataModule", "RoleDataset", "collate_images", "holdout_split", "DataFallbackWarning"]

ROLES = ("train", "val", "test", "predict")


class DataFallbackWarning(UserWarning):
    """A configured dataset was unavailable and the DataModule fell back (e.g. no validation)."""


class RoleDataset(Dataset):
    """A view of a dataset for one role: optional index subset, optional transform of ``"image"``.

    Top-level (picklable) so DataLoader workers can receive it.

    Args:
        base: Dataset whose items are dicts with an ``"image"`` tensor.
        indices: Items of ``base`` to expose, in order; None exposes all.
        transform: Applied to ``item["image"]``; None leaves it unchanged.
    """

    def __init__(
        self,
        base: Dataset,
        indices: Optional[Sequence[int]] = None,
        transform: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
    ) -> None:
        self.base = base
        self.indices = None if indices is None else list(indices)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.base) if self.indices is None else len(self.indices)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.base[index if self.indices is None else self.indices[index]]
        if self.transform is not None:
            item = {**item, "image": self.transform(item["image"])}
        return item

    def __repr__(self) -> str:
        subset = "" if self.indices is None else f", {len(self.indices)} items"
        return f"RoleDataset({self.base!r}{subset}, transform={self.transform!r})"


def collate_images(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack ``"image"`` tensors into ``B x C x H x W``; other keys become lists.

    Raises:
        ConfigError: The images differ in size (full images batched with a batch size > 1);
            the message names the images and sizes.
    """
    images = [item["image"] for item in batch]
    shapes = {tuple(im.shape) for im in images}
    if len(shapes) > 1:
        desc = ", ".join(f"{item.get('name', '?')} {tuple(item['image'].shape[-2:])}" for item in batch[:4])
        raise ConfigError(
            f"cannot batch full images of different sizes ({desc}{', ...' if len(batch) > 4 else ''}); "
            f"use a test/val batch size of 1 or a crop size"
        )
    out: dict[str, Any] = {"image": torch.stack(images)}
    for key in batch[0]:
        if key != "image":
            out[key] = [item[key] for item in batch]
    return out


def holdout_split(groups: Sequence[Any], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Deterministically split item indices into (train, val) by group.

    ``round(fraction * number_of_groups)`` groups (at least 1, at most all but one) chosen by a
    ``torch.Generator`` seeded with ``seed`` go to validation; items keep their original order.

    Args:
        groups: Group key of every item (items of one group stay together).
        fraction: Share of groups to hold out, in (0, 1).
        seed: Seed of the choice; independent of the global RNG.

    Returns:
        ``(train_indices, val_indices)``, disjoint, covering every item.

    Raises:
        ConfigError: Fewer than 2 groups, so nothing can be held out.
    """
    unique = sorted(set(groups), key=str)
    if len(unique) < 2:
        raise ConfigError(
            f"val_fraction={fraction}: cannot hold out validation data from a training set of "
            f"{len(unique)} group(s) (clips/images)"
        )
    n_val = min(max(1, round(fraction * len(unique))), len(unique) - 1)
    perm = torch.randperm(len(unique), generator=torch.Generator().manual_seed(seed)).tolist()
    val_groups = {unique[i] for i in perm[:n_val]}
    train_idx = [i for i, g in enumerate(groups) if g not in val_groups]
    val_idx = [i for i, g in enumerate(groups) if g in val_groups]
    return train_idx, val_idx


def _describe(ds: Optional[Dataset]) -> Optional[str]:
    """A short, picklable description of a dataset for the saved hyperparameters."""
    if ds is None:
        return None
    if type(ds).__repr__ is object.__repr__:
        return f"{type(ds).__module__}.{type(ds).__qualname__}"
    return repr(ds)


class ImageDataModule(LightningDataModule):
    """Train/val/test/predict image datasets with the patching conventions of learned compression.

    See the module docstring for what each role yields and the validation fallback.

    Args:
        train: Training images (random patches). Items are ``{"image", "name"}`` dicts.
        val: Validation images (centre crops, or full images). None: see ``val_fraction``.
        test: Test images (full size), e.g. Kodak.
        predict: Images for ``predict`` (full size); None uses ``test``.
        patch_size: Side of the square training patches, pixels.
        val_patch_size: Side of the validation centre crops, pixels; None validates on full
            images, one per batch.
        batch_size: Training patches per batch (per device).
        val_batch_size: Validation crops per batch (ignored when ``val_patch_size`` is None).
        test_batch_size: Full images per test/predict batch.
        num_workers: DataLoader worker processes per loader (0 loads in the main process);
            workers persist across epochs when > 0.
        val_fraction: Share of the training set (by clip/image) held out for validation when
            ``val`` is None or unavailable; 0 trains without validation in that case.
        seed: Seed of the held-out split (independent of the global seed).
        train_samples_per_epoch: Training patches drawn (with replacement) per epoch; None is one
            pass over the training set.
        random_flips: Random horizontal and vertical flips of training patches (off by default,
            as in CompressAI's ``examples/train.py``).
    """

    def __init__(
        self,
        train: Optional[Dataset] = None,
        val: Optional[Dataset] = None,
        test: Optional[Dataset] = None,
        predict: Optional[Dataset] = None,
        patch_size: int = 256,
        val_patch_size: Optional[int] = 256,
        batch_size: int = 16,
        val_batch_size: int = 16,
        test_batch_size: int = 1,
        num_workers: int = 2,
        val_fraction: float = 0.0,
        seed: int = 0,
        train_samples_per_epoch: Optional[int] = None,
        random_flips: bool = False,
    ) -> None:
        super().__init__()
        for arg, value in (("patch_size", patch_size), ("batch_size", batch_size),
                           ("val_batch_size", val_batch_size), ("test_batch_size", test_batch_size)):
            check_positive_int("ImageDataModule", arg, value)
        check_positive_int("ImageDataModule", "val_patch_size", val_patch_size, allow_none=True)
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ConfigError(f"ImageDataModule: argument 'num_workers' must be >= 0, got {num_workers!r}")
        check_positive_int("ImageDataModule", "train_samples_per_epoch", train_samples_per_epoch, allow_none=True)
        if not 0.0 <= val_fraction < 1.0:
            raise ConfigError(f"ImageDataModule: argument 'val_fraction' must be in [0, 1), got {val_fraction!r}")

        self.sources: dict[str, Optional[Dataset]] = {"train": train, "val": val, "test": test, "predict": predict}
        self.patch_size = patch_size
        self.val_patch_size = val_patch_size
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size
        self.test_batch_size = test_batch_size
        self.num_workers = num_workers
        self.val_fraction = val_fraction
        self.seed = seed
        self.train_samples_per_epoch = train_samples_per_epoch
        self.random_flips = bool(random_flips)

        self.train_dataset: Optional[RoleDataset] = None
        self.val_dataset: Optional[RoleDataset] = None
        self.test_dataset: Optional[RoleDataset] = None
        self.predict_dataset: Optional[RoleDataset] = None
        self._fallback_warned = False

        # Primitive hyperparameters only: dataset objects pickled into checkpoints would break
        # torch.load(weights_only=True); the CLI's saved config.yaml keeps the full dataset config.
        self.save_hyperparameters(
            {
                **{role: _describe(ds) for role, ds in self.sources.items()},
                "patch_size": patch_size, "val_patch_size": val_patch_size, "batch_size": batch_size,
                "val_batch_size": val_batch_size, "test_batch_size": test_batch_size,
                "num_workers": num_workers, "val_fraction": val_fraction, "seed": seed,
                "train_samples_per_epoch": train_samples_per_epoch, "random_flips": bool(random_flips),
            }
        )

    # -- Lightning hooks -----------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Download datasets configured with ``download=True`` (one process per node)."""
        for ds in self.sources.values():
            prepare = getattr(ds, "prepare_data", None)
            if callable(prepare):
                prepare()

    def setup(self, stage: Optional[str] = None) -> None:
        """Build the role datasets needed by ``stage`` (``fit``, ``validate``, ``test``, ``predict``).

        Lists the datasets' files, so missing data fails here with a DataError naming the path.
        """
        if stage in (None, "fit"):
            self._setup_fit(need_train=stage == "fit")
        if stage == "validate":
            self._setup_fit(need_train=False)
            if self.val_dataset is None:
                raise ConfigError(
                    "ImageDataModule: no validation data: set data.init_args.val (or a train set with val_fraction > 0)"
                )
        if stage in (None, "test"):
            if self.sources["test"] is not None:
                self.test_dataset = self._full_size(self.sources["test"])
            elif stage == "test":
                raise ConfigError("ImageDataModule: no test dataset configured: set data.init_args.test")
        if stage in (None, "predict"):
            source = self.sources["predict"] if self.sources["predict"] is not None else self.sources["test"]
            if source is not None:
                self.predict_dataset = self._full_size(source)
            elif stage == "predict":
                raise ConfigError(
                    "ImageDataModule: no predict (or test) dataset configured: set data.init_args.predict"
                )

    @staticmethod
    def _full_size(ds: Dataset) -> RoleDataset:
        len(ds)  # type: ignore[arg-type]  # list files now: a missing folder fails in setup
        return RoleDataset(ds)

    def _val_transform(self) -> Optional[CenterCrop]:
        return None if self.val_patch_size is None else CenterCrop(self.val_patch_size)

    def _setup_fit(self, need_train: bool = True) -> None:
        train = self.sources["train"]
        if train is None and need_train:
            raise ConfigError("ImageDataModule: no training dataset configured: set data.init_args.train")
        if train is not None:
            len(train)  # type: ignore[arg-type]
        val = self.sources["val"]
        if val is not None:
            try:
                len(val)  # type: ignore[arg-type]
            except MissingSplitError as e:
                self._warn_fallback(str(e), train)
                val = None
        train_idx: Optional[list[int]] = None
        self.val_dataset = None
        if val is not None:
            self.val_dataset = RoleDataset(val, None, self._val_transform())
        elif train is not None and self.val_fraction > 0:
            groups_fn = getattr(train, "groups", None)
            groups = groups_fn() if callable(groups_fn) else list(range(len(train)))  # type: ignore[arg-type]
            train_idx, val_idx = holdout_split(groups, self.val_fraction, self.seed)
            self.val_dataset = RoleDataset(train, val_idx, self._val_transform())
        if train is not None:
            self.train_dataset = RoleDataset(
                train, train_idx, RandomCropFlip(self.patch_size, hflip=self.random_flips, vflip=self.random_flips)
            )

    def _warn_fallback(self, reason: str, train: Optional[Dataset]) -> None:
        if self._fallback_warned:
            return
        self._fallback_warned = True
        if train is not None and self.val_fraction > 0:
            then = f"validating on {self.val_fraction:.0%} of the training set instead"
        else:
            then = "training without validation (set val_fraction > 0 to hold out training data)"
        rank_zero_warn(f"validation data unavailable: {reason}; {then}", category=DataFallbackWarning)

    # -- loaders -------------------------------------------------------------------------------
    def _loader(
        self, dataset: Optional[Dataset], role: str, batch_size: int, shuffle: bool, sampler=None
    ) -> DataLoader:
        if dataset is None:
            raise ConfigError(f"ImageDataModule: the {role} dataset is not set up: call setup() for its stage first")
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle if sampler is None else False,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            collate_fn=collate_images,
            drop_last=False,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled random patches: ``image`` is ``batch_size x 3 x patch_size x patch_size``.

        With ``train_samples_per_epoch`` set, an epoch draws that many patches with replacement
        (a different random crop each time), so a handful of large photographs still gives
        full batches and epochs of a useful length. Under DDP Lightning wraps this sampler in a
        ``DistributedSamplerWrapper`` so the ranks draw disjoint shares.
        """
        sampler = None
        if self.train_samples_per_epoch is not None:
            sampler = torch.utils.data.RandomSampler(
                self.train_dataset, replacement=True, num_samples=self.train_samples_per_epoch
            )
        return self._loader(self.train_dataset, "train", self.batch_size, shuffle=True, sampler=sampler)

    def val_dataloader(self) -> DataLoader | list:
        """Centre crops (or full images, batch 1); an empty list when there is no validation data."""
        if self.val_dataset is None:
            return []
        batch = self.val_batch_size if self.val_patch_size is not None else 1
        return self._loader(self.val_dataset, "val", batch, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """Full-size test images in dataset order, ``test_batch_size`` per batch."""
        return self._loader(self.test_dataset, "test", self.test_batch_size, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        """Full-size predict (or test) images in dataset order, ``test_batch_size`` per batch."""
        return self._loader(self.predict_dataset, "predict", self.test_batch_size, shuffle=False)

    @property
    def has_val(self) -> bool:
        """Whether validation data was set up (False before ``setup("fit")``)."""
        return self.val_dataset is not None

