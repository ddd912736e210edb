"""LICModule on tiny random data: every architecture trains, codes for real and writes results."""

from __future__ import annotations

import csv
import json

import lightning as L
import pytest
import torch

from jpegnn.errors import ConfigError, TrainingError
from jpegnn.evaluation.results import PER_IMAGE_FIELDS
from jpegnn.tasks.lic import LICModule
from tests.helpers import loader

TINY = {"N": 8, "M": 12}
ARCHS = ["bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018", "checkerboard", "elic"]


class TinyData(L.LightningDataModule):
    def __init__(self, n_train=4, test_size=(37, 53)):
        super().__init__()
        self.n_train, self.test_size = n_train, test_size

    def train_dataloader(self):
        return loader(self.n_train, (64, 64), batch_size=2)

    def val_dataloader(self):
        return loader(2, (64, 64), batch_size=2, seed=1)

    def test_dataloader(self):
        return loader(2, self.test_size, batch_size=1, seed=2)


def _trainer(tmp_path, **kw):
    defaults = dict(
        accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp_path),
        num_sanity_val_steps=0,
    )
    defaults.update(kw)
    return L.Trainer(**defaults)


@pytest.mark.parametrize("arch", ARCHS)
def test_architecture_fits_and_codes_for_real(arch, tmp_path):
    torch.manual_seed(0)
    module = LICModule(arch, quality=1, N=8, M=40 if arch == "elic" else 12)
    trainer = _trainer(tmp_path)
    trainer.fit(module, TinyData())
    assert trainer.global_step == 2
    trainer.test(module, TinyData())
    rows = module.test_results["rows"]
    assert [r["image"] for r in rows] == ["img000", "img001"]
    for r in rows:
        assert (r["width"], r["height"]) == (53, 37)  # never resized
        assert r["bpp"] > 0 and r["bytes"] * 8 / (53 * 37) == pytest.approx(r["bpp"])
        assert r["bpp_estimated"] > 0
        if arch != "mbt2018":  # mbt2018's forward rounds without the context means
            assert r["decode_max_abs_diff"] < 1e-5
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) == {"name", "description", "results", "protocol"}
    assert results["protocol"] == "compressai" and "protocol compressai" in results["description"]
    assert set(results["results"]) == {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"}
    assert results["results"]["bpp"][0] == pytest.approx(sum(r["bpp"] for r in rows) / 2)
    with open(tmp_path / "per_image.csv") as fh:
        header = next(csv.reader(fh))
    assert header[: len(PER_IMAGE_FIELDS)] == list(PER_IMAGE_FIELDS)


def test_global_step_counts_batches_not_optimizer_steps(tmp_path):
    module = LICModule("bmshj2018-factorized", N=8, M=12)
    trainer = _trainer(tmp_path, max_steps=-1, max_epochs=1, limit_val_batches=0)
    trainer.fit(module, TinyData(n_train=6))  # 3 batches of 2
    assert trainer.global_step == 3
    net_opt, aux_opt = trainer.optimizers
    # both optimizers really stepped 3 times
    assert all(float(s["step"]) == 3 for s in net_opt.state_dict()["state"].values())
    assert all(float(s["step"]) == 3 for s in aux_opt.state_dict()["state"].values())


def test_optimizers_split_quantiles_from_network():
    module = LICModule("bmshj2018-hyperprior", N=8, M=12)
    net, aux = module.configure_optimizers()
    aux_ids = {id(p) for g in aux.param_groups for p in g["params"]}
    named = dict(module.model.named_parameters())
    assert aux_ids == {id(p) for n, p in named.items() if n.endswith("quantiles")}
    assert aux.param_groups[0]["lr"] == 1e-3 and net.param_groups[0]["lr"] == 1e-4


def test_lr_scale_gives_named_layers_their_own_lr_and_survives_resume(tmp_path):
    from functools import partial

    module = LICModule("mbt2018", N=8, M=12, optimizer=partial(torch.optim.Adam, lr=1e-4),
                       lr_scale={"context_prediction": 10, "entropy_parameters": 5})
    net, _ = module.configure_optimizers()
    by_name = {g.get("name"): g for g in net.param_groups}
    assert by_name[None]["lr"] == pytest.approx(1e-4)
    assert by_name["context_prediction"]["lr"] == pytest.approx(1e-3)
    assert by_name["entropy_parameters"]["lr"] == pytest.approx(5e-4)
    ctx_ids = {id(p) for p in module.model.context_prediction.parameters()}
    assert {id(p) for p in by_name["context_prediction"]["params"]} == ctx_ids
    # every network parameter in exactly one group
    ids = [id(p) for g in net.param_groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == sum(1 for n, _ in module.model.named_parameters() if not n.endswith("quantiles"))
    # a checkpoint resumes with the same groups and lrs
    ckpt = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path, filename="last")
    _trainer(tmp_path, limit_val_batches=0, enable_checkpointing=True, callbacks=[ckpt]).fit(module, TinyData())
    again = LICModule("mbt2018", N=8, M=12, optimizer=partial(torch.optim.Adam, lr=1e-4),
                      lr_scale={"context_prediction": 10, "entropy_parameters": 5})
    trainer = _trainer(tmp_path, max_steps=3, limit_val_batches=0)
    trainer.fit(again, TinyData(), ckpt_path=tmp_path / "last.ckpt")
    lrs = sorted(g["lr"] for g in trainer.optimizers[0].param_groups)
    assert lrs == pytest.approx([1e-4, 5e-4, 1e-3])


def test_lr_scale_that_names_no_parameter_is_a_config_error():
    with pytest.raises(ConfigError, match="lr_scale: 'context' names no parameter of MeanScaleHyperprior"):
        LICModule("mbt2018-mean", N=8, M=12, lr_scale={"context": 10})
    with pytest.raises(ConfigError, match="the factor of 'g_s' must be a number > 0"):
        LICModule("mbt2018-mean", N=8, M=12, lr_scale={"g_s": 0})


def test_saved_checkpoint_encodes_without_update(tmp_path):
    module = LICModule("bmshj2018-hyperprior", N=8, M=12)
    trainer = _trainer(tmp_path)
    trainer.fit(module, TinyData())
    ckpt = tmp_path / "model.ckpt"
    trainer.save_checkpoint(ckpt)
    loaded = LICModule.load_from_checkpoint(ckpt, weights_only=True)
    loaded.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        out = loaded.model.compress(x)  # raises "Uninitialized CDFs" if the save skipped update()
        x_hat = loaded.model.decompress(out["strings"], out["shape"])["x_hat"]
        ref = module.model.eval()(x)["x_hat"].clamp(0, 1)
    assert torch.allclose(x_hat, ref, atol=1e-5)


def test_non_finite_loss_stops_with_message(tmp_path, monkeypatch):
    module = LICModule("bmshj2018-factorized", N=8, M=12)
    real = module.criterion.forward

    def poisoned(out, x):
        losses = real(out, x)
        losses["loss"] = losses["loss"] * float("nan")
        return losses

    monkeypatch.setattr(module.criterion, "forward", poisoned)
    with pytest.raises(TrainingError, match="non-finite loss at global step 0"):
        _trainer(tmp_path).fit(module, TinyData())


def test_patch_size_must_suit_the_model(tmp_path):
    class Small(TinyData):
        def train_dataloader(self):
            return loader(2, (32, 32), batch_size=2)

    from jpegnn.errors import ConfigError

    with pytest.raises(ConfigError, match="multiples of 64"):
        _trainer(tmp_path).fit(LICModule("bmshj2018-hyperprior", N=8, M=12), Small())


def test_multistep_scheduler_steps_per_epoch(tmp_path):
    from functools import partial

    module = LICModule(
        "bmshj2018-factorized", N=8, M=12,
        lr_scheduler=partial(torch.optim.lr_scheduler.MultiStepLR, milestones=[1], gamma=0.5),
    )
    trainer = _trainer(tmp_path, max_steps=-1, max_epochs=2, limit_val_batches=0)
    trainer.fit(module, TinyData())
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(5e-5)


def test_speed_options_do_not_change_the_checkpoint_layout(tmp_path):
    plain = LICModule("bmshj2018-factorized", N=8, M=12)
    fast = LICModule("bmshj2018-factorized", N=8, M=12, channels_last=True)
    trainer = _trainer(tmp_path)
    trainer.fit(fast, TinyData())
    assert list(fast.state_dict()) == list(plain.state_dict())
    assert fast.model.g_a[0].weight.is_contiguous(memory_format=torch.channels_last)


def _plateau_module(**kw):
    from functools import partial

    return LICModule(
        "bmshj2018-factorized", N=8, M=12,
        lr_scheduler=partial(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=0, factor=0.5), **kw,
    )


def test_plateau_monitor_that_is_not_logged_is_a_config_error(tmp_path):
    # a typo used to leave the learning rate constant for the whole run, silently
    from jpegnn.errors import ConfigError

    module = _plateau_module(lr_scheduler_monitor="val_loss")
    with pytest.raises(ConfigError, match=r"lr_scheduler_monitor='val_loss'.*val/loss"):
        _trainer(tmp_path, max_steps=-1, max_epochs=1, limit_val_batches=1).fit(module, TinyData())


def test_plateau_steps_only_on_fresh_validation_values(tmp_path):
    module = _plateau_module()
    trainer = _trainer(tmp_path, max_steps=-1, max_epochs=4, check_val_every_n_epoch=2, limit_val_batches=1)
    with pytest.warns(UserWarning, match="ReduceLROnPlateau did not step after epoch 0"):
        trainer.fit(module, TinyData())
    # validation after epochs 1 and 3 only: two steps, not a second one on epoch 1's stale value
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == 2


def test_plateau_steps_every_validated_epoch(tmp_path):
    module = _plateau_module()
    trainer = _trainer(tmp_path, max_steps=-1, max_epochs=2, limit_val_batches=1)
    trainer.fit(module, TinyData())
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == 2


def test_unknown_scheduler_interval_is_a_config_error():
    from jpegnn.errors import ConfigError

    with pytest.raises(ConfigError, match="lr_scheduler_interval must be 'epoch' or 'step', got 'steps'"):
        LICModule("bmshj2018-factorized", N=8, M=12, lr_scheduler_interval="steps")


def test_fp16_amp_clips_unscaled_gradients_and_unscales_aux_once(tmp_path):
    """fp16 AMP (a GradScaler; CPU scaler here, the GPU path is the same code): one SGD(lr=1) step
    moves the network by the *clipped unscaled* gradient and the quantiles by their true gradient,
    as in fp32. The network used to move by max_norm/scale (clipping the scaled gradients) and the
    quantiles by grad·S/S' (unscaled after opt.step() had already grown the scale S to S')."""
    from functools import partial

    from lightning.pytorch.plugins import MixedPrecision

    def one_step(amp):
        torch.manual_seed(0)
        module = LICModule(
            "bmshj2018-hyperprior", N=8, M=12,
            optimizer=partial(torch.optim.SGD, lr=1.0), aux_optimizer=partial(torch.optim.SGD, lr=1.0),
        )
        before = {n: p.detach().clone() for n, p in module.model.named_parameters()}
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8, growth_interval=1)
        plugins = [MixedPrecision("16-mixed", "cpu", scaler=scaler)] if amp else []
        _trainer(tmp_path, max_steps=1, plugins=plugins).fit(module, TinyData())
        moved = {n: float((p.detach() - before[n]).norm()) for n, p in module.model.named_parameters()}
        net = sum(v**2 for n, v in moved.items() if not n.endswith("quantiles")) ** 0.5
        aux = moved["entropy_bottleneck.quantiles"]
        return net, aux, scaler.get_scale()

    net32, aux32, _ = one_step(False)
    net16, aux16, scale = one_step(True)
    assert net32 == pytest.approx(1.0, rel=1e-4)  # the gradient norm is above clip_max_norm=1.0
    assert net16 == pytest.approx(1.0, rel=1e-3)
    assert aux16 == pytest.approx(aux32, rel=1e-2)
    assert scale == 2.0**9  # one scaler update per batch (growth_interval=1)


@pytest.mark.parametrize("precision", ["bf16-true", "64-true"])
def test_non_float32_weights_are_a_config_error_before_training(precision, tmp_path):
    # these used to train, then fail inside CompressAI at the first checkpoint save or test
    from jpegnn.errors import ConfigError

    module = LICModule("bmshj2018-factorized", N=8, M=12)
    trainer = _trainer(tmp_path, precision=precision)
    with pytest.raises(ConfigError, match=rf"precision='{precision}'.*bf16-mixed"):
        trainer.fit(module, TinyData())
    assert trainer.global_step == 0
    with pytest.raises(ConfigError, match=rf"precision='{precision}'"):
        trainer.test(module, TinyData())


@pytest.mark.parametrize("arch", ARCHS)
def test_bf16_mixed_trains_and_codes(arch, tmp_path):
    """Every architecture trains under bf16-mixed (transforms autocast, entropy models in float32:
    tests/models/test_lic_precision.py) and its checkpoint state codes for real."""
    torch.manual_seed(0)
    module = LICModule(arch, N=8, M=40 if arch == "elic" else 12)
    trainer = _trainer(tmp_path, precision="bf16-mixed")
    trainer.fit(module, TinyData())
    assert trainer.global_step == 2
    assert all(torch.isfinite(p).all() and p.dtype == torch.float32 for p in module.model.parameters())
    trainer.test(module, TinyData())
    rows = module.test_results["rows"]
    assert all(r["bpp"] > 0 and r["bpp_estimated"] > 0 for r in rows)
    if arch != "mbt2018":  # mbt2018's forward rounds without the context means
        assert all(r["decode_max_abs_diff"] < 1e-5 for r in rows)


def test_checkpoints_load_into_a_module_that_was_tested(tmp_path):
    """trainer.test runs under torch.inference_mode: the CDFs it rebuilt used to be inference
    tensors, so loading a second checkpoint into the same module (evaluating several checkpoints,
    or resuming training after a test) failed with "Inplace update to inference tensor"."""
    module = LICModule("bmshj2018-hyperprior", N=8, M=12)
    trainer = _trainer(tmp_path, max_steps=1)
    trainer.fit(module, TinyData())
    trainer.save_checkpoint(tmp_path / "a.ckpt")

    fresh = LICModule("bmshj2018-hyperprior", N=8, M=12)
    _trainer(tmp_path).test(fresh, TinyData(n_train=0, test_size=(64, 64)), ckpt_path=tmp_path / "a.ckpt")
    assert not any(b.is_inference() for b in fresh.buffers())
    _trainer(tmp_path).test(fresh, TinyData(n_train=0, test_size=(64, 64)), ckpt_path=tmp_path / "a.ckpt")
    resumed = _trainer(tmp_path, max_steps=2)
    resumed.fit(fresh, TinyData(), ckpt_path=tmp_path / "a.ckpt")
    assert resumed.global_step == 2


def test_load_checkpoint_replaces_inference_mode_cdf_buffers(tmp_path):
    module = LICModule("mbt2018-mean", N=8, M=12)
    _trainer(tmp_path, max_steps=1).fit(module, TinyData())
    ckpt = tmp_path / "m.ckpt"
    module.trainer.save_checkpoint(ckpt)
    with torch.inference_mode():  # e.g. a user's own update() inside an inference block
        module.model.update(force=True)
    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=True)
    module.on_load_checkpoint(checkpoint)
    module.load_state_dict(checkpoint["state_dict"])
    assert not any(b.is_inference() for b in module.buffers())


def test_ms_ssim_from_scratch_warns_once_and_simple_normalisation_has_a_gradient():
    """Standard MS-SSIM of an untrained decoder is exactly 0 with a zero gradient (torchmetrics
    clamps negative contrast terms, like pytorch_msssim): the first step says so; the 'simple'
    surrogate gives the decoder a gradient."""
    import warnings

    from jpegnn.losses.rate_distortion import RateDistortionLoss

    torch.manual_seed(0)
    x = torch.nn.functional.interpolate(torch.rand(2, 3, 8, 8), size=64, mode="bilinear")
    module = LICModule("bmshj2018-hyperprior", quality=1, N=8, M=12, distortion="ms-ssim")
    losses = module.criterion(module.model(x), x)
    assert float(losses["ms_ssim"]) == 0.0
    with pytest.warns(UserWarning, match="MS-SSIM is exactly 0 at the first training step"):
        module._warn_if_ms_ssim_has_no_gradient(losses["ms_ssim"])
    for normalize, has_gradient in (("relu", False), ("simple", True)):
        module.model.zero_grad()
        criterion = RateDistortionLoss(1.0, "ms-ssim", normalize)
        out = criterion(module.model(x), x)
        out["ms_ssim"].backward()
        grad = sum(float(p.grad.abs().sum()) for n, p in module.model.named_parameters()
                   if n.startswith("g_s") and p.grad is not None)
        assert (grad > 0) == has_gradient, normalize
    simple = LICModule("bmshj2018-hyperprior", quality=1, N=8, M=12, distortion="ms-ssim", ms_ssim_normalize="simple")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        simple._warn_if_ms_ssim_has_no_gradient(torch.tensor(0.0))  # the surrogate never warns
    with pytest.raises(ConfigError, match="ms_ssim_normalize"):
        RateDistortionLoss(1.0, "ms-ssim", "none")


def test_ms_ssim_fit_from_scratch_says_it_at_the_first_step(tmp_path):
    torch.manual_seed(0)  # an initialisation whose first-batch MS-SSIM is exactly 0 (5 of 10 seeds here)
    module = LICModule("bmshj2018-hyperprior", quality=1, N=8, M=12, distortion="ms-ssim")
    with pytest.warns(UserWarning, match="MS-SSIM is exactly 0 at the first training step") as record:
        _trainer(tmp_path, max_steps=2, limit_val_batches=0).fit(module, TinyData())
    assert sum("MS-SSIM is exactly 0" in str(w.message) for w in record) == 1  # once, not per step
