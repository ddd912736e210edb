"""The shared training photographs (``shared/datasets/photos``): 1,379 real photos, with its split.

Layout (see that folder's README for sources and terms)::

    photos/bsds500/{train,val,test}/*.jpg    481x321 / 321x481   (200 / 100 / 200)
    photos/sun-hays80/*.jpg                  680-1024 px          (80, visible JPEG artefacts)
    photos/imagenet-sample-eli/*.JPEG        short side >= 267    (389)
    photos/imagenet-sample-imagen/*.JPEG     short side >= 256    (410)

Splits (the README's suggestion): ``train`` is every image except ``bsds500/test`` (1,179 images),
``val`` is ``bsds500/test`` (200 images; BSD68 is a subset of it), ``all`` is both. Kodak, the
test set, is in neither.

The ``sun-hays80`` photographs carry JPEG artefacts at full size, so they are downscaled by 2
(a 2x2 box average, as Pillow's ``Image.reduce(2)``; odd last rows/columns dropped) when loaded:
a codec should not spend its capacity learning another codec's blocking. Other folders load at
full size. Item names are paths relative to ``root`` without the extension
(``"bsds500/train/100075"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Mapping, Optional

import torch.nn.functional as F

from jpegnn.data.datasets.base import IMAGE_EXTENSIONS, ImageListDataset, unique_names, walk_files
from jpegnn.data.io import load_rgb, to_float
from jpegnn.errors import ConfigError, DataError

__all__ = ["Photos"]

#: Folder (relative to root) held out for validation.
VAL_FOLDER = "bsds500/test"
#: Folders whose images are downscaled by an integer factor when loaded.
DEFAULT_DOWNSCALE: dict[str, int] = {"sun-hays80": 2}


def _under(rel: str, folder: str) -> bool:
    return rel == folder or rel.startswith(folder.rstrip("/") + "/")


class Photos(ImageListDataset):
    """The photos set with its train/val split.

    Args:
        root: The ``photos`` folder (holding ``bsds500/``, ``sun-hays80/``, ...).
        split: ``"train"`` (all but ``bsds500/test``), ``"val"`` (``bsds500/test``) or ``"all"``.
        downscale: Folder (relative to ``root``) -> integer factor by which its images are
            box-downscaled when loaded; default ``{"sun-hays80": 2}``. ``{}`` loads all at full size.
    """

    def __init__(
        self,
        root: str,
        split: Literal["train", "val", "all"] = "train",
        downscale: Optional[Mapping[str, int]] = None,
    ) -> None:
        super().__init__(root)
        if split not in ("train", "val", "all"):
            raise ConfigError(f"Photos: argument 'split' must be 'train', 'val' or 'all', got {split!r}")
        self.split = split
        factors = dict(DEFAULT_DOWNSCALE if downscale is None else downscale)
        for folder, factor in factors.items():
            if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
                raise ConfigError(
                    f"Photos: argument 'downscale' must map folders to integers >= 1, got {folder!r}: {factor!r}"
                )
        self.downscale = factors

    def _list_files(self) -> list[tuple[Path, str]]:
        self._require_dir(self.root, "root folder")
        if self.split != "train" and not (self.root / VAL_FOLDER).is_dir():
            raise DataError(f"Photos: validation folder not found: {self.root / VAL_FOLDER}")
        rel = walk_files(
            self.root,
            lambda d: not d.startswith("."),
            lambda f: not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS),
        )
        if self.split == "train":
            rel = [r for r in rel if not _under(r, VAL_FOLDER)]
        elif self.split == "val":
            rel = [r for r in rel if _under(r, VAL_FOLDER)]
        if not rel:
            raise DataError(f"Photos: no images for split {self.split!r} under {self.root}")
        rel.sort()
        return [(self.root / r, n) for r, n in zip(rel, unique_names(rel))]

    def factor(self, name: str) -> int:
        """Downscaling factor applied to item ``name`` (1 = full size)."""
        for folder, factor in self.downscale.items():
            if _under(name, folder):
                return factor
        return 1

    def __getitem__(self, index: int) -> dict[str, Any]:
        path, name = self.locate(index)
        image = to_float(load_rgb(path))
        k = self.factor(name)
        if k > 1:
            if min(image.shape[-2:]) < k:
                raise DataError(f"Photos: {path} is smaller than the downscale factor {k}")
            image = F.avg_pool2d(image.unsqueeze(0), k).squeeze(0)
        return {"image": image, "name": name}

    def __repr__(self) -> str:
        return f"Photos(root={str(self.root)!r}, split={self.split!r})"
