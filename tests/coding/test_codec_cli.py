"""jpegnn compress / decompress end to end on a tiny trained checkpoint."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from jpegnn.cli import main
from jpegnn.coding.lic import evaluate_image
from jpegnn.tasks.lic import LICModule
from tests.helpers import loader


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt")
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        module = LICModule("mbt2018-mean", N=8, M=12)
        trainer = L.Trainer(accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
        trainer.fit(module, train_dataloaders=loader(4, (64, 64), batch_size=2))
        path = out / f"m{seed}.ckpt"
        trainer.save_checkpoint(path)
        paths.append(path)
    return paths


@pytest.fixture()
def image(tmp_path):
    rng = np.random.default_rng(0)
    arr = (rng.random((45, 70, 3)) * 255).astype(np.uint8)
    path = tmp_path / "odd.png"
    Image.fromarray(arr).save(path)
    return path


def test_round_trip_matches_in_memory_decode(ckpts, image, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JPEGNN_CACHE", str(tmp_path / "cache"))
    jnn, png = tmp_path / "odd.jnn", tmp_path / "odd_dec.png"
    assert main(["compress", str(image), str(jnn), "--ckpt", str(ckpts[0])]) == 0
    assert "bpp (actual, whole file)" in capsys.readouterr().out
    assert main(["decompress", str(jnn), str(png)]) == 0  # model found through the local index
    decoded = np.asarray(Image.open(png))
    assert decoded.shape == (45, 70, 3)

    module = LICModule.load_from_checkpoint(ckpts[0], weights_only=True).eval()
    x = torch.from_numpy(np.asarray(Image.open(image))).permute(2, 0, 1).float().div(255)[None]
    ref = evaluate_image(module.model, x, "odd")["x_hat"]
    ref8 = (ref[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(decoded, ref8)


def test_decoding_with_another_model_is_refused(ckpts, image, tmp_path, capsys):
    jnn = tmp_path / "a.jnn"
    assert main(["compress", str(image), str(jnn), "--ckpt", str(ckpts[0])]) == 0
    assert main(["decompress", str(jnn), str(tmp_path / "x.png"), "--ckpt", str(ckpts[1])]) == 2
    assert "was encoded with mbt2018-mean #" in capsys.readouterr().err


def test_corrupt_file_and_missing_checkpoint_are_clean_errors(ckpts, image, tmp_path, capsys):
    jnn = tmp_path / "b.jnn"
    assert main(["compress", str(image), str(jnn), "--ckpt", str(ckpts[0])]) == 0
    data = bytearray(jnn.read_bytes())
    data[len(data) // 2] ^= 0x10
    jnn.write_bytes(bytes(data))
    assert main(["decompress", str(jnn), str(tmp_path / "y.png"), "--ckpt", str(ckpts[0])]) == 2
    assert "CRC-32 mismatch" in capsys.readouterr().err
    assert main(["compress", str(image), str(jnn), "--ckpt", str(tmp_path / "nope.ckpt")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_learned_codec_protocol(ckpts, image):
    from jpegnn.evaluation.learned import load_learned_codec

    codec = load_learned_codec(ckpts[0], device="cpu")
    img = np.asarray(Image.open(image))
    res = codec.encode_decode(img, 0)
    assert res.num_bytes > 0 and res.extra["bpp_estimated"] > 0
    assert tuple(res.decoded.shape) == (3, 45, 70)


@pytest.mark.parametrize("name", ["decoded", "decoded.xyz", "outdir"])
def test_unusable_output_names_are_clean_errors(ckpts, image, tmp_path, capsys, name):
    jnn = tmp_path / "c.jnn"
    assert main(["compress", str(image), str(jnn), "--ckpt", str(ckpts[0])]) == 0
    capsys.readouterr()
    (tmp_path / "outdir").mkdir()
    out = tmp_path / name
    assert main(["decompress", str(jnn), str(out), "--ckpt", str(ckpts[0])]) == 2  # was a ValueError traceback
    err = capsys.readouterr().err
    assert str(out) in err and "Traceback" not in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left behind
    assert main(["compress", str(image), str(tmp_path / "outdir"), "--ckpt", str(ckpts[0])]) == 2
    assert "is a directory" in capsys.readouterr().err  # was an IsADirectoryError traceback


def test_image_too_large_for_the_header_is_refused_before_coding(ckpts, image, tmp_path, monkeypatch, capsys):
    import jpegnn.coding.container as container

    monkeypatch.setattr(container, "MAX_SIDE", 64)  # the 45x70 image is then "too wide"
    jnn = tmp_path / "big.jnn"
    assert main(["compress", str(image), str(jnn), "--ckpt", str(ckpts[0])]) == 2
    assert "at most 64 pixels per side" in capsys.readouterr().err and not jnn.exists()


def test_latent_shape_inconsistent_with_the_header_is_refused_before_decoding(ckpts, image, tmp_path):
    # a file with a valid CRC whose latent shape is larger than its strings: CompressAI's rANS
    # decoder read past the strings and crashed the process (SIGSEGV) instead of a clean error
    import dataclasses
    import os
    import subprocess
    import sys

    from jpegnn.coding.container import pack, unpack

    jnn = tmp_path / "d.jnn"
    assert main(["compress", str(image), str(jnn), "--ckpt", str(ckpts[0])]) == 0
    c = unpack(jnn.read_bytes())
    assert list(c.shape) == [1, 2]  # 45x70 padded to 64x128, z at 1/64
    jnn.write_bytes(pack(dataclasses.replace(c, shape=torch.Size([40, 40]))))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "jpegnn", "decompress", str(jnn), str(tmp_path / "d.png"),
                           "--ckpt", str(ckpts[0])], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert "latent shape [40, 40] does not fit a 70x45 image" in proc.stderr
