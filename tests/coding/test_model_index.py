"""The local model index is best effort: an unwritable cache warns instead of failing compress."""

from __future__ import annotations

import pytest

from jpegnn.coding import model_index


def test_unwritable_index_warns_instead_of_raising(tmp_path, monkeypatch):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("JPEGNN_CACHE", str(blocker))
    with pytest.warns(UserWarning, match="pass --ckpt"):  # was FileExistsError after the .jnn was written
        model_index.remember(b"\x00" * 8, tmp_path / "m.ckpt")
    assert model_index.lookup(b"\x00" * 8) is None


def test_remember_and_lookup(tmp_path, monkeypatch):
    monkeypatch.setenv("JPEGNN_CACHE", str(tmp_path / "c"))
    model_index.remember(b"\x01" * 8, tmp_path / "m.ckpt")
    assert model_index.lookup(b"\x01" * 8) == str((tmp_path / "m.ckpt").resolve())
