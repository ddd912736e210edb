"""Bad loss arguments are one-line jpegnn ConfigErrors naming the argument, not ValueError/TypeError tracebacks."""

from __future__ import annotations

import pytest
import torch

from jpegnn.errors import ConfigError
from jpegnn.losses.distillation import kl_distillation, parse_kd_weights
from jpegnn.losses.rate_distortion import RateDistortionLoss


@pytest.mark.parametrize("weights", ["abc", None, (0.1, "x", 0.2), 0.5, (0.3, True, 0.4)])
def test_kd_weights_of_the_wrong_type(weights):
    with pytest.raises(ConfigError, match="kd_weights must be a list of 3, 4 or 5 numbers"):
        parse_kd_weights(weights)


@pytest.mark.parametrize("temperature", [0, -1.0, "hot", float("nan"), float("inf"), None])
def test_kl_temperature_must_be_a_positive_number(temperature):
    x = torch.randn(1, 3, 2, 2)
    with pytest.raises(ConfigError, match="kl_temperature"):
        kl_distillation(x, x, temperature)


@pytest.mark.parametrize("kwargs,match", [
    (dict(lmbda=0.01, distortion="l2"), "distortion must be 'mse' or 'ms-ssim'"),
    (dict(lmbda=-0.01), "lmbda"),
    (dict(lmbda=0.0), "lmbda"),
    (dict(lmbda=float("nan")), "lmbda"),
    (dict(lmbda="0.01"), "lmbda"),
])
def test_rate_distortion_loss_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RateDistortionLoss(**kwargs)


def test_valid_arguments_still_pass():
    assert parse_kd_weights([0.3, 0.3, 0.4]).rd == 0.4
    assert RateDistortionLoss(1).lmbda == 1.0
    x = torch.randn(1, 3, 2, 2)
    assert float(kl_distillation(x, x, 2)) == pytest.approx(0.0, abs=1e-6)
