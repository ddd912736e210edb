"""Base class of the file-backed image datasets: lazy listing, ``{"image", "name"}`` items.

Constructing a dataset never touches the disk: jsonargparse/LightningCLI instantiate every dataset
in a config (train, val and test roles) before any stage runs, and a training run must not fail
because the test set's folder is absent on this machine. The file list is built on first use
(``len()`` or indexing; :class:`~jpegnn.data.ImageDataModule` does it in ``setup``) and cached;
that is where a missing root, empty folder or missing split list raises
:class:`~jpegnn.errors.DataError` naming the path.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch.utils.data import Dataset

from jpegnn.data.io import load_rgb, to_float
from jpegnn.errors import DataError

__all__ = ["ImageListDataset", "unique_names", "walk_files", "IMAGE_EXTENSIONS"]

#: File extensions (lower case) listed by default by :class:`~jpegnn.data.ImageFolder` and CLIC.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pnm", ".tif", ".tiff", ".webp",
)


def unique_names(relpaths: Sequence[str]) -> list[str]:
    """Item names for relative POSIX paths: the path without its extension, unless that collides.

    ``"sub/a.png" -> "sub/a"``. When two files differ only by extension (``a.png``, ``a.jpg``)
    both keep the full relative path so names stay unique.
    """
    stems = [os.path.splitext(p)[0] for p in relpaths]
    counts = Counter(stems)
    return [stem if counts[stem] == 1 else p for stem, p in zip(stems, relpaths)]


def walk_files(top: str | os.PathLike, keep_dir: Callable[[str], bool], keep_file: Callable[[str], bool]) -> list[str]:
    """POSIX paths, relative to ``top``, of the kept files under ``top`` at any depth.

    Symbolic links to folders are followed, except one leading back to a folder it sits in
    (``loop -> ..``): ``os.walk(followlinks=True)`` would go round such a cycle until the OS
    refuses (``ELOOP``), listing every image dozens of times. Sub-folders that cannot be read
    are skipped, as ``os.walk`` does. The result is unordered; callers sort it.
    """
    out: list[str] = []

    def visit(folder: str, rel: str, ancestors: frozenset[tuple[int, int]]) -> None:
        try:
            st = os.stat(folder)
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            return
        key = (st.st_dev, st.st_ino)
        if key in ancestors:
            return
        ancestors = ancestors | {key}
        for e in entries:
            try:
                is_dir = e.is_dir()  # follows symlinks
            except OSError:
                continue
            if is_dir:
                if keep_dir(e.name):
                    visit(e.path, f"{rel}{e.name}/", ancestors)
            elif keep_file(e.name):
                out.append(rel + e.name)

    visit(os.fspath(top), "", frozenset())
    return out


class ImageListDataset(Dataset):
    """A lazily listed sequence of image files; item ``i`` is ``{"image", "name"}``.

    ``image`` is a ``float32`` tensor ``3 x H x W`` in ``[0, 1]`` at the file's full size (no
    resizing, no cropping: the DataModule crops training patches); ``name`` is a string unique
    within the dataset (documented per subclass), used for per-image result rows and file names.

    Subclasses implement :meth:`_list_files`, returning ``(path, name)`` pairs in a deterministic
    order, and may override :meth:`prepare_data` (download) and :meth:`groups`.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self._files: list[tuple[Path, str]] | None = None

    # -- listing -----------------------------------------------------------------------------
    def _list_files(self) -> list[tuple[Path, str]]:
        """Return ``(path, name)`` for every item, in order; raise DataError if unusable."""
        raise NotImplementedError

    @property
    def files(self) -> list[tuple[Path, str]]:
        """``(path, name)`` of every item (listed on first access, then cached)."""
        if self._files is None:
            self.prepare_data()
            files = self._list_files()
            if not files:
                raise DataError(f"{type(self).__name__}: no images found in {self.root}")
            self._files = files
        return self._files

    def prepare_data(self) -> None:
        """Make the data available (download when asked). No-op for local-only datasets.

        Called by :meth:`ImageDataModule.prepare_data` on one process per node before any
        ``setup``, so downloads never race under DDP; also called on first use.
        """

    def _require_dir(self, path: Path, what: str) -> None:
        """Raise DataError naming ``path`` if it is not an existing directory."""
        if not path.exists():
            raise DataError(f"{type(self).__name__}: {what} not found: {path}")
        if not path.is_dir():
            raise DataError(f"{type(self).__name__}: {what} is not a directory: {path}")

    # -- Dataset protocol --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.files)

    def locate(self, index: int) -> tuple[Path, str]:
        """``(path, name)`` of item ``index`` (negative indices count from the end)."""
        return self.files[index]

    def __getitem__(self, index: int) -> dict[str, Any]:
        path, name = self.locate(index)
        image: torch.Tensor = to_float(load_rgb(path))
        return {"image": image, "name": name}

    @property
    def names(self) -> list[str]:
        """Item names in order (lists the files if not done yet)."""
        return [name for _, name in self.files]

    def groups(self) -> list[str]:
        """Group key of every item; items sharing a key are held out together.

        Used by :class:`~jpegnn.data.ImageDataModule` when ``val_fraction`` carves a validation
        set out of the training set, so near-duplicates (frames of one clip) never straddle the
        split. Default: every item is its own group.
        """
        return self.names

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r})"
