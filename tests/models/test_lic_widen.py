"""jpegnn.models.lic.widen: more latent channels for a trained hyperprior, same decoded image.

Tiny networks (N=8, M=12 -> 20) with perturbed weights, so no layer is at its init.
"""

from __future__ import annotations

import pytest
import torch

from jpegnn.errors import ConfigError
from jpegnn.models.lic import build_lic_model
from jpegnn.models.lic.widen import latent_channels, widen_latent

ARCHS = ("mbt2018-mean", "bmshj2018-hyperprior")


def _trained_like(arch: str, M: int = 12) -> torch.nn.Module:
    torch.manual_seed(1)
    model = build_lic_model(arch, quality=1, N=8, M=M).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _widened(arch: str, model: torch.nn.Module, M_new: int = 20, **kw) -> torch.nn.Module:
    wide = build_lic_model(arch, quality=1, N=8, M=M_new).eval()
    wide.load_state_dict(widen_latent(model.state_dict(), arch, M_new, **kw))
    return wide


@pytest.mark.parametrize("arch", ARCHS)
def test_the_widened_network_reconstructs_the_same_image_with_the_same_old_likelihoods(arch):
    model = _trained_like(arch)
    wide = _widened(arch, model)
    assert latent_channels(wide.state_dict()) == (8, 20)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a, b = model(x), wide(x)
        y_new = wide.g_a(x)[:, 12:]
    assert torch.equal(a["x_hat"], b["x_hat"])
    assert torch.equal(a["likelihoods"]["z"], b["likelihoods"]["z"])
    assert torch.equal(a["likelihoods"]["y"], b["likelihoods"]["y"][:, :12])
    # the new channels are small, non-zero latents (they can learn) coded at the smallest scale
    assert 0 < y_new.abs().max() < 0.5
    new_bits = -b["likelihoods"]["y"][:, 12:].log2().sum()
    assert 0 <= new_bits < 0.01 * -a["likelihoods"]["y"].log2().sum()


@pytest.mark.parametrize("arch", ARCHS)
def test_the_widened_network_codes_a_real_bitstream_to_the_same_image(arch):
    model, x = _trained_like(arch), torch.rand(1, 3, 64, 64)
    wide = _widened(arch, model)
    with torch.no_grad():
        model.update(force=True)
        wide.update(force=True)
        sa, sb = model.compress(x), wide.compress(x)
        da = model.decompress(sa["strings"], sa["shape"])["x_hat"]
        db = wide.decompress(sb["strings"], sb["shape"])["x_hat"]
    assert torch.equal(da, db)
    assert sb["strings"][1] == sa["strings"][1]  # the hyper-latent's bytes are unchanged
    assert len(sb["strings"][0][0]) <= len(sa["strings"][0][0]) + 2  # new channels: about 0 bytes


def test_the_new_channels_receive_gradients_in_training():
    wide = _widened("mbt2018-mean", _trained_like("mbt2018-mean")).train()
    out = wide(torch.rand(2, 3, 64, 64))
    bits = sum(-lk.log2().sum() for lk in out["likelihoods"].values())
    (bits + 1e3 * (out["x_hat"] - 0.5).pow(2).mean()).backward()
    assert wide.g_a[6].weight.grad[12:].abs().sum() > 0
    assert wide.g_s[0].weight.grad[12:].abs().sum() > 0  # zero weights, non-zero gradient


def test_seed_and_scale_make_the_widening_reproducible():
    state = _trained_like("mbt2018-mean").state_dict()
    a = widen_latent(state, "mbt2018-mean", 20, seed=3)
    b = widen_latent(state, "mbt2018-mean", 20, seed=3)
    c = widen_latent(state, "mbt2018-mean", 20, new_scale=0.0, seed=3)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["g_a.6.weight"][12:].abs().sum() > 0
    assert c["g_a.6.weight"][12:].abs().sum() == 0
    assert torch.equal(state["g_a.6.weight"], a["g_a.6.weight"][:12])


def test_bad_requests_are_config_errors():
    state = _trained_like("mbt2018-mean").state_dict()
    with pytest.raises(ConfigError, match="widen: M must be an integer above the weights' M=12, got 12"):
        widen_latent(state, "mbt2018-mean", 12)
    with pytest.raises(ConfigError, match="widen: mbt2018-mean needs an even M"):
        widen_latent(state, "mbt2018-mean", 21)
    with pytest.raises(ConfigError, match="widen: architecture 'mbt2018' is not supported"):
        widen_latent(state, "mbt2018", 20)
    with pytest.raises(ConfigError, match=r"widen: the weights do not fit bmshj2018-hyperprior at N=8, M=12 \("):
        widen_latent(state, "bmshj2018-hyperprior", 20)
    with pytest.raises(ConfigError, match="no 'g_a.6.weight' conv"):
        widen_latent({"x": torch.zeros(1)}, "mbt2018-mean", 20)
