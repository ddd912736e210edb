"""download_url / extract_archive on local files, and the Kodak/CLIC download paths (no network)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from jpegnn.data import CLIC, Kodak
from jpegnn.data.datasets import clic as clic_module
from jpegnn.data.datasets import kodak as kodak_module
from jpegnn.data.datasets.clic import ClicArchive
from jpegnn.data.download import download_url, extract_archive, file_digest
from jpegnn.errors import DataError
from tests.data.imagegen import write_rgb_png


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def payload(tmp_path) -> tuple[str, bytes]:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several read chunks
    src = tmp_path / "src" / "blob.bin"
    src.parent.mkdir()
    src.write_bytes(data)
    return src.as_uri(), data


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


def test_download_verifies_and_writes_atomically(payload, tmp_path):
    url, data = payload
    dest = tmp_path / "out" / "blob.bin"
    assert download_url(url, dest, sha256(data), size=len(data), progress=False) == dest
    assert dest.read_bytes() == data
    assert file_digest(dest) == sha256(data)
    assert leftovers(dest.parent) == []


def test_download_skips_a_matching_file(payload, tmp_path):
    url, data = payload
    dest = tmp_path / "blob.bin"
    dest.write_bytes(data)
    os.utime(dest, (1, 1))
    download_url("file:///nonexistent/never-read", dest, sha256(data), progress=False)
    assert dest.stat().st_mtime == 1  # untouched: no download attempted


def test_checksum_mismatch_discards_the_file(payload, tmp_path):
    url, data = payload
    dest = tmp_path / "blob.bin"
    corrupt = r"download of file://.*blob.bin is corrupt \(sha256 [0-9a-f]{64}, expected 0{64}"
    with pytest.raises(DataError, match=corrupt):
        download_url(url, dest, "0" * 64, progress=False)
    assert not dest.exists() and leftovers(tmp_path) == []
    with pytest.raises(DataError, match="size .* expected 5"):
        download_url(url, dest, size=5, progress=False)
    with pytest.raises(DataError, match="md5"):
        download_url(url, dest, md5="f" * 32, progress=False)
    assert not dest.exists()


def test_existing_file_with_wrong_hash_is_replaced(payload, tmp_path):
    url, data = payload
    dest = tmp_path / "blob.bin"
    dest.write_bytes(b"stale")
    download_url(url, dest, sha256(data), progress=False)
    assert dest.read_bytes() == data


def test_network_failure_names_the_url(tmp_path):
    url = (tmp_path / "missing.bin").as_uri()
    with pytest.raises(DataError, match=f"download failed: {url}"):
        download_url(url, tmp_path / "x.bin", progress=False)
    assert list(tmp_path.iterdir()) == []


# -- archives ----------------------------------------------------------------------------------
def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def make_tar(path: Path, members: list[tarfile.TarInfo], data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info in members:
            if info.isfile():
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return path


def test_extract_zip_and_tar(tmp_path):
    z = make_zip(tmp_path / "a.zip", {"valid/a.png": b"1", "valid/sub/b.png": b"2"})
    out = extract_archive(z, tmp_path / "z")
    assert (out / "valid" / "sub" / "b.png").read_bytes() == b"2"
    t = make_tar(tmp_path / "a.tgz", [tarfile.TarInfo("dir/c.png")], b"3")
    assert (extract_archive(t, tmp_path / "t") / "dir" / "c.png").read_bytes() == b"3"


@pytest.mark.parametrize("name", ["../evil.txt", "ok/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt"])
def test_zip_path_traversal_is_rejected(tmp_path, name):
    z = make_zip(tmp_path / "bad.zip", {"fine.txt": b"ok", name: b"pwned"})
    dest = tmp_path / "out"
    with pytest.raises(DataError, match=f"unsafe path .* in archive {z}"):
        extract_archive(z, dest)
    assert not (dest / "fine.txt").exists()  # checked before anything is written
    assert not (tmp_path / "evil.txt").exists()


def test_tar_traversal_and_links_are_rejected(tmp_path):
    dest = tmp_path / "out"
    bad = make_tar(tmp_path / "up.tgz", [tarfile.TarInfo("../evil.txt")])
    with pytest.raises(DataError, match="unsafe path '../evil.txt'"):
        extract_archive(bad, dest)
    link = tarfile.TarInfo("innocent")
    link.type, link.linkname = tarfile.SYMTYPE, "../../etc/passwd"
    with pytest.raises(DataError, match="unsafe link 'innocent'"):
        extract_archive(make_tar(tmp_path / "link.tgz", [link]), dest)
    device = tarfile.TarInfo("dev")
    device.type = tarfile.CHRTYPE
    with pytest.raises(DataError, match="device or FIFO"):
        extract_archive(make_tar(tmp_path / "dev.tgz", [device]), dest)
    assert not (tmp_path / "evil.txt").exists()


def test_corrupt_or_unknown_archive(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(DataError, match="junk.zip"):
        extract_archive(junk, tmp_path / "out")
    with pytest.raises(DataError, match="archive not found"):
        extract_archive(tmp_path / "none.zip", tmp_path / "out")


# -- dataset downloads, served from local files ------------------------------------------------
def test_kodak_download_from_local_mirror(tiny_kodak, tmp_path, monkeypatch):
    monkeypatch.setattr(Kodak, "url_template", tiny_kodak.as_uri() + "/kodim{index:02d}.png")
    hashes = {f"kodim{i:02d}": kodak_module.pixel_sha256(tiny_kodak / f"kodim{i:02d}.png") for i in range(1, 25)}
    monkeypatch.setattr(kodak_module, "PIXEL_SHA256", hashes)
    root = tmp_path / "kodak"
    root.mkdir()
    (root / "kodim05.png").write_bytes((tiny_kodak / "kodim05.png").read_bytes())  # already present
    ds = Kodak(root, download=True)
    assert len(ds) == 24 and ds.names[-1] == "kodim24"
    assert (root / "kodim24.png").read_bytes() == (tiny_kodak / "kodim24.png").read_bytes()


def test_kodak_download_rejects_wrong_images(tiny_kodak, tmp_path, monkeypatch):
    monkeypatch.setattr(Kodak, "url_template", tiny_kodak.as_uri() + "/kodim{index:02d}.png")
    root = tmp_path / "kodak"  # real pixel hashes: the tiny fakes must all be rejected
    with pytest.raises(DataError, match="do not match the known Kodak images and were deleted: kodim01.png"):
        Kodak(root, download=True).prepare_data()
    assert not any(root.glob("*.png"))


def test_clic_download_extracts_into_track_split(tmp_path, monkeypatch):
    src = tmp_path / "src"
    for i in range(2):
        write_rgb_png(src / f"img{i}.png", 10, 12, seed=i)
    members = {f"valid/img{i}.png": (src / f"img{i}.png").read_bytes() for i in range(2)}
    members["__MACOSX/valid/._img0.png"] = b"junk"
    archive = make_zip(tmp_path / "professional_valid_2020.zip", members)
    data = archive.read_bytes()
    archives = dict(clic_module.CLIC_ARCHIVES)
    archives[("professional", "valid")] = ClicArchive(archive.as_uri(), len(data), sha256(data))
    monkeypatch.setattr(clic_module, "CLIC_ARCHIVES", archives)

    root = tmp_path / "clic"
    ds = CLIC(root, split="valid", track="professional", download=True)
    ds.prepare_data()
    assert ds.names == ["professional/valid/img0", "professional/valid/img1"]
    assert sorted(p.name for p in (root / "professional" / "valid").iterdir()) == ["img0.png", "img1.png"]
    assert not (root / "professional_valid_2020.zip").exists()  # archive deleted after extraction
    assert [p.name for p in root.iterdir()] == ["professional"]  # no staging left behind

    archives[("mobile", "valid")] = ClicArchive(archive.as_uri(), len(data), "1" * 64)
    with pytest.raises(DataError, match="is corrupt"):
        CLIC(root, split="valid", download=True).prepare_data()  # track=None also fetches mobile
