import pytest
import torch

from jpegnn.errors import ConfigError
from jpegnn.models.autoencoder import ConvAutoencoder


def test_sides_not_multiple_of_2_pow_depth_are_a_config_error():
    # 60 px used to give a 64 px x_hat, silently larger than the input
    net = ConvAutoencoder(N=4, M=4, depth=3)
    assert net(torch.rand(1, 3, 16, 24))["x_hat"].shape == (1, 3, 16, 24)
    with pytest.raises(ConfigError, match=r"multiples of 8 .*got 60x24"):
        net(torch.rand(1, 3, 60, 24))
    with pytest.raises(ConfigError, match=r"B x 3 x H x W.*\(1, 1, 16, 16\)"):
        net(torch.rand(1, 1, 16, 16))
