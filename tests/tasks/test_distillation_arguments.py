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


def _tiny_teacher_checkpoint(path):
    """A Lightning-style checkpoint of an untrained N=8/M=12 scale hyperprior (no training needed)."""
    import torch

    from jpegnn.models.lic.registry import build_lic_model

    net = build_lic_model("bmshj2018-hyperprior", 1, 8, 12)
    torch.save({"state_dict": {f"model.{k}": v for k, v in net.state_dict().items()},
                "hyper_parameters": {"architecture": "bmshj2018-hyperprior", "quality": 1, "N": 8, "M": 12}}, path)
    return str(path)


def test_an_explicit_teacher_m_that_does_not_fit_the_teacher_is_refused_at_construction(tmp_path):
    ckpt = _tiny_teacher_checkpoint(tmp_path / "teacher.ckpt")
    assert DistillationModule(teacher_ckpt=ckpt, N=4).hparams.teacher_M == 12
    # the architecture is left to the teacher, so the teacher is read in __init__: teacher_M=16 must match it
    with pytest.raises(ConfigError, match="teacher_M=16"):
        DistillationModule(teacher_ckpt=ckpt, N=4, teacher_M=16)
    with pytest.raises(ConfigError, match="teacher_N_entropy=5"):
        DistillationModule(teacher_ckpt=ckpt, N=4, teacher_N_entropy=5, kd_weights=(0.2, 0.2, 0.2, 0.4))


def test_autoencoder_student_built_for_another_teacher_m_is_refused_when_the_teacher_loads(tmp_path):
    import torch

    from jpegnn.models.autoencoder import ConvAutoencoder

    path = tmp_path / "ae-teacher.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in ConvAutoencoder(8, 6, 2).state_dict().items()},
                "hyper_parameters": {"N": 8, "M": 6, "depth": 2}}, path)
    assert AutoencoderDistillationModule(N=4, M=6, depth=2, teacher_ckpt=str(path)).teacher.M == 6
    # rebuilt with teacher_M given (as from its own checkpoint): the teacher is read lazily and must match
    student = AutoencoderDistillationModule(N=4, M=6, depth=2, teacher_ckpt=str(path), teacher_M=10)
    with pytest.raises(ConfigError, match="teacher_M=10"):
        student.setup("fit")
