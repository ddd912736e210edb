"""Zoo teachers from local files: SHA-256 checks against zoo names; downloads only when asked."""

from __future__ import annotations

import hashlib

import pytest
import torch
from compressai.models import ScaleHyperprior

from jpegnn.errors import CheckpointError, ConfigError
from jpegnn.models.lic import zoo


@pytest.fixture()
def random_state_dict_file(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "weights.pth.tar"
    torch.save(ScaleHyperprior(8, 12).state_dict(), path)
    return path


def test_zoo_names_follow_compressai():
    assert zoo.zoo_file_name("bmshj2018-hyperprior", 5) == "bmshj2018-hyperprior-5-f8b614e1.pth.tar"
    assert zoo.zoo_file_name("bmshj2018-hyperprior", 1, "ms-ssim") == "bmshj2018-hyperprior-ms-ssim-1-5cf249be.pth.tar"
    assert zoo.zoo_hash_prefix("bmshj2018-hyperprior-5-f8b614e1.pth.tar") == "f8b614e1"
    with pytest.raises(ConfigError, match="qualities 1..6"):
        zoo.zoo_url("cheng2020-anchor", 7)
    with pytest.raises(ConfigError, match="unknown CompressAI zoo architecture"):
        zoo.zoo_url("balle", 1)


def test_a_file_keeping_its_zoo_name_is_hash_checked(random_state_dict_file, tmp_path, monkeypatch):
    digest = hashlib.sha256(random_state_dict_file.read_bytes()).hexdigest()
    urls = zoo._zoo().model_urls["bmshj2018-hyperprior"]["mse"]
    # pretend the zoo published this file for quality 5
    monkeypatch.setitem(urls, 5, f"https://example.invalid/models/bmshj2018-hyperprior-5-{digest[:8]}.pth.tar")
    named = tmp_path / f"bmshj2018-hyperprior-5-{digest[:8]}.pth.tar"
    named.write_bytes(random_state_dict_file.read_bytes())
    assert zoo.verify_zoo_file(named, "bmshj2018-hyperprior", 5) is True
    model = zoo.load_zoo_model("bmshj2018-hyperprior", 5, weights=str(named))
    assert isinstance(model, ScaleHyperprior) and (model.N, model.M) == (8, 12) and not model.training
    # a folder holding the zoo name works too
    assert zoo.resolve_zoo_weights("bmshj2018-hyperprior", 5, weights=str(tmp_path)) == named
    # one flipped byte: the name's hash no longer matches
    data = bytearray(named.read_bytes())
    data[-10] ^= 0xFF
    named.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt or a partial download"):
        zoo.load_zoo_model("bmshj2018-hyperprior", 5, weights=str(named))


def test_the_zoo_name_of_another_model_is_refused(random_state_dict_file, tmp_path):
    other = tmp_path / zoo.zoo_file_name("bmshj2018-hyperprior", 1)
    other.write_bytes(random_state_dict_file.read_bytes())
    with pytest.raises(ConfigError, match="is the zoo file of bmshj2018-hyperprior quality 1"):
        zoo.load_zoo_model("bmshj2018-hyperprior", 5, weights=str(other))


def test_renamed_files_load_unverified(random_state_dict_file, caplog):
    with caplog.at_level("WARNING"):
        model = zoo.load_zoo_model("bmshj2018-hyperprior", 5, weights=str(random_state_dict_file))
    assert isinstance(model, ScaleHyperprior)
    assert "cannot be checked" in caplog.text and "differ from the zoo preset" in caplog.text


def test_wrapped_and_old_style_keys_are_read(tmp_path):
    torch.manual_seed(0)
    state = ScaleHyperprior(8, 12).state_dict()
    wrapped = tmp_path / "wrapped.pth.tar"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, wrapped)
    read = zoo.read_state_dict(wrapped)
    assert set(read) == set(state)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable PyTorch state-dict file"):
        zoo.read_state_dict(bad)


def test_download_happens_only_when_asked(random_state_dict_file, tmp_path, monkeypatch):
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, dst, hash_prefix))
        with open(dst, "wb") as fh:
            fh.write(random_state_dict_file.read_bytes())

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    folder = tmp_path / "weights"
    folder.mkdir()
    with pytest.raises(CheckpointError, match="teacher_weights: no local weights .*bmshj2018-hyperprior-5-f8b614e1"):
        zoo.resolve_zoo_weights("bmshj2018-hyperprior", 5, weights=str(folder), arg_name="teacher_weights")
    assert calls == []
    path = zoo.resolve_zoo_weights("bmshj2018-hyperprior", 5, weights=str(folder), download=True)
    assert path == folder / "bmshj2018-hyperprior-5-f8b614e1.pth.tar" and path.is_file()
    assert calls == [(zoo.zoo_url("bmshj2018-hyperprior", 5), str(path), "f8b614e1")]
