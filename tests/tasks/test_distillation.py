"""DistillationModule: frozen teacher, N_entropy, latents, a short KD fit, zoo teachers, coding."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from compressai.models import FactorizedPrior, MeanScaleHyperprior, ScaleHyperprior
from PIL import Image

from jpegnn.cli import main
from jpegnn.errors import CheckpointError, ConfigError
from jpegnn.models.lic.registry import build_lic_model
from jpegnn.models.lic.students import ScaleHyperpriorStudent, forward_with_latents, latent_channels
from jpegnn.tasks.distillation import STUDENT_KEY, DistillationModule
from jpegnn.tasks.lic import LICModule
from jpegnn.tasks.loading import load_module
from tests.helpers import loader

REPO = Path(__file__).resolve().parents[2]


class TinyData(L.LightningDataModule):
    def train_dataloader(self):
        return loader(4, (64, 64), batch_size=2)

    def val_dataloader(self):
        return loader(2, (64, 64), batch_size=2, seed=1)

    def test_dataloader(self):
        return loader(2, (37, 53), batch_size=1, seed=2)


def _trainer(tmp_path, **kw):
    args = dict(accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                enable_model_summary=False, default_root_dir=str(tmp_path), num_sanity_val_steps=0)
    args.update(kw)
    return L.Trainer(**args)


@pytest.fixture(scope="module")
def teacher_ckpt(tmp_path_factory):
    """An N=16/M=24 scale-hyperprior LICModule trained for 2 steps (quality 1: λ 0.0018)."""
    out = tmp_path_factory.mktemp("teacher")
    torch.manual_seed(0)
    module = LICModule("bmshj2018-hyperprior", quality=1, N=16, M=24)
    trainer = _trainer(out, limit_val_batches=0)
    trainer.fit(module, TinyData())
    path = out / "teacher.ckpt"
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="module")
def zoo_weights(tmp_path_factory):
    """State-dict files of randomly initialised CompressAI hyperpriors (zoo format, not zoo names)."""
    out = tmp_path_factory.mktemp("zoo")
    paths = {}
    for quality, seed in ((5, 1), (1, 2)):
        torch.manual_seed(seed)
        path = out / f"random-hyperprior-q{quality}.pth.tar"
        torch.save(ScaleHyperprior(16, 24).state_dict(), path)
        paths[quality] = path
    return paths


# ------------------------------------------------------------------ networks
def test_n_entropy_sets_the_hyper_branch_width():
    model = build_lic_model("bmshj2018-hyperprior", N=8, M=24, N_entropy=16)
    assert isinstance(model, ScaleHyperpriorStudent)
    assert model.entropy_bottleneck.channels == 16 and model.h_a[-1].out_channels == 16
    assert model.g_a[0].out_channels == 8 and model.h_s[0].in_channels == 16
    assert latent_channels(model) == (24, 16)
    # default: CompressAI's own model, whose z follows N (the logbook's bug)
    assert latent_channels(build_lic_model("bmshj2018-hyperprior", N=8, M=24)) == (24, 8)
    mean = build_lic_model("mbt2018-mean", N=8, M=24, N_entropy=16)
    assert latent_channels(mean) == (24, 16)
    again = ScaleHyperpriorStudent.from_state_dict(model.state_dict())
    assert (again.N, again.M, again.N_entropy) == (8, 24, 16)
    with pytest.raises(ConfigError, match="N_entropy is only supported"):
        build_lic_model("bmshj2018-factorized", N=8, M=12, N_entropy=16)
    # an LICModule carries it too, and its checkpoint reloads with the same shapes
    assert latent_channels(LICModule("bmshj2018-hyperprior", N=8, M=12, N_entropy=20).model) == (12, 20)


@pytest.mark.parametrize("cls", [ScaleHyperprior, MeanScaleHyperprior, FactorizedPrior])
def test_forward_with_latents_is_the_models_forward(cls):
    torch.manual_seed(0)
    model = cls(8, 12).eval()
    x = torch.rand(1, 3, 64, 64)
    lat = forward_with_latents(model, x)
    ref = model(x)
    assert torch.equal(lat["x_hat"], ref["x_hat"])
    assert torch.equal(lat["y"], model.g_a(x))
    assert torch.equal(lat["y_hat"].round(), lat["y_hat"]) or cls is MeanScaleHyperprior  # eval: rounded
    if cls is FactorizedPrior:
        assert lat["z"] is None and lat["z_hat"] is None
    else:
        assert lat["z"].shape == (1, 8, 1, 1) and torch.equal(lat["z_hat"], lat["z_hat"].round())
    # training mode: gradients reach the student through the recorded tensors
    model.train()
    lat = forward_with_latents(model, x)
    lat["y"].pow(2).mean().backward()
    assert model.g_a[0].weight.grad is not None


# ------------------------------------------------------------------ frozen teacher
def test_short_kd_fit_keeps_the_teacher_frozen_and_out_of_the_checkpoint(teacher_ckpt, tmp_path):
    torch.manual_seed(0)
    module = DistillationModule(teacher_ckpt=str(teacher_ckpt), N=8)
    hp = module.hparams
    # inherited from the teacher: latent channels, hyper-latent channels, quality, λ
    assert (hp.architecture, hp.quality, hp.M, hp.N_entropy, hp.teacher_M, hp.teacher_N_entropy) == (
        "bmshj2018-hyperprior", 1, 24, 16, 24, 16)
    assert hp.lmbda == pytest.approx(0.0018)
    assert latent_channels(module.model) == (24, 16) and module.y_adapter is None and module.z_adapter is None
    teacher = module.teacher
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    module.train()  # what Lightning does at the start of every epoch
    assert not teacher.training and all(not p.requires_grad for p in teacher.parameters())
    assert not any(n.startswith("teacher") for n, _ in module.named_parameters())

    trainer = _trainer(tmp_path, max_steps=3, log_every_n_steps=1)
    trainer.fit(module, TinyData())
    assert trainer.global_step == 3
    metrics = trainer.callback_metrics
    for key in ("train/loss", "train/rd", "train/kd_y", "train/kd_z", "train/kd_x", "train/bpp_estimated"):
        assert key in metrics and torch.isfinite(metrics[key]), key
    assert float(metrics["train/kd_y"]) > 0 and float(metrics["train/kd_z"]) > 0
    assert not teacher.training
    assert all(p.grad is None for p in teacher.parameters())
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())

    ckpt_path = tmp_path / "student.ckpt"
    trainer.save_checkpoint(ckpt_path)
    ckpt = torch.load(ckpt_path, weights_only=True)
    assert all(k.startswith("model.") for k in ckpt["state_dict"])  # student only: no teacher keys
    n_teacher = sum(1 for _ in teacher.state_dict())
    assert len(ckpt["state_dict"]) == len(module.model.state_dict()) and n_teacher > 0
    assert ckpt[STUDENT_KEY]["N_entropy"] == 16 and ckpt[STUDENT_KEY]["N"] == 8

    # real-bitstream test of the student, like any LICModule
    trainer.test(module, TinyData())
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["name"] == "kd-bmshj2018-hyperprior-N8" and results["results"]["bpp"][0] > 0


def test_student_checkpoint_loads_without_the_teacher(teacher_ckpt, tmp_path):
    import shutil

    teacher_copy = tmp_path / "teacher_copy.ckpt"
    shutil.copy(teacher_ckpt, teacher_copy)
    module = DistillationModule(teacher_ckpt=str(teacher_copy), N=8, kd_weights=(0.3, 0.3, 0.4))
    trainer = _trainer(tmp_path, max_steps=1, limit_val_batches=0)
    trainer.fit(module, TinyData())
    path = tmp_path / "s.ckpt"
    trainer.save_checkpoint(path)
    teacher_copy.unlink()  # the teacher is gone

    again = DistillationModule.load_from_checkpoint(path, weights_only=True)
    assert again._teachers is None and again.hparams.N_entropy == 16
    assert torch.equal(again.model.g_a[0].weight, module.model.g_a[0].weight)
    plain = load_module(path, LICModule)  # what compress / bench --ckpt / profile use
    assert type(plain) is LICModule and plain.hparams.N_entropy == 16
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        enc = plain.model.compress(x)  # CDFs were saved with the checkpoint
        x_hat = plain.model.decompress(enc["strings"], enc["shape"])["x_hat"]
        ref = module.model.eval()(x)["x_hat"].clamp(0, 1)
    assert torch.allclose(x_hat, ref, atol=1e-5)
    with pytest.raises(CheckpointError, match="teacher_ckpt: checkpoint not found"):
        again.teacher  # noqa: B018 - only training needs it, and then the error names the argument


@pytest.mark.parametrize("latent_loss", ["cosine", "kl"])
def test_latent_loss_variants_train(teacher_ckpt, tmp_path, latent_loss):
    module = DistillationModule(teacher_ckpt=str(teacher_ckpt), N=8, latent_loss=latent_loss)
    trainer = _trainer(tmp_path, max_steps=1, limit_val_batches=0, log_every_n_steps=1)
    trainer.fit(module, TinyData())
    assert torch.isfinite(trainer.callback_metrics["train/kd_y"])


def test_adapters_when_the_student_latents_differ(teacher_ckpt, tmp_path):
    module = DistillationModule(teacher_ckpt=str(teacher_ckpt), N=8, M=12, N_entropy=8)
    assert module.y_adapter.in_channels == 12 and module.y_adapter.out_channels == 24
    assert module.z_adapter.in_channels == 8 and module.z_adapter.out_channels == 16
    net_opt, _ = module.configure_optimizers()
    ids = {id(p) for g in net_opt.param_groups for p in g["params"]}
    assert {id(p) for p in module.y_adapter.parameters()} <= ids
    trainer = _trainer(tmp_path, max_steps=1, limit_val_batches=0)
    trainer.fit(module, TinyData())
    path = tmp_path / "a.ckpt"
    trainer.save_checkpoint(path)
    plain = load_module(path, LICModule)  # adapters are training-only
    assert not any("adapter" in k for k in plain.state_dict())


def test_student_compress_decompress_round_trip(teacher_ckpt, tmp_path, capsys):
    module = DistillationModule(teacher_ckpt=str(teacher_ckpt), N=8)
    trainer = _trainer(tmp_path, max_steps=1, limit_val_batches=0)
    trainer.fit(module, TinyData())
    ckpt = tmp_path / "student.ckpt"
    trainer.save_checkpoint(ckpt)
    arr = (np.random.default_rng(0).random((45, 70, 3)) * 255).astype(np.uint8)
    image, jnn, png = tmp_path / "in.png", tmp_path / "in.jnn", tmp_path / "out.png"
    Image.fromarray(arr).save(image)
    assert main(["compress", str(image), str(jnn), "--ckpt", str(ckpt)]) == 0
    assert main(["decompress", str(jnn), str(png), "--ckpt", str(ckpt)]) == 0
    decoded = np.asarray(Image.open(png))
    assert decoded.shape == (45, 70, 3)
    from jpegnn.coding.lic import evaluate_image

    x = torch.from_numpy(arr).permute(2, 0, 1).float().div(255)[None]
    ref = evaluate_image(load_module(ckpt, LICModule).model, x, "in")["x_hat"]
    assert np.array_equal(decoded, (ref[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy())
    # jpegnn bench --ckpt loads it the same way
    from jpegnn.evaluation.learned import load_learned_codec

    codec = load_learned_codec(ckpt, device="cpu")
    assert codec.name == "kd-bmshj2018-hyperprior-N8" and codec.encode_decode(arr).num_bytes > 0


def test_profile_command_on_a_student_checkpoint(teacher_ckpt, tmp_path, capsys):
    pytest.importorskip("jpegnn.commands.profile")
    module = DistillationModule(teacher_ckpt=str(teacher_ckpt), N=8)
    trainer = _trainer(tmp_path, max_steps=1, limit_val_batches=0)
    trainer.fit(module, TinyData())
    ckpt = tmp_path / "student.ckpt"
    trainer.save_checkpoint(ckpt)
    # a plain LIC config with the student's widths profiles the student checkpoint (no teacher needed)
    config = REPO / "configs" / "lic" / "bmshj2018-hyperprior.yaml"
    out = tmp_path / "profile.json"
    assert main(["profile", "--config", str(config), "--ckpt", str(ckpt), "--size", "64x64", "--repeats", "1",
                 "--warmup", "0", "--no-energy", "--json", str(out), "--override", "model.init_args.quality=1",
                 "model.init_args.N=8", "model.init_args.M=24", "model.init_args.N_entropy=16"]) == 0
    row = json.loads(out.read_text())
    assert row["params"] == sum(p.numel() for p in module.model.parameters()) and row["decode_ms"] > 0


# ------------------------------------------------------------------ zoo and hybrid teachers
def test_zoo_teacher_from_a_local_state_dict(zoo_weights, tmp_path):
    module = DistillationModule(teacher_zoo="bmshj2018-hyperprior", teacher_quality=5,
                                teacher_weights=str(zoo_weights[5]), N=8)
    hp = module.hparams
    assert (hp.M, hp.N_entropy, hp.quality, hp.distortion) == (24, 16, 5, "mse")
    assert hp.lmbda == pytest.approx(0.025)  # the zoo λ of quality 5
    assert isinstance(module.teacher, ScaleHyperprior) and not module.teacher.training
    trainer = _trainer(tmp_path, max_steps=1, limit_val_batches=0)
    trainer.fit(module, TinyData())
    assert trainer.global_step == 1


def test_hybrid_fit_keeps_both_zoo_teachers_frozen_and_out_of_the_checkpoint(zoo_weights, tmp_path):
    module = DistillationModule(teacher_zoo="bmshj2018-hyperprior", teacher_quality=5,
                                teacher_weights=str(zoo_weights[5]), rate_teacher_quality=1,
                                rate_teacher_weights=str(zoo_weights[1]), N=8,
                                kd_weights=(0.2, 0.2, 0.2, 0.4, 0.025))
    teachers = (module.teacher, module.rate_teacher)
    before = [{k: v.clone() for k, v in t.state_dict().items()} for t in teachers]
    trainer = _trainer(tmp_path, max_steps=2, limit_val_batches=0, log_every_n_steps=1)
    trainer.fit(module, TinyData())
    assert trainer.global_step == 2 and float(trainer.callback_metrics["train/kd_z"]) >= 0
    for teacher, state in zip(teachers, before):
        assert not teacher.training
        assert all(not p.requires_grad and p.grad is None for p in teacher.parameters())
        assert all(torch.equal(state[k], v) for k, v in teacher.state_dict().items())
    path = tmp_path / "hybrid.ckpt"
    trainer.save_checkpoint(path)
    keys = list(torch.load(path, weights_only=True)["state_dict"])
    assert keys and all(k.startswith("model.") for k in keys)
    assert len(keys) == len(module.model.state_dict())


def test_rd_only_kd_weights_train_exactly_like_licmodule(teacher_ckpt, tmp_path):
    """kd_weights (0, 0, 0, 1) is the student's plain RD loss: the shared optimization step must then
    give the same weights as LICModule from the same initial weights and batches."""
    torch.manual_seed(0)
    kd = DistillationModule(teacher_ckpt=str(teacher_ckpt), N=8, kd_weights=(0.0, 0.0, 0.0, 1.0))
    hp = kd.hparams
    plain = LICModule("bmshj2018-hyperprior", quality=hp.quality, N=8, M=hp.M, N_entropy=hp.N_entropy)
    plain.model.load_state_dict(kd.model.state_dict())
    initial = kd.model.g_a[0].weight.detach().clone()
    for module in (kd, plain):
        torch.manual_seed(1)  # the same noise draws for both students (the teacher draws none)
        trainer = _trainer(tmp_path, max_steps=3, limit_val_batches=0, log_every_n_steps=1)
        trainer.fit(module, TinyData())
        assert trainer.global_step == 3
    for (name, a), b in zip(kd.model.state_dict().items(), plain.model.state_dict().values()):
        assert torch.allclose(a, b, rtol=0, atol=1e-6), name
    assert not torch.equal(kd.model.g_a[0].weight, initial)  # it did train


def test_hybrid_takes_z_from_the_rate_teacher(zoo_weights):
    module = DistillationModule(teacher_zoo="bmshj2018-hyperprior", teacher_quality=5,
                                teacher_weights=str(zoo_weights[5]), rate_teacher_quality=1,
                                rate_teacher_weights=str(zoo_weights[1]), N=8,
                                kd_weights=(0.2, 0.2, 0.2, 0.4, 0.025), kd_quantized_latents=False)
    x = torch.rand(2, 3, 64, 64)
    targets = module.teacher_targets(x)
    d = forward_with_latents(module.teacher, x)
    r = forward_with_latents(module.rate_teacher, x)
    # unquantized latents here: a random teacher's z is small and rounds to 0 for both teachers
    assert torch.equal(targets["y"], d["y"]) and torch.equal(targets["x_hat"], d["x_hat"])
    assert torch.equal(targets["z"], r["z"]) and not torch.equal(r["z"], d["z"])
    assert module.lmbda == pytest.approx(0.025)


def test_teacher_argument_errors_name_the_argument(teacher_ckpt, tmp_path):
    with pytest.raises(ConfigError, match="exactly one teacher"):
        DistillationModule(N=8)
    with pytest.raises(ConfigError, match="needs teacher_quality"):
        DistillationModule(teacher_zoo="bmshj2018-hyperprior", N=8)
    with pytest.raises(ConfigError, match="give the student's width N"):
        DistillationModule(teacher_ckpt=str(teacher_ckpt))
    with pytest.raises(CheckpointError, match="teacher_ckpt: checkpoint not found"):
        DistillationModule(teacher_ckpt=str(tmp_path / "missing.ckpt"), N=8)
    with pytest.raises(CheckpointError, match="teacher_weights: no local weights"):
        DistillationModule(teacher_zoo="bmshj2018-hyperprior", teacher_quality=5,
                           teacher_weights=str(tmp_path), N=8)
    with pytest.raises(ConfigError, match="conflicts with the RD λ"):
        DistillationModule(teacher_ckpt=str(teacher_ckpt), N=8, lmbda=0.01, kd_weights=(0.2, 0.2, 0.2, 0.4, 0.025))


# ------------------------------------------------------------------ autoencoder pair
def test_autoencoder_teacher_then_distilled_student(tmp_path):
    from jpegnn.tasks.distillation import AutoencoderDistillationModule

    torch.manual_seed(0)
    teacher_module = AutoencoderDistillationModule(N=8, M=8)
    trainer = _trainer(tmp_path, max_steps=2, log_every_n_steps=1)
    trainer.fit(teacher_module, TinyData())
    assert float(trainer.callback_metrics["train/kd_latent"]) == 0.0  # no teacher: reconstruction only
    path = tmp_path / "ae_teacher.ckpt"
    trainer.save_checkpoint(path)

    student = AutoencoderDistillationModule(N=4, M=4, teacher_ckpt=str(path))
    assert student.hparams.teacher_M == 8 and student.adapter.out_channels == 8  # latent adapter 4 -> 8
    teacher = student.teacher
    before = [p.clone() for p in teacher.parameters()]
    trainer = _trainer(tmp_path, max_steps=2, log_every_n_steps=1)
    trainer.fit(student, TinyData())
    metrics = trainer.callback_metrics
    assert float(metrics["train/kd_latent"]) > 0 and float(metrics["train/kd_x"]) > 0
    assert not teacher.training and all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))
    saved = tmp_path / "ae_student.ckpt"
    trainer.save_checkpoint(saved)
    state = torch.load(saved, weights_only=True)["state_dict"]
    assert all(k.startswith(("model.", "adapter.")) for k in state)
    path.unlink()
    again = AutoencoderDistillationModule.load_from_checkpoint(saved, weights_only=True)
    assert again._teacher is None and again.adapter is not None
    trainer.test(again, TinyData())
    assert json.loads((tmp_path / "reconstruction.json").read_text())["psnr-rgb"] > 0


class _NotAllowlisted:
    """A class torch's weights-only unpickler refuses (stands in for code hidden in a pickle)."""


def test_teacher_files_load_weights_only_and_errors_are_one_line(teacher_ckpt, zoo_weights, tmp_path):
    # a checkpoint or state dict holding an arbitrary object is refused, never unpickled
    evil_ckpt = tmp_path / "evil.ckpt"
    torch.save({**torch.load(teacher_ckpt, weights_only=True), "extra": _NotAllowlisted()}, evil_ckpt)
    with pytest.raises(CheckpointError, match="teacher_ckpt: .*evil.ckpt is not a readable") as err:
        DistillationModule(teacher_ckpt=str(evil_ckpt), N=8)
    assert "\n" not in str(err.value)
    evil_sd = tmp_path / "evil.pth.tar"
    torch.save({**torch.load(zoo_weights[5], weights_only=True), "extra": _NotAllowlisted()}, evil_sd)
    with pytest.raises(CheckpointError, match="teacher_weights: .*evil.pth.tar is not a readable") as err:
        DistillationModule(teacher_zoo="bmshj2018-hyperprior", teacher_quality=5, teacher_weights=str(evil_sd), N=8)
    assert "\n" not in str(err.value)
    # weights of another architecture: one line naming the argument, the file and the first mismatch
    for other, expect in ((MeanScaleHyperprior(16, 24), "size mismatch"), (FactorizedPrior(16, 24), "missing key")):
        path = tmp_path / f"{type(other).__name__}.pth.tar"
        torch.save(other.state_dict(), path)
        with pytest.raises(CheckpointError, match=rf"teacher_weights: .*{path.name} does not hold "
                                                  rf"bmshj2018-hyperprior weights \(.*{expect}") as err:
            DistillationModule(teacher_zoo="bmshj2018-hyperprior", teacher_quality=5, teacher_weights=str(path), N=8)
        assert "\n" not in str(err.value)
    # a zoo state-dict file given as a jpegnn checkpoint
    with pytest.raises(CheckpointError, match="teacher_ckpt: .* is not a Lightning checkpoint"):
        DistillationModule(teacher_ckpt=str(zoo_weights[5]), N=8)


def test_cli_teacher_errors_print_one_line(zoo_weights, tmp_path, capsys):
    path = tmp_path / "factorized.pth.tar"
    torch.save(FactorizedPrior(16, 24).state_dict(), path)
    config = REPO / "configs" / "kd" / "hyperprior-student-zoo.yaml"
    for weights in (str(tmp_path / "missing.pth.tar"), str(path)):
        code = main(["fit", "--config", str(config), f"--model.init_args.teacher_weights={weights}",
                     "--model.init_args.N=8", "--trainer.accelerator=cpu", "--trainer.logger=false"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and err[-1].startswith("jpegnn: error: teacher_weights") and Path(weights).name in err[-1]
