"""KD loss terms on hand-made tensors, against direct formulas."""

from __future__ import annotations

import math

import pytest
import torch

from jpegnn.errors import ConfigError
from jpegnn.losses.distillation import (
    KDWeights,
    cosine_distillation,
    distillation_objective,
    kl_distillation,
    latent_distillation,
    mse_distillation,
    parse_kd_weights,
)


def test_mse_is_mean_squared_difference():
    s = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    t = torch.tensor([[1.0, 0.0], [0.0, 4.0]])
    assert float(mse_distillation(s, t)) == pytest.approx((0 + 4 + 9 + 0) / 4)


def test_cosine_is_one_minus_cos_of_channel_vectors_averaged_over_positions():
    # B=1, C=2, H=1, W=2: position 0 parallel (cos 1), position 1 orthogonal (cos 0)
    s = torch.tensor([[[[1.0, 1.0]], [[0.0, 0.0]]]])
    t = torch.tensor([[[[3.0, 0.0]], [[0.0, 5.0]]]])
    assert float(cosine_distillation(s, t)) == pytest.approx(((1 - 1) + (1 - 0)) / 2)
    # scale-invariant; opposite vectors give 2
    assert float(cosine_distillation(7 * t, t)) == pytest.approx(0.0, abs=1e-7)
    assert float(cosine_distillation(-t, t)) == pytest.approx(2.0)


def _kl_direct(s: torch.Tensor, t: torch.Tensor, T: float) -> float:
    """Σ_positions Σ_c p_t log(p_t / p_s) / #positions · T², with softmax over channels."""
    b, c, h, w = s.shape
    total = 0.0
    for i in range(b):
        for y in range(h):
            for x in range(w):
                ps = torch.softmax(s[i, :, y, x] / T, 0)
                pt = torch.softmax(t[i, :, y, x] / T, 0)
                total += float((pt * (pt.log() - ps.log())).sum())
    return total / (b * h * w) * T**2


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_kl_matches_the_direct_formula(temperature):
    g = torch.Generator().manual_seed(0)
    s = torch.randn(2, 5, 3, 4, generator=g)
    t = torch.randn(2, 5, 3, 4, generator=g)
    assert float(kl_distillation(s, t, temperature)) == pytest.approx(_kl_direct(s, t, temperature), rel=1e-5)
    assert float(kl_distillation(t, t, temperature)) == pytest.approx(0.0, abs=1e-6)
    assert float(kl_distillation(s, t)) > 0


def test_kl_uses_log_probs_as_input_and_probs_as_target():
    # KL is asymmetric: swapping the roles must change the value (catches swapped arguments)
    s = torch.tensor([[[[4.0]], [[0.0]], [[0.0]]]])
    t = torch.tensor([[[[0.0]], [[1.0]], [[0.0]]]])
    assert float(kl_distillation(s, t)) == pytest.approx(_kl_direct(s, t, 1.0), rel=1e-6)
    assert float(kl_distillation(s, t)) != pytest.approx(float(kl_distillation(t, s)), rel=1e-3)


def test_teacher_gets_no_gradient_and_student_does():
    s = torch.randn(1, 4, 2, 2, requires_grad=True)
    t = torch.randn(1, 4, 2, 2, requires_grad=True)
    for kind in ("mse", "cosine", "kl"):
        s.grad = t.grad = None
        latent_distillation(s, t, kind).backward()
        assert s.grad is not None and t.grad is None


def test_shape_mismatch_and_unknown_kind_are_clear_errors():
    with pytest.raises(ConfigError, match="student shape"):
        mse_distillation(torch.zeros(1, 3, 2, 2), torch.zeros(1, 4, 2, 2))
    with pytest.raises(ConfigError, match="latent_loss"):
        latent_distillation(torch.zeros(1), torch.zeros(1), "l1")


def test_weight_tuples():
    assert parse_kd_weights((0.3, 0.3, 0.4)) == KDWeights(y=0.3, z=0.0, x=0.3, rd=0.4)
    assert parse_kd_weights([0.2, 0.2, 0.2, 0.4]) == KDWeights(0.2, 0.2, 0.2, 0.4)
    five = parse_kd_weights((0.2, 0.2, 0.2, 0.4, 0.025))
    assert five == KDWeights(0.2, 0.2, 0.2, 0.4, lmbda=0.025)
    assert five.as_tuple() == (0.2, 0.2, 0.2, 0.4, 0.025)
    for bad, msg in (((1.0, 2.0), "3 values"), ((0.1, -1, 0.1), ">= 0"), ((0, 0, 0), "all weights are zero"),
                     ((0.1, 0.1, 0.1, 0.1, 0.0), "RD λ"), ((0.1, math.nan, 0.1), "finite")):
        with pytest.raises(ConfigError, match=msg):
            parse_kd_weights(bad)


def test_objective_is_the_weighted_sum():
    x_hat_s, x_hat_t = torch.full((1, 3, 4, 4), 0.5), torch.full((1, 3, 4, 4), 0.25)
    y_s, y_t = torch.ones(1, 2, 1, 1), torch.zeros(1, 2, 1, 1)
    z_s, z_t = torch.full((1, 2, 1, 1), 3.0), torch.ones(1, 2, 1, 1)
    rd = {"loss": torch.tensor(10.0), "bpp": torch.tensor(0.5), "mse": torch.tensor(0.01)}
    out = distillation_objective(KDWeights(0.2, 0.3, 0.1, 0.4), rd, {"y": y_s, "z": z_s, "x_hat": x_hat_s},
                                 {"y": y_t, "z": z_t, "x_hat": x_hat_t})
    assert float(out["kd_y"]) == pytest.approx(1.0)
    assert float(out["kd_z"]) == pytest.approx(4.0)
    assert float(out["kd_x"]) == pytest.approx(0.0625)
    assert float(out["loss"]) == pytest.approx(0.2 * 1 + 0.3 * 4 + 0.1 * 0.0625 + 0.4 * 10)
    assert float(out["rd"]) == 10.0 and float(out["bpp"]) == 0.5
    # a zero weight skips the term (no z needed)
    out3 = distillation_objective(parse_kd_weights((0.3, 0.3, 0.4)), rd, {"y": y_s, "z": None, "x_hat": x_hat_s},
                                  {"y": y_t, "z": None, "x_hat": x_hat_t})
    assert float(out3["kd_z"]) == 0.0
    with pytest.raises(ConfigError, match="student has no z"):
        distillation_objective(KDWeights(0.2, 0.3, 0.1, 0.4), rd, {"y": y_s, "z": None, "x_hat": x_hat_s},
                               {"y": y_t, "z": z_t, "x_hat": x_hat_t})
