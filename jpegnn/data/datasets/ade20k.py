"""ADE20K semantic segmentation in the official ``ADEChallengeData2016`` layout (SceneParsing, 150 classes).

Layout (as distributed by the MIT Scene Parsing benchmark)::

    ADEChallengeData2016/
      images/training/ADE_train_00000001.jpg ...      (20,210 images)
      images/validation/ADE_val_00000001.jpg ...      (2,000 images)
      annotations/training/ADE_train_00000001.png ... (8-bit grey, same stem as the image)
      annotations/validation/ADE_val_00000001.png ...

Annotation values are 0..150: 0 is "other / unlabelled" and is **ignored**, 1..150 are the 150
classes. Items hold ``mask = value - 1`` with 0 mapped to :data:`IGNORE_INDEX` (255), so classes
are 0..149 and losses/metrics use ``ignore_index=255``. This is the ``reduce_zero_label``
convention of the official toolkit and of mmsegmentation, so mIoU numbers are comparable.

Items are ``{"image": float32 3 x H x W in [0, 1], "mask": int64 H x W, "name": str}`` at the
file's full size (the DataModule crops/resizes); ``name`` is the file stem
(``"ADE_val_00000001"``). A missing annotation, a size mismatch or a value above 150 raises
:class:`~jpegnn.errors.DataError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from jpegnn.data.datasets.base import ImageListDataset
from jpegnn.data.io import load_rgb, to_float
from jpegnn.errors import ConfigError, DataError

__all__ = ["ADE20K", "IGNORE_INDEX", "ADE20K_NUM_CLASSES", "load_ade20k_mask"]

#: label of unlabelled pixels in the masks (the losses' and metrics' ignore_index)
IGNORE_INDEX = 255
#: number of classes of the SceneParsing benchmark
ADE20K_NUM_CLASSES = 150
_SPLITS = ("training", "validation")


def load_ade20k_mask(path: str | os.PathLike) -> torch.Tensor:
    """Read an ADE20K annotation PNG as int64 ``H x W``: value − 1, with 0 → 255 (ignored).

    Raises:
        DataError: The file is missing or unreadable, not single-channel 8-bit, or holds a value
            above 150.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P"):
                raise DataError(f"ADE20K annotation {path} has mode {im.mode}; expected 8-bit single channel (L)")
            raw = np.asarray(im, dtype=np.uint8)
    except FileNotFoundError as e:
        raise DataError(f"ADE20K annotation not found: {path}") from e
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise DataError(f"cannot read ADE20K annotation {path}: {e}") from e
    top = int(raw.max()) if raw.size else 0
    if top > ADE20K_NUM_CLASSES:
        raise DataError(f"ADE20K annotation {path} holds value {top} > {ADE20K_NUM_CLASSES} (not a SceneParsing mask)")
    mask = torch.from_numpy(raw.astype(np.int64)) - 1
    mask[mask < 0] = IGNORE_INDEX
    return mask


class ADE20K(ImageListDataset):
    """ADE20K SceneParsing images and masks of one split.

    Args:
        root: The ``ADEChallengeData2016`` folder (holding ``images/`` and ``annotations/``).
        split: ``"training"`` or ``"validation"``.
    """

    num_classes: int = ADE20K_NUM_CLASSES
    ignore_index: int = IGNORE_INDEX

    def __init__(self, root: str, split: str = "training") -> None:
        if split not in _SPLITS:
            raise ConfigError(f"ADE20K: argument 'split' must be one of {', '.join(_SPLITS)}, got {split!r}")
        super().__init__(root)
        self.split = split

    @property
    def image_dir(self) -> Path:
        return self.root / "images" / self.split

    @property
    def annotation_dir(self) -> Path:
        return self.root / "annotations" / self.split

    def _list_files(self) -> list[tuple[Path, str]]:
        self._require_dir(self.root, "root folder (ADEChallengeData2016)")
        self._require_dir(self.image_dir, f"'{self.split}' image folder")
        self._require_dir(self.annotation_dir, f"'{self.split}' annotation folder")
        images = sorted(
            e.name for e in os.scandir(self.image_dir)
            if e.is_file() and not e.name.startswith(".") and e.name.lower().endswith((".jpg", ".jpeg"))
        )
        if not images:
            raise DataError(f"ADE20K: no .jpg images in {self.image_dir}")
        out = []
        for name in images:
            stem = os.path.splitext(name)[0]
            if not (self.annotation_dir / f"{stem}.png").is_file():
                raise DataError(f"ADE20K: annotation {self.annotation_dir / (stem + '.png')} missing for image {self.image_dir / name}")
            out.append((self.image_dir / name, stem))
        return out

    def annotation_path(self, index: int) -> Path:
        """The annotation PNG of item ``index``."""
        return self.annotation_dir / f"{self.locate(index)[1]}.png"

    def __getitem__(self, index: int) -> dict[str, Any]:
        path, name = self.locate(index)
        image = to_float(load_rgb(path))
        mask = load_ade20k_mask(self.annotation_path(index))
        if tuple(mask.shape) != tuple(image.shape[-2:]):
            raise DataError(
                f"ADE20K: annotation {self.annotation_path(index)} is {tuple(mask.shape)} (H x W) "
                f"but image {path} is {tuple(image.shape[-2:])}"
            )
        return {"image": image, "mask": mask, "name": name}

    def __repr__(self) -> str:
        return f"ADE20K(root={str(self.root)!r}, split={self.split!r})"
