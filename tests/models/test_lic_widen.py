"""jpegnn.models.lic.widen: more channels (N and/or M) for a trained hyperprior, same decoded image.

Tiny networks (N=8 -> 12, M=12 -> 20) with perturbed weights, so no layer is at its init; the
entropy bottleneck's channel 5 is made to code a zero in the fewest bits, as an unused channel does
after training, so the widening's choice of the channel to copy is checked.
"""

from __future__ import annotations

import pytest
import torch

from jpegnn.errors import ConfigError
from jpegnn.models.lic import build_lic_model
from jpegnn.models.lic.widen import latent_channels, widen

ARCHS = ("mbt2018-mean", "bmshj2018-hyperprior")
WIDTHS = ((8, 20), (12, 12), (12, 20))  # (N, M) after widening N=8, M=12


def _trained_like(arch: str) -> torch.nn.Module:
    torch.manual_seed(1)
    model = build_lic_model(arch, quality=1, N=8, M=12).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
        eb = model.entropy_bottleneck  # channel 5: a narrow density at 0 (an unused hyper-latent)
        eb.matrices[0][5].fill_(8.0)
        eb.quantiles[5] = torch.tensor([[-0.1, 0.0, 0.1]])
    return model


def _widened(arch: str, model: torch.nn.Module, N: int, M: int, **kw) -> torch.nn.Module:
    wide = build_lic_model(arch, quality=1, N=N, M=M).eval()
    wide.load_state_dict(widen(model.state_dict(), arch, N=N, M=M, **kw))
    return wide


def _bits(likelihoods: torch.Tensor) -> float:
    return float(-likelihoods.log2().sum())


@pytest.mark.parametrize("N, M", WIDTHS)
@pytest.mark.parametrize("arch", ARCHS)
def test_the_widened_network_reconstructs_the_same_image_with_the_same_old_likelihoods(arch, N, M):
    model = _trained_like(arch)
    wide = _widened(arch, model, N, M)
    assert latent_channels(wide.state_dict()) == (N, M)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a, b = model(x), wide(x)
        y_new = wide.g_a(x)[:, 12:]
    # the same image up to float rounding: the zero weights from new latent channels change the
    # kernel's summation order on some CPUs (1 ulp, 3e-8, seen on AMD EPYC); an 8-bit level is 4e-3
    assert torch.allclose(a["x_hat"], b["x_hat"], rtol=0, atol=1e-6)
    assert torch.equal(a["likelihoods"]["z"], b["likelihoods"]["z"][:, :8])
    assert torch.equal(a["likelihoods"]["y"], b["likelihoods"]["y"][:, :12])
    # new latents are small and coded at the smallest scale; new hyper-latents by the cheap channel
    assert y_new.numel() == 0 or 0 < y_new.abs().max() < 0.5
    assert 0 <= _bits(b["likelihoods"]["y"][:, 12:]) < 0.01 * _bits(a["likelihoods"]["y"])
    z_old, z_new = a["likelihoods"]["z"], b["likelihoods"]["z"][:, 8:]
    assert int(z_old.flatten(2).mean(2).argmax()) == 5  # the cheapest channel, copied by every new one
    assert torch.allclose(z_new, z_old[:, 5:6].expand_as(z_new), rtol=1e-4)


@pytest.mark.parametrize("arch", ARCHS)
def test_the_widened_network_codes_a_real_bitstream_to_the_same_image(arch):
    model, x = _trained_like(arch), torch.rand(1, 3, 64, 64)
    wide = _widened(arch, model, 12, 20)
    with torch.no_grad():
        model.update(force=True)
        wide.update(force=True)
        sa, sb = model.compress(x), wide.compress(x)
        da = model.decompress(sa["strings"], sa["shape"])["x_hat"]
        db = wide.decompress(sb["strings"], sb["shape"])["x_hat"]
    assert torch.allclose(da, db, rtol=0, atol=1e-6)  # float rounding only, as above
    for i in (0, 1):  # latent and hyper-latent: the new channels cost about 0 bytes
        assert len(sa["strings"][i][0]) <= len(sb["strings"][i][0]) <= len(sa["strings"][i][0]) + 2


def test_the_entropy_bottleneck_tables_built_before_widening_are_widened_too():
    model = _trained_like("mbt2018-mean")
    model.update(force=True)
    state = widen(model.state_dict(), "mbt2018-mean", N=12)
    cdf = state["entropy_bottleneck._quantized_cdf"]
    assert cdf.shape[0] == 12 and all(torch.equal(cdf[i], cdf[5]) for i in range(8, 12))
    assert torch.equal(state["entropy_bottleneck._offset"][8:], state["entropy_bottleneck._offset"][5].expand(4))


@pytest.mark.parametrize("N, M", WIDTHS)
def test_the_new_channels_receive_gradients_in_training(N, M):
    wide = _widened("mbt2018-mean", _trained_like("mbt2018-mean"), N, M).train()
    out = wide(torch.rand(2, 3, 64, 64))
    bits = sum(-lk.log2().sum() for lk in out["likelihoods"].values())
    (bits + 1e3 * (out["x_hat"] - 0.5).pow(2).mean()).backward()
    if M > 12:
        assert wide.g_a[6].weight.grad[12:].abs().sum() > 0
        assert wide.g_s[0].weight.grad[12:].abs().sum() > 0  # zero weights, non-zero gradient
    if N > 8:
        # weights from new inputs to old outputs: zero, and learning (conv: out x in; deconv: in x out)
        for w in (wide.g_a[2].weight, wide.h_a[2].weight, wide.g_s[2].weight.transpose(0, 1)):
            assert w.detach()[:8, 8:].abs().sum() == 0 and w.detach()[8:, :8].abs().sum() > 0
        for g in (wide.g_a[2].weight.grad, wide.h_a[2].weight.grad, wide.g_s[2].weight.grad.transpose(0, 1)):
            assert g[:8, 8:].abs().sum() > 0
        assert wide.g_a[1].gamma.grad[:8, 8:].abs().sum() > 0  # the GDN couplings to new channels learn


def test_seed_and_scale_make_the_widening_reproducible():
    state = _trained_like("mbt2018-mean").state_dict()
    a = widen(state, "mbt2018-mean", N=12, M=20, seed=3)
    b = widen(state, "mbt2018-mean", N=12, M=20, seed=3)
    c = widen(state, "mbt2018-mean", N=12, M=20, new_scale=0.0, seed=3)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["g_a.6.weight"][12:].abs().sum() > 0 and a["h_a.4.weight"][8:].abs().sum() > 0
    assert c["g_a.6.weight"][12:].abs().sum() == 0 and c["h_a.4.weight"][8:].abs().sum() == 0
    assert torch.equal(state["g_a.6.weight"], a["g_a.6.weight"][:12, :8])
    assert not torch.equal(a["g_a.2.weight"], widen(state, "mbt2018-mean", N=12, M=20, seed=4)["g_a.2.weight"])


def test_bad_requests_are_config_errors():
    state = _trained_like("mbt2018-mean").state_dict()
    with pytest.raises(ConfigError, match="widen: nothing to widen: N=8 and M=12"):
        widen(state, "mbt2018-mean", M=12)
    with pytest.raises(ConfigError, match="widen: N must be an integer at least the weights' N=8, got 6"):
        widen(state, "mbt2018-mean", N=6, M=20)
    with pytest.raises(ConfigError, match="widen: mbt2018-mean needs an even M"):
        widen(state, "mbt2018-mean", M=21)
    with pytest.raises(ConfigError, match="widen: architecture 'mbt2018' is not supported"):
        widen(state, "mbt2018", M=20)
    with pytest.raises(ConfigError, match=r"widen: the weights do not fit bmshj2018-hyperprior at N=8, M=12 \("):
        widen(state, "bmshj2018-hyperprior", M=20)
    with pytest.raises(ConfigError, match="no 'g_a.6.weight' conv"):
        widen({"x": torch.zeros(1)}, "mbt2018-mean", M=20)
