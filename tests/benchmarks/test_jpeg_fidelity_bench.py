"""benchmarks/jpeg_fidelity_kodak.py: the docstring's quick look (--limit N, no --out) must not
overwrite the committed all-image tables in benchmarks/results/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import load_benchmark


@pytest.fixture()
def bench(monkeypatch):
    module = load_benchmark("jpeg_fidelity_kodak")
    written = []
    monkeypatch.setattr(module, "write_text_atomic", lambda path, text: written.append((Path(path), text)))
    monkeypatch.setattr(module, "QUALITIES", (50,))  # one quality: a second, not 20 settings per image
    return module, written


def test_limit_run_without_out_writes_nothing(bench, tiny_kodak, capsys):
    module, written = bench
    assert module.main(["--dataset", str(tiny_kodak), "--limit", "1"]) == 0
    assert written == []
    out = capsys.readouterr()
    assert "(1 images)" in out.out and "nothing written" in out.err


def test_limit_run_with_out_writes_there(bench, tiny_kodak, tmp_path):
    module, written = bench
    assert module.main(["--dataset", str(tiny_kodak), "--limit", "1", "--out", str(tmp_path / "f.md")]) == 0
    assert [p for p, _ in written] == [tmp_path / "f.md"]
