"""CLIC 2020: the Challenge on Learned Image Compression "professional" and "mobile" sets.

The field's second test set after Kodak is usually **CLIC professional valid 2020** (41 PNGs of
up to 2048 px on the long side); the mobile track holds phone photographs. The 2020 zips unpack to
a ``valid/`` (``train/``, ...) folder per archive, so two tracks unzipped into the same folder
would collide; this class reads, and ``download=True`` writes, ``root/<track>/<split>/*.png``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal, NamedTuple, Optional

from jpegnn.data.datasets.base import IMAGE_EXTENSIONS, ImageListDataset, unique_names
from jpegnn.data.download import download_url, extract_archive
from jpegnn.errors import ConfigError, DataError

__all__ = ["CLIC", "ClicArchive", "CLIC_ARCHIVES"]

log = logging.getLogger(__name__)

TRACKS = ("professional", "mobile")
SPLITS = ("train", "valid", "test")


class ClicArchive(NamedTuple):
    """One public CLIC 2020 archive: where it is, its size in bytes and its SHA-256."""

    url: str
    size: int
    sha256: str


_BASE = "https://data.vision.ee.ethz.ch/cvl/clic"
#: The CLIC 2020 release archives by (track, split). Sizes (bytes) and SHA-256 are those recorded
#: by TensorFlow Datasets (``tensorflow_datasets/url_checksums/clic.txt``), not recomputed here (no
#: network); ``download=True`` checks both before extracting anything.
CLIC_ARCHIVES: dict[tuple[str, str], ClicArchive] = {
    ("professional", "train"): ClicArchive(
        f"{_BASE}/professional_train_2020.zip", 2003385131,
        "54a2a684b5cbd0db91770a8695efb774fed1f612194fee68bceaf6b1c48e5d5f"),
    ("professional", "valid"): ClicArchive(
        f"{_BASE}/professional_valid_2020.zip", 134834429,
        "00be38092ade2ab5163b65f7f6523d46c7bca147007f559adbb02c0afc236b7d"),
    ("professional", "test"): ClicArchive(
        f"{_BASE}/test/CLIC2020Professional_test.zip", 891643809,
        "857df244fc2bfa5da28d4c66bf0db16ee99bfc79eb807be8afa89cd507852884"),
    ("mobile", "train"): ClicArchive(
        f"{_BASE}/mobile_train_2020.zip", 4042923971,
        "4bf9d890e6785426fb41cb4f43df3d8cd6db25fafcc76fc1eb629141166d6529"),
    ("mobile", "valid"): ClicArchive(
        f"{_BASE}/mobile_valid_2020.zip", 236556531,
        "ff0280382eeb32fdceb28c81a7f47ac9ad86d933ebe901680845635d04e47a10"),
    ("mobile", "test"): ClicArchive(
        f"{_BASE}/test/CLIC2020Mobile_test.zip", 721789976,
        "2025f07a6c652270e534640de4271feef3b3dd3260beed4ac4821064837aa732"),
}


def _images_in(folder: Path) -> list[str]:
    """Sorted names of the (non-hidden) image files directly in ``folder``."""
    try:
        with os.scandir(folder) as it:
            return sorted(
                e.name for e in it
                if not e.name.startswith(".") and e.name.lower().endswith(IMAGE_EXTENSIONS) and e.is_file()
            )
    except (FileNotFoundError, NotADirectoryError):
        return []


class CLIC(ImageListDataset):
    """Images of one CLIC 2020 split, from one track or both.

    Folders looked for, in order (the first that holds images wins, per track):

    1. ``root/<track>/<split>/`` (what ``download=True`` produces),
    2. ``root/<track>_<split>/`` (a release zip unpacked and its folder renamed, e.g.
       ``professional_valid``),
    3. ``root/<split>/`` (one release unpacked into ``root``; used only when no track folder
       was found),
    4. ``root`` itself when it directly holds images (``root`` points at the split folder).

    With ``track=None`` every track found in layouts 1-2 is used (professional first).

    Item names are paths relative to ``root`` without extension, e.g.
    ``"professional/valid/alberto-montalesi-176097"``; in layout 4 just the file stem.

    ``download=True`` fetches the public CLIC 2020 zip of each requested track (both when
    ``track=None``) that is not already present, verifies its size and SHA-256 against
    :data:`CLIC_ARCHIVES` (a mismatch deletes it and raises DataError), extracts it safely, moves
    its images to ``root/<track>/<split>/`` and deletes the archive. Archive sizes: valid 135 MB
    (professional) / 237 MB (mobile), test 892 / 722 MB, train 2.0 / 4.0 GB.

    Args:
        root: Folder holding the CLIC folders (or the images themselves).
        split: ``"train"``, ``"valid"`` or ``"test"``.
        track: ``"professional"``, ``"mobile"``, or None for both.
        download: Fetch missing archives from the CLIC servers.
    """

    def __init__(
        self,
        root: str,
        split: Literal["train", "valid", "test"] = "valid",
        track: Optional[Literal["professional", "mobile"]] = None,
        download: bool = False,
    ) -> None:
        super().__init__(root)
        if split not in SPLITS:
            raise ConfigError(f"CLIC: argument 'split' must be one of {', '.join(SPLITS)}, got {split!r}")
        if track is not None and track not in TRACKS:
            raise ConfigError(f"CLIC: argument 'track' must be one of {', '.join(TRACKS)} or None, got {track!r}")
        self.split = split
        self.track = track
        self.download = download

    @property
    def _tracks(self) -> tuple[str, ...]:
        return (self.track,) if self.track else TRACKS

    def _track_dir(self, track: str) -> Path | None:
        for candidate in (self.root / track / self.split, self.root / f"{track}_{self.split}"):
            if _images_in(candidate):
                return candidate
        return None

    def _resolve_dirs(self) -> list[Path]:
        """Folders holding this split's images, per the documented search order."""
        found = [d for d in (self._track_dir(t) for t in self._tracks) if d is not None]
        if found:
            return found
        for candidate in (self.root / self.split, self.root):
            if _images_in(candidate):
                return [candidate]
        return []

    def prepare_data(self) -> None:
        """Download, verify and unpack the archives of missing tracks when ``download=True``."""
        if not self.download:
            return
        for track in self._tracks:
            if self._track_dir(track) is None:
                self._fetch(track)

    def _fetch(self, track: str) -> None:
        archive = CLIC_ARCHIVES[(track, self.split)]
        self.root.mkdir(parents=True, exist_ok=True)
        zip_path = self.root / archive.url.rsplit("/", 1)[1]
        log.info("CLIC: downloading %s (%.0f MB) into %s", archive.url, archive.size / 1e6, self.root)
        download_url(archive.url, zip_path, sha256=archive.sha256, size=archive.size)
        final = self.root / track / self.split
        with tempfile.TemporaryDirectory(prefix=f".extract-{track}-{self.split}-", dir=self.root) as tmp:
            staging = Path(tmp) / "out"
            extract_archive(zip_path, Path(tmp) / "raw")
            staging.mkdir()
            for path in sorted((Path(tmp) / "raw").rglob("*")):
                rel = path.relative_to(Path(tmp) / "raw")
                hidden = any(p.startswith(".") or p == "__MACOSX" for p in rel.parts)
                if not hidden and path.is_file() and path.name.lower().endswith(IMAGE_EXTENSIONS):
                    if (staging / path.name).exists():
                        raise DataError(f"CLIC: archive {zip_path} holds two images named {path.name}")
                    shutil.move(str(path), staging / path.name)
            if not _images_in(staging):
                raise DataError(f"CLIC: archive {zip_path} holds no images")
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():
                shutil.rmtree(final)  # an empty or partial folder from an earlier attempt
            os.replace(staging, final)
        zip_path.unlink()

    def _list_files(self) -> list[tuple[Path, str]]:
        self._require_dir(self.root, "root folder")
        dirs = self._resolve_dirs()
        if not dirs:
            tried = [str(self.root / t / self.split) for t in self._tracks]
            tried += [str(self.root / f"{t}_{self.split}") for t in self._tracks]
            tried += [str(self.root / self.split), str(self.root)]
            hint = "" if self.download else " (pass download=True to fetch it)"
            raise DataError(f"CLIC: no {self.split} images found; looked in {', '.join(tried)}{hint}")
        rel = [
            (d / f).relative_to(self.root).as_posix() for d in dirs for f in _images_in(d)
        ]
        return [(self.root / r, n) for r, n in zip(rel, unique_names(rel))]

    def __repr__(self) -> str:
        return f"CLIC(root={str(self.root)!r}, split={self.split!r}, track={self.track!r})"
