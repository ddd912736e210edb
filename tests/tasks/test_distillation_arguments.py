"""Bad DistillationModule/AutoencoderDistillationModule arguments: a ConfigError naming the argument at
construction (before any teacher is read), not a traceback or a failure at the first training step."""

from __future__ import annotations

import pytest

from jpegnn.errors import ConfigError
from jpegnn.tasks.distillation import AutoencoderDistillationModule, DistillationModule


@pytest.mark.parametrize("kwargs,match", [
    (dict(kd_weights="abc"), "kd_weights"),
    (dict(kd_weights=None), "kd_weights"),
    (dict(kd_weights=(0.1, "x", 0.2)), "kd_weights"),
    (dict(N=0), "'N' must be a positive integer"),
    (dict(N=8.5), "'N' must be a positive integer"),
    (dict(M=0), "'M' must be a positive integer"),
    (dict(latent_loss="kl", kl_temperature=0), "kl_temperature"),
    (dict(latent_loss="kl", kl_temperature="hot"), "kl_temperature"),
])
def test_distillation_module_argument_errors(kwargs, match, tmp_path):
    args = dict(teacher_ckpt=str(tmp_path / "never-read.ckpt"), N=8)
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        DistillationModule(**args)


@pytest.mark.parametrize("kwargs,match", [
    (dict(kd_weights="abc"), "kd_weights"),
    (dict(kd_weights=(0.3, "x", 0.4)), "kd_weights"),
    (dict(N=0), "'N' must be a positive integer"),
    (dict(depth=0), "'depth' must be a positive integer"),
    (dict(kl_temperature=-2.0), "kl_temperature"),
])
def test_autoencoder_distillation_argument_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        AutoencoderDistillationModule(**kwargs)
