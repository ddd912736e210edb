"""Entropy models in float32 under autocast (jpegnn.models.lic.precision), CPU bfloat16 autocast.

Under ``bf16-mixed`` CompressAI's entropy models used to compute the noisy latents and the
likelihoods in bfloat16 (the ``LowerBound`` at the end promoted them to float32, hiding it): the
estimated bits of a training forward were off by up to 1 % on the fixed tiny models below.
"""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from compressai.entropy_models import EntropyBottleneck, EntropyModel, GaussianConditional

from jpegnn.losses.rate_distortion import bits_from_likelihoods
from jpegnn.models.lic import ARCHITECTURES, build_lic_model
from jpegnn.models.lic.precision import Float32EntropyModel, float32_entropy_models
from jpegnn.models.lic.students import MeanScaleHyperpriorStudent, ScaleHyperpriorStudent

ARCHS = ["bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018", "checkerboard", "elic"]
#: fixed weights and input of the bits comparison. What remains of the bf16-vs-fp32 difference
#: with float32 entropy models comes from the bfloat16 transforms (means and scales predicted in
#: bfloat16): at most 6.3e-4 relative here (elic); CompressAI's own entropy models were off by
#: 1.8e-3 to 9.5e-3 on these weights (bmshj2018-factorized 5.6e-4: the dtype check catches it).
SEED = 3


def _M(arch: str) -> int:
    # ELIC's five channel groups are M//20, M//20, M//10, M//5 and the rest: M=40 gives 2, 2, 4, 8, 24
    return 40 if arch == "elic" else 12


def _image(seed: int = SEED) -> torch.Tensor:
    """A fixed smooth 2x3x64x64 batch in [0, 1] (like tests.helpers.RandomImages)."""
    base = torch.rand(2, 3, 9, 9, generator=torch.Generator().manual_seed(seed + 100))
    return torch.nn.functional.interpolate(base, size=(64, 64), mode="bilinear", align_corners=False)


def _entropy_model_dtypes(model: torch.nn.Module) -> tuple[list[torch.dtype], list]:
    """Record the dtypes of every entropy model's noisy latents and of its likelihoods *before*
    CompressAI's lower bound (which promotes them to float32, hiding bfloat16 maths)."""
    seen: list[torch.dtype] = []
    handles = []
    for m in model.modules():
        if isinstance(m, EntropyModel):
            handles.append(m.register_forward_hook(lambda mod, args, out: seen.append(out[0].dtype)))
            if m.use_likelihood_bound:
                hook = m.likelihood_lower_bound.register_forward_pre_hook(lambda mod, args: seen.append(args[0].dtype))
                handles.append(hook)
    return seen, handles


def _training_bits(model: torch.nn.Module, x: torch.Tensor, autocast: bool) -> tuple[float, dict, list]:
    """Estimated bits of a training-mode forward, the noise RNG seeded the same way each time."""
    model.train()
    seen, handles = _entropy_model_dtypes(model)
    torch.manual_seed(123)
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    return float(bits_from_likelihoods(out["likelihoods"]).double().sum()), out["likelihoods"], seen


@pytest.mark.parametrize("arch", ARCHS)
def test_bf16_autocast_bits_equal_float32_bits(arch):
    torch.manual_seed(SEED)
    model = build_lic_model(arch, 1, N=8, M=_M(arch))
    x = _image()
    bits32, _, _ = _training_bits(model, x, autocast=False)
    bits16, likelihoods, dtypes = _training_bits(model, x, autocast=True)
    assert bits16 == pytest.approx(bits32, rel=1e-3)
    assert all(lik.dtype == torch.float32 for lik in likelihoods.values())
    # the entropy models' noise and likelihood maths ran in float32 (CompressAI's LowerBound used to
    # promote bfloat16 likelihoods to float32, hiding them)
    assert dtypes and set(dtypes) == {torch.float32}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_entropy_models_compute_exactly_in_float32_under_autocast(dtype):
    """Same (half-representable) inputs, same noise: the entropy models give float32's results
    bit for bit under autocast, with float32 outputs; CompressAI's own differ (bfloat16 noise,
    bfloat16 matmul in the bottleneck's density)."""
    torch.manual_seed(0)
    eb = float32_entropy_models(EntropyBottleneck(6)).train()
    gc = float32_entropy_models(GaussianConditional(None)).train()
    y = (torch.randn(2, 6, 4, 4) * 6).to(dtype)
    scales = (torch.rand(2, 6, 4, 4) * 4).to(dtype)
    means = torch.randn(2, 6, 4, 4).to(dtype)

    def run(half_inputs: bool):
        args = [t if half_inputs else t.float() for t in (y, scales, means)]
        torch.manual_seed(1)
        with torch.autocast("cpu", dtype=dtype, enabled=half_inputs):
            z_hat, z_lik = eb(args[0])
            y_hat, y_lik = gc(args[0], args[1], means=args[2])
            y_noisy = gc.quantize(args[0], "noise", args[2])
            aux = eb.loss()
        return z_hat, z_lik, y_hat, y_lik, y_noisy, aux

    for got, want in zip(run(True), run(False)):
        assert got.dtype == torch.float32
        assert torch.equal(got, want)


@pytest.mark.parametrize("arch", ARCHS)
def test_state_dict_is_compressai_s_and_checkpoints_load_both_ways(arch):
    torch.manual_seed(0)
    plain = ARCHITECTURES[arch](8, _M(arch))  # CompressAI's model, as checkpoints before the change hold
    assert not any(isinstance(m, Float32EntropyModel) for m in plain.modules())
    net = build_lic_model(arch, 1, N=8, M=_M(arch))
    wrapped = [m for m in net.modules() if isinstance(m, EntropyModel)]
    assert wrapped and all(isinstance(m, Float32EntropyModel) for m in wrapped)
    assert {k: v.shape for k, v in net.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    assert list(net.state_dict()) == list(plain.state_dict())
    net.load_state_dict(plain.state_dict(), strict=True)
    plain.load_state_dict(net.state_dict(), strict=True)
    # without autocast the maths are CompressAI's, bit for bit
    x = _image(0)
    for m in (plain, net):
        m.train()
    torch.manual_seed(5)
    want = plain(x)
    torch.manual_seed(5)
    got = net(x)
    assert torch.equal(got["x_hat"], want["x_hat"])
    assert all(torch.equal(got["likelihoods"][k], want["likelihoods"][k]) for k in want["likelihoods"])


def test_wrapping_survives_deepcopy_and_pickling_and_is_idempotent():
    torch.manual_seed(0)
    net = build_lic_model("checkerboard", 1, N=8, M=12)
    classes = {n: type(m) for n, m in net.named_modules() if isinstance(m, EntropyModel)}
    assert float32_entropy_models(net) is net
    assert {n: type(m) for n, m in net.named_modules() if isinstance(m, EntropyModel)} == classes
    gc = net.latent_codec["y"]["y"].gaussian_conditional
    assert isinstance(gc, GaussianConditional) and type(gc).__name__ == "Float32GaussianConditional"
    x = _image(0)
    net.train()
    torch.manual_seed(3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want = net(x)["likelihoods"]["y"]
    for other in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert {n: type(m) for n, m in other.named_modules() if isinstance(m, EntropyModel)} == classes
        torch.manual_seed(3)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = other(x)["likelihoods"]["y"]
        assert torch.equal(got, want)
    entropy_model = pickle.loads(pickle.dumps(gc, protocol=0))
    assert type(entropy_model) is type(gc) and entropy_model.entropy_coder.name == gc.entropy_coder.name


@pytest.mark.parametrize("cls", [ScaleHyperpriorStudent, MeanScaleHyperpriorStudent])
def test_students_have_float32_entropy_models_however_built(cls):
    student = cls(8, 12, 4)
    again = cls.from_state_dict(student.state_dict())
    for net in (student, again, build_lic_model("mbt2018-mean" if cls is MeanScaleHyperpriorStudent
                                                else "bmshj2018-hyperprior", 1, N=8, M=12, N_entropy=4)):
        models = [m for m in net.modules() if isinstance(m, EntropyModel)]
        assert len(models) == 2 and all(isinstance(m, Float32EntropyModel) for m in models)
