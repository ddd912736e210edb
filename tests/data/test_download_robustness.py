"""download_url and Kodak's download path against truncated or broken transfers (fake responses, no network)."""

from __future__ import annotations

import http.client
import io
import urllib.request

import pytest

from jpegnn.data import Kodak
from jpegnn.data.datasets import kodak as kodak_module
from jpegnn.data.download import download_url
from jpegnn.errors import DataError


class FakeResponse(io.BytesIO):
    """What urlopen returns for a server that announced ``length`` bytes but sent ``body``."""

    def __init__(self, body: bytes, length: int | None, fail: Exception | None = None) -> None:
        super().__init__(body)
        self.headers = {} if length is None else {"Content-Length": str(length)}
        self.fail = fail

    def read(self, n: int = -1) -> bytes:
        chunk = super().read(n)
        if not chunk and self.fail is not None:
            raise self.fail
        return chunk


def serve(monkeypatch, response: FakeResponse) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: response)


def test_connection_dropped_before_content_length_is_not_placed(monkeypatch, tmp_path):
    # http.client's read(n) returns b"" when the server closes early instead of raising: without
    # a checksum the short body used to be renamed into place as if complete.
    serve(monkeypatch, FakeResponse(b"x" * 100, length=1000))
    dest = tmp_path / "f.bin"
    with pytest.raises(DataError, match=r"https://example\.org/f\.bin.*100 of 1000 bytes"):
        download_url("https://example.org/f.bin", dest, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_full_body_without_checksum_is_accepted(monkeypatch, tmp_path):
    serve(monkeypatch, FakeResponse(b"x" * 1000, length=1000))
    assert download_url("https://example.org/f.bin", tmp_path / "f.bin", progress=False).read_bytes() == b"x" * 1000


def test_http_protocol_error_is_a_dataerror_naming_the_url(monkeypatch, tmp_path):
    # http.client.IncompleteRead / BadStatusLine are HTTPException, not OSError: they escaped raw.
    serve(monkeypatch, FakeResponse(b"x" * 10, length=None, fail=http.client.IncompleteRead(b"x", 5)))
    with pytest.raises(DataError, match=r"download failed: https://example\.org/f\.bin"):
        download_url("https://example.org/f.bin", tmp_path / "f.bin", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_kodak_download_that_is_not_an_image_is_deleted(tiny_kodak, tmp_path, monkeypatch):
    # A mirror answering 200 with an HTML page: pixel hashing raised DataError before the
    # cleanup, so the page stayed as kodim01.png and later runs trusted it as present.
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for i in range(1, 25):
        (mirror / f"kodim{i:02d}.png").write_bytes(b"<html>rate limited</html>")
    monkeypatch.setattr(Kodak, "url_template", mirror.as_uri() + "/kodim{index:02d}.png")
    root = tmp_path / "kodak"
    with pytest.raises(DataError, match="were deleted: kodim01.png"):
        Kodak(root, download=True).prepare_data()
    assert not any(root.glob("*.png"))
