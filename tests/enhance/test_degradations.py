"""On-the-fly pairs: Pillow JPEG (one quality, a range) and a learned-codec checkpoint; luma/CTU helpers."""

from __future__ import annotations

import io

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from jpegnn.enhance import (
    CheckpointDegradation, JPEGDegradation, apply_by_ctu, random_ctu_crops, replace_luma, rgb_to_y,
)
from jpegnn.errors import CheckpointError, ConfigError
from jpegnn.tasks.lic import LICModule
from tests.helpers import RandomImages, loader


def _batch(n=2, h=40, w=48):
    return torch.stack([RandomImages(n, (h, w))[i]["image"] for i in range(n)])


def test_jpeg_matches_pillow_and_counts_bytes():
    x = _batch()
    out = JPEGDegradation(20)(x)
    img = (x[0] * 255).round().byte().permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=20)
    ref = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    assert torch.equal((out.decoded[0] * 255).round().byte().permute(1, 2, 0), torch.from_numpy(ref.copy()))
    assert out.bpp[0] == pytest.approx(len(buf.getvalue()) * 8 / (40 * 48))
    assert out.quality == [20, 20] and out.decoded.shape == x.shape


def test_quality_range_draws_in_training_and_uses_eval_quality_otherwise():
    deg = JPEGDegradation([10, 30])
    torch.manual_seed(0)
    qs = deg.qualities(200, training=True)
    assert min(qs) >= 10 and max(qs) <= 30 and len(set(qs)) > 10
    assert deg.qualities(3, training=False) == [20, 20, 20]
    assert JPEGDegradation([10, 30], eval_quality=15).qualities(1, False) == [15]


@pytest.mark.parametrize("kwargs,match", [({"quality": 0}, "'quality'"), ({"quality": [50, 10]}, "'quality'"),
                                          ({"eval_quality": 101}, "'eval_quality'"),
                                          ({"subsampling": "4:1:1"}, "'subsampling'")])
def test_bad_jpeg_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        JPEGDegradation(**kwargs)


def test_checkpoint_degradation(tmp_path):
    with pytest.raises(CheckpointError, match="missing.ckpt"):
        CheckpointDegradation(str(tmp_path / "missing.ckpt"))
    torch.manual_seed(0)
    module = LICModule("bmshj2018-factorized", N=8, M=12)
    trainer = L.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(module, train_dataloaders=loader(2, (64, 64), batch_size=2))
    path = tmp_path / "lic.ckpt"
    trainer.save_checkpoint(path)
    deg = CheckpointDegradation(str(path))
    out = deg(_batch(1, 40, 48))
    assert out.decoded.shape == (1, 3, 40, 48) and out.bpp[0] > 0 and out.quality == [None]
    assert torch.equal(out.decoded, (out.decoded * 255).round() / 255)  # 8-bit levels
    assert "lic.ckpt" in deg.describe()


def test_luma_and_replace():
    x = _batch(1)
    y = rgb_to_y(x)
    assert torch.allclose(y, 0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:])
    assert torch.allclose(rgb_to_y(replace_luma(x, y + 0.01)), y + 0.01, atol=1e-6)


def test_apply_by_ctu_covers_the_plane_with_context():
    y = torch.rand(1, 1, 50, 70)
    # a "filter" that returns the centre of each tile unchanged reproduces the plane exactly
    out = apply_by_ctu(lambda t: t[..., 2:-2, 2:-2], y, ctu=16, border=2)
    assert torch.equal(out, y)


def test_random_ctu_crops_align_and_check_size():
    a = torch.arange(2 * 40 * 48, dtype=torch.float32).reshape(2, 1, 40, 48)
    c1, c2 = random_ctu_crops((a, a + 1), 20)
    assert c1.shape == (2, 1, 20, 20) and torch.equal(c2, c1 + 1)
    with pytest.raises(ConfigError, match="patch_size >= 132"):
        random_ctu_crops((a,), 132)
