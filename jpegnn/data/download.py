"""Downloading and unpacking public datasets safely.

* :func:`download_url` streams a URL (``https://``, ``http://`` or ``file://``) to a temporary
  file beside the destination, hashes it while writing, checks the byte count against the
  server's ``Content-Length`` (a dropped connection is not an error in :mod:`http.client`) and the
  expected size and SHA-256 / MD5 when given, and only then renames it into place atomically. A failed, interrupted or
  corrupted download never leaves a file at the destination that looks complete.
* :func:`extract_archive` unpacks zip and tar (plain, gz, bz2, xz) archives, refusing any member
  that would land outside the destination folder (``../x``, absolute paths, links pointing out,
  device files): a hostile or broken archive cannot overwrite files elsewhere.

Both raise :class:`~jpegnn.errors.DataError` with a one-line message naming the URL or file.
Tests feed them local files through ``file://`` URLs; nothing here needs the network to be tested.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import lzma
import os
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from jpegnn.errors import DataError

__all__ = ["download_url", "extract_archive", "file_digest"]

_CHUNK = 1 << 20  # bytes read per iteration while streaming or hashing (1 MiB)


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (``"sha256"``, ``"md5"``, ``"sha1"``), read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _matches(path: Path, sha256: str | None, md5: str | None, size: int | None) -> bool:
    if size is not None and path.stat().st_size != size:
        return False
    if sha256 is not None and file_digest(path, "sha256") != sha256.lower():
        return False
    if md5 is not None and file_digest(path, "md5") != md5.lower():
        return False
    return True


def download_url(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    *,
    md5: str | None = None,
    size: int | None = None,
    timeout: float = 60.0,
    overwrite: bool = False,
    progress: bool | None = None,
) -> Path:
    """Download ``url`` to the file ``dest``, verified, written atomically.

    If ``dest`` already exists and matches every checksum given (or none is given), nothing is
    downloaded unless ``overwrite=True``. Otherwise the body is streamed to a temporary file in
    ``dest``'s folder while SHA-256 and MD5 are computed; a size or checksum mismatch deletes it.

    Args:
        url: ``https://``, ``http://`` or ``file://`` URL.
        dest: Destination file path; parent folders are created.
        sha256: Expected SHA-256 (hex) of the file, or None to skip the check.
        md5: Expected MD5 (hex), for sources that publish only MD5.
        size: Expected size in bytes.
        timeout: Seconds to wait for the connection and for each read (not the whole transfer).
        overwrite: Download even when ``dest`` exists and matches.
        progress: Show a tqdm progress bar on stderr; None shows it only on a terminal.

    Returns:
        ``dest`` as a Path.

    Raises:
        DataError: The download failed (network error, HTTP error, missing file) or the content
            does not match ``size``/``sha256``/``md5``; the message names ``url``.
    """
    dest = Path(dest)
    if dest.is_file() and not overwrite and _matches(dest, sha256, md5, size):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    h_sha, h_md5, n_bytes = hashlib.sha256(), hashlib.md5(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    announced = response.headers.get("Content-Length")
                    bar = _progress_bar(announced, dest.name, progress)
                    try:
                        while chunk := response.read(_CHUNK):
                            out.write(chunk)
                            h_sha.update(chunk)
                            h_md5.update(chunk)
                            n_bytes += len(chunk)
                            if bar is not None:
                                bar.update(len(chunk))
                    finally:
                        if bar is not None:
                            bar.close()
                # http.client returns b"" (no error) when the server closes the connection
                # early, so a dropped transfer would otherwise look complete.
                if announced and str(announced).strip().isdigit() and n_bytes != int(announced):
                    raise DataError(
                        f"download failed: {url}: connection closed after {n_bytes} of "
                        f"{int(announced)} bytes (Content-Length); file discarded"
                    )
            except urllib.error.HTTPError as e:
                raise DataError(f"download failed: {url}: HTTP {e.code} {e.reason}") from e
            except urllib.error.URLError as e:
                raise DataError(f"download failed: {url}: {e.reason}") from e
            except (socket.timeout, TimeoutError) as e:
                raise DataError(f"download failed: {url}: timed out after {timeout:g} s") from e
            except OSError as e:
                raise DataError(f"download failed: {url}: {e.strerror or e}") from e
            except http.client.HTTPException as e:  # IncompleteRead, BadStatusLine, ...
                raise DataError(f"download failed: {url}: {type(e).__name__}: {e}") from e
            out.flush()
            os.fsync(out.fileno())
        problems = []
        if size is not None and n_bytes != size:
            problems.append(f"size {n_bytes} bytes, expected {size}")
        if sha256 is not None and h_sha.hexdigest() != sha256.lower():
            problems.append(f"sha256 {h_sha.hexdigest()}, expected {sha256.lower()}")
        if md5 is not None and h_md5.hexdigest() != md5.lower():
            problems.append(f"md5 {h_md5.hexdigest()}, expected {md5.lower()}")
        if problems:
            raise DataError(f"download of {url} is corrupt ({'; '.join(problems)}); file discarded")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; datasets are often shared between users
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return dest


def _progress_bar(total: str | None, desc: str, progress: bool | None):
    """A tqdm bar in bytes, or None when disabled or tqdm is missing."""
    if progress is False:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    n = int(total) if total and str(total).isdigit() else None
    return tqdm(total=n, unit="B", unit_scale=True, desc=desc, disable=None if progress is None else not progress)


def _check_member(name: str, archive: Path, dest: Path) -> Path:
    """Resolve an archive member name under ``dest``; DataError if it would escape."""
    pure = PurePosixPath(name.replace("\\", "/"))
    target = (dest / pure).resolve()
    if pure.is_absolute() or ".." in pure.parts or (len(name) > 1 and name[1] == ":") or not (
        target == dest or dest in target.parents
    ):
        raise DataError(
            f"unsafe path {name!r} in archive {archive}: refusing to extract outside {dest}"
        )
    return target


def extract_archive(path: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a zip or tar archive into ``dest``, rejecting members that would escape it.

    The format is recognised from the content, not the file name. Every member is checked
    before anything is written: absolute paths, ``..`` components, Windows drive paths, symbolic
    or hard links whose target leaves ``dest``, and device/FIFO entries are refused, so a bad
    archive extracts nothing.

    Args:
        path: The archive file.
        dest: Folder to extract into (created if missing).

    Returns:
        ``dest`` as a Path.

    Raises:
        DataError: The archive is missing, corrupt, of an unknown format, or holds an unsafe
            member; the message names the archive (and the member).
    """
    path, dest = Path(path), Path(dest)
    if not path.is_file():
        raise DataError(f"archive not found: {path}")
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
                for info in infos:
                    _check_member(info.filename, path, root)
                    mode = (info.external_attr >> 16) & 0o170000
                    if mode == 0o120000:  # a symbolic link stored in a zip
                        raise DataError(
                            f"unsafe path {info.filename!r} in archive {path}: symbolic links are not extracted"
                        )
                for info in infos:
                    target = _check_member(info.filename, path, root)
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out, _CHUNK)
        elif tarfile.is_tarfile(path):
            with tarfile.open(path) as tf:
                members = tf.getmembers()
                for m in members:
                    target = _check_member(m.name, path, root)
                    if m.issym() or m.islnk():
                        link = PurePosixPath(m.linkname)
                        base = target.parent if m.issym() else root
                        resolved = (base / link).resolve()
                        if link.is_absolute() or not (resolved == root or root in resolved.parents):
                            raise DataError(
                                f"unsafe link {m.name!r} -> {m.linkname!r} in archive {path}: "
                                f"refusing to extract outside {dest}"
                            )
                    elif not (m.isfile() or m.isdir()):
                        raise DataError(f"unsupported member {m.name!r} (device or FIFO) in archive {path}")
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(root, members=members, filter="data")
                else:  # pragma: no cover - Python < 3.11.4; members were checked above
                    tf.extractall(root, members=members)
        else:
            raise DataError(f"not a zip or tar archive: {path}")
    except DataError:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError) as e:
        raise DataError(f"cannot extract archive {path}: {e}") from e
    except (RuntimeError, NotImplementedError) as e:  # zipfile: encrypted member, Deflate64, ...
        raise DataError(f"cannot extract archive {path}: {e}") from e
    return dest
