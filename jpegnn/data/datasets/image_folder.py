"""Any folder of images (a custom training set, a private test set, DIV2K, ...)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from jpegnn.data.datasets.base import IMAGE_EXTENSIONS, ImageListDataset, unique_names, walk_files
from jpegnn.errors import ConfigError, DataError

__all__ = ["ImageFolder"]


def _normalise_extensions(extensions: Sequence[str]) -> tuple[str, ...]:
    if isinstance(extensions, str):
        extensions = [extensions]
    exts = tuple(("." + e.lower().lstrip(".")) for e in extensions if e.strip("."))
    if not exts:
        raise ConfigError("ImageFolder: argument 'extensions' is empty")
    return exts


class ImageFolder(ImageListDataset):
    """Every image file under ``root``, in sorted (deterministic) order.

    Hidden files and folders (names starting with ``.``, e.g. macOS ``._x.png`` AppleDouble files)
    and ``__MACOSX`` folders are skipped. Files are matched by extension only (case-insensitive);
    a matching file that is not a readable image fails when its item is loaded, with a
    :class:`~jpegnn.errors.DataError` naming it.

    Item names are the path relative to ``root`` in POSIX form without the extension
    (``"city/0001"``); files that differ only by extension keep it (``"a.png"``, ``"a.jpg"``).

    Args:
        root: Folder holding the images.
        recursive: Also list images in sub-folders (at any depth).
        extensions: File extensions to list, with or without the dot (case-insensitive).
    """

    def __init__(
        self,
        root: str,
        recursive: bool = True,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
    ) -> None:
        super().__init__(root)
        self.recursive = recursive
        self.extensions = _normalise_extensions(extensions)

    def _list_files(self) -> list[tuple[Path, str]]:
        self._require_dir(self.root, "root folder")
        rel: list[str] = []
        if self.recursive:
            rel = walk_files(self.root, lambda d: not d.startswith(".") and d != "__MACOSX", self._wanted)
        else:
            with os.scandir(self.root) as it:
                rel.extend(e.name for e in it if self._wanted(e.name) and e.is_file())
        if not rel:
            where = "under" if self.recursive else "directly in"
            raise DataError(
                f"ImageFolder: no files with extensions {', '.join(self.extensions)} {where} {self.root}"
            )
        rel.sort()
        return [(self.root / r, n) for r, n in zip(rel, unique_names(rel))]

    def _wanted(self, filename: str) -> bool:
        return not filename.startswith(".") and filename.lower().endswith(self.extensions)

    def __repr__(self) -> str:
        return f"ImageFolder(root={str(self.root)!r}, recursive={self.recursive})"
