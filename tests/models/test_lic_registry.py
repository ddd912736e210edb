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


@pytest.mark.parametrize("bad", [0, -1, 8.5, True, "8"])
@pytest.mark.parametrize("name", ["N", "M"])
def test_bad_channel_override_is_a_config_error_naming_it(name, bad):
    # N=0 / M=0 used to fall back to the preset silently (`N or preset`), 8.5 was truncated to 8
    with pytest.raises(ConfigError, match=rf"^{name} must be a positive integer"):
        build_lic_model("bmshj2018-hyperprior", 1, **{name: bad})


def test_integral_float_channels_are_accepted():
    model = build_lic_model("bmshj2018-factorized", 1, N=8.0, M=12)
    assert model.g_a[0].weight.shape[0] == 8


@pytest.mark.parametrize("bad", [True, 3.0, 0, 9])
def test_quality_must_be_an_int_in_range(bad):
    # `True in range(1, 9)` and `3.0 in range(1, 9)` are true: they used to pass as presets
    with pytest.raises(ConfigError, match="quality must be 1..8"):
        build_lic_model("bmshj2018-hyperprior", bad)
    with pytest.raises(ConfigError, match="quality must be 1..8"):
        default_lambda(bad)


def test_elic_too_few_latent_channels_names_the_bound():
    with pytest.raises(ConfigError, match="elic needs M >= 5"):
        build_lic_model("elic", 1, N=8, M=4)
    build_lic_model("elic", 1, N=8, M=5)
