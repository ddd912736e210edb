"""Mixed latent quantization in training (jpegnn.models.lic.quantization): noise for the rate,
the coder's rounding with a straight-through gradient for the synthesis transform."""

from __future__ import annotations

import copy
import pickle

import lightning as L
import pytest
import torch
from compressai.entropy_models import GaussianConditional

from jpegnn.errors import ConfigError
from jpegnn.models.lic import build_lic_model
from jpegnn.models.lic.precision import Float32EntropyModel
from jpegnn.models.lic.quantization import (
    MixedJointAutoregressive,
    StraightThroughGaussianConditional,
    set_latent_quantizer,
)
from jpegnn.tasks.lic import LICModule
from tests.helpers import loader

MIXED = ["bmshj2018-hyperprior", "mbt2018-mean"]


def _model(arch: str, quantizer: str = "ste"):
    torch.manual_seed(0)
    return set_latent_quantizer(build_lic_model(arch, 1, 8, 12), quantizer)


def _latents(model, x):
    """y, scales and means (None for the scale hyperprior) as the model's forward computes them."""
    y = model.g_a(x)
    z_hat, _ = model.entropy_bottleneck(model.h_a(y))
    params = model.h_s(z_hat)
    if params.shape[1] == y.shape[1]:
        return y, params, None
    scales, means = params.chunk(2, 1)
    return y, scales, means


@pytest.mark.parametrize("arch", MIXED)
def test_training_forward_hands_the_decoder_the_coders_latents(arch):
    model = _model(arch).train()
    x = torch.rand(1, 3, 64, 64)
    y, scales, means = _latents(model, x)
    centre = torch.zeros_like(y) if means is None else means
    torch.manual_seed(1)
    y_hat, likelihood = model.gaussian_conditional(y, scales, means=means)
    # what the coder sends: round(y - mean) + mean
    torch.testing.assert_close(y_hat, torch.round(y - centre) + centre)
    # the rate term is CompressAI's: likelihoods of the noisy latents, same noise draw
    torch.manual_seed(1)
    _, noisy_likelihood = GaussianConditional.forward(model.gaussian_conditional, y, scales, means=means)
    torch.testing.assert_close(likelihood, noisy_likelihood)
    # noise would not land on the coder's grid
    torch.manual_seed(1)
    noisy, _ = GaussianConditional.forward(model.gaussian_conditional, y, scales, means=means)
    assert not torch.allclose(noisy, y_hat)


def test_straight_through_gradient_reaches_the_encoder():
    model = _model("mbt2018-mean").train()
    out = model(torch.rand(1, 3, 64, 64))
    out["x_hat"].square().mean().backward()  # distortion only: no rate gradient
    grad = model.g_a[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0


@pytest.mark.parametrize("arch", MIXED)
def test_eval_forward_state_dict_and_class_are_compressais(arch):
    x = torch.rand(1, 3, 64, 64)
    ste, noise = _model(arch, "ste").eval(), _model(arch, "noise").eval()
    with torch.no_grad():
        torch.testing.assert_close(ste(x)["x_hat"], noise(x)["x_hat"], rtol=0, atol=0)
    assert ste.state_dict().keys() == noise.state_dict().keys()
    gc = ste.gaussian_conditional
    assert isinstance(gc, StraightThroughGaussianConditional) and isinstance(gc, Float32EntropyModel)
    # back to noise: CompressAI's class again (float32 under autocast kept)
    set_latent_quantizer(ste, "noise")
    assert not isinstance(gc, StraightThroughGaussianConditional) and isinstance(gc, Float32EntropyModel)
    assert isinstance(gc, GaussianConditional)


def test_survives_copy_and_pickle():
    model = _model("mbt2018-mean")
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert isinstance(clone.gaussian_conditional, StraightThroughGaussianConditional)
        assert isinstance(clone.gaussian_conditional, Float32EntropyModel)


def test_autoregressive_model_trains_mixed_and_evaluates_as_compressai():
    from compressai.models import JointAutoregressiveHierarchicalPriors

    model = _model("mbt2018").train()
    assert type(model) is MixedJointAutoregressive
    x = torch.rand(1, 3, 64, 64)
    out = model(x)
    # g_s got round(y - mean) + mean with the entropy_parameters' means: redo the forward by hand
    y = model.g_a(x)
    z_hat, _ = model.entropy_bottleneck(model.h_a(y))
    params = model.h_s(z_hat)
    torch.manual_seed(3)
    ctx = model.context_prediction(model.gaussian_conditional.quantize(y, "noise"))
    _, means = model.entropy_parameters(torch.cat((params, ctx), dim=1)).chunk(2, 1)
    # the context reads noisy latents, so means differ by draw; with a zero context conv they do not
    with torch.no_grad():
        model.context_prediction.weight.zero_()
        model.context_prediction.bias.zero_()
    out = model(x)
    _, means = model.entropy_parameters(torch.cat((params, torch.zeros_like(ctx)), dim=1)).chunk(2, 1)
    torch.testing.assert_close(out["x_hat"], model.g_s(torch.round(y - means) + means))
    out["x_hat"].square().mean().backward()
    assert model.g_a[0].weight.grad.abs().sum() > 0
    # eval: CompressAI's forward; "noise" gives CompressAI's class back, same state dict
    model.eval()
    reference = set_latent_quantizer(copy.deepcopy(model), "noise")
    assert type(reference) is JointAutoregressiveHierarchicalPriors
    with torch.no_grad():
        torch.testing.assert_close(model(x)["x_hat"], reference(x)["x_hat"], rtol=0, atol=0)
    assert model.state_dict().keys() == reference.state_dict().keys()
    assert type(pickle.loads(pickle.dumps(model))) is MixedJointAutoregressive


@pytest.mark.parametrize("arch", ["bmshj2018-factorized", "checkerboard"])
def test_other_architectures_are_a_config_error(arch):
    with pytest.raises(ConfigError, match="latent_quantizer='ste'.*use 'noise'"):
        set_latent_quantizer(build_lic_model(arch, 1, 8, 12), "ste")
    set_latent_quantizer(build_lic_model(arch, 1, 8, 12), "noise")  # the default is always fine


def test_unknown_quantizer_names_the_argument():
    with pytest.raises(ConfigError, match="latent_quantizer must be one of noise, ste, got 'round'"):
        LICModule("mbt2018-mean", quality=1, N=8, M=12, latent_quantizer="round")


def test_module_trains_with_ste_and_checkpoint_keeps_it(tmp_path):
    torch.manual_seed(0)
    module = LICModule("mbt2018-mean", quality=1, N=8, M=12, latent_quantizer="ste")
    trainer = L.Trainer(
        accelerator="cpu", max_steps=2, logger=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=str(tmp_path), num_sanity_val_steps=0, limit_val_batches=0,
        callbacks=[L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path, filename="last")],
    )
    trainer.fit(module, train_dataloaders=loader(4, (64, 64), batch_size=2))
    assert trainer.global_step == 2
    restored = LICModule.load_from_checkpoint(tmp_path / "last.ckpt", weights_only=False)
    assert restored.hparams.latent_quantizer == "ste"
    assert isinstance(restored.model.gaussian_conditional, StraightThroughGaussianConditional)
