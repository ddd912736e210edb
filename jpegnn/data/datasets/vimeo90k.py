"""Vimeo-90k (Xue et al., 2019): the usual training set of learned image codecs.

Official layouts (as unpacked from ``vimeo_septuplet.zip`` / ``vimeo_triplet.zip``)::

    vimeo_septuplet/                      vimeo_triplet/
      sep_trainlist.txt  sep_testlist.txt   tri_trainlist.txt  tri_testlist.txt
      sequences/00001/0001/im1.png..im7.png sequences/00001/0001/im1.png..im3.png

Each line of a list file names one clip (``00001/0001``); frames are 448x256 RGB PNGs. As in
CompressAI's ``Vimeo90kDataset``, every frame is one item (the septuplet train list has 64,612
clips, so 452,284 frames). The dataset is not downloaded by this class (tens of GB); point
``root`` at the unpacked folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from jpegnn.data.datasets.base import ImageListDataset
from jpegnn.errors import ConfigError, DataError

__all__ = ["Vimeo90k", "MissingSplitError"]

#: layout -> (list-file prefix, frames per clip, official folder name)
LAYOUTS: dict[str, tuple[str, int, str]] = {
    "septuplet": ("sep", 7, "vimeo_septuplet"),
    "triplet": ("tri", 3, "vimeo_triplet"),
}


class MissingSplitError(DataError):
    """The list file of the requested split is absent (e.g. ``sep_testlist.txt``).

    A distinct type so that :class:`~jpegnn.data.ImageDataModule` can run training without
    validation (with a warning) when only the test list is missing, while every other data error
    still stops the run.
    """


class Vimeo90k(ImageListDataset):
    """Frames of the Vimeo-90k septuplet or triplet clips listed for one split.

    Item ``i`` is frame ``i % F + 1`` of clip ``i // F`` of the list (``F`` = 7 or 3), named
    ``"<clip>/im<k>"`` (e.g. ``"00001/0001/im3"``). Only the list file is read when the dataset is
    first used; frames are opened when indexed, so a missing frame raises a DataError naming it
    then.

    Args:
        root: The ``vimeo_septuplet`` / ``vimeo_triplet`` folder (holding the list files and
            ``sequences/``), or a folder containing one of them.
        split: ``"train"`` (``*_trainlist.txt``) or ``"test"`` (``*_testlist.txt``).
        layout: ``"septuplet"``, ``"triplet"``, or ``"auto"``: septuplet if ``sep_*list.txt``
            exists in ``root`` (or a ``vimeo_septuplet`` sub-folder exists), else triplet.
    """

    def __init__(
        self,
        root: str,
        split: Literal["train", "test"] = "train",
        layout: Literal["septuplet", "triplet", "auto"] = "auto",
    ) -> None:
        super().__init__(root)
        if split not in ("train", "test"):
            raise ConfigError(f"Vimeo90k: argument 'split' must be 'train' or 'test', got {split!r}")
        if layout not in ("septuplet", "triplet", "auto"):
            raise ConfigError(
                f"Vimeo90k: argument 'layout' must be 'septuplet', 'triplet' or 'auto', got {layout!r}"
            )
        self.split = split
        self.layout = layout
        self._resolved: tuple[Path, str] | None = None
        self._clips: list[str] | None = None

    def _has_lists(self, folder: Path, layout: str) -> bool:
        prefix = LAYOUTS[layout][0]
        return any((folder / f"{prefix}_{s}list.txt").is_file() for s in ("train", "test"))

    def resolve(self) -> tuple[Path, str]:
        """The dataset folder and the layout actually used, e.g. ``(Path(...), "septuplet")``."""
        if self._resolved is not None:
            return self._resolved
        self._require_dir(self.root, "root folder")
        layouts = ("septuplet", "triplet") if self.layout == "auto" else (self.layout,)
        for layout in layouts:  # root is the dataset folder itself
            if self._has_lists(self.root, layout):
                self._resolved = (self.root, layout)
                return self._resolved
        for layout in layouts:  # root contains vimeo_septuplet/ or vimeo_triplet/
            sub = self.root / LAYOUTS[layout][2]
            if sub.is_dir():
                self._resolved = (sub, layout)
                return self._resolved
        if self.layout == "auto":
            raise DataError(
                f"Vimeo90k: no Vimeo-90k list files (sep_trainlist.txt, tri_trainlist.txt, ...) in {self.root}"
            )
        self._resolved = (self.root, self.layout)  # lets the missing-list error name the file
        return self._resolved

    @property
    def frames_per_clip(self) -> int:
        """7 (septuplet) or 3 (triplet)."""
        return LAYOUTS[self.resolve()[1]][1]

    @property
    def list_file(self) -> Path:
        """The split's list file, e.g. ``<root>/sep_trainlist.txt``."""
        folder, layout = self.resolve()
        return folder / f"{LAYOUTS[layout][0]}_{self.split}list.txt"

    def clips(self) -> list[str]:
        """Clip ids (``"00001/0001"``) of the split, in list order; blank lines are skipped."""
        path = self.list_file
        try:
            text = path.read_text(encoding="utf-8-sig")  # -sig: a leading BOM is dropped
        except FileNotFoundError as e:
            raise MissingSplitError(f"Vimeo90k: {self.split} list not found: {path}") from e
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"Vimeo90k: cannot read list file {path}: {e}") from e
        clips = [line.strip().strip("/") for line in text.splitlines() if line.strip()]
        if not clips:
            raise DataError(f"Vimeo90k: list file {path} is empty")
        bad = [c for c in clips if os.path.isabs(c) or ".." in c.split("/")]
        if bad:
            raise DataError(f"Vimeo90k: bad clip id {bad[0]!r} in {path}")
        return clips

    def _clip_list(self) -> list[str]:
        """The split's clips, read once; checks that ``sequences/`` exists."""
        if self._clips is None:
            clips = self.clips()
            self._require_dir(self.resolve()[0] / "sequences", "sequences folder")
            self._clips = clips
        return self._clips

    # Items are computed from the clip list instead of a stored list of 450k paths: DataLoader
    # workers then share a few MB of clip ids rather than copying a large Python list each.
    def __len__(self) -> int:
        return len(self._clip_list()) * self.frames_per_clip

    def locate(self, index: int) -> tuple[Path, str]:
        """``(path, name)`` of frame ``index``: ``sequences/<clip>/im<k>.png``, ``"<clip>/im<k>"``."""
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"Vimeo90k index {index} out of range for {n} frames")
        per_clip = self.frames_per_clip
        clip, k = self._clip_list()[index // per_clip], index % per_clip + 1
        return self.resolve()[0] / "sequences" / clip / f"im{k}.png", f"{clip}/im{k}"

    def _list_files(self) -> list[tuple[Path, str]]:
        return [self.locate(i) for i in range(len(self))]

    @property
    def names(self) -> list[str]:
        """Frame names in order (built on request: large for the full dataset)."""
        per_clip = self.frames_per_clip
        return [f"{clip}/im{k}" for clip in self._clip_list() for k in range(1, per_clip + 1)]

    def groups(self) -> list[str]:
        """The clip id of every frame: frames of one clip are held out together."""
        per_clip = self.frames_per_clip
        return [clip for clip in self._clip_list() for _ in range(per_clip)]

    def __repr__(self) -> str:
        return f"Vimeo90k(root={str(self.root)!r}, split={self.split!r}, layout={self.layout!r})"
