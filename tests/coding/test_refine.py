"""Encoder-side latent refinement (jpegnn.coding.refine): lowers the model's own objective, codes
a bitstream the unchanged decoder reads, and leaves the model as it found it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from compressai.entropy_models import EntropyModel
from PIL import Image

from jpegnn.cli import main
from jpegnn.coding.lic import decode, encode, estimate_bits, prepare_entropy_models
from jpegnn.coding.refine import LatentRefinement, check_refinable, straight_through_rounding
from jpegnn.errors import ConfigError
from jpegnn.tasks.lic import LICModule
from tests.helpers import tiny_lic_checkpoint


@pytest.fixture(scope="module")
def module():
    """An untrained model with a deliberately poor encoder (its last layer 20x too strong: latents
    far from what the entropy model expects), so refinement has something certain to gain."""
    torch.manual_seed(0)
    m = LICModule("mbt2018-mean", N=8, M=12).eval()
    with torch.no_grad():
        m.model.g_a[-1].weight.mul_(20)
    prepare_entropy_models(m.model)
    return m


@pytest.fixture(scope="module")
def image():
    """A 45x70 image (odd size: the objective is measured on its own pixels, not the padding)."""
    g = torch.Generator().manual_seed(1)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 45), torch.linspace(0, 1, 70), indexing="ij")
    smooth = torch.stack([yy, xx, (yy + xx) / 2])
    return (0.8 * smooth + 0.2 * torch.rand(3, 45, 70, generator=g)).clamp(0, 1)[None]


@pytest.mark.parametrize("method", ["sga", "ste"])
def test_refinement_lowers_the_objective_and_the_decoder_reads_the_refined_latent(module, image, method):
    model = module.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    g_a = model.g_a
    enc = encode(model, image, refinement=LatentRefinement(25, 0.3, method), criterion=module.criterion)
    stats = enc.refinement
    assert stats is not None and stats.iterations == 25
    assert stats.loss_after < stats.loss_before  # a random model has plenty to gain
    assert stats.best_iteration in (10, 20, 25)  # the hard objective is checked every 10 steps and at the end
    # the model is as it was: weights, no gradients, its own g_a, CompressAI's own rounding
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert model.g_a is g_a
    assert not any("quantize" in m.__dict__ for m in model.modules() if isinstance(m, EntropyModel))
    # the real bitstream decodes (unchanged decoder) to the forward pass of the refined latent
    x_hat = decode(model, enc)
    bits, x_fwd = estimate_bits(model, image, latent=enc.latent)
    assert torch.allclose(x_hat, x_fwd, atol=1e-5)
    # and that latent is not g_a's: the plain encoder codes another image
    assert not torch.allclose(decode(model, encode(model, image)), x_hat, atol=1e-3)
    # the kept objective is what the refined latent scores (estimated bpp + λ·255²·MSE)
    mse = float(((x_fwd - image) ** 2).mean())
    objective = bits / (45 * 70) + module.lmbda * 255**2 * mse
    assert math.isclose(objective, stats.loss_after, rel_tol=1e-3)


def test_zero_iterations_is_the_plain_encoder(module, image):
    plain = encode(module.model, image)
    same = encode(module.model, image, refinement=LatentRefinement(0), criterion=module.criterion)
    assert same.strings == plain.strings and same.refinement is None and same.latent is None


def test_the_same_image_gives_the_same_file(module, image):
    """SGA draws its Gumbel noise from a generator seeded per call: encoding is reproducible."""
    r = LatentRefinement(12, 0.3)
    a = encode(module.model, image, refinement=r, criterion=module.criterion)
    b = encode(module.model, image, refinement=r, criterion=module.criterion)
    assert a.strings == b.strings and a.refinement.loss_after == b.refinement.loss_after


def test_stochastic_gumbel_rounding_mixes_floor_and_ceiling(module):
    from jpegnn.coding.refine import _Temperature, stochastic_gumbel_rounding

    gc = module.model.gaussian_conditional
    y = torch.linspace(-2.3, 2.3, 200, requires_grad=True)
    means = torch.full((200,), 0.25)
    state = _Temperature(torch.Generator().manual_seed(0))
    with stochastic_gumbel_rounding(module.model, state):
        soft = gc.quantize(y, "dequantize", means)
        soft.sum().backward()
        state.tau = 1e-3  # nearly hard: the nearer integer (around the mean) almost always
        cold = gc.quantize(y.detach(), "dequantize", means)
    v = y.detach() - means
    assert torch.all(soft - means >= torch.floor(v) - 1e-6) and torch.all(soft - means <= torch.floor(v) + 1 + 1e-6)
    assert y.grad.abs().sum() > 0
    assert (cold - gc.quantize(y.detach(), "dequantize", means)).abs().lt(1e-3).float().mean() > 0.95
    assert "quantize" not in gc.__dict__ and "_sga_state" not in gc.__dict__


def test_refinement_runs_under_inference_mode(module, image):
    """Lightning's test loop and the commands run under inference/no-grad modes."""
    with torch.inference_mode():
        enc = encode(module.model, image, refinement=LatentRefinement(3, 0.3), criterion=module.criterion)
    assert enc.refinement.loss_after <= enc.refinement.loss_before


def test_straight_through_rounding_keeps_values_and_passes_gradients(module):
    gc = module.model.gaussian_conditional
    y = torch.tensor([0.2, 0.7, -1.6], requires_grad=True)
    means = torch.tensor([0.0, 0.5, 0.0])
    plain = gc.quantize(y, "dequantize", means)
    with straight_through_rounding(module.model):
        ste = gc.quantize(y, "dequantize", means)
        ste.sum().backward()
    assert torch.equal(plain, ste)
    assert torch.equal(y.grad, torch.ones(3))
    assert "quantize" not in gc.__dict__


def test_models_whose_forward_rounds_differently_are_refused():
    with pytest.raises(ConfigError, match="supports bmshj2018-factorized, bmshj2018-hyperprior, mbt2018-mean"):
        check_refinable(LICModule("mbt2018", N=8, M=12).model)
    check_refinable(LICModule("bmshj2018-hyperprior", N=8, M=12).model)


@pytest.mark.parametrize("iterations, lr, method", [(-1, 1e-3, "sga"), (2.5, 1e-3, "sga"), (True, 1e-3, "sga"),
                                                    (5, 0.0, "sga"), (5, float("nan"), "ste"), (5, None, "adam")])
def test_bad_settings_are_config_errors(iterations, lr, method):
    with pytest.raises(ConfigError, match="refine: "):
        LatentRefinement(iterations, lr, method)


def test_default_step_size_is_the_methods():
    assert LatentRefinement(10).lr == 5e-3 and LatentRefinement(10, method="ste").lr == 3e-3
    assert LatentRefinement(10, 1e-2).suffix == "+sga10" and LatentRefinement(7, method="ste").suffix == "+ste7"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_lic_checkpoint(tmp_path_factory.mktemp("ckpt") / "m.ckpt", steps=2)


def test_compress_refine_cli_round_trip(ckpt, tmp_path, capsys):
    arr = (np.random.default_rng(0).random((40, 50, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    jnn = tmp_path / "a.jnn"
    assert main(["compress", str(tmp_path / "a.png"), str(jnn), "--ckpt", str(ckpt), "--refine", "4"]) == 0
    out = capsys.readouterr().out
    assert "latent refined: objective (estimated bpp + weighted distortion)" in out and "of 4" in out
    assert main(["decompress", str(jnn), str(tmp_path / "b.png"), "--ckpt", str(ckpt)]) == 0
    assert np.asarray(Image.open(tmp_path / "b.png")).shape == (40, 50, 3)
    assert main(["compress", str(tmp_path / "a.png"), str(jnn), "--ckpt", str(ckpt), "--refine", "-2"]) == 2
    assert "refine: iterations must be an integer >= 0, got -2" in capsys.readouterr().err


def test_bench_refine_names_the_curve_and_needs_a_checkpoint(ckpt, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    arr = (np.random.default_rng(1).random((64, 64, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(data / "img.png")
    assert main(["bench", "--refine", "2", "--codec", "jpeg", "--dataset", str(data), "--out", str(tmp_path / "o")]) == 2
    assert "--refine refines learned codecs' latents; give --ckpt" in capsys.readouterr().err
    out = tmp_path / "b"
    assert main(["bench", "--ckpt", str(ckpt), "--refine", "2", "--dataset", str(data), "--out", str(out),
                 "--no-progress", "-j", "1"]) == 0
    names = sorted(p.name for p in out.glob("*.json"))
    assert names == ["mbt2018-mean-q3+sga2.json"], names
    rows = (out / "mbt2018-mean-q3+sga2_per_image.csv").read_text()
    assert "refine_loss_after" in rows.splitlines()[0]


def test_cost_benchmark_prints_the_ratios(ckpt, tmp_path, capsys):
    from tests.helpers import load_benchmark

    arr = (np.random.default_rng(2).random((48, 40, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(tmp_path / "c.png")
    bench = load_benchmark("bench_refine_cost")
    assert bench.main(["--ckpt", str(ckpt), "--images", str(tmp_path), "--iterations", "2"]) == 0
    out = capsys.readouterr().out
    assert "1 images: bytes refined/plain = " in out and "encoding time ratio refined/plain = " in out
    with pytest.raises(ConfigError, match="--iterations must be >= 1"):
        bench.main(["--ckpt", str(ckpt), "--images", str(tmp_path), "--iterations", "0"])
