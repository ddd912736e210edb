"""Image classification from a folder of class folders (the ImageNet / Imagenette layout).

``root/<class>/<image>`` for every class; the class index is the position of the folder name in
the sorted list of class folders (the torchvision ``ImageFolder`` convention), unless ``classes``
fixes the list (a validation split then uses the training split's classes, so indices agree
even when a class folder is missing from one split).

Items are ``{"image": float32 3 x H x W in [0, 1] (full size), "label": int, "name": str}``;
``name`` is ``"<class>/<file stem>"``. Grey and palette files become RGB (:func:`jpegnn.data.load_rgb`).
Listing is lazy (first ``len()`` or index), like every jpegnn dataset: a missing folder raises
:class:`~jpegnn.errors.DataError` naming it when the split is first used, not at construction.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence

from jpegnn.data.datasets.base import IMAGE_EXTENSIONS, ImageListDataset, walk_files
from jpegnn.data.datasets.image_folder import _normalise_extensions
from jpegnn.data.io import load_rgb, to_float
from jpegnn.errors import DataError

__all__ = ["ClassFolder", "list_class_folders", "missing_splits"]


def _visible(name: str) -> bool:
    return not name.startswith(".") and name != "__MACOSX"


def missing_splits(root: str | os.PathLike, splits: tuple[str, ...] = ("train", "val")) -> str | None:
    """None when ``root`` holds a folder for every split, else a message naming the missing ones
    (for a script's argument check before any data is read)."""
    missing = [s for s in splits if not (Path(root) / s).is_dir()]
    if not missing:
        return None
    layout = " and ".join(f"{s}/<class>/" for s in splits)
    return f"{root} has no {' or '.join(m + '/' for m in missing)} folder (expected {layout})"


def list_class_folders(root: str | os.PathLike) -> list[str]:
    """Sorted names of the (non-hidden) sub-folders of ``root``; DataError if none or no root."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"classification split folder not found: {root}")
    names = sorted(e.name for e in os.scandir(root) if e.is_dir() and _visible(e.name))
    if not names:
        raise DataError(f"no class folders in {root} (expected {root}/<class>/<image files>)")
    return names


class ClassFolder(ImageListDataset):
    """Images in ``root/<class>/...`` labelled by class folder.

    Args:
        root: Split folder holding one sub-folder per class (e.g. ``imagenette/train``).
        classes: Class folder names in label order; None uses the sorted sub-folders of ``root``.
            Folders not in the list are an error (their images would have no label).
        extensions: File extensions to list (case-insensitive), searched recursively inside each
            class folder.
    """

    def __init__(
        self,
        root: str,
        classes: Optional[Sequence[str]] = None,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
    ) -> None:
        super().__init__(root)
        self._classes = None if classes is None else [str(c) for c in classes]
        self.extensions = _normalise_extensions(extensions)
        self._labels: list[int] | None = None

    @property
    def classes(self) -> list[str]:
        """Class folder names in label order."""
        if self._classes is None:
            self._classes = list_class_folders(self.root)
        return self._classes

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _list_files(self) -> list[tuple[Path, str]]:
        self._require_dir(self.root, "split folder")
        present = list_class_folders(self.root)
        unknown = sorted(set(present) - set(self.classes))
        if unknown:
            raise DataError(
                f"ClassFolder: {self.root} has class folders not in the class list "
                f"({', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''}); "
                f"known classes: {', '.join(self.classes[:5])}{', ...' if len(self.classes) > 5 else ''}"
            )
        files: list[tuple[Path, str]] = []
        labels: list[int] = []
        for label, cls in enumerate(self.classes):
            folder = self.root / cls
            if not folder.is_dir():
                continue  # a class absent from this split (allowed; e.g. a small validation set)
            found = [
                folder / r
                for r in walk_files(folder, _visible, lambda f: _visible(f) and f.lower().endswith(self.extensions))
            ]
            for path in sorted(found):
                rel = path.relative_to(self.root).as_posix()
                files.append((path, os.path.splitext(rel)[0]))
                labels.append(label)
        if not files:
            raise DataError(
                f"ClassFolder: no images with extensions {', '.join(self.extensions)} in the class folders of {self.root}"
            )
        self._labels = labels
        return files

    @property
    def labels(self) -> list[int]:
        """Label of every item, in order (lists the files if not done yet)."""
        _ = self.files
        assert self._labels is not None
        return self._labels

    def __getitem__(self, index: int) -> dict[str, Any]:
        path, name = self.locate(index)
        return {"image": to_float(load_rgb(path)), "label": self.labels[index], "name": name}

    def __repr__(self) -> str:
        return f"ClassFolder(root={str(self.root)!r})"
