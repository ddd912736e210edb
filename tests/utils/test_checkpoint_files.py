"""jpegnn.utils.checkpoints.read_torch_file: the one reader of checkpoints and state dicts, whose
errors are one line naming the file (and the argument that named it)."""

from __future__ import annotations

import pytest
import torch

from jpegnn.errors import CheckpointError
from jpegnn.utils.checkpoints import read_torch_file


class _Code:
    """Not on torch's weights-only allowlist: stands in for code hidden in a pickle."""


def test_reads_tensors_and_primitives(tmp_path):
    path = tmp_path / "ok.ckpt"
    torch.save({"state_dict": {"w": torch.arange(3.0)}, "hyper_parameters": {"N": 8}}, path)
    for mmap in (False, True):
        obj = read_torch_file(path, mmap=mmap)
        assert obj["hyper_parameters"] == {"N": 8} and obj["state_dict"]["w"].tolist() == [0.0, 1.0, 2.0]


def _bad_files(tmp_path):
    good = tmp_path / "good.ckpt"
    torch.save({"w": torch.zeros(1000)}, good)
    text = tmp_path / "text.ckpt"
    text.write_text("not a checkpoint")
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    code = tmp_path / "code.ckpt"
    torch.save({"w": torch.zeros(1), "x": _Code()}, code)
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    # garbage that torch's legacy-format reader fails on with KeyError / IndexError / struct.error
    garbage = []
    for i, data in enumerate((b"junk" * 3, b"\x80", b"\x80\x02\x8a\x0a" + b"\x00" * 2)):
        garbage.append(tmp_path / f"garbage{i}.pt")
        garbage[-1].write_bytes(data)
    return [text, truncated, code, empty, *garbage, tmp_path]  # a folder is not a file either


def test_missing_file_names_argument_and_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"^--ckpt: state-dict file not found: .*none\.pth$"):
        read_torch_file(tmp_path / "none.pth", what="state-dict file", arg_name="--ckpt")


def test_unreadable_files_give_one_line_naming_the_file(tmp_path):
    for path in _bad_files(tmp_path):
        with pytest.raises(CheckpointError) as err:
            read_torch_file(path, arg_name="teacher_ckpt")
        message = str(err.value)
        assert "\n" not in message and len(message) - len(str(path)) < 350, message
        assert message.startswith(f"teacher_ckpt: {path}"), message
        if path.is_file():
            assert "is not a readable PyTorch checkpoint (" in message, message
