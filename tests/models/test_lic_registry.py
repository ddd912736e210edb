import pytest

from jpegnn.errors import ConfigError
from jpegnn.models.lic import ARCHITECTURES, build_lic_model, default_lambda, preset_channels


def test_zoo_presets_match_compressai():
    assert preset_channels("bmshj2018-hyperprior", 1) == (128, 192)
    assert preset_channels("bmshj2018-hyperprior", 6) == (192, 320)
    assert preset_channels("mbt2018-mean", 5) == (192, 320)
    assert preset_channels("mbt2018", 1) == (192, 192)
    assert default_lambda(1) == 0.0018 and default_lambda(8) == 0.18
    assert default_lambda(3, "ms-ssim") == 8.73


def test_hyperprior_q1_has_compressai_parameter_count():
    # CompressAI's zoo bmshj2018-hyperprior quality 1: 5.08 M parameters
    n = sum(p.numel() for p in build_lic_model("bmshj2018-hyperprior", 1).parameters())
    assert round(n / 1e6, 2) == 5.08


def test_unknown_architecture_and_quality_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown architecture 'bogus'.*bmshj2018-hyperprior"):
        build_lic_model("bogus")
    with pytest.raises(ConfigError, match="quality must be 1..8"):
        build_lic_model("mbt2018", quality=9)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_overrides_take_effect(arch):
    import torch

    model = build_lic_model(arch, 1, N=8, M=40)
    assert model.g_a[0].weight.shape[0] == 8
    with torch.no_grad():
        y = model.g_a(torch.rand(1, 3, 64, 64))
    assert y.shape == (1, 40, 4, 4)
