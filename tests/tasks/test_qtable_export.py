"""``jpegnn export-qtables``: checkpoint -> Pillow JSON / cjpeg text, round trips through real encoders."""

from __future__ import annotations

import io
import json

import lightning as L
import pytest
import torch
from PIL import Image

from jpegnn.cli import main
from jpegnn.jpeg.qtable_formats import cjpeg_text, parse_cjpeg_text, read_checkpoint_tables
from jpegnn.data import FrequencyDataModule
from jpegnn.errors import CheckpointError
from jpegnn.jpeg.export import read_cjpeg_qtables, read_pillow_qtables
from jpegnn.tasks.qtable import QTableClassifier
from tests.data.imagegen import smooth_rgb


@pytest.fixture(scope="module")
def learned_ckpt(tmp_path_factory):
    """A checkpoint whose tables moved off the standard ones (3 tables: separate Cb and Cr)."""
    tmp = tmp_path_factory.mktemp("export")
    torch.manual_seed(0)
    module = QTableClassifier("block_mlp", num_classes=2, mode="joint", quality=60, separate_chroma=True,
                              table_lr=0.5, beta=0.1)
    trainer = L.Trainer(accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        default_root_dir=str(tmp))
    trainer.fit(module, FrequencyDataModule(num_train=32, num_val=8, num_test=8, batch_size=16))
    ckpt = tmp / "learned.ckpt"
    trainer.save_checkpoint(ckpt)
    return ckpt, [t.flatten().tolist() for t in module.integer_tables()]


def test_pillow_export_round_trip(learned_ckpt, tmp_path, capsys):
    ckpt, tables = learned_ckpt
    out = tmp_path / "tables.json"
    assert main(["export-qtables", "--ckpt", str(ckpt), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    d = json.loads(out.read_text())
    assert d["qtables"] == tables and len(tables) == 3 and d["pillow_subsampling"] == 2
    buf = io.BytesIO()
    Image.fromarray(smooth_rgb(48, 64, seed=1)).save(buf, "JPEG", qtables=d["qtables"],
                                                       subsampling=d["pillow_subsampling"])
    buf.seek(0)
    with Image.open(buf) as im:
        q = im.quantization
    assert [list(q[i]) for i in sorted(q)] == tables  # Pillow stores exactly the exported tables
    assert read_pillow_qtables(buf.getvalue()) == tables  # jpegnn.jpeg.export's reader agrees


def test_cjpeg_export_round_trip(learned_ckpt, tmp_path):
    ckpt, tables = learned_ckpt
    out = tmp_path / "tables.txt"  # .txt selects the cjpeg format
    assert main(["export-qtables", "--ckpt", str(ckpt), "--out", str(out)]) == 0
    text = out.read_text()
    assert "-qslots 0,1,2" in text and "-sample 2x2" in text and "-quality 50" in text
    assert parse_cjpeg_text(text) == tables
    assert read_cjpeg_qtables(out).reshape(-1, 64).tolist() == tables  # libjpeg-rules reader of jpegnn.jpeg
    two = cjpeg_text(tables[:2], "4:4:4")
    assert "-qslots 0,1,1" in two and "-sample 1x1" in two and parse_cjpeg_text(two) == tables[:2]


def test_explicit_format_and_checkpoint_reader(learned_ckpt, tmp_path):
    ckpt, tables = learned_ckpt
    out = tmp_path / "x.dat"
    assert main(["export-qtables", "--ckpt", str(ckpt), "--out", str(out), "--format", "cjpeg"]) == 0
    assert parse_cjpeg_text(out.read_text()) == tables
    info = read_checkpoint_tables(ckpt)
    assert info["tables"] == tables and info["names"] == ["luma", "cb", "cr"]


def test_clean_errors(tmp_path, capsys):
    missing = tmp_path / "none.ckpt"
    assert main(["export-qtables", "--ckpt", str(missing), "--out", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("jpegnn: error:") and str(missing) in err[-1]
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    assert main(["export-qtables", "--ckpt", str(garbage), "--out", str(tmp_path / "o.json")]) == 2
    assert str(garbage) in capsys.readouterr().err
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": {"mode": "uncompressed"}}, other)
    with pytest.raises(CheckpointError, match="uncompressed"):
        read_checkpoint_tables(other)
    assert not (tmp_path / "o.json").exists()  # nothing half-written
